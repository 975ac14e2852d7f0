package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/dnstest"
)

// verifyWebhook checks a delivery as a receiver following the Standard
// Webhooks spec does (written from the spec, not from the producer): the
// timestamp within 5 minutes of now, and one of the space-separated
// "v1,<base64>" signatures equal to HMAC-SHA256 of "id.timestamp.body"
// keyed by the base64-decoded part of the secret after whsec_.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return false
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", h.Get("webhook-id"), ts, body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// delivery is a request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on 127.0.0.1 that keeps what it receives
// and answers with answer.
type receiver struct {
	url    string
	mu     sync.Mutex
	got    []delivery
	answer func(w http.ResponseWriter, r *http.Request)
}

func mustReceiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), b})
		rc.mu.Unlock()
		rc.answer(w, r)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hooks"
	return rc
}

func (rc *receiver) last(t *testing.T) delivery {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rc.got[len(rc.got)-1]
}

func ok200(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "thanks") }

func mustWebhook(t *testing.T, e *env, key, body string) (id, secret string) {
	t.Helper()
	m := e.mustCall(t, 201, "POST", "/v1/webhooks", key, body)
	id, _ = m["id"].(string)
	secret, _ = m["secret"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("created %v", m)
	}
	return id, secret
}

func TestWebhookCRUD(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, ok200)
	body := `{"url":"` + rc.url + `","events":["link.created","link.deleted"],"description":"CRM"}`
	m := e.mustCall(t, 201, "POST", "/v1/webhooks", e.key, body)
	id, secret := m["id"].(string), m["secret"].(string)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) < 24 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(key), err)
	}
	if m["url"] != rc.url || m["description"] != "CRM" || fmt.Sprint(m["events"]) != "[link.created link.deleted]" ||
		m["disabled"] != false || m["allLinks"] != false {
		t.Errorf("created %v", m)
	}
	// GET never shows the secret.
	r := e.do(t, "GET", "/v1/webhooks/"+id, e.key, nil)
	if r.status != 200 || strings.Contains(string(r.body), "secret\"") || strings.Contains(string(r.body), secret[6:]) {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	// A list, a page at a time.
	id2, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`?b","events":["link.updated"]}`)
	id3, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`?c","events":["link.clicked"],"allLinks":true}`)
	page := e.mustCall(t, 200, "GET", "/v1/webhooks?limit=2", e.key, "")
	items, _ := page["data"].([]any)
	if len(items) != 2 || page["nextCursor"] == nil || strings.Contains(fmt.Sprint(page), secret[6:]) {
		t.Fatalf("page 1: %v", page)
	}
	page = e.mustCall(t, 200, "GET", "/v1/webhooks?limit=2&cursor="+page["nextCursor"].(string), e.key, "")
	items, _ = page["data"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id3 || page["nextCursor"] != nil {
		t.Fatalf("page 2: %v", page)
	}
	// PATCH: the URL is checked again.
	r = e.do(t, "PATCH", "/v1/webhooks/"+id, e.key, strings.NewReader(`{"url":"https://10.1.2.3/in"}`))
	if r.status != 400 || !strings.Contains(string(r.body), `"field":"url"`) || !strings.Contains(string(r.body), "private") {
		t.Errorf("PATCH to a private address: %d %s", r.status, r.body)
	}
	m = e.mustCall(t, 200, "PATCH", "/v1/webhooks/"+id, e.key, `{"url":"`+rc.url+`?new","description":null,"tags":[]}`)
	if m["url"] != rc.url+"?new" || m["description"] != "" {
		t.Errorf("patched %v", m)
	}
	// Delete.
	e.mustCall(t, 200, "DELETE", "/v1/webhooks/"+id2, e.key, "")
	e.mustCall(t, 404, "GET", "/v1/webhooks/"+id2, e.key, "")
	// Audit entries for each change, none holding a secret.
	logs, err := e.store.AuditLogs(context.Background(), store.AuditFilter{OrgID: "org_1", ResourceType: "webhook", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, l := range logs {
		actions = append(actions, l.Action)
		if strings.Contains(string(l.Diff), "whsec_") || strings.Contains(string(l.Diff), secret[6:]) {
			t.Errorf("audit entry %s holds a secret: %s", l.Action, l.Diff)
		}
	}
	if got := strings.Join(actions, " "); got != "webhook.deleted webhook.updated webhook.created webhook.created webhook.created" {
		t.Errorf("audit actions %s", got)
	}
}

func TestWebhookErrors(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, ok200)
	post := func(key, body string) response {
		t.Helper()
		return e.do(t, "POST", "/v1/webhooks", key, strings.NewReader(body))
	}
	wantInvalid := func(name string, r response, field, reason string) {
		t.Helper()
		if r.status != 400 || !strings.Contains(string(r.body), `"VALIDATION_ERROR"`) ||
			!strings.Contains(string(r.body), `"field":"`+field+`"`) || !strings.Contains(string(r.body), reason) {
			t.Errorf("%s: %d %s; want 400 on %s (%s)", name, r.status, r.body, field, reason)
		}
	}
	u := `"url":"` + rc.url + `"`
	wantInvalid("unknown event", post(e.key, `{`+u+`,"events":["link.created","link.exploded"]}`), "events[1]", "unknown event")
	wantInvalid("no events", post(e.key, `{`+u+`,"events":[]}`), "events", "at least one")
	wantInvalid("events missing", post(e.key, `{`+u+`}`), "events", "required")
	wantInvalid("twice", post(e.key, `{`+u+`,"events":["link.created","link.created"]}`), "events[1]", "twice")
	wantInvalid("clicked without scope", post(e.key, `{`+u+`,"events":["link.created","link.clicked"]}`), "events[1]", "scope")
	wantInvalid("two scopes", post(e.key, `{`+u+`,"events":["link.clicked"],"linkIds":["link_1"],"allLinks":true}`), "allLinks", "one of")
	wantInvalid("no url", post(e.key, `{"events":["link.created"]}`), "url", "required")
	wantInvalid("another org's link", post(e.key, `{`+u+`,"events":["link.clicked"],"linkIds":["link_nope"]}`), "linkIds[0]", "no such link")
	wantInvalid("unknown tag", post(e.key, `{`+u+`,"events":["link.clicked"],"tags":["tag_nope"]}`), "tags[0]", "no such tag")

	// Plain http only when allowed; loopback only through the allow list.
	dns := dnstest.Start(t)
	dns.Set(t, "hooks.example.test", "A", "127.0.0.1")
	e.webhooks.Policy.AllowHTTP = false
	wantInvalid("http", post(e.key, `{`+u+`,"events":["link.created"]}`), "url", "https")
	e.webhooks.Policy = testWebhookPolicy
	e.webhooks.Policy.AllowNetworks = nil
	e.webhooks.Policy.Resolver = resolverAt(dns.Addr())
	wantInvalid("loopback literal", post(e.key, `{`+u+`,"events":["link.created"]}`), "url", "loopback")
	wantInvalid("name on loopback", post(e.key, `{"url":"https://hooks.example.test/in","events":["link.created"]}`), "url", "loopback")
	e.webhooks.Policy.AllowNetworks = testWebhookPolicy.AllowNetworks
	mustWebhook(t, e, e.key, `{"url":"https://hooks.example.test/in","events":["link.created"]}`)
	// A lookup that fails says nothing of the URL: 503.
	e.webhooks.Policy.Resolver, e.webhooks.Policy.DialTimeout = resolverAt("127.0.0.1:1"), 300*time.Millisecond
	if r := post(e.key, `{"url":"https://down.example.test/in","events":["link.created"]}`); r.status != 503 {
		t.Errorf("failed lookup: %d %s", r.status, r.body)
	}
	e.webhooks.Policy = testWebhookPolicy

	id, _ := mustWebhook(t, e, e.key, `{`+u+`,"events":["link.created"]}`)
	// Another org's webhook is not found.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "", ""}, {"PATCH", "", `{"description":"x"}`}, {"DELETE", "", ""},
		{"POST", "/rotate-secret", ""}, {"POST", "/enable", ""}, {"POST", "/test", ""},
	} {
		r := e.do(t, c.method, "/v1/webhooks/"+id+c.path, other, strings.NewReader(c.body))
		if r.status != 404 || !strings.Contains(string(r.body), "NOT_FOUND") {
			t.Errorf("%s %s from another org: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	// A Member has no webhook permission.
	member := mustMember(t, e, "org_1", "usr_member")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/webhooks", ""}, {"GET", "/v1/webhooks/" + id, ""}, {"POST", "/v1/webhooks", `{` + u + `,"events":["link.created"]}`},
		{"POST", "/v1/webhooks/" + id + "/test", ""},
	} {
		if r := e.do(t, c.method, c.path, member, strings.NewReader(c.body)); r.status != 403 {
			t.Errorf("Member %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	// Plans: free has no webhooks; pro allows 5.
	free := mustOrgOnPlan(t, e, "free", "free")
	if r := post(free, `{`+u+`,"events":["link.created"]}`); r.status != 403 || !strings.Contains(string(r.body), "FEATURE_NOT_AVAILABLE") {
		t.Errorf("free plan: %d %s", r.status, r.body)
	}
	pro := mustOrgOnPlan(t, e, "pro", "pro")
	for range 5 {
		mustWebhook(t, e, pro, `{`+u+`,"events":["link.created"]}`)
	}
	if r := post(pro, `{`+u+`,"events":["link.created"]}`); r.status != 403 || !strings.Contains(string(r.body), "PLAN_LIMIT_REACHED") {
		t.Errorf("sixth on pro: %d %s", r.status, r.body)
	}
	org := e.mustCall(t, 200, "GET", "/v1/org", pro, "")
	if org["usage"].(map[string]any)["webhooks"] != float64(5) || org["limits"].(map[string]any)["webhooks"] != float64(5) ||
		org["features"].(map[string]any)["webhooks"] != true {
		t.Errorf("org on pro: %v", org)
	}
}

// attemptJSON is the answer of POST /v1/webhooks/{id}/test.
type attemptJSON struct {
	MessageID  string
	Success    bool
	StatusCode *int
	LatencyMs  int64
	Response   string
	Error      string
}

func (e *env) mustPing(t *testing.T, id string) attemptJSON {
	t.Helper()
	r := e.do(t, "POST", "/v1/webhooks/"+id+"/test", e.key, nil)
	if r.status != 200 {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	var a attemptJSON
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestWebhookPing(t *testing.T) {
	e := mustStart(t)
	hang := make(chan struct{})
	defer close(hang)
	for _, tt := range []struct {
		name    string
		answer  func(w http.ResponseWriter, r *http.Request)
		success bool
		status  int
		resp    string
		err     string
	}{
		{"200", ok200, true, 200, "thanks", ""},
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, true, 204, "", ""},
		{"302 is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, false, 302, "", ""},
		{"500", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, strings.Repeat("x", 3000))
		}, false, 500, strings.Repeat("x", 2048), ""},
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}, false, 0, "", "no answer within 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := mustReceiver(t, tt.answer)
			id, secret := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
			a := e.mustPing(t, id)
			status := 0
			if a.StatusCode != nil {
				status = *a.StatusCode
			}
			if a.Success != tt.success || status != tt.status || a.Response != tt.resp || a.Error != tt.err ||
				!strings.HasPrefix(a.MessageID, "msg_") {
				t.Errorf("attempt %+v", a)
			}
			if tt.name == "no answer" && (a.LatencyMs < 900 || a.LatencyMs > 5000) {
				t.Errorf("no answer after %d ms, want about the 1s timeout", a.LatencyMs)
			}
			// What the receiver got: a signed ping.
			d := rc.last(t)
			if !verifyWebhook(secret, d.header, d.body, e.now) {
				t.Errorf("signature does not verify: %v %s", d.header, d.body)
			}
			if d.header.Get("webhook-id") != a.MessageID || d.header.Get("content-type") != "application/json" ||
				!strings.HasPrefix(d.header.Get("user-agent"), "H0p-Webhooks") ||
				d.header.Get("webhook-timestamp") != strconv.FormatInt(e.now.Unix(), 10) {
				t.Errorf("headers %v", d.header)
			}
			want := `{"type":"ping","timestamp":"` + e.now.Format(time.RFC3339) + `","data":{"webhookId":"` + id + `"}}`
			if string(d.body) != want {
				t.Errorf("body %s, want %s", d.body, want)
			}
			// The delivery log holds the message and its attempt.
			ctx := context.Background()
			m, err := e.store.WebhookMessage(ctx, "org_1", a.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := store.MessageFailed
			if tt.success {
				wantStatus = store.MessageDelivered
			}
			if m.Status != wantStatus || m.Attempts != 1 || m.LastStatusCode != tt.status || string(m.LastResponse) != tt.resp ||
				m.WebhookID != id || m.EventType != "ping" || string(m.Payload) != want {
				t.Errorf("message %+v", m)
			}
			as, err := e.store.WebhookAttempts(ctx, a.MessageID)
			if err != nil || len(as) != 1 || as[0].StatusCode != tt.status || as[0].Error != tt.err || as[0].Attempt != 1 {
				t.Errorf("attempts %+v %v", as, err)
			}
		})
	}
}

func TestWebhookRotateSecret(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, ok200)
	id, oldSecret := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	e.mustPing(t, id)
	if d := rc.last(t); !verifyWebhook(oldSecret, d.header, d.body, e.now) || strings.Contains(d.header.Get("webhook-signature"), " ") {
		t.Fatalf("before rotation: %v", d.header)
	}
	m := e.mustCall(t, 200, "POST", "/v1/webhooks/"+id+"/rotate-secret", e.key, "")
	newSecret, _ := m["secret"].(string)
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret ||
		m["previousSecretExpiresAt"] != e.now.Add(24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("rotated %v", m)
	}
	// For 24 hours both secrets verify the ping.
	e.now = e.now.Add(23 * time.Hour)
	e.mustPing(t, id)
	d := rc.last(t)
	if !verifyWebhook(newSecret, d.header, d.body, e.now) || !verifyWebhook(oldSecret, d.header, d.body, e.now) {
		t.Errorf("during the overlap: %v", d.header)
	}
	if r := e.do(t, "GET", "/v1/webhooks/"+id, e.key, nil); strings.Contains(string(r.body), newSecret[6:]) {
		t.Errorf("GET shows the secret: %s", r.body)
	}
	// Then only the new one.
	e.now = e.now.Add(time.Hour)
	e.mustPing(t, id)
	d = rc.last(t)
	if !verifyWebhook(newSecret, d.header, d.body, e.now) || verifyWebhook(oldSecret, d.header, d.body, e.now) {
		t.Errorf("after the overlap: %v", d.header)
	}
	if m := e.mustCall(t, 200, "GET", "/v1/webhooks/"+id, e.key, ""); m["previousSecretExpiresAt"] != nil {
		t.Errorf("after the overlap: %v", m)
	}
}

func TestWebhookEnable(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, ok200)
	id, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	ctx := context.Background()
	w, err := e.store.Webhook(ctx, "org_1", id)
	if err != nil {
		t.Fatal(err)
	}
	// The dispatcher (to come) disables an endpoint that keeps failing.
	w.DisabledAt, w.DisabledReason = e.now, "failing for 5 days"
	if err := e.store.UpdateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if m := e.mustCall(t, 200, "GET", "/v1/webhooks/"+id, e.key, ""); m["disabled"] != true || m["disabledReason"] != "failing for 5 days" {
		t.Fatalf("disabled: %v", m)
	}
	if m := e.mustCall(t, 200, "POST", "/v1/webhooks/"+id+"/enable", e.key, ""); m["disabled"] != false || m["disabledAt"] != nil {
		t.Errorf("enabled: %v", m)
	}
	logs, err := e.store.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", ResourceID: id, Limit: 10})
	if err != nil || len(logs) != 2 || logs[0].Action != "webhook.enabled" {
		t.Errorf("audit %+v %v", logs, err)
	}
	// Enabling an enabled endpoint changes nothing.
	e.mustCall(t, 200, "POST", "/v1/webhooks/"+id+"/enable", e.key, "")
	if logs, _ := e.store.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", ResourceID: id, Limit: 10}); len(logs) != 2 {
		t.Errorf("enable of an enabled endpoint audited: %d entries", len(logs))
	}
}

// resolverAt resolves through the DNS server at addr, as --dns-resolver does.
func resolverAt(addr string) *net.Resolver { return domains.NewResolver(addr) }
