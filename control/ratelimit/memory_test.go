package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// window returns the state of the named policy in d.
func window(t testing.TB, d Decision, name string) Window {
	t.Helper()
	for _, w := range d.Windows {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no window %q in %+v", name, d)
	return Window{}
}

func TestSecondWindowBurstThenEmissionInterval(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)

	for i := 1; i <= 5; i++ {
		if d := mustAllow(t, m, "key:key_1", DefaultLimits); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}

	d := mustAllow(t, m, "key:key_1", DefaultLimits)
	if d.Allowed {
		t.Fatalf("request 6 allowed: %+v", d)
	}
	if got, want := d.RetryAfter, 200*time.Millisecond; got != want {
		t.Errorf("RetryAfter = %v, want %v", got, want)
	}
	if got, want := d.Closest().Name, "second"; got != want {
		t.Errorf("Closest = %q, want %q", got, want)
	}
	assertHeaders(t, d, map[string]string{
		"Retry-After": "1",
		"RateLimit":   `"second";r=0;t=1`,
	})

	clock.Advance(199 * time.Millisecond)
	if d := mustAllow(t, m, "key:key_1", DefaultLimits); d.Allowed {
		t.Fatalf("allowed 199ms later, before the emission interval: %+v", d)
	}
	clock.Advance(time.Millisecond)
	if d := mustAllow(t, m, "key:key_1", DefaultLimits); !d.Allowed {
		t.Fatalf("refused 200ms later: %+v", d)
	}
	if d := mustAllow(t, m, "key:key_1", DefaultLimits); d.Allowed {
		t.Fatalf("two allowed after one emission interval: %+v", d)
	}
}

// TestMinuteWindow spreads requests at the second window's rate until the
// minute window refuses. GCRA counts the refill while the requests are
// spread, so where it refuses follows from the arithmetic in each case.
func TestMinuteWindow(t *testing.T) {
	tests := []struct {
		name        string
		limits      Limits
		every       time.Duration // gap between requests; 0 means all at one instant
		wantAllowed int
		wantRetry   time.Duration
		wantHeader  string // RateLimit on the refusal
	}{
		{
			// Only the minute window binds: 100 pass, the 101st waits one
			// emission interval (600ms).
			name:        "100 at once",
			limits:      Limits{PerSecond: 1000, PerMinute: 100},
			wantAllowed: 100,
			wantRetry:   600 * time.Millisecond,
			wantHeader:  `"minute";r=0;t=60`,
		},
		{
			// Request k (from 0) comes at k*200ms with TAT k*600ms; it fits
			// while k*600+600-60000 <= k*200, i.e. k <= 148: 149 pass. The
			// 150th, at 29.8s, fits at 89.4+0.6-60 = 30s: 200ms later.
			name:        "default limits at 5/s",
			limits:      DefaultLimits,
			every:       200 * time.Millisecond,
			wantAllowed: 149,
			wantRetry:   200 * time.Millisecond,
			wantHeader:  `"minute";r=0;t=60`,
		},
		{
			// A smaller plan: emission interval 6s. Request k fits while
			// 6k+6-60 <= 0.2k, i.e. k <= 9: 10 pass. The 11th, at 2s, fits at
			// 10*6+6-60 = 6s: Retry-After 4.
			name:        "10/min at 5/s",
			limits:      Limits{PerSecond: 5, PerMinute: 10},
			every:       200 * time.Millisecond,
			wantAllowed: 10,
			wantRetry:   4 * time.Second,
			wantHeader:  `"minute";r=0;t=58`, // TAT 60s, now 2s
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			m := NewMemory(clock.Now)
			allowed := 0
			var d Decision
			for {
				d = mustAllow(t, m, "key:key_1", tt.limits)
				if !d.Allowed {
					break
				}
				allowed++
				if allowed > 1000 {
					t.Fatal("never refused")
				}
				clock.Advance(tt.every)
			}
			if allowed != tt.wantAllowed {
				t.Errorf("allowed %d, want %d", allowed, tt.wantAllowed)
			}
			if got := window(t, d, "second").Remaining; got == 0 {
				t.Errorf("second window exhausted too; the minute window should refuse alone: %+v", d)
			}
			if d.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, tt.wantRetry)
			}
			assertHeaders(t, d, map[string]string{
				"Retry-After": fmt.Sprint(wholeSeconds(tt.wantRetry)),
				"RateLimit":   tt.wantHeader,
			})

			// Retry-After is exact: just before it the request is refused,
			// at it the request passes.
			clock.Advance(d.RetryAfter - time.Nanosecond)
			if d := mustAllow(t, m, "key:key_1", tt.limits); d.Allowed {
				t.Errorf("allowed before Retry-After: %+v", d)
			}
			clock.Advance(time.Nanosecond)
			if d := mustAllow(t, m, "key:key_1", tt.limits); !d.Allowed {
				t.Errorf("refused at Retry-After: %+v", d)
			}
		})
	}
}

// A request the minute window refuses spends nothing from the second window.
func TestMinuteRefusalSpendsNoSecondQuota(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)

	// Exhaust the minute window at 5/s (see TestMinuteWindow): 149 pass, on
	// both the key under test and a control key that will make no refused
	// requests.
	for i := range 149 {
		for _, key := range []string{"key:tested", "key:control"} {
			if d := mustAllow(t, m, key, DefaultLimits); !d.Allowed {
				t.Fatalf("%s: request %d refused: %+v", key, i+1, d)
			}
		}
		clock.Advance(200 * time.Millisecond)
	}

	// At 29.8s the second window is full again; the minute window refuses
	// for another 200ms. Hammer it: every refusal still shows the full burst.
	for i := range 20 {
		d := mustAllow(t, m, "key:tested", DefaultLimits)
		if d.Allowed {
			t.Fatalf("refusal %d allowed: %+v", i+1, d)
		}
		if got, want := window(t, d, "second").Remaining, 5; got != want {
			t.Fatalf("refusal %d: second window remaining = %d, want %d", i+1, got, want)
		}
		if got := d.Closest().Name; got != "minute" {
			t.Fatalf("refusal %d: RateLimit names %q, want minute", i+1, got)
		}
	}

	// 200ms on, the minute window frees exactly one slot. The request passes
	// and leaves 4 in the second window: it had its full burst of 5.
	clock.Advance(200 * time.Millisecond)
	d := mustAllow(t, m, "key:tested", DefaultLimits)
	if !d.Allowed {
		t.Fatalf("refused once the minute window freed a slot: %+v", d)
	}
	if got, want := window(t, d, "second").Remaining, 4; got != want {
		t.Errorf("second window remaining = %d, want %d", got, want)
	}
	if got, want := window(t, d, "minute").Remaining, 0; got != want {
		t.Errorf("minute window remaining = %d, want %d", got, want)
	}

	// And the key is in exactly the state of one that never was refused.
	if c := mustAllow(t, m, "key:control", DefaultLimits); c != d {
		t.Errorf("after refusals:\n%+v\nwithout refusals:\n%+v", d, c)
	}
}

// A request the second window refuses spends nothing from the minute window.
func TestSecondRefusalSpendsNoMinuteQuota(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)

	for _, key := range []string{"key:tested", "key:control"} {
		for range 5 {
			mustAllow(t, m, key, DefaultLimits)
		}
	}
	// 95 refusals: had they spent from the minute window, it would be empty.
	for i := range 95 {
		d := mustAllow(t, m, "key:tested", DefaultLimits)
		if d.Allowed {
			t.Fatalf("refusal %d allowed: %+v", i+1, d)
		}
		if got, want := window(t, d, "minute").Remaining, 95; got != want {
			t.Fatalf("refusal %d: minute window remaining = %d, want %d", i+1, got, want)
		}
	}

	// From here both keys must decide alike, request after request.
	for _, step := range []time.Duration{200 * time.Millisecond, 0, time.Second, 0, 0, 30 * time.Second} {
		clock.Advance(step)
		got := mustAllow(t, m, "key:tested", DefaultLimits)
		want := mustAllow(t, m, "key:control", DefaultLimits)
		if got != want {
			t.Fatalf("after refusals:\n%+v\nwithout refusals:\n%+v", got, want)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	for range 5 {
		mustAllow(t, m, "key:key_1", DefaultLimits)
	}
	if d := mustAllow(t, m, "key:key_1", DefaultLimits); d.Allowed {
		t.Fatalf("key_1 not limited: %+v", d)
	}
	for _, key := range []string{"key:key_2", "user:usr_1", "ip:1.2.3.4", "ip:2001:db8::1"} {
		for i := range 5 {
			if d := mustAllow(t, m, key, DefaultLimits); !d.Allowed {
				t.Fatalf("%s: request %d refused: %+v", key, i+1, d)
			}
		}
	}
}

// Many goroutines at one instant: exactly the burst gets through, per key.
func TestConcurrentAllowExactBurst(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	keys := []string{"key:a", "key:b", "key:c", "key:d"}
	var allowed [4]atomic.Int64

	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(keys)
				d, err := m.Allow(context.Background(), keys[k], DefaultLimits)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed[k].Add(1)
				}
			}
		})
	}
	wg.Wait()

	for k, key := range keys {
		if got, want := allowed[k].Load(), int64(DefaultLimits.PerSecond); got != want {
			t.Errorf("%s: %d allowed, want %d", key, got, want)
		}
	}
}

func TestIdleKeysAreForgotten(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	for i := range 1000 {
		mustAllow(t, m, fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256), DefaultLimits)
	}
	if got, want := m.Len(), 1000; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}

	// A key still inside its minute window when the sweep runs is kept:
	// 100 requests at 30s leave its minute TAT at 90s.
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
	// Kept means still limited: at 61s this request moves the minute TAT to
	// 90.6s, leaving floor((61+60-90.6)/0.6) = 50, not the 99 of a new key.
	if d := mustAllow(t, m, "key:busy", burst); window(t, d, "minute").Remaining != 50 {
		t.Errorf("key:busy lost its state: %+v", d)
	}

	// Much later everything is idle and a sweep keeps only the caller.
	clock.Advance(5 * time.Minute)
	mustAllow(t, m, "key:late", DefaultLimits)
	if got, want := m.Len(), 1; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

func TestInvalidLimits(t *testing.T) {
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
