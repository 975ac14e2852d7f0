package dashboard_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/dashboard"
)

// TestSignOutWhenTheServerCannotEndTheSession: signing out clears the
// browser's cookies even when POST /v1/auth/logout fails, and says the
// server could not end the session; so does signing in over a session.
func TestSignOutWhenTheServerCannotEndTheSession(t *testing.T) {
	s := mustStart(t)
	b := faultyDashboard(t, s, func(w http.ResponseWriter, r *http.Request) bool {
		return r.URL.Path == "/v1/auth/logout" && internalError(w)
	})
	b.mustJoin(s.mustInvite(t, "ada@example.com", "member"), "Ada", "a long password")
	if p := b.get(b.mustSignIn("ada@example.com", "a long password").location()); p.status != 200 ||
		!strings.Contains(p.body, "Your previous session could not be ended") {
		t.Errorf("signed in over a session:\n%s", p.body)
	}
	p := b.submit("/links", "/logout", nil)
	if b.cookie("h0p_session") != "" || b.cookie("h0p_org") != "" || !strings.Contains(p.body, "could not end your session") {
		t.Errorf("sign out: %d, session cookie %q\n%s", p.status, b.cookie("h0p_session"), p.body)
	}
	if p := b.get("/links"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
		t.Errorf("after signing out: %d %s", p.status, p.location())
	}
}

// TestSignInOverASessionEndsIt: signing in again over a session's cookie
// ends that session on the server, not only its cookie.
func TestSignInOverASessionEndsIt(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "member")
	old := b.cookie("h0p_session")
	b.mustSignIn("ada@example.com", "a long password")
	if b.cookie("h0p_session") == old {
		t.Fatal("the same session after signing in again")
	}
	c, err := apiclient.NewSession(s.url, old, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(context.Background()); !apiclient.IsCode(err, "UNAUTHORIZED") {
		t.Errorf("the old session after signing in again: %v", err)
	}
}

// syncBuffer is a log's buffer, written by the servers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoInvitationTokenInLogs: a failure on an invitation's page is
// logged by its route, with no token, for the signed-in person and for a
// new account alike.
func TestNoInvitationTokenInLogs(t *testing.T) {
	s := mustStart(t)
	var logs syncBuffer
	var broken atomic.Bool
	b := faultyDashboard(t, s, func(w http.ResponseWriter, r *http.Request) bool {
		if broken.Load() && strings.HasPrefix(r.URL.Path, "/v1/invitations/") {
			// An answer the client cannot read: an error that names the
			// path.
			w.Write([]byte("not JSON"))
			return true
		}
		return false
	}, func(c *dashboard.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	b.mustJoin(s.mustInvite(t, "ada@example.com", "member"), "Ada", "a long password")
	broken.Store(true)
	var inv struct {
		Token string `json:"token"`
	}
	if err := s.mustOrgOf(t, "Other", "olga@example.com").Do(context.Background(), "POST", "/v1/invitations", nil,
		map[string]string{"email": "ada@example.com", "role": "member"}, &inv); err != nil {
		t.Fatal(err)
	}
	mine, theirs := inv.Token, s.mustInvite(t, "bob@example.com", "member")
	if p := b.submit("/invite/"+mine, "/invite/"+mine, nil); p.status != http.StatusInternalServerError {
		t.Errorf("accept signed in: %d\n%s", p.status, p.body)
	}
	anon := s.browser(t)
	anon.base = b.base
	if p := anon.submit("/invite/"+theirs, "/invite/"+theirs, url.Values{"name": {"Bob"}, "password": {"a long password"}}); p.status != http.StatusInternalServerError {
		t.Errorf("accept as a new account: %d\n%s", p.status, p.body)
	}
	out := logs.String()
	if strings.Count(out, "route=\"POST /invite/{token}\"") != 2 || strings.Contains(out, mine) || strings.Contains(out, theirs) {
		t.Errorf("logs:\n%s", out)
	}
}

// TestJoinKeepsTheCurrentOrganization: a signed-in person who accepts an
// invitation of another organization stays in the one they work in, and
// is told which one they joined.
func TestJoinKeepsTheCurrentOrganization(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")
	current := b.cookie("h0p_org")
	s.mustVerifyEmail(t, b)
	other := s.mustOrgOf(t, "Other", "olga@example.com")
	o, err := other.GetOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Token string `json:"token"`
	}
	if err := other.Do(ctx, "POST", "/v1/invitations", nil, map[string]string{"email": "ada@example.com", "role": "admin"}, &inv); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/invite/" + inv.Token); p.status != 200 || !strings.Contains(p.body, "You stay in the organization you work in now") {
		t.Errorf("invitation page: %d\n%s", p.status, p.body)
	}
	p := b.submit("/invite/"+inv.Token, "/invite/"+inv.Token, nil)
	if p.status != http.StatusSeeOther || b.cookie("h0p_org") != current || current == "" || current == o.ID {
		t.Fatalf("accept: %d, org %q, was %q\n%s", p.status, b.cookie("h0p_org"), current, p.body)
	}
	if next := b.get(p.location()); !strings.Contains(next.body, "You joined organization "+o.ID+" as admin") ||
		!strings.Contains(next.body, `id="org-switch"`) {
		t.Errorf("after joining:\n%s", next.body)
	}
}

// mustVerifyEmail marks the email of the person signed in on b as
// verified, as the code mailed to them would.
func (s *stack) mustVerifyEmail(t *testing.T, b *browser) {
	t.Helper()
	ctx := context.Background()
	c, err := apiclient.NewSession(s.url, b.cookie("h0p_session"), b.cookie("h0p_org"))
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(s.dir, "control")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetEmailVerified(ctx, me.User.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
}
