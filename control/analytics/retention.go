package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Expirer is what the retention job needs of a Store.
type Expirer interface {
	Orgs(ctx context.Context) ([]string, error)
	DeleteBefore(ctx context.Context, org string, t time.Time) error
}

// Retention deletes each org's clicks older than its plan keeps.
type Retention struct {
	Store Expirer
	// Keep is how long org's plan keeps clicks; 0 (or an org it does not
	// know) keeps everything, so a failed lookup never deletes.
	Keep   func(ctx context.Context, org string) (time.Duration, error)
	Now    func() time.Time
	Every  time.Duration // between passes; 0 is an hour
	Logger *slog.Logger
}

// Once runs one pass: for every org the store holds, DeleteBefore(now −
// keep). It returns how many orgs it deleted from and the first error,
// after trying every org.
func (r *Retention) Once(ctx context.Context) (int, error) {
	orgs, err := r.Store.Orgs(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	now := r.Now()
	var first error
	n := 0
	for _, org := range orgs {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		keep, err := r.Keep(ctx, org)
		if err == nil && keep > 0 {
			err = r.Store.DeleteBefore(ctx, org, now.Add(-keep))
			n++
		}
		if err != nil && first == nil {
			first = fmt.Errorf("retention of %s: %w", org, err)
		}
	}
	return n, first
}

// Run runs a pass at once and then every r.Every until ctx ends. A failed
// pass is logged and the next one tries again.
func (r *Retention) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = time.Hour
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("subsystem", "analytics-retention")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := r.Once(ctx); err != nil && ctx.Err() == nil {
			log.Error("retention pass failed", "orgs", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
