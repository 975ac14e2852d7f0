package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/store"
)

// heldStore and heldPublisher run the env's hooks (env.holdWrite,
// env.holdPublish) before a link write and before its raft apply.
type heldStore struct {
	store.Store
	hook *atomic.Pointer[func() error]
}

func (s heldStore) Write(ctx context.Context, fn func(store.Queries) error) error {
	if f := s.hook.Load(); f != nil {
		if err := (*f)(); err != nil {
			return err
		}
	}
	return s.Store.Write(ctx, fn)
}

type heldPublisher struct {
	pub interface {
		Publish(ctx context.Context, id int64, cmd []byte) error
	}
	hook *atomic.Pointer[func() error]
}

func (p heldPublisher) Publish(ctx context.Context, id int64, cmd []byte) error {
	if f := p.hook.Load(); f != nil {
		if err := (*f)(); err != nil {
			return err
		}
	}
	return p.pub.Publish(ctx, id, cmd)
}

// mustHold makes the requests that reach hook wait there until release is
// called; entered receives once for each that does.
func mustHold(t *testing.T, hook *atomic.Pointer[func() error]) (entered <-chan struct{}, release func()) {
	t.Helper()
	in := make(chan struct{}, 64)
	gate := make(chan struct{})
	f := func() error {
		in <- struct{}{}
		<-gate
		return nil
	}
	hook.Store(&f)
	var once sync.Once
	release = func() {
		once.Do(func() {
			hook.Store(nil)
			close(gate)
		})
	}
	t.Cleanup(release)
	return in, release
}

// waitFor receives from ch or fails the test after a while.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func (e *env) linkCount(t *testing.T, orgID string) int64 {
	t.Helper()
	counts, err := e.store.CountLinks(context.Background(), store.LinkFilter{OrgID: orgID}, "")
	if err != nil {
		t.Fatal(err)
	}
	return counts[0].Count
}

func replayed(r response) bool { return r.header.Get("Idempotent-Replayed") == "true" }

// A create repeated with its key answers the first create again: same
// link, same status and body, marked replayed; one link exists.
func TestIdempotentCreateReplays(t *testing.T) {
	e := mustStart(t)
	body := `{"url":"https://example.com/once"}`
	first := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "create-1")
	if first.status != 201 || replayed(first) {
		t.Fatalf("first: %d %v %s", first.status, first.header, first.body)
	}
	again := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "create-1")
	if again.status != 201 || !replayed(again) || !bytes.Equal(again.body, first.body) ||
		again.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Errorf("retry: %d %v %s; want the first answer, replayed", again.status, again.header, again.body)
	}
	if again.header.Get("X-Request-Id") == first.header.Get("X-Request-Id") {
		t.Error("the replay reuses the first request's X-Request-Id")
	}
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
	// Without the key the same body is a new create.
	if r := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body)); r.status != 201 || bytes.Equal(r.body, first.body) {
		t.Errorf("without a key: %d %s", r.status, r.body)
	}
}

// The key with another request — body, path or query — is refused with 422
// and changes nothing.
func TestIdempotencyKeyReusedWithAnotherRequest(t *testing.T) {
	e := mustStart(t)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/a","key":"a"}`, "Idempotency-Key", "k")
	checkErrorGolden(t, "idempotency_key_reused",
		e.do(t, "POST", "/v1/links", e.key, strings.NewReader(`{"url":"https://example.com/b","key":"b"}`), "Idempotency-Key", "k"), 422)
	if status, m, _ := e.call(t, "POST", "/v1/links?x=1", e.key, `{"url":"https://example.com/a","key":"a"}`, "Idempotency-Key", "k"); status != 422 || errCode(m) != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("another query: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "PUT", "/v1/links/upsert", e.key, `{"url":"https://example.com/a","key":"a"}`, "Idempotency-Key", "k"); status != 422 {
		t.Errorf("another route: %d %v", status, m)
	}
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
}

func TestIdempotencyKeyMustBePrintableASCII(t *testing.T) {
	e := mustStart(t)
	for name, value := range map[string]string{
		"empty":     "",
		"too_long":  strings.Repeat("k", 256),
		"non_ascii": "clé",
		"control":   "a\tb",
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(`{"url":"https://example.com"}`), "Idempotency-Key", value)
			checkErrorGolden(t, "idempotency_key_invalid", r, 400)
		})
	}
	t.Run("two_values", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.url+"/v1/links", strings.NewReader(`{"url":"https://example.com"}`))
		req.Header.Set("x-api-key", e.key)
		req.Header.Add("Idempotency-Key", "a")
		req.Header.Add("Idempotency-Key", "b")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("two keys: %d", resp.StatusCode)
		}
	})
	if n := e.linkCount(t, "org_1"); n != 0 {
		t.Errorf("%d links, want 0", n)
	}
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`, "Idempotency-Key", strings.Repeat("k", 255))
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`, "Idempotency-Key", " !~")
	// Reads ignore the header, even a malformed one.
	e.mustCall(t, 200, "GET", "/v1/links", e.key, "", "Idempotency-Key", "")
}

// Public routes have no caller to scope a key to: they ignore the header,
// and each login opens its own session.
func TestIdempotencyKeyIgnoredOnPublicRoutes(t *testing.T) {
	e := mustStart(t)
	e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	login := `{"email":"ada@example.com","password":"long enough password"}`
	first := e.mustCall(t, 200, "POST", "/v1/auth/login", "", login, "Idempotency-Key", "login")
	_, second, r := e.call(t, "POST", "/v1/auth/login", "", login, "Idempotency-Key", "login")
	if r.status != 200 || replayed(r) || second["token"] == first["token"] {
		t.Errorf("second login: %d %v", r.status, second)
	}
	if status, m, _ := e.call(t, "POST", "/v1/auth/login", "", login, "Idempotency-Key", ""); status != 200 {
		t.Errorf("login with an empty key: %d %v", status, m)
	}
}

// Keys belong to the org and the person (through a session or their user
// key alike) or the bot key: other callers' keys never collide.
func TestIdempotencyKeysAreScopedToTheCaller(t *testing.T) {
	e := mustStart(t)
	body := `{"url":"https://example.com/scoped"}`
	owner := e.mustCall(t, 201, "POST", "/v1/links", e.key, body, "Idempotency-Key", "same")

	other := mustBootstrap(t, e.store, "2", time.Time{})
	inOther := e.mustCall(t, 201, "POST", "/v1/links", other, body, "Idempotency-Key", "same")
	bot := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"ci","type":"bot","permissions":{"shortLinks":["create"]}}`)["key"].(string)
	byBot := e.mustCall(t, 201, "POST", "/v1/links", bot, body, "Idempotency-Key", "same")
	sess, _ := e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	bySession := e.mustCall(t, 201, "POST", "/v1/links", sess, body, "Idempotency-Key", "same")
	ids := map[any]bool{owner["id"]: true, inOther["id"]: true, byBot["id"]: true, bySession["id"]: true}
	if len(ids) != 4 {
		t.Errorf("callers shared answers: %v", ids)
	}

	// The same person through their user key has keys of its own: a replay
	// skips the handler's checks, so a narrower key must not get what the
	// session was allowed to do.
	userKey := e.mustCall(t, 201, "POST", "/v1/api-keys", sess, `{"name":"laptop","type":"user","permissions":{"shortLinks":["create"]}}`)["key"].(string)
	_, byUserKey, r := e.call(t, "POST", "/v1/links", userKey, body, "Idempotency-Key", "same")
	if r.status != 201 || replayed(r) || byUserKey["id"] == bySession["id"] {
		t.Errorf("user key after session: %d %v replayed the session's link %v", r.status, byUserKey, bySession["id"])
	}
	if n := e.linkCount(t, "org_1"); n != 4 {
		t.Errorf("org_1 has %d links, want 4", n)
	}
	// A key narrower than its person's session cannot replay the session's
	// answer to get what it may not make itself.
	full := `{"name":"strong","type":"bot","permissions":{"shortLinks":["create","read","update","delete"]}}`
	admin, _ := e.inviteAndLogin(t, e.key, "admin@example.com", "admin")
	narrow := e.mustCall(t, 201, "POST", "/v1/api-keys", admin, `{"name":"n","type":"user","permissions":{"apiKeys":["create"]}}`)["key"].(string)
	e.mustCall(t, 201, "POST", "/v1/api-keys", admin, full, "Idempotency-Key", "k-1")
	if status, m, r := e.call(t, "POST", "/v1/api-keys", narrow, full, "Idempotency-Key", "k-1"); status != 403 || m["key"] != nil || replayed(r) {
		t.Errorf("a narrow key replays its session's stronger key: %d %v", status, m)
	}
}

// Creating an org is outside any org: its retry replays though the person
// now belongs to one org more.
func TestIdempotentOrgCreateReplays(t *testing.T) {
	e := mustStart(t)
	sess, _ := e.inviteAndLogin(t, e.key, "ada@example.com", "member")
	first := e.mustCall(t, 201, "POST", "/v1/orgs", sess, `{"name":"second"}`, "Idempotency-Key", "org-1")
	_, again, r := e.call(t, "POST", "/v1/orgs", sess, `{"name":"second"}`, "Idempotency-Key", "org-1")
	if r.status != 201 || !replayed(r) || again["id"] != first["id"] {
		t.Errorf("retry: %d %v, want org %v replayed", r.status, again, first["id"])
	}
	if orgs := e.mustCall(t, 200, "GET", "/v1/me", sess, "", "x-org-id", "org_1")["organizations"].([]any); len(orgs) != 2 {
		t.Errorf("%d orgs, want 2", len(orgs))
	}
}

// A 4xx changed nothing and is not saved: the same key with a corrected
// request runs.
func TestIdempotencyRefusalsAreNotSaved(t *testing.T) {
	e := mustStart(t)
	checkErrorGolden(t, "url_javascript",
		e.do(t, "POST", "/v1/links", e.key, strings.NewReader(`{"url":"javascript:alert(1)"}`), "Idempotency-Key", "fix-me"), 400)
	created := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/fixed","key":"docs"}`, "Idempotency-Key", "fix-me")

	// A conflict (409) and a missing object (404) are refusals too.
	if status, m, _ := e.call(t, "POST", "/v1/links", e.key, `{"url":"https://example.com/2","key":"docs"}`, "Idempotency-Key", "taken"); status != 409 || errCode(m) != "ALREADY_EXIST" {
		t.Fatalf("taken key: %d %v", status, m)
	}
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/2","key":"docs2"}`, "Idempotency-Key", "taken")
	e.mustCall(t, 404, "DELETE", "/v1/links/link_nope", e.key, "", "Idempotency-Key", "gone")
	e.mustCall(t, 200, "DELETE", "/v1/links/"+created["id"].(string), e.key, "", "Idempotency-Key", "gone")
	// A refusal by the guard never reaches the key.
	reader := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"r","type":"bot","permissions":{"shortLinks":["read"]}}`)["key"].(string)
	e.mustCall(t, 403, "POST", "/v1/links", reader, `{"url":"https://example.com/3"}`, "Idempotency-Key", "perm")
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
}

func TestIdempotentDeleteReplays(t *testing.T) {
	e := mustStart(t)
	id := mustCreate(t, e, e.key, `{"url":"https://example.com/del"}`)["id"].(string)
	first := e.do(t, "DELETE", "/v1/links/"+id, e.key, nil, "Idempotency-Key", "del")
	again := e.do(t, "DELETE", "/v1/links/"+id, e.key, nil, "Idempotency-Key", "del")
	if first.status != 200 || again.status != 200 || !replayed(again) || !bytes.Equal(first.body, again.body) ||
		string(first.body) != `{"id":"`+id+`"}` {
		t.Errorf("delete: %d %s, retry: %d %v %s", first.status, first.body, again.status, again.header, again.body)
	}
	// Without the key, the link is gone.
	if r := e.do(t, "DELETE", "/v1/links/"+id, e.key, nil); r.status != 404 {
		t.Errorf("delete again without a key: %d", r.status)
	}
}

func TestIdempotencyKeysExpireAfter24Hours(t *testing.T) {
	e := mustStart(t)
	body := `{"url":"https://example.com/day"}`
	first := e.mustCall(t, 201, "POST", "/v1/links", e.key, body, "Idempotency-Key", "daily")
	e.now = e.now.Add(24*time.Hour - time.Millisecond)
	_, m, r := e.call(t, "POST", "/v1/links", e.key, body, "Idempotency-Key", "daily")
	if !replayed(r) || m["id"] != first["id"] {
		t.Errorf("just before 24 h: %d %v", r.status, m)
	}
	e.now = e.now.Add(time.Millisecond)
	_, m, r = e.call(t, "POST", "/v1/links", e.key, body, "Idempotency-Key", "daily")
	if r.status != 201 || replayed(r) || m["id"] == first["id"] {
		t.Errorf("after 24 h: %d %v %v, want a new link", r.status, r.header, m)
	}
	// And the new answer is the one replayed now.
	if _, again, r := e.call(t, "POST", "/v1/links", e.key, body, "Idempotency-Key", "daily"); !replayed(r) || again["id"] != m["id"] {
		t.Errorf("replay of the new answer: %v", again)
	}
}

// A duplicate that arrives while the first request runs is asked to retry
// in a second (409, Retry-After: 1), then gets the first's answer.
func TestIdempotencyConcurrentDuplicate(t *testing.T) {
	e := mustStart(t)
	body := `{"url":"https://example.com/slow"}`
	entered, release := mustHold(t, &e.holdPublish)
	firstDone := make(chan response, 1)
	go func() {
		firstDone <- e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "dup")
	}()
	waitFor(t, entered, "the first request to commit")

	r := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "dup")
	checkErrorGolden(t, "idempotency_key_in_use", r, 409)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	if status, m, _ := e.call(t, "POST", "/v1/links", e.key, `{"url":"https://example.com/other"}`, "Idempotency-Key", "dup"); status != 422 {
		t.Errorf("another body while the first runs: %d %v", status, m)
	}

	release()
	first := waitFor(t, firstDone, "the first request")
	again := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "dup")
	if first.status != 201 || again.status != 201 || !replayed(again) || !bytes.Equal(first.body, again.body) {
		t.Errorf("first %d %s, retry %d %s", first.status, first.body, again.status, again.body)
	}
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
}

// A bulk create of 1,000 links whose client gives up (as its timeout
// would) while the server works: the work goes on, the retry with the same
// key is asked to wait, then gets the first answer; the links exist once.
// Held before the commit, the client's leaving must not cancel the work;
// held after it, it must not cost the client the answer.
func TestIdempotentBulkCreateAfterTheClientGaveUp(t *testing.T) {
	var items []string
	for i := range 1000 {
		items = append(items, fmt.Sprintf(`{"url":"https://example.com/bulk/%d"}`, i))
	}
	body := "[" + strings.Join(items, ",") + "]"
	for _, stage := range []string{"before the commit", "after the commit"} {
		t.Run(stage, func(t *testing.T) {
			e := mustStart(t)
			hook := &e.holdWrite
			if stage == "after the commit" {
				hook = &e.holdPublish
			}
			entered, release := mustHold(t, hook)

			ctx, giveUp := context.WithCancel(context.Background())
			gaveUp := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "POST", e.url+"/v1/links/bulk", strings.NewReader(body))
				req.Header.Set("x-api-key", e.key)
				req.Header.Set("Idempotency-Key", "bulk-1")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					err = fmt.Errorf("answered %d", resp.StatusCode)
				}
				gaveUp <- err
			}()
			waitFor(t, entered, "the bulk create to start")
			giveUp()
			if err := waitFor(t, gaveUp, "the client to give up"); !errors.Is(err, context.Canceled) {
				t.Fatalf("client: %v, want it cancelled", err)
			}

			retry := func() response {
				return e.do(t, "POST", "/v1/links/bulk", e.key, strings.NewReader(body), "Idempotency-Key", "bulk-1")
			}
			if r := retry(); r.status != 409 || r.header.Get("Retry-After") != "1" {
				t.Fatalf("retry while the first runs: %d %s", r.status, r.body)
			}
			release()
			var r response
			for deadline := time.Now().Add(30 * time.Second); ; {
				if r = retry(); r.status != 409 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond) // what Retry-After asks, shortened
			}
			var out struct {
				Data []struct {
					Link  struct{ ID string }
					Error any
				}
			}
			if err := json.Unmarshal(r.body, &out); r.status != 200 || !replayed(r) || err != nil || len(out.Data) != 1000 {
				t.Fatalf("retry after the first finished: %d replayed=%v, %d items, %v", r.status, replayed(r), len(out.Data), err)
			}
			seen := map[string]bool{}
			for _, it := range out.Data {
				if it.Error != nil || it.Link.ID == "" || seen[it.Link.ID] {
					t.Fatalf("item %+v", it)
				}
				seen[it.Link.ID] = true
			}
			if n := e.linkCount(t, "org_1"); n != 1000 {
				t.Errorf("%d links, want 1000", n)
			}
		})
	}
}

// A 5xx is saved: the change may be committed (here it is), so a retry
// must replay the failure, not run the change again.
func TestIdempotencyFailuresAreSaved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hook   func() error
		status int
		code   string
	}{
		{"not replicated", func() error { return errors.New("no quorum") }, 503, "UNAVAILABLE"},
		{"panic", func() error { panic("boom") }, 500, "INTERNAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustStart(t)
			e.holdPublish.Store(&tc.hook)
			body := `[{"url":"https://example.com/1"},{"url":"https://example.com/2"}]`
			first := e.do(t, "POST", "/v1/links/bulk", e.key, strings.NewReader(body), "Idempotency-Key", "fails")
			e.holdPublish.Store(nil)
			var m map[string]any
			json.Unmarshal(first.body, &m)
			if first.status != tc.status || errCode(m) != tc.code {
				t.Fatalf("first: %d %s", first.status, first.body)
			}
			again := e.do(t, "POST", "/v1/links/bulk", e.key, strings.NewReader(body), "Idempotency-Key", "fails")
			if again.status != tc.status || !replayed(again) || !bytes.Equal(again.body, first.body) ||
				again.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("retry: %d %v %s, want the first answer replayed", again.status, again.header, again.body)
			}
			if n := e.linkCount(t, "org_1"); n != 2 {
				t.Errorf("%d links, want 2", n)
			}
		})
	}
}

// A request that never finishes (its node stopped) holds its key; past the
// lease a retry is told the outcome is unknown instead of to retry. Should
// the first finish after all, its answer is replayed.
func TestIdempotencyLostRequest(t *testing.T) {
	e := mustStart(t)
	body := `{"url":"https://example.com/lost"}`
	entered, release := mustHold(t, &e.holdPublish)
	firstDone := make(chan response, 1)
	go func() {
		firstDone <- e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "lost")
	}()
	waitFor(t, entered, "the first request to commit")
	e.now = e.now.Add(5*time.Minute - time.Millisecond)
	if status, m, _ := e.call(t, "POST", "/v1/links", e.key, body, "Idempotency-Key", "lost"); status != 409 {
		t.Errorf("within the lease: %d %v", status, m)
	}
	e.now = e.now.Add(time.Millisecond)
	status, m, r := e.call(t, "POST", "/v1/links", e.key, body, "Idempotency-Key", "lost")
	if msg, _ := m["error"].(map[string]any)["message"].(string); status != 500 || !strings.Contains(msg, "unknown") || replayed(r) {
		t.Errorf("past the lease: %d %v", status, m)
	}
	release()
	first := waitFor(t, firstDone, "the first request")
	if again := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body), "Idempotency-Key", "lost"); !replayed(again) || !bytes.Equal(again.body, first.body) {
		t.Errorf("after the first finished: %d %s", again.status, again.body)
	}
}

// leaderAt is a follower's view of a cluster whose leader serves url.
type leaderAt string

func (l leaderAt) IsLeader() bool    { return false }
func (l leaderAt) LeaderAPI() string { return string(l) }

// A write sent to a follower runs, with its key, on the leader only: were
// the key claimed on the follower too (the store is shared), the leader
// would find it held and refuse the request.
func TestIdempotencyRunsOnceBehindAFollower(t *testing.T) {
	e := mustStart(t)
	follower := httptest.NewServer(api.NewRouter(api.Config{
		Store: e.store, Pepper: pepper, Logger: quiet, NodeID: "follower",
		Now:    func() time.Time { return e.now },
		Leader: leaderAt(e.url),
	}))
	t.Cleanup(follower.Close)
	viaFollower := func() response {
		req, _ := http.NewRequest("POST", follower.URL+"/v1/links", strings.NewReader(`{"url":"https://example.com/fwd"}`))
		req.Header.Set("x-api-key", e.key)
		req.Header.Set("Idempotency-Key", "fwd")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, resp.Header, b}
	}
	first := viaFollower()
	if first.status != 201 || replayed(first) {
		t.Fatalf("through the follower: %d %s", first.status, first.body)
	}
	again := viaFollower()
	onLeader := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(`{"url":"https://example.com/fwd"}`), "Idempotency-Key", "fwd")
	for _, r := range []response{again, onLeader} {
		if r.status != 201 || !replayed(r) || !bytes.Equal(r.body, first.body) {
			t.Errorf("retry: %d %v %s", r.status, r.header, r.body)
		}
	}
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
}
