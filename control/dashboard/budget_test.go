package dashboard_test

import (
	"context"
	"testing"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
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
