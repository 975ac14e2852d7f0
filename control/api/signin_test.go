package api_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

const victim = "victim@corp.example"

// The account pre-hijacking sequence, step by step as an attacker would try
// it: create an org, invite the victim's address, accept it with a password
// of the attacker's; then wait for a real org to invite the victim. The
// attacker's account never becomes the victim's way into that org, and the
// victim takes the address back with a password reset.
func TestInvitationPreHijackingFails(t *testing.T) {
	e := mustStart(t)
	attackerOrg := mustBootstrap(t, e.store, "2", time.Time{})

	// The attacker makes the victim's account with their own password.
	tok := e.mustCall(t, 201, "POST", "/v1/invitations", attackerOrg, `{"email":"`+victim+`","role":"admin"}`)["token"].(string)
	acc := e.mustCall(t, 200, "POST", "/v1/invitations/"+tok+"/accept", "", `{"name":"V","password":"attacker's password"}`)
	if u := acc["user"].(map[string]any); u["emailVerified"] != false {
		t.Fatalf("an account made through an invitation is verified: %v", acc)
	}
	attacker := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"`+victim+`","password":"attacker's password"}`)["token"].(string)
	attackerKey := e.mustCall(t, 201, "POST", "/v1/api-keys", attacker, `{"name":"stay","type":"user","permissions":{"shortLinks":["read"]}}`)["key"].(string)
	if me := e.mustCall(t, 200, "GET", "/v1/me", attacker, ""); me["user"].(map[string]any)["emailVerified"] != false {
		t.Errorf("GET /v1/me does not say the address is unverified: %v", me)
	}
	// An unverified account makes no organization.
	if status, m, _ := e.call(t, "POST", "/v1/orgs", attacker, `{"name":"mine"}`); status != 403 || !strings.Contains(string(mustJSON(m)), "verify") {
		t.Errorf("unverified account creates an org: %d %v", status, m)
	}
	// Nor can the attacker verify it: the code went to the victim's mailbox,
	// and a code is no good without a session of the account.
	e.mail.Wait(t, victim, "Confirm your email")

	// The real org invites the victim; the invitation reaches their mailbox.
	e.mustCall(t, 201, "POST", "/v1/invitations", e.key, `{"email":"`+victim+`","role":"member"}`)
	realToken := mailedCode(t, e.mail.Wait(t, victim, "You are invited to Org 1"))

	// The victim accepting with their own password no longer joins the
	// attacker's account to the org: they are asked to sign in.
	status, m, _ := e.call(t, "POST", "/v1/invitations/"+realToken+"/accept", "", `{"name":"Victim","password":"victim's own password"}`)
	if status != 401 || !strings.Contains(string(mustJSON(m)), "password-reset") {
		t.Fatalf("accepting for an existing account without signing in: %d %v", status, m)
	}
	// Even holding the token, the attacker's session cannot accept: the
	// address is unverified.
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+realToken+"/accept", attacker, ""); status != 403 {
		t.Errorf("the attacker's unverified account accepts: %d %v", status, m)
	}
	// A verification code without a session of the account does nothing.
	code := mailedCode(t, e.mail.Wait(t, victim, "Confirm your email"))
	if status, _, _ := e.call(t, "POST", "/v1/auth/verify-email", "", `{"token":"`+code+`"}`); status != 401 {
		t.Errorf("verify without a session: %d", status)
	}

	// The victim takes the address back.
	e.mustCall(t, 202, "POST", "/v1/auth/password-reset", "", `{"email":"`+victim+`"}`)
	reset := mailedCode(t, e.mail.Wait(t, victim, "Reset your H0p password"))
	u := e.mustCall(t, 200, "POST", "/v1/auth/password-reset/confirm", "", `{"token":"`+reset+`","password":"victim's own password"}`)
	if u["user"].(map[string]any)["emailVerified"] != true {
		t.Errorf("a reset through the mailbox does not verify the address: %v", u)
	}
	// Everything the attacker held is gone: session, password, user key.
	if status, _, _ := e.call(t, "GET", "/v1/me", attacker, ""); status != 401 {
		t.Errorf("the attacker's session after the reset: %d", status)
	}
	if status, _, _ := e.call(t, "POST", "/v1/auth/login", "", `{"email":"`+victim+`","password":"attacker's password"}`); status != 401 {
		t.Errorf("the attacker's password after the reset: %d", status)
	}
	if status, _, _ := e.call(t, "GET", "/v1/links", attackerKey, ""); status != 401 {
		t.Errorf("the attacker's user key after the reset: %d", status)
	}
	// The victim signs in and joins the real org.
	sess := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"`+victim+`","password":"victim's own password"}`)["token"].(string)
	joined := e.mustCall(t, 200, "POST", "/v1/invitations/"+realToken+"/accept", sess, "")
	if joined["orgId"] != "org_1" {
		t.Errorf("joined %v", joined)
	}
	if me := e.mustCall(t, 200, "GET", "/v1/me", sess, "", "x-org-id", "org_1"); me["role"] != "member" {
		t.Errorf("victim in org_1: %v", me)
	}
}

// Accepting for an existing account takes a session of that very account,
// whose address is verified; the body's password is refused, not ignored.
func TestAcceptingAsAnExistingAccount(t *testing.T) {
	e := mustStart(t)
	ada, _ := e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	bob, _ := e.inviteAndLogin(t, e.key, "bob@example.com", "member")
	other := mustBootstrap(t, e.store, "2", time.Time{})
	tok := e.mustCall(t, 201, "POST", "/v1/invitations", other, `{"email":"ada@example.com","role":"admin"}`)["token"].(string)

	// Without a session, a password too weak to make an account is refused
	// before anything tells whether the address has one.
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+tok+"/accept", "", `{"password":""}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("probing with an empty password: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+tok+"/accept", bob, ""); status != 403 || !strings.Contains(string(mustJSON(m)), "ada@example.com") {
		t.Errorf("someone else's session accepts: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "POST", "/v1/invitations/"+tok+"/accept", ada, `{"password":"a new long password"}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("a password with a session: %d %v", status, m)
	}
	// An API key is not a sign-in: it is ignored, and the account exists.
	if status, _, _ := e.call(t, "POST", "/v1/invitations/"+tok+"/accept", e.key, `{"password":"a new long password"}`); status != 401 {
		t.Errorf("accept with an API key: %d", status)
	}
	e.mustCall(t, 200, "POST", "/v1/invitations/"+tok+"/accept", ada, "")
	if me := e.mustCall(t, 200, "GET", "/v1/me", ada, "", "x-org-id", "org_2"); me["role"] != "admin" {
		t.Errorf("ada in org_2: %v", me)
	}
	// A new address's invitation, accepted while signed in as someone else.
	tok = e.mustCall(t, 201, "POST", "/v1/invitations", other, `{"email":"carol@example.com","role":"member"}`)["token"].(string)
	if status, _, _ := e.call(t, "POST", "/v1/invitations/"+tok+"/accept", ada, `{"password":"a new long password"}`); status != 403 {
		t.Errorf("accepting another address's invitation while signed in: %d", status)
	}
}

func TestEmailVerification(t *testing.T) {
	e := mustStart(t)
	tok := e.mustCall(t, 201, "POST", "/v1/invitations", e.key, `{"email":"new@example.com","role":"member"}`)["token"].(string)
	e.mustCall(t, 200, "POST", "/v1/invitations/"+tok+"/accept", "", `{"name":"N","password":"long enough password"}`)
	first := mailedCode(t, e.mail.Wait(t, "new@example.com", "Confirm your email"))
	sess := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"new@example.com","password":"long enough password"}`)["token"].(string)

	// One code a minute at most; a new one leaves the first good (the mail
	// may be slow).
	if status, m, _ := e.call(t, "POST", "/v1/auth/verify-email/resend", sess, ""); status != 429 || errCode(m) != "RATE_LIMITED" {
		t.Errorf("a second code within a minute: %d %v", status, m)
	}
	e.now = e.now.Add(61 * time.Second)
	e.mustCall(t, 200, "POST", "/v1/auth/verify-email/resend", sess, "")
	var second string
	for _, m := range e.mail.Messages() {
		if c := mailedCodePattern.FindString(m.Body); strings.HasPrefix(m.Subject, "Confirm") && c != first {
			second = c
		}
	}
	if second == "" {
		t.Fatal("no second code mailed")
	}
	// Another account's session cannot use the code.
	other, _ := e.inviteAndLogin(t, e.key, "other@example.com", "member")
	if status, _, _ := e.call(t, "POST", "/v1/auth/verify-email", other, `{"token":"`+second+`"}`); status != 404 {
		t.Errorf("someone else's code: %d", status)
	}
	v := e.mustCall(t, 200, "POST", "/v1/auth/verify-email", sess, `{"token":"`+second+`"}`)
	if v["user"].(map[string]any)["emailVerified"] != true {
		t.Errorf("after verifying: %v", v)
	}
	if status, _, _ := e.call(t, "POST", "/v1/auth/verify-email", sess, `{"token":"`+second+`"}`); status != 404 {
		t.Errorf("a code used twice: %d", status)
	}
	e.mustCall(t, 201, "POST", "/v1/orgs", sess, `{"name":"now allowed"}`)
	// Codes expire after 7 days.
	tok = e.mustCall(t, 201, "POST", "/v1/invitations", e.key, `{"email":"slow@example.com","role":"member"}`)["token"].(string)
	e.mustCall(t, 200, "POST", "/v1/invitations/"+tok+"/accept", "", `{"name":"S","password":"long enough password"}`)
	code := mailedCode(t, e.mail.Wait(t, "slow@example.com", "Confirm your email"))
	e.now = e.now.Add(8 * 24 * time.Hour)
	slow := e.mustCall(t, 200, "POST", "/v1/auth/login", "", `{"email":"slow@example.com","password":"long enough password"}`)["token"].(string)
	if status, _, _ := e.call(t, "POST", "/v1/auth/verify-email", slow, `{"token":"`+code+`"}`); status != 404 {
		t.Errorf("expired code: %d", status)
	}
}

// A password change ends every other session of the user; a reset, every
// session; and so does the operator's set-password.
func TestPasswordChangesEndSessions(t *testing.T) {
	e := mustStart(t)
	a, _ := e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	login := func(pw string) (int, string) {
		status, m, _ := e.call(t, "POST", "/v1/auth/login", "", `{"email":"ada@example.com","password":"`+pw+`"}`)
		tok, _ := m["token"].(string)
		return status, tok
	}
	_, b := login("long enough password")

	if status, m, _ := e.call(t, "POST", "/v1/auth/password", a, `{"currentPassword":"wrong password!!","newPassword":"second long password"}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("wrong current password: %d %v", status, m)
	}
	e.mustCall(t, 204, "POST", "/v1/auth/password", a, `{"currentPassword":"long enough password","newPassword":"second long password"}`)
	e.mustCall(t, 200, "GET", "/v1/me", a, "")
	if status, _, _ := e.call(t, "GET", "/v1/me", b, ""); status != 401 {
		t.Errorf("other session after a password change: %d", status)
	}
	if status, _ := login("long enough password"); status != 401 {
		t.Errorf("old password: %d", status)
	}

	// Reset: every session ends, the code works once and for an hour.
	_, c := login("second long password")
	e.mustCall(t, 202, "POST", "/v1/auth/password-reset", "", `{"email":"ada@example.com"}`)
	code := mailedCode(t, e.mail.Wait(t, "ada@example.com", "Reset your H0p password"))
	if status, m, _ := e.call(t, "POST", "/v1/auth/password-reset/confirm", "", `{"token":"`+code+`","password":"short"}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("weak password: %d %v", status, m)
	}
	e.mustCall(t, 200, "POST", "/v1/auth/password-reset/confirm", "", `{"token":"`+code+`","password":"third long password"}`)
	for _, s := range []string{a, c} {
		if status, _, _ := e.call(t, "GET", "/v1/me", s, ""); status != 401 {
			t.Errorf("session after a reset: %d", status)
		}
	}
	if status, _, _ := e.call(t, "POST", "/v1/auth/password-reset/confirm", "", `{"token":"`+code+`","password":"fourth long password"}`); status != 404 {
		t.Errorf("a reset code used twice: %d", status)
	}
	// One code a minute at most goes to an address; the answer is the same.
	sent := len(e.mail.Messages())
	e.mustCall(t, 202, "POST", "/v1/auth/password-reset", "", `{"email":"ada@example.com"}`)
	e.now = e.now.Add(61 * time.Second)
	e.mustCall(t, 202, "POST", "/v1/auth/password-reset", "", `{"email":"ada@example.com"}`)
	late := mailedCode(t, e.mail.WaitFrom(t, sent, "ada@example.com", "Reset your H0p password"))
	if late == code {
		t.Fatal("no new reset code")
	}
	if n := len(e.mail.Messages()) - sent; n != 1 {
		t.Errorf("%d reset mails for two requests a second apart and one a minute later, want 1", n)
	}
	e.now = e.now.Add(61 * time.Minute)
	if status, _, _ := e.call(t, "POST", "/v1/auth/password-reset/confirm", "", `{"token":"`+late+`","password":"fourth long password"}`); status != 404 {
		t.Errorf("an expired reset code: %d", status)
	}
	// An unknown address gets the same answer, and no mail.
	before := len(e.mail.Messages())
	e.mustCall(t, 202, "POST", "/v1/auth/password-reset", "", `{"email":"nobody@example.com"}`)
	if status, m, _ := e.call(t, "POST", "/v1/auth/password-reset", "", `{"email":"not an address"}`); status != 400 {
		t.Errorf("a malformed address: %d %v", status, m)
	}

	// The operator's set-password ends every session too.
	_, d := login("third long password")
	if err := e.accounts.SetPassword(context.Background(), "ada@example.com", "operator's long password"); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.call(t, "GET", "/v1/me", d, ""); status != 401 {
		t.Errorf("session after set-password: %d", status)
	}
	for _, m := range e.mail.Messages()[before:] {
		if m.To[0] == "nobody@example.com" {
			t.Errorf("mail to an unknown address: %v", m.Subject)
		}
	}
}

// A removed member's session no longer acts in the org, and their key is
// gone; in their other orgs it goes on working.
func TestRemovedMemberLosesTheOrg(t *testing.T) {
	e := mustStart(t)
	sess, uid := e.inviteAndLogin(t, e.key, "ada@example.com", "admin")
	own := e.mustCall(t, 201, "POST", "/v1/orgs", sess, `{"name":"Ada's"}`)["id"].(string)
	e.mustCall(t, 200, "GET", "/v1/links", sess, "", "x-org-id", "org_1")
	e.mustCall(t, 200, "DELETE", "/v1/members/"+uid, e.key, "")
	if status, _, _ := e.call(t, "GET", "/v1/links", sess, "", "x-org-id", "org_1"); status != 404 {
		t.Errorf("removed member's session in the org: %d", status)
	}
	if status, _, _ := e.call(t, "POST", "/v1/links", sess, `{"url":"https://example.com"}`, "x-org-id", "org_1"); status != 404 {
		t.Errorf("removed member's session writes in the org: %d", status)
	}
	e.mustCall(t, 200, "GET", "/v1/links", sess, "", "x-org-id", own)
}

// member.joined names the request it came from, like every audit entry.
func TestMemberJoinedAuditNamesTheRequest(t *testing.T) {
	e := mustStart(t)
	_, uid := e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	entries := e.mustCall(t, 200, "GET", "/v1/audit-logs?resourceId="+uid, e.key, "")["data"].([]any)
	for _, en := range entries {
		m := en.(map[string]any)
		if m["action"] == "member.joined" {
			if !strings.HasPrefix(m["requestId"].(string), "req_") || m["ip"] != "127.0.0.1" || m["actorId"] != uid {
				t.Errorf("member.joined entry %v", m)
			}
			return
		}
	}
	t.Errorf("no member.joined entry in %v", entries)
}

// Mail goes only to addresses at internet domain names: no address
// literals, no single-label internal names.
func TestInvitationsOnlyToInternetAddresses(t *testing.T) {
	e := mustStart(t)
	for _, addr := range []string{"x@[10.0.0.5]", "x@internal", "x@localhost", "x@a..b", "x@.example.com", "x@[::1]"} {
		if status, m, _ := e.call(t, "POST", "/v1/invitations", e.key, `{"email":"`+addr+`","role":"member"}`); status != 400 || errCode(m) != "VALIDATION_ERROR" {
			t.Errorf("invite %s: %d %v", addr, status, m)
		}
		if status, _, _ := e.call(t, "POST", "/v1/auth/password-reset", "", `{"email":"`+addr+`"}`); status != 400 {
			t.Errorf("reset for %s: %d", addr, status)
		}
	}
	if len(e.mail.Messages()) != 0 {
		t.Errorf("mail sent: %v", e.mail.Messages())
	}
}
