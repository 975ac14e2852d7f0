package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
)

var (
	whSecretRe  = regexp.MustCompile(`data-copy="(whsec_[^"]+)"`)
	webhookIDRe = regexp.MustCompile(`href="/webhooks/([0-9A-Za-z_]+)"`)
)

// withLoopbackWebhooks lets webhooks go to plain http on 127.0.0.1.
func withLoopbackWebhooks(c *control.Config) {
	c.WebhookAllowHTTP = true
	c.WebhookAllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// receiver is a webhook endpoint on 127.0.0.1 that answers status and
// counts what it got.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	got    atomic.Int32
}

func startReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.status.Store(200)
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") != "" {
			rc.got.Add(1)
		}
		w.WriteHeader(int(rc.status.Load()))
		w.Write([]byte("thanks"))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// mustWebhookSecret is the secret on a webhook's answer page and the
// webhook's ID.
func mustWebhookSecret(t *testing.T, p page) (secret, id string) {
	t.Helper()
	s, w := whSecretRe.FindStringSubmatch(p.body), webhookIDRe.FindStringSubmatch(p.body)
	if p.status != 200 || s == nil || w == nil || !strings.Contains(p.body, "shown this once") {
		t.Fatalf("no secret shown: %d\n%s", p.status, p.body)
	}
	return html.UnescapeString(s[1]), w[1]
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestWebhookLifecycle: create an endpoint (the API's refusals beside
// events), its secret shown once; a test ping; a delivery of a link's
// event in the log with its attempts, retried; a 410 disables it and
// Enable brings it back; rotate shows a new secret; delete after the
// confirmation page.
func TestWebhookLifecycle(t *testing.T) {
	s := mustStart(t, withLoopbackWebhooks)
	ctx := context.Background()
	rc := startReceiver(t)
	b := s.mustPerson(t, "ada@example.com", "admin")

	if p := b.submit("/webhooks/new", "/webhooks/new", url.Values{"url": {rc.URL + "/in"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `id="events-err"`) || !strings.Contains(p.body, rc.URL+"/in") {
		t.Errorf("no events: %d\n%s", p.status, p.body)
	}
	if p := b.submit("/webhooks/new", "/webhooks/new", url.Values{"url": {rc.URL + "/in"},
		"event": {"link.created", "link.clicked"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="events-err"`) ||
		!strings.Contains(p.body, `value="link.clicked" checked>`) {
		t.Errorf("clicks without a scope: %d\n%s", p.status, p.body)
	}
	p := b.submit("/webhooks/new", "/webhooks/new", url.Values{"url": {rc.URL + "/in"}, "description": {"CRM"},
		"event": {"link.created", "link.clicked"}, "scope": {"all"}})
	secret, id := mustWebhookSecret(t, p)
	wh, err := s.owner(t).GetWebhook(ctx, id)
	if err != nil || !wh.AllLinks || strings.Join(wh.Events, ",") != "link.created,link.clicked" || wh.Description != "CRM" {
		t.Fatalf("created: %+v %v", wh, err)
	}
	for _, path := range []string{"/webhooks", "/webhooks/" + id} {
		if p := b.get(path); p.status != 200 || strings.Contains(p.body, secret) || !strings.Contains(p.body, rc.URL) {
			t.Errorf("GET %s: %d, or it shows the secret", path, p.status)
		}
	}

	p = b.submit("/webhooks/"+id, "/webhooks/"+id+"/test", nil)
	if p.status != http.StatusSeeOther || !strings.Contains(b.get(p.location()).body, "Test ping delivered: the endpoint answered 200") ||
		rc.got.Load() != 1 {
		t.Errorf("test ping: %d, %d received", p.status, rc.got.Load())
	}

	l, err := s.owner(t).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/hooked")})
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	waitFor(t, "the link.created delivery", func() bool {
		ds, err := s.owner(t).ListWebhookDeliveries(ctx, id, apiclient.ListQuery{})
		for _, d := range ds.Data {
			if err == nil && d.EventType == "link.created" && d.Status == "delivered" {
				msg = d.ID
				return true
			}
		}
		return false
	})
	if p := b.get("/webhooks/" + id); !strings.Contains(p.body, "/webhooks/"+id+"/deliveries/"+msg) {
		t.Errorf("the delivery log:\n%s", p.body)
	}
	dpath := "/webhooks/" + id + "/deliveries/" + msg
	if p := b.get(dpath); p.status != 200 || !strings.Contains(p.body, l.ID) || !strings.Contains(p.body, "thanks") ||
		!strings.Contains(p.body, "Retry now") {
		t.Errorf("the delivery's page: %d\n%s", p.status, p.body)
	}
	before := rc.got.Load()
	if p := b.submit(dpath, dpath+"/retry", nil); p.status != http.StatusSeeOther || !strings.Contains(b.get(p.location()).body, "Retry queued") {
		t.Errorf("retry: %d", p.status)
	}
	waitFor(t, "the retried delivery", func() bool { return rc.got.Load() > before })

	// A 410 disables the endpoint; Enable brings it back.
	rc.status.Store(http.StatusGone)
	if _, err := s.owner(t).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/gone")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the endpoint disabled", func() bool {
		wh, err := s.owner(t).GetWebhook(ctx, id)
		return err == nil && wh.Disabled
	})
	rc.status.Store(200)
	if p := b.get("/webhooks/" + id); !strings.Contains(p.body, "disabled") || !strings.Contains(p.body, "/webhooks/"+id+"/enable") {
		t.Errorf("a disabled endpoint's page:\n%s", p.body)
	}
	if p := b.submit("/webhooks/"+id, "/webhooks/"+id+"/enable", nil); p.status != http.StatusSeeOther {
		t.Errorf("enable: %d", p.status)
	}
	if wh, err := s.owner(t).GetWebhook(ctx, id); err != nil || wh.Disabled {
		t.Errorf("enabled: %+v %v", wh, err)
	}

	rotated, rid := mustWebhookSecret(t, b.submit("/webhooks/"+id, "/webhooks/"+id+"/rotate", nil))
	if rid != id || rotated == secret {
		t.Errorf("rotate: %s", rid)
	}

	if p := b.get("/webhooks/" + id + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
		t.Errorf("the confirmation page: %d", p.status)
	}
	if p := b.submit("/webhooks/"+id+"/delete", "/webhooks/"+id+"/delete", nil); p.status != http.StatusSeeOther ||
		p.location() != "/webhooks" {
		t.Fatalf("delete: %d %q", p.status, p.location())
	}
	if _, err := s.owner(t).GetWebhook(ctx, id); !apiclient.IsCode(err, "NOT_FOUND") {
		t.Errorf("after delete: %v", err)
	}
}

// TestWebhooksPermissions: a Member has no Webhooks entry and the pages
// are refused; a POST without the CSRF token is 403 and makes nothing;
// another org's endpoint is a 404 page.
func TestWebhooksPermissions(t *testing.T) {
	s := mustStart(t, withLoopbackWebhooks)
	ctx := context.Background()
	rc := startReceiver(t)

	m := s.mustPerson(t, "bob@example.com", "member")
	if p := m.get("/links"); strings.Contains(p.body, `href="/webhooks"`) {
		t.Error("a member's nav has Webhooks")
	}
	for _, path := range []string{"/webhooks", "/webhooks/new"} {
		if p := m.get(path); p.status != http.StatusForbidden {
			t.Errorf("GET %s as a member: %d", path, p.status)
		}
	}

	b := s.mustPerson(t, "ada@example.com", "admin")
	if p := b.post("/webhooks/new", url.Values{"url": {rc.URL}, "event": {"link.created"}}); p.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", p.status)
	}
	if ws, err := s.owner(t).ListWebhooks(ctx, apiclient.ListQuery{}); err != nil || len(ws.Data) != 0 {
		t.Errorf("after a refused POST: %+v %v", ws.Data, err)
	}

	other := s.mustOrgOf(t, "Other", "eve@example.com")
	s.mustSetPlan(t, other, "pro")
	ow, err := other.CreateWebhook(ctx, apiclient.WebhookInput{URL: rc.URL + "/theirs", Events: []string{"link.created"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/webhooks/" + ow.ID, "/webhooks/" + ow.ID + "/delete"} {
		if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "/theirs") {
			t.Errorf("GET %s of another org: %d", path, p.status)
		}
	}
	if p := b.submit("/webhooks", "/webhooks/"+ow.ID+"/test", nil); p.status != http.StatusNotFound {
		t.Errorf("ping another org's endpoint: %d", p.status)
	}
}
