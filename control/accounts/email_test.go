package accounts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/shared/apierror"
)

// A password reset by mailed code proves the address: it verifies it and
// ends every session. An account nobody had verified may have been made by
// someone else with the address, so its user keys go too.
func TestResetPassword(t *testing.T) {
	const newPW = "a brand new long password"
	for _, verified := range []bool{false, true} {
		name := map[bool]string{false: "unverified", true: "verified"}[verified]
		t.Run(name, func(t *testing.T) {
			w := mustWorld(t)
			u := w.mustUser(t, "someone@example.com", verified)
			w.mustAddMember(t, u, identity.RoleMember)
			p, first := w.mustSignIn(t, "someone@example.com", w.org)
			_, second := w.mustSignIn(t, "someone@example.com", w.org)
			key, _ := w.mustCreateKey(t, p, "user", linksRead)

			if err := w.s.RequestPasswordReset(w.ctx, "Someone@Example.com"); err != nil {
				t.Fatal(err)
			}
			code := w.mail.mustCode(t, "someone@example.com", "Reset your H0p password")
			_, err := w.s.ResetPassword(w.ctx, code, "short")
			wantCode(t, "weak password", err, apierror.ValidationError)

			got, err := w.s.ResetPassword(w.ctx, code, newPW)
			if err != nil {
				t.Fatal(err)
			}
			if got.EmailVerifiedAt.IsZero() {
				t.Error("address not verified by the reset")
			}
			if w.signedIn(t, first) || w.signedIn(t, second) {
				t.Error("a session is still open after the reset")
			}
			_, err = w.st.APIKey(w.ctx, w.org, key.ID)
			if gone := isNotFound(err); gone == verified {
				t.Errorf("user key gone = %v (%v), want %v", gone, err, !verified)
			}
			if _, _, err := w.s.Login(w.ctx, "someone@example.com", newPW); err != nil {
				t.Errorf("login with the new password: %v", err)
			}
			_, err = w.s.ResetPassword(w.ctx, code, pw)
			wantCode(t, "the code again", err, apierror.NotFound)
		})
	}
}

// A reset code lasts an hour; asking for one answers the same whether or
// not the address has an account.
func TestResetCodesExpire(t *testing.T) {
	w := mustWorld(t)
	if err := w.s.RequestPasswordReset(w.ctx, "nobody@example.com"); err != nil {
		t.Errorf("reset for an unknown address: %v", err)
	}
	wantCode(t, "reset for a bad address", w.s.RequestPasswordReset(w.ctx, "root@localhost"), apierror.ValidationError)
	if err := w.s.RequestPasswordReset(w.ctx, "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	code := w.mail.mustCode(t, "owner@example.com", "Reset your H0p password")
	w.clock.Advance(time.Hour)
	_, err := w.s.ResetPassword(w.ctx, code, "a brand new long password")
	wantCode(t, "an hour later", err, apierror.NotFound)
	if _, _, err := w.s.Login(w.ctx, "owner@example.com", pw); err != nil {
		t.Errorf("the password changed: %v", err)
	}
	if n := w.mail.sent("nobody@example.com", "Reset"); n != 0 {
		t.Errorf("%d emails to an address without an account", n)
	}
}

// Verifying takes both the mailed code and the account's session: someone
// who merely receives the mail cannot verify an account another person
// made.
func TestVerifyEmailNeedsTheAccountsSession(t *testing.T) {
	w := mustWorld(t)
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	token, _, err := w.s.Invite(w.ctx, owner, "new@example.com", "member")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.Accept(w.ctx, nobody, token, "New", pw); err != nil {
		t.Fatal(err)
	}
	code := w.mail.mustCode(t, "new@example.com", "Confirm your email")
	_, err = w.s.VerifyEmail(w.ctx, owner, code)
	wantCode(t, "another account's session", err, apierror.NotFound)
	p, _ := w.mustSignIn(t, "new@example.com", w.org)
	_, err = w.s.VerifyEmail(w.ctx, p, "h0p_e_not_a_code")
	wantCode(t, "not a code", err, apierror.NotFound)
	u, err := w.s.VerifyEmail(w.ctx, p, code)
	if err != nil || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("verify: %+v %v", u, err)
	}
	_, err = w.s.VerifyEmail(w.ctx, p, code)
	wantCode(t, "the code again", err, apierror.NotFound)
}

// The invitation email's first instruction is the dashboard's accept page
// when there is a dashboard; the API calls stay, for programs, and are
// all there is without one.
func TestInvitationEmail(t *testing.T) {
	for _, tc := range []struct {
		name, dashboardURL string
		page               bool
	}{
		{"without a dashboard", "", false},
		{"with a dashboard", "https://h0p.example.com/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustWorld(t)
			w.s.DashboardURL = tc.dashboardURL
			owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
			token, _, err := w.s.Invite(w.ctx, owner, "new@example.com", "member")
			if err != nil {
				t.Fatal(err)
			}
			msg, ok := w.mail.last("new@example.com", "You are invited to Acme on H0p")
			if !ok {
				t.Fatal("no invitation email")
			}
			page := "https://h0p.example.com/invite/" + token
			api := "https://api.example.com/v1/invitations/" + token + "/accept"
			if got := strings.Contains(msg.Body, page); got != tc.page {
				t.Errorf("the accept page in the email: %v, want %v\n%s", got, tc.page, msg.Body)
			}
			if strings.Contains(msg.Body, "/invite/") != tc.page {
				t.Errorf("a page link where there is no dashboard:\n%s", msg.Body)
			}
			if n := strings.Count(msg.Body, api); n != 2 {
				t.Errorf("the API's accept call %d times, want 2 (a new account, a session)\n%s", n, msg.Body)
			}
			if tc.page && strings.Index(msg.Body, page) > strings.Index(msg.Body, api) {
				t.Errorf("the API call comes before the accept page:\n%s", msg.Body)
			}
		})
	}
}
