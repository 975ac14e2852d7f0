// Package limitertest is the conformance suite of ratelimit.Limiter: the
// table and property tests every implementation passes, so that Memory and
// the Redis limiter are held to one set of cases (the pattern of
// control/store/storetest).
//
// Run runs them all against limiters a New function makes: each test makes
// its own (more than one for the property test), reading the Clock the test
// moves by hand, and must get a limiter whose keys no other test touched.
// Fuzz is the property test over fuzzer-written histories.
package limitertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/ratelimit"
)

// New makes an empty limiter that reads the time from now.
type New func(t testing.TB, now func() time.Time) ratelimit.Limiter

// Run runs the suite against limiters newLimiter makes.
func Run(t *testing.T, newLimiter New) {
	for _, tt := range []struct {
		name string
		test func(*testing.T, New)
	}{
		{"SecondWindowBoundary", testSecondWindowBoundary},
		{"SecondWindowSlides", testSecondWindowSlides},
		{"MinuteWindow", testMinuteWindow},
		{"SteadyRateOverMinutes", testSteadyRateOverMinutes},
		{"MinuteRefusalSpendsNoSecondQuota", testMinuteRefusalSpendsNoSecondQuota},
		{"SecondRefusalSpendsNoMinuteQuota", testSecondRefusalSpendsNoMinuteQuota},
		{"LimitsChangeBetweenCalls", testLimitsChangeBetweenCalls},
		{"ClockSteppingBack", testClockSteppingBack},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"ConcurrentAllowExactQuota", testConcurrentAllowExactQuota},
		{"InvalidLimits", testInvalidLimits},
		{"Headers", testHeaders},
		{"RandomHistories", testRandomHistories},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newLimiter) })
	}
}

// Clock is a clock the test moves by hand; safe for concurrent reads.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at an arbitrary fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d, back if d is negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustAllow(t testing.TB, l ratelimit.Limiter, key string, limits ratelimit.Limits) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, limits)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// window returns the state of the named policy in d.
func window(t testing.TB, d ratelimit.Decision, name string) ratelimit.Window {
	t.Helper()
	for _, w := range d.Windows {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no window %q in %+v", name, d)
	return ratelimit.Window{}
}

// mustRefuse calls Allow and fails unless it refuses with retry.
func mustRefuse(t testing.TB, l ratelimit.Limiter, key string, limits ratelimit.Limits, retry time.Duration) ratelimit.Decision {
	t.Helper()
	d := mustAllow(t, l, key, limits)
	if d.Allowed || d.RetryAfter != retry {
		t.Fatalf("got allowed %v, RetryAfter %v; want refused, RetryAfter %v: %+v", d.Allowed, d.RetryAfter, retry, d)
	}
	return d
}

// mustAdmit calls Allow and fails unless it allows.
func mustAdmit(t testing.TB, l ratelimit.Limiter, key string, limits ratelimit.Limits) ratelimit.Decision {
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
func testSecondWindowBoundary(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	const key = "key:key_1"

	for range 5 {
		mustAdmit(t, m, key, ratelimit.DefaultLimits)
	}
	d := mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Second)
	if got, want := d.Closest().Name, "second"; got != want {
		t.Errorf("Closest = %q, want %q", got, want)
	}
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})

	clock.Advance(200 * time.Millisecond)
	mustRefuse(t, m, key, ratelimit.DefaultLimits, 800*time.Millisecond)
	clock.Advance(799 * time.Millisecond) // t+999ms
	d = mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Millisecond)
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})
	clock.Advance(time.Millisecond - time.Nanosecond) // t+1s-1ns: the 5 are still in the window
	mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Nanosecond)

	clock.Advance(time.Nanosecond) // t+1s: they have left it
	for i := range 5 {
		d := mustAdmit(t, m, key, ratelimit.DefaultLimits)
		if got, want := window(t, d, "second").Remaining, 4-i; got != want {
			t.Errorf("request %d at t+1s: second remaining = %d, want %d", i+1, got, want)
		}
		if got, want := window(t, d, "minute").Remaining, 94-i; got != want {
			t.Errorf("request %d at t+1s: minute remaining = %d, want %d (refusals spend nothing)", i+1, got, want)
		}
	}
	mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Second)
}

// Spread requests leave one at a time: each refusal waits exactly for the
// oldest in the window, and RateLimit's t says when one more is allowed.
func testSecondWindowSlides(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	const key = "key:key_1"

	// Requests at 0, 100, 200, 300 and 400ms.
	for i := range 5 {
		d := mustAdmit(t, m, key, ratelimit.DefaultLimits)
		// The oldest in the window, the one at 0, leaves at 1s.
		if got, want := window(t, d, "second").Reset, time.Second-time.Duration(i)*100*time.Millisecond; got != want {
			t.Errorf("request %d: second Reset = %v, want %v", i+1, got, want)
		}
		clock.Advance(100 * time.Millisecond)
	}
	// At 500ms: full until the request at 0 leaves, at 1s.
	d := mustRefuse(t, m, key, ratelimit.DefaultLimits, 500*time.Millisecond)
	assertHeaders(t, d, map[string]string{"Retry-After": "1", "RateLimit": `"second";r=0;t=1`})

	clock.Advance(500 * time.Millisecond) // 1s
	if d := mustAdmit(t, m, key, ratelimit.DefaultLimits); window(t, d, "second").Remaining != 0 {
		t.Errorf("at 1s: %+v", d)
	}
	// Now the request at 100ms is the oldest: the next place is at 1.1s.
	mustRefuse(t, m, key, ratelimit.DefaultLimits, 100*time.Millisecond)
	clock.Advance(100*time.Millisecond - time.Nanosecond)
	mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Nanosecond)
	clock.Advance(time.Nanosecond)
	mustAdmit(t, m, key, ratelimit.DefaultLimits)
	mustRefuse(t, m, key, ratelimit.DefaultLimits, 100*time.Millisecond)
}

// TestMinuteWindow spreads requests until the minute window refuses, then
// checks that it refuses until its oldest request leaves it, and no longer.
func testMinuteWindow(t *testing.T, newLimiter New) {
	tests := []struct {
		name        string
		limits      ratelimit.Limits
		every       time.Duration // gap between requests; 0 means all at one instant
		wantAllowed int
		wantRetry   time.Duration
		wantHeader  string // RateLimit on the refusal
	}{
		{
			// Only the minute window binds: 100 pass, the 101st waits a
			// minute.
			name:        "100 at once",
			limits:      ratelimit.Limits{PerSecond: 1000, PerMinute: 100},
			wantAllowed: 100,
			wantRetry:   time.Minute,
			wantHeader:  `"minute";r=0;t=60`,
		},
		{
			// Requests at 0, 0.2s, … 19.8s pass; the 101st, at 20s, waits
			// for the first to leave the minute, at 60s. (GCRA let 149
			// through, the minute window refilling meanwhile.)
			name:        "default limits at 5/s",
			limits:      ratelimit.DefaultLimits,
			every:       200 * time.Millisecond,
			wantAllowed: 100,
			wantRetry:   40 * time.Second,
			wantHeader:  `"minute";r=0;t=40`,
		},
		{
			// 10 pass at 0 … 1.8s; the 11th, at 2s, waits until 60s.
			name:        "10/min at 5/s",
			limits:      ratelimit.Limits{PerSecond: 5, PerMinute: 10},
			every:       200 * time.Millisecond,
			wantAllowed: 10,
			wantRetry:   58 * time.Second,
			wantHeader:  `"minute";r=0;t=58`,
		},
		{
			// One a second never fills the second window: 50 pass at 0 …
			// 49s; the 51st, at 50s, waits for the first to leave at 60s.
			name:        "50/min at 1/s",
			limits:      ratelimit.Limits{PerSecond: 5, PerMinute: 50},
			every:       time.Second,
			wantAllowed: 50,
			wantRetry:   10 * time.Second,
			wantHeader:  `"minute";r=0;t=10`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			m := newLimiter(t, clock.Now)
			allowed := 0
			var d ratelimit.Decision
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
				"Retry-After": fmt.Sprint(int64((tt.wantRetry + time.Second - 1) / time.Second)),
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
func testSteadyRateOverMinutes(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	var got []int // allowed per 20 s period
	for i := range 5 * 60 * 3 {
		if i%100 == 0 {
			got = append(got, 0)
		}
		if mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits).Allowed {
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
func testMinuteRefusalSpendsNoSecondQuota(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)

	// Fill the minute window at 5/s (0 … 19.8s), on both the key under test
	// and a control key that will make no refused requests.
	for i := range 100 {
		for _, key := range []string{"key:tested", "key:control"} {
			if d := mustAllow(t, m, key, ratelimit.DefaultLimits); !d.Allowed {
				t.Fatalf("%s: request %d refused: %+v", key, i+1, d)
			}
		}
		clock.Advance(200 * time.Millisecond)
	}

	// Hammer the tested key in the last second before the first request
	// leaves the minute: every refusal still shows the second window empty.
	clock.Advance(39 * time.Second) // 59s
	for i := range 20 {
		d := mustRefuse(t, m, "key:tested", ratelimit.DefaultLimits, time.Second-time.Duration(i)*10*time.Millisecond)
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
	d := mustAdmit(t, m, "key:tested", ratelimit.DefaultLimits)
	if got, want := window(t, d, "second").Remaining, 4; got != want {
		t.Errorf("second window remaining = %d, want %d", got, want)
	}
	if got, want := window(t, d, "minute").Remaining, 0; got != want {
		t.Errorf("minute window remaining = %d, want %d", got, want)
	}

	// And the key is in exactly the state of one that never was refused.
	if c := mustAllow(t, m, "key:control", ratelimit.DefaultLimits); c != d {
		t.Errorf("after refusals:\n%+v\nwithout refusals:\n%+v", d, c)
	}
}

// A request the second window refuses spends nothing from the minute window.
func testSecondRefusalSpendsNoMinuteQuota(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)

	for _, key := range []string{"key:tested", "key:control"} {
		for range 5 {
			mustAllow(t, m, key, ratelimit.DefaultLimits)
		}
	}
	// 95 refusals: had they spent from the minute window, it would be full.
	for i := range 95 {
		d := mustRefuse(t, m, "key:tested", ratelimit.DefaultLimits, time.Second)
		if got, want := window(t, d, "minute").Remaining, 95; got != want {
			t.Fatalf("refusal %d: minute window remaining = %d, want %d", i+1, got, want)
		}
	}

	// From here both keys must decide alike, request after request.
	for _, step := range []time.Duration{200 * time.Millisecond, 0, time.Second, 0, 0, 30 * time.Second} {
		clock.Advance(step)
		got := mustAllow(t, m, "key:tested", ratelimit.DefaultLimits)
		want := mustAllow(t, m, "key:control", ratelimit.DefaultLimits)
		if got != want {
			t.Fatalf("after refusals:\n%+v\nwithout refusals:\n%+v", got, want)
		}
	}
}

// Limits come with each call: raising them lets more through at once,
// lowering them counts the requests already made against the new quotas.
func testLimitsChangeBetweenCalls(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	const key = "key:key_1"
	raised := ratelimit.Limits{PerSecond: 1000, PerMinute: 100}

	for range 50 {
		mustAdmit(t, m, key, raised)
	}
	// 50 in the second window, 5 allowed: full until they leave at 1s.
	mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Second)
	clock.Advance(time.Second)
	d := mustAdmit(t, m, key, ratelimit.DefaultLimits)
	if got, want := window(t, d, "minute").Remaining, 49; got != want {
		t.Errorf("minute remaining = %d, want %d", got, want)
	}
	// 51 in the minute window, 40 allowed: a place frees when the 40th
	// newest leaves, one of the 50 made at 0, at 60s.
	d = mustRefuse(t, m, key, ratelimit.Limits{PerSecond: 5, PerMinute: 40}, 59*time.Second)
	if got, want := window(t, d, "minute").Reset, 59*time.Second; got != want {
		t.Errorf("minute Reset = %v, want %v", got, want)
	}
}

// A clock that steps back is held at the latest instant seen: windows never
// reopen early.
func testClockSteppingBack(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	const key = "key:key_1"
	for range 5 {
		mustAdmit(t, m, key, ratelimit.DefaultLimits)
	}
	clock.Advance(-time.Hour)
	mustRefuse(t, m, key, ratelimit.DefaultLimits, time.Second)
	clock.Advance(time.Hour + time.Second)
	mustAdmit(t, m, key, ratelimit.DefaultLimits)
}

func testKeysAreIndependent(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	for range 5 {
		mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits)
	}
	if d := mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits); d.Allowed {
		t.Fatalf("key_1 not limited: %+v", d)
	}
	for _, key := range []string{"key:key_2", "user:usr_1", "ip:1.2.3.4", "ip:2001:db8::1"} {
		for i := range 5 {
			if d := mustAllow(t, m, key, ratelimit.DefaultLimits); !d.Allowed {
				t.Fatalf("%s: request %d refused: %+v", key, i+1, d)
			}
		}
	}
}

// Many goroutines at one instant: exactly PerSecond get through, per key.
func testConcurrentAllowExactQuota(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)
	keys := []string{"key:a", "key:b", "key:c", "key:d"}
	var allowed [4]atomic.Int64

	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(keys)
				d, err := m.Allow(context.Background(), keys[k], ratelimit.DefaultLimits)
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
		if got, want := allowed[k].Load(), int64(ratelimit.DefaultLimits.PerSecond); got != want {
			t.Errorf("%s: %d allowed, want %d", key, got, want)
		}
	}
}

func testInvalidLimits(t *testing.T, newLimiter New) {
	m := newLimiter(t, NewClock().Now)
	for _, limits := range []ratelimit.Limits{{}, {PerSecond: 5}, {PerMinute: 100}, {PerSecond: -1, PerMinute: 100}} {
		if _, err := m.Allow(context.Background(), "key:key_1", limits); err == nil {
			t.Errorf("Allow with %+v: no error", limits)
		}
	}
}

// The headers of real decisions, end to end.
func testHeaders(t *testing.T, newLimiter New) {
	clock := NewClock()
	m := newLimiter(t, clock.Now)

	assertHeaders(t, mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits), map[string]string{
		"RateLimit-Policy": defaultPolicy,
		"RateLimit":        `"second";r=4;t=1`,
		"Retry-After":      "",
	})
	for range 4 {
		mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits)
	}
	assertHeaders(t, mustAllow(t, m, "key:key_1", ratelimit.DefaultLimits), map[string]string{
		"RateLimit-Policy": defaultPolicy,
		"RateLimit":        `"second";r=0;t=1`,
		"Retry-After":      "1",
	})
}

var defaultPolicy = `"second";q=5;w=1, "minute";q=100;w=60`

// assertHeaders checks the named headers that SetHeaders writes for d; a
// want of "" means the header must be absent.
func assertHeaders(t *testing.T, d ratelimit.Decision, want map[string]string) {
	t.Helper()
	h := http.Header{}
	d.SetHeaders(h)
	for name, w := range want {
		if got := h.Get(name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

// arrival is one request of a random history: after gap, for key.
type arrival struct {
	gap time.Duration
	key int
}

// history is what the brute-force reading needs of one key: the instants
// (since the start) of its allowed requests, ascending.
type history []time.Duration

// count is how many allowed requests fall in (t-w, t], by walking back
// through the history.
func (h history) count(t, w time.Duration) int {
	n := 0
	for i := len(h) - 1; i >= 0 && h[i] > t-w; i-- {
		if h[i] <= t {
			n++
		}
	}
	return n
}

// fits reports whether a request at t fits both windows of limits.
func (h history) fits(t time.Duration, limits ratelimit.Limits) bool {
	return h.count(t, time.Second) < limits.PerSecond && h.count(t, time.Minute) < limits.PerMinute
}

// maxInSpan is the most allowed requests any half-open span [a, a+w) holds.
// The busiest span starts at an allowed request, so trying those is enough.
func (h history) maxInSpan(w time.Duration) int {
	most := 0
	for i, a := range h {
		n := 0
		for _, s := range h[i:] {
			if s < a+w {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// checkArrivals plays arrivals against a new limiter and checks every
// decision against a brute-force reading of what was allowed before it: a request is
// allowed exactly when it breaks neither window; Retry-After is the first
// instant it would fit; Remaining and Reset (r and t) are what the history
// says. At the end no span of 1 s or 60 s holds more than its quota.
func checkArrivals(t *testing.T, newLimiter New, limits ratelimit.Limits, arrivals []arrival) {
	t.Helper()
	clock := NewClock()
	start := clock.Now()
	m := newLimiter(t, clock.Now)
	keys := []string{"key:a", "user:b", "ip:c"}
	hist := make([]history, len(keys))
	var at time.Duration
	for i, a := range arrivals {
		clock.Advance(a.gap)
		at += a.gap
		h := hist[a.key]
		d, err := m.Allow(context.Background(), keys[a.key], limits)
		if err != nil {
			t.Fatal(err)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("limits %+v, arrival %d at %v on %s: %+v: "+format,
				append([]any{limits, i, at, keys[a.key], d}, args...)...)
		}
		if want := h.fits(at, limits); d.Allowed != want {
			fail("allowed = %v, brute force says %v (second %d, minute %d)", d.Allowed, want, h.count(at, time.Second), h.count(at, time.Minute))
		}
		if d.Allowed {
			if d.RetryAfter != 0 {
				fail("RetryAfter on an allowed request")
			}
			h = append(h, at)
			hist[a.key] = h
		} else {
			// Nothing else is allowed meanwhile (the same key sends nothing
			// in between): the first instant it fits is exact to the ns.
			if d.RetryAfter <= 0 || h.fits(at+d.RetryAfter-time.Nanosecond, limits) || !h.fits(at+d.RetryAfter, limits) {
				fail("RetryAfter is not the first instant the request fits")
			}
		}
		for _, w := range d.Windows {
			n := h.count(at, w.Period)
			if want := max(w.Quota-n, 0); w.Remaining != want {
				fail("%s remaining = %d, want %d", w.Name, w.Remaining, want)
			}
			if n == 0 {
				if w.Reset != 0 {
					fail("%s Reset = %v on an empty window", w.Name, w.Reset)
				}
				continue
			}
			// Remaining stays until Reset, then grows.
			still := max(w.Quota-h.count(at+w.Reset-time.Nanosecond, w.Period), 0)
			then := max(w.Quota-h.count(at+w.Reset, w.Period), 0)
			if w.Reset <= 0 || still != w.Remaining || then <= w.Remaining {
				fail("%s Reset = %v: remaining %d just before, %d at it", w.Name, w.Reset, still, then)
			}
		}
		if !d.Allowed {
			c := d.Closest()
			if c.Remaining != 0 || c.Reset != d.RetryAfter {
				fail("RateLimit names %+v, not the window that refuses longest", c)
			}
		}
	}
	if got := clock.Now().Sub(start); got != at {
		t.Fatalf("clock moved %v, history %v", got, at)
	}
	for k, h := range hist {
		if n := h.maxInSpan(time.Second); n > limits.PerSecond {
			t.Errorf("%s: %d allowed in one second, limit %d", keys[k], n, limits.PerSecond)
		}
		if n := h.maxInSpan(time.Minute); n > limits.PerMinute {
			t.Errorf("%s: %d allowed in one minute, limit %d", keys[k], n, limits.PerMinute)
		}
	}
}

// gaps are the steps random histories are made of: many land exactly on
// the window boundaries of earlier requests, a few just short or past them.
var gaps = []time.Duration{
	0, 0, 0, time.Nanosecond,
	50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond,
	time.Second - time.Nanosecond, time.Second, time.Second + time.Nanosecond,
	3 * time.Second, 20 * time.Second, time.Minute,
}

// testRandomHistories is the property test: seeded random histories of
// three keys, limits small enough that both windows refuse often.
func testRandomHistories(t *testing.T, newLimiter New) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 0x6830702d72617465))
		limits := ratelimit.DefaultLimits
		if seed%4 != 0 {
			limits = ratelimit.Limits{PerSecond: 1 + rng.IntN(8), PerMinute: 1 + rng.IntN(40)}
		}
		arrivals := make([]arrival, 1000)
		for i := range arrivals {
			g := gaps[rng.IntN(len(gaps))]
			if rng.IntN(8) == 0 {
				g = time.Duration(rng.Int64N(int64(2 * time.Second)))
			}
			arrivals[i] = arrival{gap: g, key: rng.IntN(3)}
		}
		checkArrivals(t, newLimiter, limits, arrivals)
	}
}

// Fuzz is the same check over histories the fuzzer writes: the first two
// bytes set the limits, each further byte one arrival (its low four bits a
// gap, the next two the key).
func Fuzz(f *testing.F, newLimiter New) {
	f.Add([]byte{4, 99, 0, 0, 0, 0, 0, 0, 12, 0})
	f.Add([]byte{2, 9, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 15, 6, 6, 22, 38, 11, 11})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		limits := ratelimit.Limits{PerSecond: 1 + int(data[0]%8), PerMinute: 1 + int(data[1]%64)}
		arrivals := make([]arrival, 0, len(data)-2)
		for _, b := range data[2:] {
			arrivals = append(arrivals, arrival{gap: gaps[b%16], key: int(b>>4) % 3})
		}
		checkArrivals(t, newLimiter, limits, arrivals)
	})
}
