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
	// The ULID of the Unix epoch starts with ten zeros.
	if got := New(Org, time.UnixMilli(0)); !strings.HasPrefix(got, "org_0000000000") {
		t.Errorf("epoch id %q", got)
	}
}
