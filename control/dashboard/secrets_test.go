package dashboard_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/h0p/h0p/control/dashboard"
)

// faultyDashboard is a dashboard of its own on 127.0.0.1 over s's API,
// reached through a reverse proxy, and a browser of it: fault answers
// the API calls it chooses (reporting true) in the API's stead, to fail
// them; opts change the dashboard's config.
func faultyDashboard(t *testing.T, s *stack, fault func(w http.ResponseWriter, r *http.Request) bool,
	opts ...func(*dashboard.Config)) *browser {
	t.Helper()
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fault(w, r) {
			proxy.ServeHTTP(w, r)
		}
	})
	cfg := dashboard.Config{API: api, Pepper: bytes.Repeat([]byte("p"), 32), Logger: quiet}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := dashboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	b := s.browser(t)
	b.base = srv.URL
	return b
}

// internalError answers the API's 500.
func internalError(w http.ResponseWriter) bool {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`))
	return true
}

// TestSecretShownWhenThePersonCannotBeRead: once the API made a secret
// (a key's or a webhook's, created or rotated), the answer shows it even
// when GET /v1/me fails right after, and no answer that shows a secret
// may be cached.
func TestSecretShownWhenThePersonCannotBeRead(t *testing.T) {
	s := mustStart(t, withLoopbackWebhooks)
	rc := startReceiver(t)
	var failMe atomic.Bool
	b := faultyDashboard(t, s, func(w http.ResponseWriter, r *http.Request) bool {
		return failMe.Load() && r.Method == http.MethodGet && r.URL.Path == "/v1/me" && internalError(w)
	})
	b.mustJoin(s.mustInvite(t, "ada@example.com", "admin"), "Ada", "a long password")
	csrf := b.csrf("/keys/new")

	failMe.Store(true)
	p := b.post("/keys/new", url.Values{"csrf": {csrf}, "name": {"CI"}, "type": {"bot"}, "grant": {"shortLinks:read"}})
	_, id := mustSecret(t, p)
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("created key: Cache-Control %q", p.header.Get("Cache-Control"))
	}
	p = b.post("/keys/"+id+"/rotate", url.Values{"csrf": {csrf}})
	if _, rid := mustSecret(t, p); rid != id || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("rotated key %s: Cache-Control %q", rid, p.header.Get("Cache-Control"))
	}
	p = b.post("/webhooks/new", url.Values{"csrf": {csrf}, "url": {rc.URL + "/in"}, "event": {"link.created"}})
	_, wid := mustWebhookSecret(t, p)
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("created webhook: Cache-Control %q", p.header.Get("Cache-Control"))
	}
	p = b.post("/webhooks/"+wid+"/rotate", url.Values{"csrf": {csrf}})
	if _, rid := mustWebhookSecret(t, p); rid != wid || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("rotated webhook %s: Cache-Control %q", rid, p.header.Get("Cache-Control"))
	}

	// An invitation's link holds its token: not cached either.
	failMe.Store(false)
	token := s.mustInvite(t, "bob@example.com", "member")
	for _, br := range []*browser{b, s.browser(t)} {
		if p := br.get("/invite/" + token); p.status != 200 || p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("invitation page: %d, Cache-Control %q", p.status, p.header.Get("Cache-Control"))
		}
	}
}

// TestOwnUserKeyOfAMember: a Member, without apiKeys permissions, may
// create, rotate and revoke their own user key (the API allows it); an
// Admin is not offered to rotate another person's user key (only its
// person may) but may revoke it.
func TestOwnUserKeyOfAMember(t *testing.T) {
	s := mustStart(t)
	m := s.mustPerson(t, "mia@example.com", "member")
	if p := m.get("/keys"); p.status != 200 || !strings.Contains(p.body, `href="/keys/new"`) {
		t.Fatalf("keys page of a Member: %d\n%s", p.status, p.body)
	}
	form := m.get("/keys/new")
	if form.status != 200 || strings.Contains(form.body, `value="bot"`) || !strings.Contains(form.body, `value="user" checked>`) {
		t.Fatalf("the key form of a Member (a user key only): %d\n%s", form.status, form.body)
	}
	_, id := mustSecret(t, m.submit("/keys/new", "/keys/new", url.Values{"name": {"Mine"}, "type": {"user"},
		"grant": {"shortLinks:read"}}))
	show := m.get("/keys/" + id)
	if show.status != 200 || !strings.Contains(show.body, "Rotate the secret") || !strings.Contains(show.body, `href="/keys/`+id+`/delete"`) {
		t.Fatalf("own key's page: %d\n%s", show.status, show.body)
	}
	if _, rid := mustSecret(t, m.submit("/keys/"+id, "/keys/"+id+"/rotate", nil)); rid != id {
		t.Errorf("rotated %s, want %s", rid, id)
	}

	a := s.mustPerson(t, "ada@example.com", "admin")
	if p := a.get("/keys/" + id); p.status != 200 || strings.Contains(p.body, "Rotate the secret") ||
		!strings.Contains(p.body, `href="/keys/`+id+`/delete"`) {
		t.Errorf("an Admin on another's user key (revoke, no rotate): %d\n%s", p.status, p.body)
	}

	if p := m.get("/keys/" + id + "/delete"); p.status != 200 {
		t.Fatalf("own key's revoke page: %d\n%s", p.status, p.body)
	}
	if p := m.submit("/keys/"+id+"/delete", "/keys/"+id+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke own key: %d\n%s", p.status, p.body)
	}
	if p := m.get("/keys/" + id); p.status != http.StatusNotFound {
		t.Errorf("revoked key's page: %d", p.status)
	}
}
