package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
)

var (
	secretRe = regexp.MustCompile(`data-copy="(h0p_[^"]+)"`)
	keyIDRe  = regexp.MustCompile(`href="/keys/(key_[0-9A-Z]+)"`)
)

// mustSecret is the secret on a key's answer page, and the key's ID.
func mustSecret(t *testing.T, p page) (secret, id string) {
	t.Helper()
	s, k := secretRe.FindStringSubmatch(p.body), keyIDRe.FindStringSubmatch(p.body)
	if p.status != 200 || s == nil || k == nil || !strings.Contains(p.body, "shown this once") {
		t.Fatalf("no secret shown: %d\n%s", p.status, p.body)
	}
	return html.UnescapeString(s[1]), k[1]
}

// keyClient is an API client with secret.
func (s *stack) keyClient(t *testing.T, secret string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(s.url, secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBotKeyLifecycle: an Admin creates a bot key that may only read
// links (the grid offers what the role allows); its secret is shown
// once, works against the API for that and nothing more, and no GET page
// shows it again; rotating shows a new one and ends the old; revoking
// ends the key.
func TestBotKeyLifecycle(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "admin")

	form := b.get("/keys/new")
	if form.status != 200 || !strings.Contains(form.body, `value="shortLinks:read">`) ||
		!strings.Contains(form.body, `value="stats:update" disabled>`) || !strings.Contains(form.body, `value="stats:read">`) {
		t.Fatalf("the key form (stats beyond read disabled for an Admin): %d\n%s", form.status, form.body)
	}
	if p := b.submit("/keys/new", "/keys/new", url.Values{"type": {"bot"}, "grant": {"shortLinks:read"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `id="name-err"`) || !strings.Contains(p.body, `value="shortLinks:read" checked>`) {
		t.Errorf("no name: %d\n%s", p.status, p.body)
	}
	p := b.submit("/keys/new", "/keys/new", url.Values{"name": {"Reader"}, "type": {"bot"}, "grant": {"shortLinks:read"},
		"expiresAt": {"2099-01-02T03:04"}})
	secret, id := mustSecret(t, p)
	if !strings.HasPrefix(secret, "h0p_b_") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("secret %q, Cache-Control %q", secret, p.header.Get("Cache-Control"))
	}
	bot := s.keyClient(t, secret)
	if _, err := bot.ListLinks(ctx, apiclient.LinkQuery{}); err != nil {
		t.Errorf("the key reads links: %v", err)
	}
	if _, err := bot.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/")}); !apiclient.IsCode(err, "FORBIDDEN") {
		t.Errorf("the key creates a link: %v", err)
	}
	k, err := s.owner(t).GetAPIKey(ctx, id)
	if err != nil || k.Type != "bot" || len(k.Permissions) != 1 || strings.Join(k.Permissions["shortLinks"], ",") != "read" ||
		k.ExpiresAt == nil || !strings.HasPrefix(*k.ExpiresAt, "2099-01-02T03:04") {
		t.Fatalf("created: %+v %v", k, err)
	}
	for _, path := range []string{"/keys", "/keys/" + id, "/keys/" + id + "/delete", "/keys/new"} {
		p := b.get(path)
		if p.status != 200 || strings.Contains(p.body, secret) || strings.Contains(p.body, secret[len(k.Prefix):]) {
			t.Errorf("GET %s: %d, or it shows the secret", path, p.status)
		}
	}
	if p := b.get("/keys"); !strings.Contains(p.body, "Reader") || !strings.Contains(p.body, "shortLinks: read") ||
		!strings.Contains(p.body, k.Prefix) {
		t.Errorf("the keys list:\n%s", p.body)
	}
	if p := b.get("/keys/" + id + "?interval=7d"); !strings.Contains(p.body, "requests") || !strings.Contains(p.body, "Rotate") {
		t.Errorf("the key's page with its usage:\n%s", p.body)
	}

	p = b.submit("/keys/"+id, "/keys/"+id+"/rotate", nil)
	rotated, rid := mustSecret(t, p)
	if rid != id || rotated == secret || !strings.Contains(p.body, "rotated") {
		t.Errorf("rotate: %s %q", rid, rotated)
	}
	if _, err := bot.ListLinks(ctx, apiclient.LinkQuery{}); !apiclient.IsCode(err, "UNAUTHORIZED") {
		t.Errorf("the old secret after rotation: %v", err)
	}
	bot = s.keyClient(t, rotated)
	if _, err := bot.ListLinks(ctx, apiclient.LinkQuery{}); err != nil {
		t.Errorf("the new secret: %v", err)
	}

	if p := b.get("/keys/" + id + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
		t.Errorf("the confirmation page: %d", p.status)
	}
	if p := b.submit("/keys/"+id+"/delete", "/keys/"+id+"/delete", nil); p.status != http.StatusSeeOther || p.location() != "/keys" {
		t.Fatalf("revoke: %d %q\n%s", p.status, p.location(), p.body)
	}
	if _, err := bot.ListLinks(ctx, apiclient.LinkQuery{}); !apiclient.IsCode(err, "UNAUTHORIZED") {
		t.Errorf("a revoked key: %v", err)
	}
	if p := b.get("/keys"); !strings.Contains(p.body, "API key revoked") || strings.Contains(p.body, "/keys/"+id) {
		t.Errorf("the list after revoking:\n%s", p.body)
	}
}

// TestKeyGrantsBeyondTheRole: a forged form that grants more than the
// Admin's role (stats:update) is refused by the API, the refusal shown,
// and no key made.
func TestKeyGrantsBeyondTheRole(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "admin")
	p := b.submit("/keys/new", "/keys/new", url.Values{"name": {"Forged"}, "type": {"bot"},
		"grant": {"shortLinks:read", "stats:update"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "exceed") || secretRe.MatchString(p.body) {
		t.Errorf("grants beyond the role: %d\n%s", p.status, p.body)
	}
	if ks, err := s.owner(t).ListAPIKeys(ctx); err != nil || len(ks.Data) != 1 { // the bootstrap Owner's
		t.Errorf("keys after a refusal: %+v %v", ks.Data, err)
	}
}

// TestMemberSeesNoKeyActions: a Member's keys page offers only their own
// user key, not others' keys; the form offers no bot key, and a forged
// POST of one is refused by the API and shown. Another org's key is a 404 page; a POST without the CSRF
// token is 403 and makes nothing.
func TestMemberSeesNoKeyActions(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	admin := s.mustPerson(t, "ada@example.com", "admin")
	_, id := mustSecret(t, admin.submit("/keys/new", "/keys/new", url.Values{"name": {"CI"}, "type": {"bot"},
		"grant": {"shortLinks:read"}}))

	b := s.mustPerson(t, "bob@example.com", "member")
	p := b.get("/keys")
	if p.status != 200 || !strings.Contains(p.body, "New user key") || strings.Contains(p.body, "/keys/"+id) {
		t.Errorf("a member's keys page: %d\n%s", p.status, p.body)
	}
	if p := b.get("/keys/new"); p.status != http.StatusOK || strings.Contains(p.body, `value="bot"`) {
		t.Errorf("a member's key form: %d", p.status)
	}
	p = b.submit("/keys", "/keys/new", url.Values{"name": {"Mine"}, "type": {"bot"}, "grant": {"shortLinks:read"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not do this") || secretRe.MatchString(p.body) {
		t.Errorf("a member's forged POST: %d\n%s", p.status, p.body)
	}
	for _, path := range []string{"/keys/" + id, "/keys/" + id + "/delete"} {
		if p := b.get(path); p.status != http.StatusForbidden && p.status != http.StatusNotFound ||
			strings.Contains(p.body, "Revoke the key") {
			t.Errorf("GET %s as a member: %d", path, p.status)
		}
	}
	if p := b.submit("/keys", "/keys/"+id+"/rotate", nil); p.status != http.StatusForbidden && p.status != http.StatusNotFound ||
		secretRe.MatchString(p.body) {
		t.Errorf("a member's forged rotate: %d", p.status)
	}

	if p := admin.post("/keys/new", url.Values{"name": {"No token"}, "type": {"bot"}}); p.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", p.status)
	}
	if p := admin.post("/keys/"+id+"/delete", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("revoke without a CSRF token: %d", p.status)
	}
	if ks, err := s.owner(t).ListAPIKeys(ctx); err != nil || len(ks.Data) != 2 {
		t.Errorf("keys after refused POSTs: %d %v", len(ks.Data), err)
	}

	other := s.mustOrgOf(t, "Other", "eve@example.com")
	ok, err := other.CreateAPIKey(ctx, apiclient.APIKeyInput{Name: "Theirs", Type: "bot",
		Permissions: map[string][]string{"shortLinks": {"read"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/keys/" + ok.ID, "/keys/" + ok.ID + "/delete"} {
		if p := admin.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "Theirs") {
			t.Errorf("GET %s of another org: %d", path, p.status)
		}
	}
	if p := admin.submit("/keys", "/keys/"+ok.ID+"/rotate", nil); p.status != http.StatusNotFound {
		t.Errorf("rotate another org's key: %d", p.status)
	}
}
