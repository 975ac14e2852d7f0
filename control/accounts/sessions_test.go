package accounts_test

import (
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/shared/apierror"
)

// Login opens a session whose token is shown once; the store keeps its
// digest and an expiry 12 hours on, which a later login does not extend.
func TestLoginOpensASession(t *testing.T) {
	w := mustWorld(t)
	start := w.clock.Now()
	token, sess, err := w.s.Login(w.ctx, "  Owner@Example.com ", pw)
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := apikey.Parse(token); err != nil || typ != apikey.Session {
		t.Errorf("token %q: %v %v", token, typ, err)
	}
	got, err := w.st.SessionByDigest(w.ctx, apikey.Digest(pepper, token))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sess.ID || got.UserID != w.owner.ID || !got.CreatedAt.Equal(start) || !got.ExpiresAt.Equal(start.Add(12*time.Hour)) {
		t.Errorf("stored session %+v, want %s of %s from %s for 12h", got, sess.ID, w.owner.ID, start)
	}

	w.clock.Advance(11 * time.Hour)
	token2, sess2, err := w.s.Login(w.ctx, "owner@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	if token2 == token || sess2.ID == sess.ID || !sess2.ExpiresAt.Equal(start.Add(23*time.Hour)) {
		t.Errorf("second login %+v: want a new session until %s", sess2, start.Add(23*time.Hour))
	}
	if first, err := w.st.SessionByDigest(w.ctx, apikey.Digest(pepper, token)); err != nil || !first.ExpiresAt.Equal(start.Add(12*time.Hour)) {
		t.Errorf("first session after a second login: %+v %v (not extended)", first, err)
	}
}

func TestLoginSessionTTL(t *testing.T) {
	w := mustWorld(t)
	w.s.SessionTTL = time.Hour
	_, sess, err := w.s.Login(w.ctx, "owner@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sess.ExpiresAt, w.clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("expires %s, want %s", got, want)
	}
}

// A wrong password, an unknown address and an account without a password
// get the same refusal.
func TestLoginRefusals(t *testing.T) {
	w := mustWorld(t)
	if _, err := w.s.CreateOrgWithOwner(w.ctx, "Other", "nopassword@example.com", "", "free", func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var first string
	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", "owner@example.com", "not the password at all"},
		{"unknown address", "nobody@example.com", pw},
		{"no password set", "nopassword@example.com", ""},
		{"empty password", "owner@example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := w.s.Login(w.ctx, tc.email, tc.pw)
			wantCode(t, "login", err, apierror.Unauthorized)
			if first == "" {
				first = err.Error()
			} else if err.Error() != first {
				t.Errorf("got %q, want the same refusal as %q", err, first)
			}
		})
	}
}

// Logout ends the principal's session and no other.
func TestLogout(t *testing.T) {
	w := mustWorld(t)
	token, _, err := w.s.Login(w.ctx, "owner@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	p, mine := w.mustSignIn(t, "owner@example.com", w.org)
	if err := w.s.Logout(w.ctx, p); err != nil {
		t.Fatal(err)
	}
	if w.signedIn(t, mine) {
		t.Error("the session is still open after logout")
	}
	wantCode(t, "second logout", w.s.Logout(w.ctx, p), apierror.NotFound)
	if !w.signedIn(t, token) {
		t.Error("logout ended another session of the person")
	}
}

// Me is the person and their memberships; a bot key has no person.
func TestMe(t *testing.T) {
	w := mustWorld(t)
	p, _ := w.mustSignIn(t, "owner@example.com", w.org)
	u, ms, err := w.s.Me(w.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != w.owner.ID || len(ms) != 1 || ms[0].OrgID != w.org || ms[0].Role != identity.RoleOwner {
		t.Errorf("me: %+v %+v", u, ms)
	}
	_, bot := w.mustCreateKey(t, p, "bot", perms(map[access.Resource][]access.Action{access.ShortLinks: {access.Read}}))
	_, _, err = w.s.Me(w.ctx, w.mustKeyPrincipal(t, bot))
	wantCode(t, "me as a bot", err, apierror.Forbidden)
}

// Changing a password ends every other session of the person; the
// operator's set-password ends all of them. The old password stops
// working at once.
func TestPasswordChangesEndSessions(t *testing.T) {
	w := mustWorld(t)
	const newPW = "a brand new long password"
	p, mine := w.mustSignIn(t, "owner@example.com", w.org)
	_, other := w.mustSignIn(t, "owner@example.com", w.org)

	wantCode(t, "wrong current password", w.s.ChangePassword(w.ctx, p, "not the password", newPW), apierror.ValidationError)
	wantCode(t, "weak new password", w.s.ChangePassword(w.ctx, p, pw, "short"), apierror.ValidationError)
	if !w.signedIn(t, other) {
		t.Fatal("a refused change ended a session")
	}

	if err := w.s.ChangePassword(w.ctx, p, pw, newPW); err != nil {
		t.Fatal(err)
	}
	if !w.signedIn(t, mine) {
		t.Error("the session that changed the password ended; want it kept")
	}
	if w.signedIn(t, other) {
		t.Error("another session is still open after the password changed")
	}
	_, _, err := w.s.Login(w.ctx, "owner@example.com", pw)
	wantCode(t, "login with the old password", err, apierror.Unauthorized)
	if _, _, err := w.s.Login(w.ctx, "owner@example.com", newPW); err != nil {
		t.Errorf("login with the new password: %v", err)
	}

	// The operator's command ends every session, the caller's included.
	if err := w.s.SetPassword(w.ctx, "OWNER@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if w.signedIn(t, mine) {
		t.Error("a session is still open after set-password")
	}
	if _, _, err := w.s.Login(w.ctx, "owner@example.com", pw); err != nil {
		t.Errorf("login with the password set: %v", err)
	}
	wantCode(t, "set-password of nobody", w.s.SetPassword(w.ctx, "nobody@example.com", pw), apierror.NotFound)
	wantCode(t, "set-password too short", w.s.SetPassword(w.ctx, "owner@example.com", "short"), apierror.ValidationError)
}
