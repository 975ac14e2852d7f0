package ratelimit

import (
	"context"
	"sync"
	"time"
)

// sweepEvery is how often Memory drops idle keys. A minute, the longest
// window, keeps the sweep's cost (one pass over the map under the lock) small
// next to the requests it serves, and bounds an idle key's life to about two
// minutes after its last request.
const sweepEvery = time.Minute

// Memory is the in-process Limiter: GCRA state for each key, in a map behind
// one mutex. It is safe for concurrent use.
//
// One mutex is enough at the control API's request rates (an Allow is a map
// lookup and a few additions); shard it only with a benchmark that shows the
// need.
type Memory struct {
	now   func() time.Time
	epoch time.Time // TATs are nanoseconds since epoch; time.Time.Sub keeps the monotonic clock

	mu        sync.Mutex
	keys      map[string][2]int64 // theoretical arrival time per window, in Limits.policies order
	nextSweep int64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty Memory reading the time from now (time.Now if
// nil). Tests pass a clock they move by hand.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{
		now:       now,
		epoch:     now(),
		keys:      make(map[string][2]int64),
		nextSweep: int64(sweepEvery),
	}
}

// Allow checks both windows of limits for key and, only if both have room,
// spends one request from each. ctx is unused in process; the error is
// non-nil only for invalid limits.
func (m *Memory) Allow(ctx context.Context, key string, limits Limits) (Decision, error) {
	if err := limits.Validate(); err != nil {
		return Decision{}, err
	}
	pols := limits.policies()
	var cells [2]gcra
	for i, p := range pols {
		cells[i] = newGCRA(p.quota, p.period)
	}

	m.mu.Lock()
	defer m.mu.Unlock()

	now := int64(m.now().Sub(m.epoch))
	if now >= m.nextSweep {
		m.sweep(now)
	}

	tat, ok := m.keys[key]
	if !ok {
		tat = [2]int64{now, now}
	}

	// The request must wait for the slower window; nothing is spent unless
	// neither makes it wait.
	var wait int64
	for i, c := range cells {
		wait = max(wait, c.wait(tat[i], now))
	}
	d := Decision{Allowed: wait <= 0}
	if d.Allowed {
		for i, c := range cells {
			tat[i] = max(tat[i], now) + c.interval
		}
		m.keys[key] = tat
	} else {
		d.RetryAfter = time.Duration(wait)
	}

	for i, c := range cells {
		d.Windows[i] = Window{
			Name:      pols[i].name,
			Quota:     pols[i].quota,
			Period:    pols[i].period,
			Remaining: c.remaining(tat[i], now),
			Reset:     time.Duration(max(tat[i]-now, 0)),
		}
	}
	return d, nil
}

// Len is the number of keys holding state; idle keys count until the next
// sweep.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// sweep forgets keys whose TATs have all passed. Such a key's state reads the
// same as a key never seen (full quota in every window), so forgetting it
// changes no decision. The caller holds m.mu.
func (m *Memory) sweep(now int64) {
	for k, tat := range m.keys {
		if tat[0] <= now && tat[1] <= now {
			delete(m.keys, k)
		}
	}
	m.nextSweep = now + int64(sweepEvery)
}

// gcra is the arithmetic of one window, in nanoseconds. A request is due one
// interval after the previous one (the TAT); it may come early by at most
// limit-interval, which lets quota requests through at once.
type gcra struct {
	interval int64 // emission interval: period/quota, rounded up so the rate never exceeds quota/period
	limit    int64 // quota*interval: how far past now the TAT may run; equals the period when quota divides it
	quota    int
}

func newGCRA(quota int, period time.Duration) gcra {
	q := int64(quota)
	interval := (int64(period) + q - 1) / q
	return gcra{interval: interval, limit: q * interval, quota: quota}
}

// wait is how long until one more request fits; <= 0 means it fits now.
func (g gcra) wait(tat, now int64) int64 {
	return max(tat, now) + g.interval - g.limit - now
}

// remaining is how many requests fit now, one after another.
func (g gcra) remaining(tat, now int64) int {
	n := (now + g.limit - max(tat, now)) / g.interval
	return int(min(max(n, 0), int64(g.quota)))
}
