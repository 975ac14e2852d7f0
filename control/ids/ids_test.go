package ids

import (
	"strings"
	"testing"
	"time"
)

func TestNewIsPrefixedAndTimeOrdered(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a := New(Link, t0)
	b := New(Link, t0.Add(time.Millisecond))
	if !strings.HasPrefix(a, "link_") || len(a) != len("link_")+26 {
		t.Fatalf("bad id %q", a)
	}
	if a >= b {
		t.Errorf("%q not before %q", a, b)
	}
	if New(Link, t0) == a {
		t.Error("ids repeat within a millisecond")
	}
}

func TestMonotonicWithinAMillisecond(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	prev := New(Link, t0)
	for range 1000 {
		id := New(Link, t0)
		if id <= prev {
			t.Fatalf("%q after %q", id, prev)
		}
		prev = id
	}
	// A clock that steps back does not break the order either.
	if id := New(Link, t0.Add(-time.Hour)); id <= prev {
		t.Fatalf("%q after %q when the clock went back", id, prev)
	}
}
