package ratelimit

import (
	"context"
	"fmt"
	"slices"
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

// mustRefuse calls Allow and fails unless it refuses with retry.
func mustRefuse(t testing.TB, l Limiter, key string, limits Limits, retry time.Duration) Decision {
	t.Helper()
	d := mustAllow(t, l, key, limits)
	if d.Allowed || d.RetryAfter != retry {
		t.Fatalf("got allowed %v, RetryAfter %v; want refused, RetryAfter %v: %+v", d.Allowed, d.RetryAfter, retry, d)
	}
	return d
}

// mustAdmit calls Allow and fails unless it allows.
func mustAdmit(t testing.TB, l Limiter, key string, limits Limits) Decision {
	t.Helper()
	d := mustAllow(t, l, key, limits)
	if !d.Allowed {
		t.Fatalf("refused: %+v", d)
	}
	return d
}

// The window of a request at t is (t-1s, t]: requests at t count until
// t+1s-1ns and not at t+1s. No span of a second, wherever it starts, holds
// more than 5 (GCRA let a 6th through 200ms after a burst of 5).
func TestSecondWindowBoundary(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	const key = "key:key_1"

	for range 5 {
		mustAdmit(t, m, key, DefaultLimits)
	}
	d := mustRefuse(t, m, key, DefaultLimits, time.Second)
	if got, want := d.Closest().Name, "second"; got != want {
		t.Errorf("Closest = %q, want %q", got, want)
	}
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})

	clock.Advance(200 * time.Millisecond)
	mustRefuse(t, m, key, DefaultLimits, 800*time.Millisecond)
	clock.Advance(799 * time.Millisecond) // t+999ms
	d = mustRefuse(t, m, key, DefaultLimits, time.Millisecond)
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})
	clock.Advance(time.Millisecond - time.Nanosecond) // t+1s-1ns: the 5 are still in the window
	mustRefuse(t, m, key, DefaultLimits, time.Nanosecond)

	clock.Advance(time.Nanosecond) // t+1s: they have left it
	for i := range 5 {
		d := mustAdmit(t, m, key, DefaultLimits)
		if got, want := window(t, d, "second").Remaining, 4-i; got != want {
			t.Errorf("request %d at t+1s: second remaining = %d, want %d", i+1, got, want)
		}
		if got, want := window(t, d, "minute").Remaining, 94-i; got != want {
			t.Errorf("request %d at t+1s: minute remaining = %d, want %d (refusals spend nothing)", i+1, got, want)
		}
	}
	mustRefuse(t, m, key, DefaultLimits, time.Second)
}

// Spread requests leave one at a time: each refusal waits exactly for the
// oldest in the window, and RateLimit's t says when one more is allowed.
func TestSecondWindowSlides(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	const key = "key:key_1"

	// Requests at 0, 100, 200, 300 and 400ms.
	for i := range 5 {
		d := mustAdmit(t, m, key, DefaultLimits)
		// The oldest in the window, the one at 0, leaves at 1s.
		if got, want := window(t, d, "second").Reset, time.Second-time.Duration(i)*100*time.Millisecond; got != want {
			t.Errorf("request %d: second Reset = %v, want %v", i+1, got, want)
		}
		clock.Advance(100 * time.Millisecond)
	}
	// At 500ms: full until the request at 0 leaves, at 1s.
	d := mustRefuse(t, m, key, DefaultLimits, 500*time.Millisecond)
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})

	clock.Advance(500 * time.Millisecond) // 1s
	if d := mustAdmit(t, m, key, DefaultLimits); window(t, d, "second").Remaining != 0 {
		t.Errorf("at 1s: %+v", d)
	}
	// Now the request at 100ms is the oldest: the next place is at 1.1s.
	mustRefuse(t, m, key, DefaultLimits, 100*time.Millisecond)
	clock.Advance(100*time.Millisecond - time.Nanosecond)
	mustRefuse(t, m, key, DefaultLimits, time.Nanosecond)
	clock.Advance(time.Nanosecond)
	mustAdmit(t, m, key, DefaultLimits)
	mustRefuse(t, m, key, DefaultLimits, 100*time.Millisecond)
}

// TestMinuteWindow spreads requests until the minute window refuses, then
// checks that it refuses until its oldest request leaves it, and no longer.
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
			// Only the minute window binds: 100 pass, the 101st waits a
			// minute.
			name:        "100 at once",
			limits:      Limits{PerSecond: 1000, PerMinute: 100},
			wantAllowed: 100,
			wantRetry:   time.Minute,
			wantHeader:  `"minute";r=0;t=60`,
		},
		{
			// Requests at 0, 0.2s, … 19.8s pass; the 101st, at 20s, waits
			// for the first to leave the minute, at 60s. (GCRA let 149
			// through, the minute window refilling meanwhile.)
			name:        "default limits at 5/s",
			limits:      DefaultLimits,
			every:       200 * time.Millisecond,
			wantAllowed: 100,
			wantRetry:   40 * time.Second,
			wantHeader:  `"minute";r=0;t=40`,
		},
		{
			// 10 pass at 0 … 1.8s; the 11th, at 2s, waits until 60s.
			name:        "10/min at 5/s",
			limits:      Limits{PerSecond: 5, PerMinute: 10},
			every:       200 * time.Millisecond,
			wantAllowed: 10,
			wantRetry:   58 * time.Second,
			wantHeader:  `"minute";r=0;t=58`,
		},
		{
			// One a second never fills the second window: 50 pass at 0 …
			// 49s; the 51st, at 50s, waits for the first to leave at 60s.
			name:        "50/min at 1/s",
			limits:      Limits{PerSecond: 5, PerMinute: 50},
			every:       time.Second,
			wantAllowed: 50,
			wantRetry:   10 * time.Second,
			wantHeader:  `"minute";r=0;t=10`,
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

			// Retry-After is exact: refusals until then (spending nothing,
			// each told the time left), and at it the request passes.
			wait := d.RetryAfter
			for _, step := range []time.Duration{time.Nanosecond, wait / 3, wait / 2} {
				clock.Advance(step)
				wait -= step
				mustRefuse(t, m, "key:key_1", tt.limits, wait)
			}
			clock.Advance(wait - time.Nanosecond)
			mustRefuse(t, m, "key:key_1", tt.limits, time.Nanosecond)
			clock.Advance(time.Nanosecond)
			mustAdmit(t, m, "key:key_1", tt.limits)
		})
	}
}

// At a steady 5/s the minute window opens as its oldest requests leave: 100
// in the first 20 s, none for 40 s, then 100 again from 60 s to 79.8 s.
func TestSteadyRateOverMinutes(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	var got []int // allowed per 20 s period
	for i := range 5 * 60 * 3 {
		if i%100 == 0 {
			got = append(got, 0)
		}
		if mustAllow(t, m, "key:key_1", DefaultLimits).Allowed {
			got[len(got)-1]++
		}
		clock.Advance(200 * time.Millisecond)
	}
	want := []int{100, 0, 0, 100, 0, 0, 100, 0, 0}
	if !slices.Equal(got, want) {
		t.Errorf("allowed per 20 s: %v, want %v", got, want)
	}
}

// A request the minute window refuses spends nothing from the second window.
func TestMinuteRefusalSpendsNoSecondQuota(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)

	// Fill the minute window at 5/s (0 … 19.8s), on both the key under test
	// and a control key that will make no refused requests.
	for i := range 100 {
		for _, key := range []string{"key:tested", "key:control"} {
			if d := mustAllow(t, m, key, DefaultLimits); !d.Allowed {
				t.Fatalf("%s: request %d refused: %+v", key, i+1, d)
			}
		}
		clock.Advance(200 * time.Millisecond)
	}

	// Hammer the tested key in the last second before the first request
	// leaves the minute: every refusal still shows the second window empty.
	clock.Advance(39 * time.Second) // 59s
	for i := range 20 {
		d := mustRefuse(t, m, "key:tested", DefaultLimits, time.Second-time.Duration(i)*10*time.Millisecond)
		if got, want := window(t, d, "second").Remaining, 5; got != want {
			t.Fatalf("refusal %d: second window remaining = %d, want %d", i+1, got, want)
		}
		if got := d.Closest().Name; got != "minute" {
			t.Fatalf("refusal %d: RateLimit names %q, want minute", i+1, got)
		}
		clock.Advance(10 * time.Millisecond)
	}

	// At 60s the first request leaves the minute window. The request passes
	// and leaves 4 in the second window: the refusals spent nothing.
	clock.Advance(800 * time.Millisecond)
	d := mustAdmit(t, m, "key:tested", DefaultLimits)
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
	// 95 refusals: had they spent from the minute window, it would be full.
	for i := range 95 {
		d := mustRefuse(t, m, "key:tested", DefaultLimits, time.Second)
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

// Limits come with each call: raising them lets more through at once,
// lowering them counts the requests already made against the new quotas.
func TestLimitsChangeBetweenCalls(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	const key = "key:key_1"
	raised := Limits{PerSecond: 1000, PerMinute: 100}

	for range 50 {
		mustAdmit(t, m, key, raised)
	}
	// 50 in the second window, 5 allowed: full until they leave at 1s.
	mustRefuse(t, m, key, DefaultLimits, time.Second)
	clock.Advance(time.Second)
	d := mustAdmit(t, m, key, DefaultLimits)
	if got, want := window(t, d, "minute").Remaining, 49; got != want {
		t.Errorf("minute remaining = %d, want %d", got, want)
	}
	// 51 in the minute window, 40 allowed: a place frees when the 40th
	// newest leaves, one of the 50 made at 0, at 60s.
	d = mustRefuse(t, m, key, Limits{PerSecond: 5, PerMinute: 40}, 59*time.Second)
	if got, want := window(t, d, "minute").Reset, 59*time.Second; got != want {
		t.Errorf("minute Reset = %v, want %v", got, want)
	}
}

// A clock that steps back is held at the latest instant seen: windows never
// reopen early.
func TestClockSteppingBack(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	const key = "key:key_1"
	for range 5 {
		mustAdmit(t, m, key, DefaultLimits)
	}
	clock.Advance(-time.Hour)
	mustRefuse(t, m, key, DefaultLimits, time.Second)
	clock.Advance(time.Hour + time.Second)
	mustAdmit(t, m, key, DefaultLimits)
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

// Many goroutines at one instant: exactly PerSecond get through, per key.
func TestConcurrentAllowExactQuota(t *testing.T) {
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
