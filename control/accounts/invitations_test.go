package accounts_test

import (
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/shared/apierror"
)

// nobody is the principal of a caller who is not signed in.
var nobody = access.Principal{}

func TestInvite(t *testing.T) {
	w := mustWorld(t)
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	token, inv, err := w.s.Invite(w.ctx, owner, " New@Example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := apikey.Parse(token); err != nil || typ != apikey.Invitation {
		t.Errorf("token %q: %v %v", token, typ, err)
	}
	now := w.clock.Now()
	if inv.Email != "new@example.com" || inv.Role != identity.RoleAdmin || inv.InvitedBy != w.owner.ID ||
		!inv.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("invitation %+v", inv)
	}
	if got := w.mail.mustCode(t, "new@example.com", "You are invited to Acme"); got != token {
		t.Errorf("mailed token %q, want %q", got, token)
	}
	if a := w.lastAudit(t, w.org); a.Action != "invitation.created" || a.ResourceID != inv.ID {
		t.Errorf("audit %+v", a)
	}

	for _, tc := range []struct {
		name, email, role string
		want              apierror.Code
	}{
		{"not an address", "nobody", "member", apierror.ValidationError},
		{"no domain name", "root@localhost", "member", apierror.ValidationError},
		{"address literal", "root@[10.0.0.5]", "member", apierror.ValidationError},
		{"unknown role", "x@example.com", "king", apierror.ValidationError},
		{"already a member", "OWNER@example.com", "member", apierror.AlreadyExist},
	} {
		_, _, err := w.s.Invite(w.ctx, owner, tc.email, tc.role)
		wantCode(t, tc.name, err, tc.want)
	}
}

// An invitation for an address without an account makes the account,
// unverified: it may not create orgs until the mailed code verifies it.
// An invitation works once.
func TestAcceptAsANewUser(t *testing.T) {
	w := mustWorld(t)
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	token, _, err := w.s.Invite(w.ctx, owner, "new@example.com", "member")
	if err != nil {
		t.Fatal(err)
	}

	_, err = w.s.Accept(w.ctx, nobody, token, "New", "short")
	wantCode(t, "weak password", err, apierror.ValidationError)

	acc, err := w.s.Accept(w.ctx, nobody, token, " New ", pw)
	if err != nil {
		t.Fatal(err)
	}
	if !acc.NewUser || acc.User.Email != "new@example.com" || acc.User.Name != "New" || !acc.User.EmailVerifiedAt.IsZero() ||
		acc.Member.OrgID != w.org || acc.Member.Role != identity.RoleMember {
		t.Errorf("accepted %+v", acc)
	}
	if stored, err := w.st.InvitationByDigest(w.ctx, apikey.Digest(pepper, token)); err != nil || !stored.AcceptedAt.Equal(w.clock.Now()) {
		t.Errorf("invitation after accepting %+v %v", stored, err)
	}
	if a := w.lastAudit(t, w.org); a.Action != "member.joined" || a.ActorID != acc.User.ID {
		t.Errorf("audit %+v", a)
	}
	_, err = w.s.Accept(w.ctx, nobody, token, "Again", pw)
	wantCode(t, "second accept", err, apierror.AlreadyExist)

	// Unverified: no orgs, no further invitations.
	p, _ := w.mustSignIn(t, "new@example.com", w.org)
	_, err = w.s.CreateOrg(w.ctx, p, "Mine")
	wantCode(t, "unverified creates an org", err, apierror.Forbidden)
	other, err := w.s.CreateOrgWithOwner(w.ctx, "Other", "other@example.com", pw, "free", func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	otherOwner, _ := w.mustSignIn(t, "other@example.com", other.ID)
	token2, _, err := w.s.Invite(w.ctx, otherOwner, "new@example.com", "member")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.Accept(w.ctx, p, token2, "", "")
	wantCode(t, "unverified accepts another invitation", err, apierror.Forbidden)

	code := w.mail.mustCode(t, "new@example.com", "Confirm your email")
	u, err := w.s.VerifyEmail(w.ctx, p, code)
	if err != nil || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("verify: %+v %v", u, err)
	}
	if _, err := w.s.CreateOrg(w.ctx, p, "Mine"); err != nil {
		t.Errorf("verified creates an org: %v", err)
	}
	if _, err := w.s.Accept(w.ctx, p, token2, "", ""); err != nil {
		t.Errorf("verified accepts another invitation: %v", err)
	}
}

// An invitation lasts InvitationTTL (7 days by default), and not a moment
// longer.
func TestInvitationsExpire(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		life time.Duration
	}{
		{"default", 0, 7 * 24 * time.Hour},
		{"one hour", time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustWorld(t)
			w.s.InvitationTTL = tc.ttl
			owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
			early, _, err := w.s.Invite(w.ctx, owner, "early@example.com", "member")
			if err != nil {
				t.Fatal(err)
			}
			late, inv, err := w.s.Invite(w.ctx, owner, "late@example.com", "member")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := inv.ExpiresAt, w.clock.Now().Add(tc.life); !got.Equal(want) {
				t.Errorf("expires %s, want %s", got, want)
			}
			w.clock.Advance(tc.life - time.Millisecond)
			if _, err := w.s.Accept(w.ctx, nobody, early, "", pw); err != nil {
				t.Errorf("a moment before expiry: %v", err)
			}
			w.clock.Advance(time.Millisecond)
			_, err = w.s.Accept(w.ctx, nobody, late, "", pw)
			wantCode(t, "at expiry", err, apierror.NotFound)
			if _, err := w.st.UserByEmail(w.ctx, "late@example.com"); !isNotFound(err) {
				t.Errorf("account made by an expired invitation: %v", err)
			}
		})
	}
}

// An invitation's token went to the inviter, so it proves nothing about the
// address: an existing account joins only through its own session, once
// its address is verified.
func TestAcceptForAnExistingAccount(t *testing.T) {
	w := mustWorld(t)
	owner, _ := w.mustSignIn(t, "owner@example.com", w.org)
	known := w.mustUser(t, "known@example.com", true)
	w.mustUser(t, "unverified@example.com", false)
	w.mustUser(t, "someone@example.com", true)
	invite := func(email string) string {
		t.Helper()
		token, _, err := w.s.Invite(w.ctx, owner, email, "admin")
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	knownToken, unverifiedToken, freshToken := invite("known@example.com"), invite("unverified@example.com"), invite("fresh@example.com")
	knownP, _ := w.mustSignIn(t, "known@example.com", "")
	unverifiedP, _ := w.mustSignIn(t, "unverified@example.com", "")
	someoneP, _ := w.mustSignIn(t, "someone@example.com", "")

	for _, tc := range []struct {
		name  string
		p     access.Principal
		token string
		pw    string
		want  apierror.Code
	}{
		{"not signed in", nobody, knownToken, pw, apierror.Unauthorized},
		{"signed in as someone else", someoneP, knownToken, "", apierror.Forbidden},
		{"with a password", knownP, knownToken, pw, apierror.ValidationError},
		{"unverified address", unverifiedP, unverifiedToken, "", apierror.Forbidden},
		{"signed in, for an address without an account", someoneP, freshToken, "", apierror.Forbidden},
		{"a session token", nobody, apikey.Generate(apikey.Session), pw, apierror.NotFound},
		{"a made-up invitation", nobody, apikey.Generate(apikey.Invitation), pw, apierror.NotFound},
		{"not a token", nobody, "hello", pw, apierror.NotFound},
	} {
		_, err := w.s.Accept(w.ctx, tc.p, tc.token, "", tc.pw)
		wantCode(t, tc.name, err, tc.want)
	}
	if ms, _ := w.s.Members(w.ctx, owner); len(ms) != 1 {
		t.Fatalf("members after refusals: %+v", ms)
	}
	if _, err := w.st.UserByEmail(w.ctx, "fresh@example.com"); !isNotFound(err) {
		t.Errorf("account made by a refused accept: %v", err)
	}

	acc, err := w.s.Accept(w.ctx, knownP, knownToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if acc.NewUser || acc.User.ID != known.ID || acc.Member.Role != identity.RoleAdmin {
		t.Errorf("accepted %+v", acc)
	}
	if m, err := w.st.Member(w.ctx, w.org, known.ID); err != nil || m.Role != identity.RoleAdmin {
		t.Errorf("membership %+v %v", m, err)
	}
	if n := w.mail.sent("known@example.com", "Confirm your email"); n != 0 {
		t.Errorf("%d verification emails to a verified account", n)
	}
}
