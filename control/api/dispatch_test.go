package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/ids"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/webhooks"
)

// dispatcher is a dispatcher over e's webhooks service, without jitter.
func (e *env) dispatcher() *webhooks.Dispatcher {
	return &webhooks.Dispatcher{Service: e.webhooks, Jitter: func(d time.Duration) time.Duration { return d }}
}

// tick makes one pass of d and waits for its deliveries.
func tick(t *testing.T, d *webhooks.Dispatcher) {
	t.Helper()
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Wait()
}

// got is what rc received: each delivery's decoded body.
func (rc *receiver) bodies(t *testing.T) []map[string]any {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]map[string]any, len(rc.got))
	for i, d := range rc.got {
		if err := json.Unmarshal(d.body, &out[i]); err != nil {
			t.Fatalf("delivery %d: %v: %s", i, err, d.body)
		}
	}
	return out
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func linkOf(body map[string]any) string {
	data, _ := body["data"].(map[string]any)
	id, _ := data["id"].(string)
	return id
}

func (e *env) message(t *testing.T, id string) store.WebhookMessage {
	t.Helper()
	m, err := e.store.WebhookMessage(context.Background(), "org_1", id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDispatchLinkEvents(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, ok200)
	hook, secret := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created","link.updated","link.deleted"]}`)
	reg := prometheus.NewRegistry()
	d := e.dispatcher()
	d.Registerer = reg
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"hooked","password":"s3cret-pass"}`)
	id := l["id"].(string)
	e.mustCall(t, 200, "PATCH", "/v1/links/"+id, e.key, `{"url":"https://example.org"}`)
	e.mustCall(t, 200, "DELETE", "/v1/links/"+id, e.key, "")
	tick(t, d)
	got := rc.bodies(t)
	var types []string
	for i, b := range got {
		types = append(types, b["type"].(string))
		if linkOf(b) != id {
			t.Errorf("delivery %d: link %q, want %s", i, linkOf(b), id)
		}
		dl := rc.got[i]
		if !verifyWebhook(secret, dl.header, dl.body, e.now) || !strings.HasPrefix(dl.header.Get("webhook-id"), "msg_") {
			t.Errorf("delivery %d not signed: %v", i, dl.header)
		}
		if strings.Contains(string(dl.body), "s3cret") || strings.Contains(string(dl.body), "argon") {
			t.Errorf("delivery %d shows the password: %s", i, dl.body)
		}
	}
	if strings.Join(types, " ") != "link.created link.updated link.deleted" {
		t.Errorf("types %v", types)
	}
	// Each event once: another pass sends nothing.
	tick(t, d)
	if rc.count() != 3 {
		t.Errorf("%d deliveries after a second pass", rc.count())
	}
	want := `
# HELP h0p_webhook_deliveries_total Webhook delivery attempts by outcome (delivered, retrying, failed, refused).
# TYPE h0p_webhook_deliveries_total counter
h0p_webhook_deliveries_total{outcome="delivered"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "h0p_webhook_deliveries_total"); err != nil {
		t.Error(err)
	}
	_ = hook
}

func TestDispatchScope(t *testing.T) {
	e := mustStart(t)
	tag := e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"Launch"}`)["id"].(string)
	a := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"a"}`)["id"].(string)
	b := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"b","tags":["launch"]}`)["id"].(string)
	c := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"c"}`)["id"].(string)
	byLink, byTag, all, updates := mustReceiver(t, ok200), mustReceiver(t, ok200), mustReceiver(t, ok200), mustReceiver(t, ok200)
	mustWebhook(t, e, e.key, `{"url":"`+byLink.url+`","events":["link.updated","link.deleted"],"linkIds":["`+a+`"]}`)
	mustWebhook(t, e, e.key, `{"url":"`+byTag.url+`","events":["link.updated","link.deleted"],"tags":["`+tag+`"]}`)
	mustWebhook(t, e, e.key, `{"url":"`+all.url+`","events":["link.updated","link.deleted"],"allLinks":true}`)
	mustWebhook(t, e, e.key, `{"url":"`+updates.url+`","events":["link.updated"]}`)
	d := e.dispatcher()
	tick(t, d) // the creates are older than every endpoint: none is sent
	for _, id := range []string{a, b, c} {
		e.mustCall(t, 200, "PATCH", "/v1/links/"+id, e.key, `{"title":"new"}`)
	}
	e.mustCall(t, 200, "DELETE", "/v1/links/"+b, e.key, "")
	tick(t, d)
	for _, tc := range []struct {
		name string
		rc   *receiver
		want []string
	}{
		{"linkIds", byLink, []string{"link.updated " + a}},
		{"tags", byTag, []string{"link.updated " + b, "link.deleted " + b}},
		{"allLinks", all, []string{"link.updated " + a, "link.updated " + b, "link.updated " + c, "link.deleted " + b}},
		{"events", updates, []string{"link.updated " + a, "link.updated " + b, "link.updated " + c}},
	} {
		var got []string
		for _, body := range tc.rc.bodies(t) {
			got = append(got, body["type"].(string)+" "+linkOf(body))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// answers answers with each of codes in turn, then 200.
func answers(codes ...int) func(http.ResponseWriter, *http.Request) {
	n := 0
	return func(w http.ResponseWriter, _ *http.Request) {
		if n < len(codes) {
			n++
			w.WriteHeader(codes[n-1])
			return
		}
		w.WriteHeader(200)
	}
}

func TestDispatchRetrySchedule(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, answers(500, 500, 500))
	mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	d := e.dispatcher()
	t0 := e.now
	tick(t, d)
	id := rc.last(t).header.Get("webhook-id")
	steps := []struct {
		after time.Duration
		sent  int
	}{
		{4 * time.Second, 1}, {5 * time.Second, 2}, {5*time.Second + 5*time.Minute - time.Second, 2},
		{5*time.Second + 5*time.Minute, 3}, {5*time.Second + 35*time.Minute, 4}, {48 * time.Hour, 4},
	}
	for _, s := range steps {
		e.now = t0.Add(s.after)
		tick(t, d)
		if rc.count() != s.sent {
			t.Fatalf("at +%v: %d sent, want %d", s.after, rc.count(), s.sent)
		}
	}
	m := e.message(t, id)
	if m.Status != store.MessageDelivered || m.Attempts != 4 || m.LastStatusCode != 200 {
		t.Errorf("message %+v", m)
	}
	as, _ := e.store.WebhookAttempts(context.Background(), id)
	wantAt := []time.Duration{0, 5 * time.Second, 5*time.Second + 5*time.Minute, 5*time.Second + 35*time.Minute}
	for i, a := range as {
		if a.At.Sub(t0) != wantAt[i] {
			t.Errorf("attempt %d at +%v, want +%v", a.Attempt, a.At.Sub(t0), wantAt[i])
		}
	}
	for i, dl := range rc.got {
		if dl.header.Get("webhook-id") != id {
			t.Errorf("attempt %d has webhook-id %s, want %s", i+1, dl.header.Get("webhook-id"), id)
		}
	}
}

func TestDispatchRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"shorter than the schedule", "1", 5 * time.Second},
		{"beyond a day", "999999", 24 * time.Hour},
		{"HTTP date", "", time.Hour},
		{"garbage", "soon", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustStart(t)
			header := tc.header
			if header == "" {
				header = e.now.Add(time.Hour).Format(http.TimeFormat)
			}
			rc := mustReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", header)
				w.WriteHeader(503)
			})
			mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
			e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
			tick(t, e.dispatcher())
			m := e.message(t, rc.last(t).header.Get("webhook-id"))
			if m.Status != store.MessageRetrying || m.NextAttemptAt.Sub(e.now) != tc.want {
				t.Errorf("status %s, next in %v, want %v", m.Status, m.NextAttemptAt.Sub(e.now), tc.want)
			}
		})
	}
}

func TestDispatchGoneDisables(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, answers(410))
	hook, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	d := e.dispatcher()
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	tick(t, d)
	if rc.count() != 1 {
		t.Fatalf("%d sent after a 410, want 1", rc.count())
	}
	w := e.mustCall(t, 200, "GET", "/v1/webhooks/"+hook, e.key, "")
	if w["disabled"] != true || !strings.Contains(w["disabledReason"].(string), "410") {
		t.Errorf("after a 410: %v", w)
	}
	logs := e.mustCall(t, 200, "GET", "/v1/audit-logs?actor="+webhooks.ActorID, e.key, "")
	entries, _ := logs["data"].([]any)
	if len(entries) != 1 || !strings.Contains(string(mustJSON(entries[0])), "webhook.disabled") {
		t.Errorf("audit %v", logs)
	}
	// Disabled: nothing is sent, however late; enabled, the rest goes.
	e.now = e.now.Add(time.Hour)
	tick(t, d)
	if rc.count() != 1 {
		t.Fatalf("%d sent to a disabled endpoint", rc.count())
	}
	e.mustCall(t, 200, "POST", "/v1/webhooks/"+hook+"/enable", e.key, "")
	tick(t, d)
	if rc.count() != 3 {
		t.Errorf("%d sent once enabled, want 3", rc.count())
	}
}

func TestDispatchFailingForDaysDisables(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	hook, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	d := e.dispatcher()
	t0 := e.now
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	// A link a day, every pass an hour apart.
	for e.now.Sub(t0) < 7*24*time.Hour {
		if e.now.Sub(t0)%(24*time.Hour) == 0 && e.now != t0 {
			e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
		}
		tick(t, d)
		w := e.mustCall(t, 200, "GET", "/v1/webhooks/"+hook, e.key, "")
		if w["disabled"] == true {
			if age := e.now.Sub(t0); age < webhooks.FailingFor || age > webhooks.FailingFor+24*time.Hour {
				t.Errorf("disabled after %v of failures", age)
			}
			return
		}
		e.now = e.now.Add(time.Hour)
	}
	t.Fatal("still enabled after 7 days of failures")
}

func TestDispatchReceiverDownThenBack(t *testing.T) {
	e := mustStart(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused until the receiver starts
	mustWebhook(t, e, e.key, `{"url":"http://`+addr+`/hooks","events":["link.created"]}`)
	for range 3 {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	}
	tick(t, e.dispatcher())
	// A new dispatcher (a restart) over the same store sends what is due.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skip("the port was taken meanwhile:", err)
	}
	rc := &receiver{answer: ok200}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [4096]byte
		n, _ := r.Body.Read(b[:])
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), b[:n]})
		rc.mu.Unlock()
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	e.now = e.now.Add(5 * time.Second)
	tick(t, e.dispatcher())
	if rc.count() != 3 {
		t.Fatalf("%d delivered once back, want 3", rc.count())
	}
	seen := map[string]bool{}
	for _, dl := range rc.got {
		seen[dl.header.Get("webhook-id")] = true
	}
	if len(seen) != 3 {
		t.Errorf("delivered %v", seen)
	}
}

func TestDispatchSlowEndpointDelaysNoOther(t *testing.T) {
	e := mustStart(t)
	release := make(chan struct{})
	slow := mustReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := mustReceiver(t, ok200)
	mustWebhook(t, e, e.key, `{"url":"`+slow.url+`","events":["link.created"]}`)
	mustWebhook(t, e, e.key, `{"url":"`+fast.url+`","events":["link.created"]}`)
	for range 3 {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)
	}
	// The slow endpoint holds its first attempt for the client's timeout.
	policy := testWebhookPolicy
	policy.Timeout = 20 * time.Second
	e.webhooks.Client = policy.Client()
	d := e.dispatcher()
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for (fast.count() < 3 || slow.count() < 1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fast.count() != 3 || slow.count() != 1 {
		t.Errorf("fast got %d, slow %d while the slow one hangs", fast.count(), slow.count())
	}
	close(release)
	d.Wait()
}

func TestDeliveriesAPI(t *testing.T) {
	e := mustStart(t)
	rc := mustReceiver(t, answers(500))
	hook, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created","link.deleted"]}`)
	d := e.dispatcher()
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)["id"].(string)
	tick(t, d) // link.created: 500, retrying
	e.now = e.now.Add(time.Second)
	e.mustCall(t, 200, "DELETE", "/v1/links/"+l, e.key, "")
	tick(t, d) // link.deleted: 200, delivered
	base := "/v1/webhooks/" + hook + "/deliveries"

	page := e.mustCall(t, 200, "GET", base, e.key, "")
	items := page["data"].([]any)
	if len(items) != 2 {
		t.Fatalf("deliveries %v", page)
	}
	deleted, created := items[0].(map[string]any), items[1].(map[string]any)
	if deleted["eventType"] != "link.deleted" || deleted["status"] != "delivered" || deleted["lastStatusCode"] != 200.0 ||
		deleted["nextAttemptAt"] != nil {
		t.Errorf("newest %v", deleted)
	}
	if created["eventType"] != "link.created" || created["status"] != "retrying" || created["attempts"] != 1.0 ||
		created["lastStatusCode"] != 500.0 || created["nextAttemptAt"] == nil {
		t.Errorf("oldest %v", created)
	}
	createdID := created["id"].(string)
	for _, tc := range []struct{ query, want string }{
		{"?status=retrying", createdID},
		{"?eventType=link.deleted", deleted["id"].(string)},
		{"?from=" + e.now.Format(time.RFC3339Nano), deleted["id"].(string)},
		{"?to=" + e.now.Format(time.RFC3339Nano), createdID},
		{"?status=failed", ""},
	} {
		var ids []string
		for _, it := range e.mustCall(t, 200, "GET", base+tc.query, e.key, "")["data"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		if strings.Join(ids, " ") != tc.want {
			t.Errorf("%s: %v, want %s", tc.query, ids, tc.want)
		}
	}
	first := e.mustCall(t, 200, "GET", base+"?limit=1", e.key, "")
	next := e.mustCall(t, 200, "GET", base+"?limit=1&cursor="+first["nextCursor"].(string), e.key, "")
	if got := next["data"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != createdID || next["nextCursor"] != nil {
		t.Errorf("second page %v", next)
	}
	for _, tc := range []struct{ query, field string }{
		{"?status=lost", "status"}, {"?eventType=link.moved", "eventType"}, {"?from=yesterday", "from"},
		{"?to=2026-13-01", "to"}, {"?limit=0", "limit"}, {"?cursor=!!", "cursor"},
	} {
		_, m, _ := e.call(t, "GET", base+tc.query, e.key, "")
		if errCode(m) != "VALIDATION_ERROR" || !strings.Contains(fmt.Sprint(m), tc.field) {
			t.Errorf("%s: %v", tc.query, m)
		}
	}

	// One delivery with its attempts.
	one := e.mustCall(t, 200, "GET", base+"/"+createdID, e.key, "")
	hist := one["history"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["statusCode"] != 500.0 || !strings.Contains(mustString(one["payload"]), l) {
		t.Errorf("delivery %v", one)
	}
	// Retry: due now, the same ID.
	e.mustCall(t, 202, "POST", base+"/"+createdID+"/retry", e.key, "")
	tick(t, d)
	if got := rc.last(t).header.Get("webhook-id"); got != createdID || rc.count() != 3 {
		t.Errorf("retried as %s, %d sent", got, rc.count())
	}
	if m := e.message(t, createdID); m.Status != store.MessageDelivered || m.Attempts != 2 {
		t.Errorf("after retry %+v", m)
	}
	// Replay: every message of the range again, under its ID.
	r := e.mustCall(t, 202, "POST", "/v1/webhooks/"+hook+"/replay", e.key,
		`{"since":"`+e.now.Add(-time.Hour).Format(time.RFC3339)+`"}`)
	if r["messages"] != 2.0 {
		t.Errorf("replay %v", r)
	}
	tick(t, d)
	if rc.count() != 5 {
		t.Errorf("%d sent after replay, want 5", rc.count())
	}
	_, m, _ := e.call(t, "POST", "/v1/webhooks/"+hook+"/replay", e.key, `{"since":"2026-01-02T00:00:00Z","until":"2025-01-01T00:00:00Z"}`)
	if errCode(m) != "VALIDATION_ERROR" {
		t.Errorf("backwards replay %v", m)
	}

	// Another org sees none of it.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	for _, c := range []struct{ method, path string }{
		{"GET", base}, {"GET", base + "/" + createdID}, {"POST", base + "/" + createdID + "/retry"},
		{"POST", "/v1/webhooks/" + hook + "/replay"},
	} {
		body := ""
		if strings.HasSuffix(c.path, "replay") {
			body = `{"since":"2020-01-01T00:00:00Z"}`
		}
		e.mustCall(t, 404, c.method, c.path, other, body)
	}
	// A message of another endpoint of the org is not this one's.
	hook2, _ := mustWebhook(t, e, e.key, `{"url":"`+rc.url+`","events":["link.created"]}`)
	e.mustCall(t, 404, "GET", "/v1/webhooks/"+hook2+"/deliveries/"+createdID, e.key, "")
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// appendClicks stores n link.clicked events of link, as click ingestion
// writes them.
func (e *env) appendClicks(t *testing.T, link map[string]any, n int) {
	t.Helper()
	var evs []store.Event
	for i := range n {
		payload, _ := json.Marshal(map[string]any{"click": map[string]any{"n": i, "country": "NZ"}, "link": link})
		evs = append(evs, store.Event{ID: ids.New("evt", e.now), OrgID: "org_1", Type: "link.clicked",
			ResourceID: link["id"].(string), Payload: payload, CreatedAt: e.now})
	}
	if err := e.store.AppendEvent(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
}

func TestDispatchClickBatches(t *testing.T) {
	e := mustStart(t)
	tag := e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"Launch"}`)["id"].(string)
	tagged := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"t","tags":["Launch"]}`)
	plain := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"p"}`)
	all, byTag := mustReceiver(t, ok200), mustReceiver(t, ok200)
	mustWebhook(t, e, e.key, `{"url":"`+all.url+`","events":["link.clicked"],"allLinks":true}`)
	mustWebhook(t, e, e.key, `{"url":"`+byTag.url+`","events":["link.clicked"],"tags":["`+tag+`"]}`)
	d := e.dispatcher()
	e.appendClicks(t, plain, 150)
	e.appendClicks(t, tagged, 1)
	tick(t, d)
	var sizes []int
	for _, b := range all.bodies(t) {
		data := b["data"].(map[string]any)
		if clicks, ok := data["clicks"].([]any); ok {
			sizes = append(sizes, len(clicks))
		} else if data["click"] != nil && data["link"] != nil {
			sizes = append(sizes, 1)
		}
		if b["type"] != "link.clicked" {
			t.Errorf("type %v", b["type"])
		}
	}
	if fmt.Sprint(sizes) != "[100 51]" {
		t.Errorf("allLinks got batches of %v, want [100 51]", sizes)
	}
	got := byTag.bodies(t)
	if len(got) != 1 || got[0]["data"].(map[string]any)["click"] == nil ||
		got[0]["data"].(map[string]any)["link"].(map[string]any)["id"] != tagged["id"] {
		t.Errorf("by tag: %v", got)
	}
}

// An endpoint with a backlog (a dead one, whose messages are all due
// again) takes one place among the due endpoints, and its sender works
// through it on its own: another endpoint's message goes out in the same
// pass.
func TestDispatchBacklogDelaysNoOther(t *testing.T) {
	e := mustStart(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // connection refused
	mustWebhook(t, e, e.key, `{"url":"http://`+dead+`/hooks","events":["link.created"]}`)
	items := strings.Repeat(`{"url":"https://example.com"},`, 300) // three of a sender's reads
	e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, "["+strings.TrimSuffix(items, ",")+"]")
	e.now = e.now.Add(time.Second) // the next endpoint gets only what comes after it
	fast := mustReceiver(t, ok200)
	mustWebhook(t, e, e.key, `{"url":"`+fast.url+`","events":["link.created"]}`)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/last"}`)
	tick(t, e.dispatcher())
	if fast.count() != 1 {
		t.Fatalf("the live endpoint got %d messages behind a backlog of 300, want 1", fast.count())
	}
}
