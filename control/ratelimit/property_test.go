package ratelimit

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

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
func (h history) fits(t time.Duration, limits Limits) bool {
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

// checkArrivals plays arrivals against a Memory and checks every decision
// against a brute-force reading of what was allowed before it: a request is
// allowed exactly when it breaks neither window; Retry-After is the first
// instant it would fit; Remaining and Reset (r and t) are what the history
// says. At the end no span of 1 s or 60 s holds more than its quota.
func checkArrivals(t *testing.T, limits Limits, arrivals []arrival) {
	t.Helper()
	clock := newFakeClock()
	start := clock.Now()
	m := NewMemory(clock.Now)
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

// TestRandomHistories is the property test: seeded random histories of
// three keys, limits small enough that both windows refuse often.
func TestRandomHistories(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 0x6830702d72617465))
		limits := DefaultLimits
		if seed%4 != 0 {
			limits = Limits{PerSecond: 1 + rng.IntN(8), PerMinute: 1 + rng.IntN(40)}
		}
		arrivals := make([]arrival, 1000)
		for i := range arrivals {
			g := gaps[rng.IntN(len(gaps))]
			if rng.IntN(8) == 0 {
				g = time.Duration(rng.Int64N(int64(2 * time.Second)))
			}
			arrivals[i] = arrival{gap: g, key: rng.IntN(3)}
		}
		checkArrivals(t, limits, arrivals)
	}
}

// FuzzAllow is the same check over histories the fuzzer writes: the first
// two bytes set the limits, each further byte one arrival (its low four bits
// a gap, the next two the key).
func FuzzAllow(f *testing.F) {
	f.Add([]byte{4, 99, 0, 0, 0, 0, 0, 0, 12, 0})
	f.Add([]byte{2, 9, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 15, 6, 6, 22, 38, 11, 11})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		limits := Limits{PerSecond: 1 + int(data[0]%8), PerMinute: 1 + int(data[1]%64)}
		arrivals := make([]arrival, 0, len(data)-2)
		for _, b := range data[2:] {
			arrivals = append(arrivals, arrival{gap: gaps[b%16], key: int(b>>4) % 3})
		}
		checkArrivals(t, limits, arrivals)
	})
}
