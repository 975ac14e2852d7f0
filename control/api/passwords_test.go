package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/password"
)

// passwordBulk is a bulk-create body of n links with a password each,
// their urls under prefix.
func passwordBulk(n int, prefix string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"url":"https://example.com/%s/%d","password":"pw-%d"}`, prefix, i, i)
	}
	return "[" + strings.Join(items, ",") + "]"
}

// bulkCodes is the error code of every item of a bulk answer ("ok" for a
// link), counted.
func bulkCodes(t *testing.T, m map[string]any) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range m["data"].([]any) {
		item := r.(map[string]any)
		if item["error"] != nil {
			out[errCode(item)]++
		} else {
			out["ok"]++
		}
	}
	return out
}

// Hashing a link password is the costly part of a write (argon2id, 19
// MiB): every check that can refuse a link runs before it, so refused
// links cost no hash.
func TestPasswordsAreHashedAfterEveryCheck(t *testing.T) {
	e := mustStart(t)
	free := mustOrgOnPlan(t, e, "free", "free")
	pro := mustOrgOnPlan(t, e, "pro", "pro")
	hashes := func(what string, want int64) {
		t.Helper()
		if got := e.hashes.Swap(0); got != want {
			t.Errorf("%s: %d passwords hashed, want %d", what, got, want)
		}
	}

	// A free org's bulk of 1,000 password links: every item is refused for
	// the plan, and nothing is hashed.
	status, m, r := e.call(t, "POST", "/v1/links/bulk", free, passwordBulk(1000, "free"))
	if status != 200 {
		t.Fatalf("free bulk: %d %.300s", status, r.body)
	}
	if got := bulkCodes(t, m); got["FEATURE_NOT_AVAILABLE"] != 1000 {
		t.Errorf("free bulk results %v, want 1000 FEATURE_NOT_AVAILABLE", got)
	}
	hashes("free bulk of 1,000", 0)

	// Single create, update, upsert and bulk update on the free plan.
	id := e.mustCall(t, 201, "POST", "/v1/links", free, `{"url":"https://example.com/free"}`)["id"].(string)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/links", `{"url":"https://example.com/one","password":"pw"}`},
		{"PATCH", "/v1/links/" + id, `{"password":"pw"}`},
		{"PUT", "/v1/links/upsert", `{"url":"https://example.com/free","password":"pw"}`},
		{"PUT", "/v1/links/upsert", `{"url":"https://example.com/new","password":"pw"}`},
	} {
		if status, m, _ := e.call(t, c.method, c.path, free, c.body); status != 403 || errCode(m) != "FEATURE_NOT_AVAILABLE" {
			t.Errorf("%s %s on free: %d %v", c.method, c.path, status, m)
		}
	}
	m = e.mustCall(t, 200, "PATCH", "/v1/links/bulk", free, `{"ids":["`+id+`"],"data":{"password":"pw"}}`)
	if got := bulkCodes(t, m); got["FEATURE_NOT_AVAILABLE"] != 1 {
		t.Errorf("bulk update on free: %v", got)
	}
	hashes("single writes on free", 0)

	// Invalid input is refused before its password is hashed.
	own := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/own"}`)["id"].(string)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/links", `{"url":"javascript:x","password":"pw"}`},
		{"POST", "/v1/links", `{"url":"https://example.com","password":"pw","redirectStatus":303}`},
		{"PATCH", "/v1/links/" + own, `{"url":"javascript:x","password":"pw"}`},
		{"PATCH", "/v1/links/" + own, `{"password":"pw","maxClicks":0}`},
	} {
		if status, m, _ := e.call(t, c.method, c.path, e.key, c.body); status != 400 {
			t.Errorf("%s %s %s: %d %v", c.method, c.path, c.body, status, m)
		}
	}
	m = e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, `[{"url":"ftp://x","password":"a"},{"url":"https://example.com","key":"a b","password":"b"}]`)
	if got := bulkCodes(t, m); got["VALIDATION_ERROR"] != 2 {
		t.Errorf("invalid bulk: %v", got)
	}
	hashes("invalid input", 0)

	// The month's link quota: a pro org with 2 links left creates 2 of 3
	// and hashes 2.
	ctx := context.Background()
	if _, err := e.store.AddUsage(ctx, "org_pro", plans.Period(e.now), "linksCreated", 998); err != nil {
		t.Fatal(err)
	}
	m = e.mustCall(t, 200, "POST", "/v1/links/bulk", pro, passwordBulk(3, "quota"))
	if got := bulkCodes(t, m); got["ok"] != 2 || got["PLAN_LIMIT_REACHED"] != 1 {
		t.Errorf("bulk at the quota: %v", got)
	}
	hashes("bulk at the quota", 2)
	if status, m, _ := e.call(t, "POST", "/v1/links", pro, `{"url":"https://example.com/over","password":"pw"}`); status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" {
		t.Errorf("create over the quota: %d %v", status, m)
	}
	hashes("create over the quota", 0)

	// The tag limit: a pro org with its 25 tags cannot name a 26th.
	e.now = e.now.AddDate(0, 1, 0) // a new month, a new quota
	for i := range 25 {
		e.mustCall(t, 201, "POST", "/v1/tags", pro, fmt.Sprintf(`{"name":"t%d"}`, i))
	}
	if status, m, _ := e.call(t, "POST", "/v1/links", pro, `{"url":"https://example.com/tagged","password":"pw","tags":["t1","new"]}`); status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" {
		t.Errorf("create over the tag limit: %d %v", status, m)
	}
	m = e.mustCall(t, 200, "POST", "/v1/links/bulk", pro, `[{"url":"https://example.com/a","password":"pw","tags":["t1"]},
		{"url":"https://example.com/b","password":"pw","tags":["t2","new"]}]`)
	if got := bulkCodes(t, m); got["ok"] != 1 || got["PLAN_LIMIT_REACHED"] != 1 {
		t.Errorf("bulk over the tag limit: %v", got)
	}
	plid := e.mustCall(t, 200, "GET", "/v1/links?limit=1", pro, "")["data"].([]any)[0].(map[string]any)["id"].(string)
	if status, m, _ := e.call(t, "PATCH", "/v1/links/"+plid, pro, `{"password":"pw","tags":["new"]}`); status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" {
		t.Errorf("update over the tag limit: %d %v", status, m)
	}
	hashes("over the tag limit", 1)

	// What passes every check is hashed once.
	e.mustCall(t, 201, "POST", "/v1/links", pro, `{"url":"https://example.com/fine","password":"pw"}`)
	e.mustCall(t, 200, "PATCH", "/v1/links/"+plid, pro, `{"password":"other"}`)
	hashes("accepted writes", 2)
}

// One call hashes at most links.MaxPasswordsPerCall passwords; past the
// bound it is refused before any hash and writes nothing.
func TestBulkPasswordsBounded(t *testing.T) {
	e := mustStart(t)
	for _, n := range []int{links.MaxPasswordsPerCall + 1, 1000} {
		status, m, r := e.call(t, "POST", "/v1/links/bulk", e.key, passwordBulk(n, fmt.Sprint("over", n)))
		errBody, _ := m["error"].(map[string]any)
		details, _ := errBody["details"].([]any)
		if status != 400 || errCode(m) != "VALIDATION_ERROR" || len(details) != 1 ||
			details[0].(map[string]any)["field"] != "password" ||
			!strings.Contains(fmt.Sprint(details[0]), fmt.Sprint(links.MaxPasswordsPerCall)) {
			t.Errorf("bulk of %d password links: %d %.400s", n, status, r.body)
		}
		if got := e.hashes.Load(); got != 0 {
			t.Errorf("bulk of %d password links hashed %d", n, got)
		}
	}
	if n := e.linkCount(t, "org_1"); n != 0 {
		t.Errorf("%d links created by refused bulks", n)
	}

	// At the bound, every link is created; items refused for other reasons
	// do not count towards it.
	body := strings.TrimSuffix(passwordBulk(links.MaxPasswordsPerCall, "at"), "]") +
		`,{"url":"javascript:x","password":"pw"},{"url":"https://example.com/no-password"}]`
	m := e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, body)
	if got := bulkCodes(t, m); got["ok"] != links.MaxPasswordsPerCall+1 || got["VALIDATION_ERROR"] != 1 {
		t.Errorf("bulk at the bound: %v", got)
	}
	if got := e.hashes.Load(); got != links.MaxPasswordsPerCall {
		t.Errorf("bulk at the bound hashed %d, want %d", got, links.MaxPasswordsPerCall)
	}
	var data []any = m["data"].([]any)
	rec, ok := edgeRecord(t, e, data[0].(map[string]any)["link"].(map[string]any)["key"].(string))
	if !ok || password.Check("pw-0", rec.PasswordHash) != nil {
		t.Errorf("first link's edge record %+v %v: its password does not check", rec, ok)
	}
}

// Hashes running at once are bounded in the process. A call whose hashes
// cannot all finish within the hashing time gets 503 and writes nothing:
// the answer to a call that commits must reach the client within the
// server's write timeout.
func TestPasswordHashingGivesUpBeforeWriting(t *testing.T) {
	e := mustStart(t)
	e.links.Turns = password.NewTurns(1)
	e.links.PasswordHashTime = 300 * time.Millisecond
	hold, held := make(chan struct{}), make(chan struct{})
	e.links.HashPassword = func(pw string) string {
		e.hashes.Add(1)
		if pw == "hold" {
			close(held)
			<-hold
		}
		return password.Hash(pw, fastPasswords)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if status, _, r := e.call(t, "POST", "/v1/links", e.key, `{"url":"https://example.com/held","password":"hold"}`); status != 201 {
			t.Errorf("the create holding the slot: %d %s", status, r.body)
		}
	})
	<-held
	// The only hash slot is taken: these wait, then give up.
	if status, m, _ := e.call(t, "POST", "/v1/links", e.key, `{"url":"https://example.com/single","password":"pw"}`); status != 503 || errCode(m) != "UNAVAILABLE" {
		t.Errorf("create while hashing is full: %d %v", status, m)
	}
	if status, m, _ := e.call(t, "POST", "/v1/links/bulk", e.key, passwordBulk(3, "bulk"), "Idempotency-Key", "bulk-1"); status != 503 || errCode(m) != "UNAVAILABLE" {
		t.Errorf("bulk while hashing is full: %d %v", status, m)
	}
	close(hold)
	wg.Wait()
	if n := e.linkCount(t, "org_1"); n != 1 {
		t.Errorf("%d links, want only the one that was hashed", n)
	}
	// With the slot free again, the same bulk goes through, with the same
	// Idempotency-Key: its 503 wrote nothing, so it did not keep the key.
	status, m, r := e.call(t, "POST", "/v1/links/bulk", e.key, passwordBulk(3, "bulk"), "Idempotency-Key", "bulk-1")
	if got := bulkCodes(t, m); status != 200 || got["ok"] != 3 || replayed(r) {
		t.Errorf("bulk after: %d %v", status, got)
	}
}

// The router's RequestTimeout ends a request's work: a call still waiting
// to hash then, or done hashing only after it, answers 503 and writes
// nothing, so no change commits whose answer the server could no longer
// write.
func TestRequestTimeoutStopsWritesBeforeTheyCommit(t *testing.T) {
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000},
		func(c *api.Config) { c.RequestTimeout = 300 * time.Millisecond })
	e.links.Turns = password.NewTurns(1) // PasswordHashTime stays 5 s: the request's time runs out first
	hold, held := make(chan struct{}), make(chan struct{})
	e.links.HashPassword = func(pw string) string {
		if pw == "hold" {
			close(held)
			<-hold
		}
		return password.Hash(pw, fastPasswords)
	}
	holder := make(chan int, 1)
	go func() {
		status, _, _ := e.call(t, "POST", "/v1/links", e.key, `{"url":"https://example.com/held","password":"hold"}`)
		holder <- status
	}()
	<-held
	// This one waits for the only slot until its time is up.
	if status, m, _ := e.call(t, "POST", "/v1/links/bulk", e.key, passwordBulk(2, "waiting")); status != 503 || errCode(m) != "UNAVAILABLE" {
		t.Errorf("bulk waiting past its time: %d %v", status, m)
	}
	// The holder's time is up too (it started first): done hashing, it
	// does not write.
	close(hold)
	if status := <-holder; status != 503 {
		t.Errorf("create hashed after its time: %d", status)
	}
	if n := e.linkCount(t, "org_1"); n != 0 {
		t.Errorf("%d links written past their request's time", n)
	}
}

// Hashes are charged to the org whatever comes of the write: bulk calls
// whose links are all refused after hashing (their key is taken) cannot
// keep the node hashing. Past the org's budget a call is refused with 429
// before any hash, and the budget refills with time.
func TestPasswordHashesAreBudgetedPerOrg(t *testing.T) {
	e := mustStart(t)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"taken"}`)
	taken := make([]string, 100)
	for i := range taken {
		taken[i] = `{"url":"https://example.com/x","key":"taken","password":"a password"}`
	}
	body := "[" + strings.Join(taken, ",") + "]"
	for range 2 {
		if got := bulkCodes(t, e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, body)); got["ALREADY_EXIST"] != 100 {
			t.Fatalf("bulk on a taken key: %v", got)
		}
	}
	before := e.hashes.Load()
	status, m, _ := e.call(t, "POST", "/v1/links/bulk", e.key, body)
	if status != 429 || errCode(m) != "RATE_LIMITED" || e.hashes.Load() != before {
		t.Errorf("third bulk: %d %v, %d hashes", status, m, e.hashes.Load()-before)
	}
	// Another org has its own budget.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	e.mustCall(t, 201, "POST", "/v1/links", other, `{"url":"https://example.com/o","password":"a password"}`)
	// Half a minute later there is room for 100 again.
	e.now = e.now.Add(30 * time.Second)
	if got := bulkCodes(t, e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, body)); got["ALREADY_EXIST"] != 100 {
		t.Errorf("after 30 s: %v", got)
	}
}
