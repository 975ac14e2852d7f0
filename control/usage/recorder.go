package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Kinds of callers.
const (
	KindKey  = "key"  // an API key, by its ID
	KindUser = "user" // a signed-in user (a session), by the user's ID
)

// Unmatched is the route of requests to no route of the API.
const Unmatched = "* unmatched"

// Caller is who made a request: an API key or a signed-in user of an org.
type Caller struct {
	OrgID, Kind, ID string
}

// Store is what the recorder needs of the control store.
type Store interface {
	AddAPIUsage(ctx context.Context, rows []store.APIUsage) error
	SumAPIUsage(ctx context.Context, f store.APIUsageFilter, groupBy string) ([]store.APIUsageSum, error)
}

var _ Store = store.Queries(nil)

// Recorder counts requests in memory and flushes them to the store; it
// also answers the usage reads. The zero value is not usable: set Store
// and Now.
type Recorder struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger // nil: slog.Default()

	mu     sync.Mutex
	counts map[counterKey]*counter

	// flushing serialises flushes, so a read that flushes first waits for
	// a flush in progress and then finds its counts in the store.
	flushing sync.Mutex
}

type counterKey struct {
	org, kind, id, day, route, status string
}

type counter struct {
	requests, rateLimited int64
	last                  time.Time
}

// StatusClass is the class of an HTTP status: "2xx" to "5xx" (below 300
// is 2xx, 600 and above 5xx).
func StatusClass(code int) string {
	switch {
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}

// Record counts one request of c to route answered with status.
func (r *Recorder) Record(c Caller, route string, status int) {
	now := r.Now().UTC().Truncate(time.Millisecond) // the store's precision
	k := counterKey{c.OrgID, c.Kind, c.ID, now.Format(time.DateOnly), route, StatusClass(status)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[counterKey]*counter{}
	}
	n := r.counts[k]
	if n == nil {
		n = &counter{}
		r.counts[k] = n
	}
	n.requests++
	if status == 429 {
		n.rateLimited++
	}
	if now.After(n.last) {
		n.last = now
	}
}

// Flush adds the counts recorded since the last flush to the store. If
// the store refuses them, they stay to be flushed again.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	counts := r.counts
	r.counts = nil
	r.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	rows := make([]store.APIUsage, 0, len(counts))
	for k, n := range counts {
		rows = append(rows, store.APIUsage{OrgID: k.org, PrincipalKind: k.kind, PrincipalID: k.id, Day: k.day,
			Route: k.route, Status: k.status, Requests: n.requests, RateLimited: n.rateLimited, LastUsedAt: n.last})
	}
	if err := r.Store.AddAPIUsage(ctx, rows); err != nil {
		r.restore(counts)
		return fmt.Errorf("flush api usage: %w", err)
	}
	return nil
}

// restore adds counts that could not be flushed back to those recorded
// since.
func (r *Recorder) restore(counts map[counterKey]*counter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = counts
		return
	}
	for k, old := range counts {
		n := r.counts[k]
		if n == nil {
			r.counts[k] = old
			continue
		}
		n.requests += old.requests
		n.rateLimited += old.rateLimited
		if old.last.After(n.last) {
			n.last = old.last
		}
	}
}

// Run flushes every interval until ctx ends, then once more (for up to
// 10 s), so a clean shutdown loses nothing.
func (r *Recorder) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := r.Flush(ctx); err != nil {
				r.logger().Warn("could not flush API usage; retrying at the next flush", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				r.logger().Error("could not flush API usage at shutdown; its last counts are lost", "err", err)
			}
			return
		}
	}
}

func (r *Recorder) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
