package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

var (
	pepper        = bytes.Repeat([]byte{7}, 32)
	fastPasswords = password.Params{Memory: 1024, Time: 1, Threads: 1}
	quiet         = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// pw is every test user's password.
const pw = "a long enough password"

// clock is the service's Now; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mailbox keeps every email the service sends.
type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

var _ accounts.Mailer = (*mailbox)(nil)

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// sent counts the emails to to whose subject holds subject.
func (m *mailbox) sent(to, subject string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, msg := range m.msgs {
		if msg.To == to && strings.Contains(msg.Subject, subject) {
			n++
		}
	}
	return n
}

// last returns the latest email to to whose subject holds subject, and
// whether there is one.
func (m *mailbox) last(to, subject string) (mail.Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if msg := m.msgs[i]; msg.To == to && strings.Contains(msg.Subject, subject) {
			return msg, true
		}
	}
	return mail.Message{}, false
}

var mailedCodePattern = regexp.MustCompile(`h0p_[ei]_[0-9A-Za-z]{36}`)

// mustCode waits (password resets are mailed in the background) for the
// latest email to to whose subject holds subject, and returns the code in
// it.
func (m *mailbox) mustCode(t *testing.T, to, subject string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m.mu.Lock()
		for i := len(m.msgs) - 1; i >= 0; i-- {
			if msg := m.msgs[i]; msg.To == to && strings.Contains(msg.Subject, subject) {
				m.mu.Unlock()
				code := mailedCodePattern.FindString(msg.Body)
				if code == "" {
					t.Fatalf("no code in the email %q:\n%s", msg.Subject, msg.Body)
				}
				return code
			}
		}
		m.mu.Unlock()
	}
	t.Fatalf("no email %q to %s", subject, to)
	return ""
}

// world is an accounts Service over a real SQLite store, with a clock the
// test moves and a mailbox, and one org (on the business plan) whose Owner
// is owner@example.com.
type world struct {
	ctx      context.Context
	st       *sqlstore.Store
	s        *accounts.Service
	clock    *clock
	mail     *mailbox
	org      string
	owner    store.User
	ownerKey string // the Owner's user key
}

func mustWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{ctx: ctx, st: st, clock: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, mail: &mailbox{}}
	w.s = &accounts.Service{Store: st, Pepper: pepper, Now: w.clock.Now, PasswordParams: fastPasswords,
		Mailer: w.mail, APIURL: "https://api.example.com", Logger: quiet}
	o, err := w.s.CreateOrgWithOwner(ctx, "Acme", "owner@example.com", pw, "business", func(key string) error {
		w.ownerKey = key
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.org = o.ID
	if w.owner, err = st.UserByEmail(ctx, "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	return w
}

// mustUser creates a user with password pw, verified or not.
func (w *world) mustUser(t *testing.T, email string, verified bool) store.User {
	t.Helper()
	now := w.clock.Now()
	u := store.User{ID: "usr_" + strings.Split(email, "@")[0], Email: email, Name: email,
		PasswordHash: password.Hash(pw, fastPasswords), CreatedAt: now}
	if verified {
		u.EmailVerifiedAt = now
	}
	if err := w.st.CreateUser(w.ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// mustJoin creates a verified user and makes them a member of w.org with
// role.
func (w *world) mustJoin(t *testing.T, email string, role identity.Role) store.User {
	t.Helper()
	u := w.mustUser(t, email, true)
	w.mustAddMember(t, u, role)
	return u
}

// mustAddMember makes u a member of w.org with role.
func (w *world) mustAddMember(t *testing.T, u store.User, role identity.Role) {
	t.Helper()
	if err := w.st.AddMember(w.ctx, store.Member{OrgID: w.org, UserID: u.ID, Role: role, CreatedAt: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

// mustSignIn logs email in and returns the principal the API would make of
// the session for orgID (the person with their current role there; "" for
// no org), and the session token.
func (w *world) mustSignIn(t *testing.T, email, orgID string) (access.Principal, string) {
	t.Helper()
	token, sess, err := w.s.Login(w.ctx, email, pw)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	p := access.Principal{Kind: access.Session, UserID: sess.UserID, SessionID: sess.ID}
	if orgID != "" {
		m, err := w.st.Member(w.ctx, orgID, sess.UserID)
		if err != nil {
			t.Fatalf("member %s of %s: %v", email, orgID, err)
		}
		p.OrgID, p.Role = orgID, m.Role
	}
	return p, token
}

// signedIn reports whether the session of token is still open (expiry
// aside: the API checks that when it resolves a token).
func (w *world) signedIn(t *testing.T, token string) bool {
	t.Helper()
	_, err := w.st.SessionByDigest(w.ctx, apikey.Digest(pepper, token))
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// mustKeyPrincipal is the principal the API would make of an API key: a
// bot key with its grants, a user key with its grants and its person's
// current role.
func (w *world) mustKeyPrincipal(t *testing.T, plain string) access.Principal {
	t.Helper()
	k, err := w.st.APIKeyByDigest(w.ctx, apikey.Digest(pepper, plain))
	if err != nil {
		t.Fatalf("key %s: %v", apikey.Prefix(plain), err)
	}
	grants, err := access.Parse(k.Permissions)
	if err != nil {
		t.Fatal(err)
	}
	p := access.Principal{Kind: access.BotKey, OrgID: k.OrgID, KeyID: k.ID, Grants: grants}
	if k.Type == identity.KeyUser {
		m, err := w.st.Member(w.ctx, k.OrgID, k.UserID)
		if err != nil {
			t.Fatalf("member of key %s: %v", k.ID, err)
		}
		p.Kind, p.UserID, p.Role = access.UserKey, k.UserID, m.Role
	}
	return p
}

// mustCreateKey creates a key as p and returns the key and its secret.
func (w *world) mustCreateKey(t *testing.T, p access.Principal, typ string, perms identity.Permissions) (store.APIKey, string) {
	t.Helper()
	name := typ + " key"
	plain, k, err := w.s.CreateKey(w.ctx, p, accounts.KeyInput{Name: &name, Type: typ, Permissions: &perms})
	if err != nil {
		t.Fatalf("create %s key as %s %s: %v", typ, p.Kind, p.Role, err)
	}
	return k, plain
}

// lastAudit is the newest audit entry of orgID.
func (w *world) lastAudit(t *testing.T, orgID string) store.AuditEntry {
	t.Helper()
	es, err := w.st.AuditLogs(w.ctx, store.AuditFilter{OrgID: orgID, Limit: 1})
	if err != nil || len(es) == 0 {
		t.Fatalf("audit log of %s: %v %v", orgID, es, err)
	}
	return es[0]
}

// codeOf is the API code of err; "" for nil.
func codeOf(err error) apierror.Code {
	if err == nil {
		return ""
	}
	return apierror.From(err).Code
}

// wantCode fails unless err carries code (want "" for no error).
func wantCode(t *testing.T, what string, err error, want apierror.Code) {
	t.Helper()
	if got := codeOf(err); got != want {
		t.Errorf("%s: got %q (%v), want %q", what, got, err, want)
	}
}

// perms is a grant of actions on resources.
func perms(grants map[access.Resource][]access.Action) identity.Permissions {
	return access.Of(grants).Permissions()
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
