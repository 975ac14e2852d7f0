// Package outbox moves replicated commands from the control store into raft.
//
// A write commits its change and an outbox entry in one SQL transaction, then
// calls Publish, which applies the entry through raft and deletes it. If the
// process dies between the commit and the apply, or the apply fails (no
// leader, no quorum), the entry stays; the Relay, running on the raft leader,
// applies what is left behind: everything at start, then entries older than a
// grace period (so it does not race a request that is about to publish its
// own). Commands carry per-object versions, so applying an entry twice or out
// of order is harmless.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Applier is the raft side: replication.Node satisfies it.
type Applier interface {
	Apply(ctx context.Context, cmd []byte) (uint64, error)
	IsLeader() bool
}

// Store is the part of the control store the outbox needs.
type Store interface {
	PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error)
	DeleteOutbox(ctx context.Context, ids ...int64) error
}

// Publisher applies outbox entries.
type Publisher struct {
	Applier Applier
	Store   Store
	Logger  *slog.Logger
	Now     func() time.Time
	// Grace is how old an entry must be before the relay takes it over.
	Grace time.Duration
	// Interval between relay passes.
	Interval time.Duration

	// applied takes the IDs of applied entries to a reaper that deletes them
	// in batches while Run runs (one statement for many writes instead of
	// one each); reaping is true while it does.
	applied chan int64
	reaping atomic.Bool
	once    sync.Once
}

// Publish applies entry id's command and removes the entry. An error means
// the command may or may not be applied; the entry stays for the relay.
func (p *Publisher) Publish(ctx context.Context, id int64, cmd []byte) error {
	if _, err := p.Applier.Apply(ctx, cmd); err != nil {
		return fmt.Errorf("publish outbox entry %d: %w", id, err)
	}
	// Losing this delete only means the relay applies the entry again.
	if p.reaping.Load() {
		select {
		case p.applied <- id:
			return nil
		default: // the reaper is behind: delete here
		}
	}
	if err := p.Store.DeleteOutbox(ctx, id); err != nil {
		p.Logger.Warn("outbox entry applied but not removed", "id", id, "err", err)
	}
	return nil
}

// reap deletes applied entries in batches until ctx ends, then deletes what
// is left.
func (p *Publisher) reap(ctx context.Context) {
	var ids []int64
	flush := func(ctx context.Context) {
		if len(ids) == 0 {
			return
		}
		if err := p.Store.DeleteOutbox(ctx, ids...); err != nil {
			p.Logger.Warn("outbox entries applied but not removed", "count", len(ids), "err", err)
		}
		ids = ids[:0]
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case id := <-p.applied:
			if ids = append(ids, id); len(ids) >= 512 {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			p.reaping.Store(false)
			for {
				select {
				case id := <-p.applied:
					ids = append(ids, id)
				default:
					flush(context.WithoutCancel(ctx))
					return
				}
			}
		}
	}
}

// Drain applies every pending entry created at or before olderThan, oldest
// first, and returns how many it applied. It stops at the first failure so
// entries of one object are never applied out of order.
func (p *Publisher) Drain(ctx context.Context, olderThan time.Time) (int, error) {
	done := 0
	for {
		batch, err := p.Store.PendingOutbox(ctx, olderThan, 256)
		if err != nil {
			return done, err
		}
		for _, e := range batch {
			if err := p.Publish(ctx, e.ID, e.Command); err != nil {
				return done, err
			}
			done++
		}
		if len(batch) < 256 {
			return done, nil
		}
	}
}

// Run is the relay: while this node leads, it drains entries left behind.
// It also runs the reaper that deletes applied entries in batches. It returns
// when ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	p.once.Do(func() { p.applied = make(chan int64, 4096) })
	var wg sync.WaitGroup
	wg.Go(func() { p.reap(ctx) })
	defer wg.Wait()
	p.reaping.Store(true)
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	wasLeader := false
	for {
		if p.Applier.IsLeader() {
			olderThan := p.Now().Add(-p.Grace)
			if !wasLeader {
				// On gaining leadership (and at start) nothing is in
				// flight here yet: take everything.
				olderThan = p.Now()
			}
			n, err := p.Drain(ctx, olderThan)
			switch {
			case err != nil && ctx.Err() == nil:
				p.Logger.Warn("outbox relay pass failed", "applied", n, "err", err)
			case n > 0:
				p.Logger.Info("outbox relay applied entries left behind", "applied", n)
			}
			wasLeader = err == nil
		} else {
			wasLeader = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
