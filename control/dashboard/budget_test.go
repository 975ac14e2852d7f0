package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/dashboard"
	"github.com/h0p/h0p/control/ratelimit"
)

// TestInteractiveBudget: the dashboard's pages spend the session's
// interactive budget (ten times a key's), while the same person's session
// token used over the network has a key's.
func TestInteractiveBudget(t *testing.T) {
	s := mustStart(t, func(c *control.Config) { c.RateLimits = ratelimit.Limits{PerSecond: 4, PerMinute: 1000} })
	b := s.mustPerson(t, "ada@example.com", "admin")
	// A dozen API calls at once: beyond a key's 4 a second.
	for i := range 6 {
		if p := b.get("/keys"); p.status != 200 {
			t.Fatalf("page %d: %d\n%s", i+1, p.status, p.body)
		}
	}

	ctx := context.Background()
	anon, err := apiclient.New(s.url, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := anon.Login(ctx, "ada@example.com", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.NewSession(s.url, l.Token, l.Organizations[0].OrgID)
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for range 5 {
		_, last = c.Me(ctx)
	}
	if !apiclient.IsCode(last, "RATE_LIMITED") {
		t.Errorf("the 5th call of a session over the network: %v, want RATE_LIMITED", last)
	}
}

// TestAnalyticsWaitsForTheRateLimit: an analytics page whose calls are
// rate limited waits (the injected Sleep) what the API asks, at most
// twice a call, then shows the refusal in its panels.
func TestAnalyticsWaitsForTheRateLimit(t *testing.T) {
	s := mustStart(t, func(c *control.Config) { c.RateLimits = ratelimit.Limits{PerSecond: 3, PerMinute: 1000} })
	var mu sync.Mutex
	var waits []time.Duration
	// Through the proxy the calls are not interactive: a key's 3 a
	// second, fewer than the page's calls.
	b := faultyDashboard(t, s, func(http.ResponseWriter, *http.Request) bool { return false }, func(c *dashboard.Config) {
		c.Sleep = func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return nil
		}
	})
	b.mustJoin(s.mustInvite(t, "ada@example.com", "admin"), "Ada", "a long password")
	start := time.Now()
	p := b.get("/analytics")
	if p.status != 200 || !strings.Contains(p.body, "Too many requests") {
		t.Fatalf("analytics: %d\n%s", p.status, p.body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the page took %v: it waited on the wall clock", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 {
		t.Fatal("no wait")
	}
	for _, d := range waits {
		if d <= 0 || d > 2*time.Second {
			t.Errorf("waited %v", d)
		}
	}
}
