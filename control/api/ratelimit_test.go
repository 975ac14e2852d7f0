package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
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

// At a steady 5/s a key makes 100 requests in its first 20 s; the minute
// window then refuses it until its first request leaves, 60 s after it was
// made, and Retry-After and RateLimit say exactly that.
func TestRateLimitMinuteWindow(t *testing.T) {
	e := mustStartLimits(t, ratelimit.DefaultLimits)
	start := e.now
	for i := range 100 {
		if status, _, r := e.call(t, "GET", "/v1/links/link_x", e.key, ""); status != 404 {
			t.Fatalf("request %d at %v: %d %s", i+1, e.now.Sub(start), status, r.body)
		}
		e.now = e.now.Add(200 * time.Millisecond)
	}
	for _, tt := range []struct {
		at               time.Duration
		retry, rateLimit string
	}{
		{20 * time.Second, "40", `"minute";r=0;t=40`},
		{59*time.Second + 1, "1", `"minute";r=0;t=1`},
	} {
		e.now = start.Add(tt.at)
		status, m, r := e.call(t, "GET", "/v1/links/link_x", e.key, "")
		if status != 429 || errCode(m) != "RATE_LIMITED" || r.header.Get("Retry-After") != tt.retry || r.header.Get("RateLimit") != tt.rateLimit {
			t.Errorf("at %v: %d %v %v, want 429 with Retry-After %s and RateLimit %s", tt.at, status, m, r.header, tt.retry, tt.rateLimit)
		}
	}
	// At 60s the first request has left: this one fills the window again
	// until the second leaves, at 60.2s.
	e.now = start.Add(time.Minute)
	if status, _, r := e.call(t, "GET", "/v1/links/link_x", e.key, ""); status != 404 || r.header.Get("RateLimit") != `"minute";r=0;t=1` {
		t.Errorf("at 60s: %d %v", status, r.header)
	}
}

// A session token used over the network is held to a key's budget (any
// script can sign in); the dashboard's in-process calls, whose contexts
// are ratelimit.Interactive, have ten times that: 50 a second.
func TestRateLimitsOfASession(t *testing.T) {
	e := mustStartLimits(t, ratelimit.DefaultLimits)
	session := mustSession(t, e, "usr_1")
	for i := range 5 {
		if status, m, _ := e.call(t, "GET", "/v1/links/link_x", session, ""); status != 404 {
			t.Fatalf("request %d: %d %v", i+1, status, m)
		}
	}
	status, m, r := e.call(t, "GET", "/v1/links/link_x", session, "")
	if status != 429 || errCode(m) != "RATE_LIMITED" || r.header.Get("RateLimit-Policy") != `"second";q=5;w=1, "minute";q=100;w=60` {
		t.Fatalf("6th request over the network: %d %v %v", status, m, r.header)
	}
	// A header cannot make a request interactive.
	if status, _, _ := e.call(t, "GET", "/v1/links/link_x", session, "", "X-Interactive", "1"); status != 429 {
		t.Errorf("with a made-up header: %d", status)
	}

	// In process, interactive: 50 a second, the network's 5 counted.
	e.now = e.now.Add(time.Second)
	interactive := func() *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ratelimit.Interactive(context.Background()), "GET", "/v1/links/link_x", nil)
		req.Header.Set("Authorization", "Bearer "+session)
		rec := httptest.NewRecorder()
		e.router.ServeHTTP(rec, req)
		return rec
	}
	for i := range 50 {
		if rec := interactive(); rec.Code != 404 {
			t.Fatalf("interactive request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := interactive()
	if rec.Code != 429 || rec.Header().Get("RateLimit-Policy") != `"second";q=50;w=1, "minute";q=1000;w=60` {
		t.Fatalf("51st interactive request: %d %v", rec.Code, rec.Header())
	}
	// The key of the same person keeps its own 5.
	if status, _, _ := e.call(t, "GET", "/v1/links/link_x", e.key, ""); status != 404 {
		t.Errorf("the key after its person's session ran out: %d", status)
	}
}
