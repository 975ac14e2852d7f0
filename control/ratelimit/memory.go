package ratelimit

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// horizon is the longest window (Limits.policies): a request allowed longer
// ago than that counts in no window, so a log keeps nothing older.
const horizon = time.Minute

// sweepEvery is how often Memory drops idle keys. A minute, the longest
// window, keeps the sweep's cost (one pass over the map under the lock) small
// next to the requests it serves, and bounds an idle key's life to about two
// minutes after its last request.
const sweepEvery = time.Minute

// Memory is the in-process Limiter: for each key, the instants of the
// requests it was allowed in the last minute, in a map behind one mutex. It
// is safe for concurrent use.
//
// One mutex is enough at the control API's request rates (an Allow is a map
// lookup and a few binary searches over at most PerMinute instants); shard it
// only with a benchmark that shows the need.
type Memory struct {
	now   func() time.Time
	epoch time.Time // instants are nanoseconds since epoch; time.Time.Sub keeps the monotonic clock

	mu        sync.Mutex
	keys      map[string][]int64 // per key, its allowed requests' instants: oldest first, none older than horizon, never empty
	last      int64              // the latest instant read: as Memory sees it, time never goes back
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
		keys:      make(map[string][]int64),
		nextSweep: int64(sweepEvery),
	}
}

// Allow checks both windows of limits for key and, only if both have room,
// records the request in both. ctx is unused in process; the error is
// non-nil only for invalid limits.
func (m *Memory) Allow(ctx context.Context, key string, limits Limits) (Decision, error) {
	if err := limits.Validate(); err != nil {
		return Decision{}, err
	}
	pols := limits.policies()

	m.mu.Lock()
	defer m.mu.Unlock()

	// An injected clock may step back (time.Now's monotonic reading never
	// does). Holding it at the latest instant seen keeps every log in order;
	// it can only make the limiter stricter while the clock catches up.
	now := max(int64(m.now().Sub(m.epoch)), m.last)
	m.last = now
	if now >= m.nextSweep {
		m.sweep(now)
	}

	log := m.keys[key]
	log = log[after(log, now-int64(horizon)):]
	d, log := allow(log, now, pols)
	m.keys[key] = log // never empty: allowed, it holds now; refused, a full window
	return d, nil
}

// Len is the number of keys holding state; idle keys count until the next
// sweep.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// sweep forgets keys whose requests have all left the longest window. Such a
// key's log would be emptied on its next request and read like a key never
// seen, so forgetting it changes no decision. The caller holds m.mu.
func (m *Memory) sweep(now int64) {
	for k, log := range m.keys {
		if log[len(log)-1] <= now-int64(horizon) {
			delete(m.keys, k)
		}
	}
	m.nextSweep = now + int64(sweepEvery)
}

// Decide is the decision on a request at now for a key whose allowed
// requests are at the instants in log: what Memory's Allow answers, for a
// Limiter that keeps the log elsewhere (control/ratelimit/redislimit).
// Instants are nanoseconds on any one scale; log is ascending, none later
// than now, and its newest max(PerSecond, PerMinute) instants are all the
// windows need. Decide neither keeps nor changes log: spending the request
// (appending now when allowed) is the caller's, in the same atomic step.
func Decide(log []int64, now int64, limits Limits) Decision {
	d, _ := allow(slices.Clip(log), now, limits.policies())
	return d
}

// allow decides one request at now for a key whose allowed requests are at
// the instants in log (ascending, none older than horizon). Both windows are
// read from the same log at the same instant; now is appended only when both
// have room, so a refusal changes nothing. It returns the decision and the
// log to keep.
func allow(log []int64, now int64, pols [2]policy) (Decision, []int64) {
	var d Decision
	for i, p := range pols {
		d.Windows[i] = p.window(log, now)
		if d.Windows[i].Remaining == 0 {
			// Full: the request waits for a place in this window, and for
			// one in the other if it is full too.
			d.RetryAfter = max(d.RetryAfter, d.Windows[i].Reset)
		}
	}
	if d.RetryAfter > 0 {
		return d, log
	}
	log = append(log, now)
	d.Allowed = true
	for i, p := range pols {
		d.Windows[i] = p.window(log, now)
	}
	return d, log
}

// window is p's state at now for a key whose allowed requests are at the
// instants in log (ascending, none later than now).
//
// The window of a request at now is (now-period, now]: n requests of log fall
// in it, and it has room while n < quota. Remaining grows when the oldest
// request holding it down leaves, period after it was made: the oldest in the
// window, or, when the window holds more than quota (the limits were lowered
// since), the quota-th newest. For a full window that moment is also when a
// request would be allowed again.
func (p policy) window(log []int64, now int64) Window {
	period := int64(p.period)
	n := len(log) - after(log, now-period)
	w := Window{Name: p.name, Quota: p.quota, Period: p.period, Remaining: max(p.quota-n, 0)}
	if n > 0 {
		w.Reset = time.Duration(log[len(log)-min(n, p.quota)] + period - now)
	}
	return w
}

// after is the index of the first instant of log (ascending) later than t.
func after(log []int64, t int64) int {
	return sort.Search(len(log), func(i int) bool { return log[i] > t })
}
