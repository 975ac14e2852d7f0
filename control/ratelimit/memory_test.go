package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand; safe for concurrent reads.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustAllow(t testing.TB, l Limiter, key string, limits Limits) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, limits)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// mustRefuse calls Allow and fails unless it refuses with retry.
func mustRefuse(t testing.TB, l Limiter, key string, limits Limits, retry time.Duration) Decision {
	t.Helper()
	d := mustAllow(t, l, key, limits)
	if d.Allowed || d.RetryAfter != retry {
		t.Fatalf("got allowed %v, RetryAfter %v; want refused, RetryAfter %v: %+v", d.Allowed, d.RetryAfter, retry, d)
	}
	return d
}

// Memory's own tests: its sweep and its memory. What every Limiter must do
// is limitertest's suite (memory_conformance_test.go).

func TestIdleKeysAreForgotten(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	for i := range 1000 {
		mustAllow(t, m, fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256), DefaultLimits)
	}
	if got, want := m.Len(), 1000; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}

	// A key with requests still inside its minute window when the sweep
	// runs is kept: 100 requests at 30s count until 90s.
	clock.Advance(30 * time.Second)
	burst := Limits{PerSecond: 1000, PerMinute: 100}
	for range 100 {
		mustAllow(t, m, "key:busy", burst)
	}

	// Past the first sweep (1 min) the 1000 idle keys go on the next call.
	clock.Advance(31 * time.Second)
	mustAllow(t, m, "key:late", DefaultLimits)
	if got, want := m.Len(), 2; got != want {
		t.Fatalf("Len = %d after the sweep, want %d (key:busy and key:late)", got, want)
	}
	// Kept means still limited: at 61s its minute window is full until 90s.
	mustRefuse(t, m, "key:busy", burst, 29*time.Second)

	// Much later everything is idle and a sweep keeps only the caller.
	clock.Advance(5 * time.Minute)
	mustAllow(t, m, "key:late", DefaultLimits)
	if got, want := m.Len(), 1; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

// Refused for invalid limits, a key leaves no state (the refusal itself
// is in limitertest's suite).
func TestInvalidLimitsKeepNoState(t *testing.T) {
	m := NewMemory(newFakeClock().Now)
	for _, limits := range []Limits{{}, {PerSecond: 5}, {PerMinute: 100}, {PerSecond: -1, PerMinute: 100}} {
		if _, err := m.Allow(context.Background(), "key:key_1", limits); err == nil {
			t.Errorf("Allow with %+v: no error", limits)
		}
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len = %d after refused calls, want 0", got)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:key_%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Allow(context.Background(), keys[i%len(keys)], DefaultLimits); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// A key's log holds its requests allowed in the last minute and no more:
// at most PerMinute instants however hard it is hammered.
func TestLogIsBounded(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	for _, limits := range []Limits{DefaultLimits, {PerSecond: 1000, PerMinute: 2000}} {
		key := fmt.Sprintf("key:%d", limits.PerMinute)
		most := 0
		for range 100 * 60 * 3 { // 3 minutes at 100 requests a second
			mustAllow(t, m, key, limits)
			m.mu.Lock()
			log := m.keys[key]
			m.mu.Unlock()
			if len(log) > limits.PerMinute {
				t.Fatalf("%+v: %d instants kept", limits, len(log))
			}
			// append's growth and size classes leave some slack, no more.
			most = max(most, cap(log))
			clock.Advance(10 * time.Millisecond)
		}
		if most > 3*limits.PerMinute {
			t.Errorf("%+v: capacity reached %d", limits, most)
		}
	}
}
