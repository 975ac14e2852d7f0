package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/h0p/h0p/control/ratelimit"
)

// The product's limits, per key: 5 a second and 100 a minute, with 429,
// Retry-After and the IETF RateLimit headers.
func TestRateLimitsPerKeyAndPerIP(t *testing.T) {
	e := mustStartLimits(t, ratelimit.DefaultLimits)
	for i := range 5 {
		_, _, r := e.call(t, "GET", "/v1/links/link_x", e.key, "")
		if r.status != 404 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
		if r.header.Get("RateLimit-Policy") != `"second";q=5;w=1, "minute";q=100;w=60` || r.header.Get("RateLimit") == "" {
			t.Errorf("headers %v", r.header)
		}
	}
	status, m, r := e.call(t, "GET", "/v1/links/link_x", e.key, "")
	if status != 429 || errCode(m) != "RATE_LIMITED" || r.header.Get("Retry-After") != "1" ||
		r.header.Get("RateLimit") != `"second";r=0;t=1` {
		t.Fatalf("6th request: %d %v %v", status, m, r.header)
	}
	// Another key is not affected; the first works again a second later.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	if status, _, _ := e.call(t, "GET", "/v1/links/link_x", other, ""); status != 404 {
		t.Errorf("other key: %d", status)
	}
	e.now = e.now.Add(time.Second)
	if status, _, _ := e.call(t, "GET", "/v1/links/link_x", e.key, ""); status != 404 {
		t.Errorf("a second later: %d", status)
	}

	// Without credentials, the client IP pays: guessing keys is limited too.
	e.now = e.now.Add(time.Minute)
	for i := range 5 {
		// A made-up X-Forwarded-For does not buy a fresh budget.
		if status, _, _ := e.call(t, "GET", "/v1/links/link_x", "h0p_u_notavalidkeyatall", "", "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i)); status != 401 {
			t.Fatalf("bad key %d: %d", i, status)
		}
	}
	if status, m, _ := e.call(t, "GET", "/v1/links/link_x", "", ""); status != 429 {
		t.Errorf("unauthenticated 6th: %d %v", status, m)
	}
}
