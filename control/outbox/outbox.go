// Package outbox moves replicated commands from the control store into raft.
//
// A write commits its change and an outbox entry in one SQL transaction, then
// calls Publish, which applies the entry through raft and deletes it. If the
// process dies between the commit and the apply, or the apply fails (no
// leader, no quorum), the entry stays; the relay (Run), on the raft leader,
// applies what is left behind: everything at start, then entries older than a
// grace period (so it does not race a request that is about to publish its
// own). Commands carry per-object versions, so applying an entry twice or out
// of order is harmless.
//
// Publish returns once raft applied the command and deletes the entry on a
// goroutine of its own: no request waits for that delete (waiting for it,
// 8 clients creating links one at a time got 24-29% fewer answers a second
// on either engine), and losing it only means the relay applies the entry
// again. Each Publish deletes its own entry; control writes are batched
// above, where creates that arrive together share one entry (control/links).
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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

	deleting sync.WaitGroup // Publish's deletes in progress
}

// Publish applies entry id's command and deletes the entry after it
// returns (see above). An error means the command may or may not be
// applied; the entry stays for the relay.
func (p *Publisher) Publish(ctx context.Context, id int64, cmd []byte) error {
	if err := p.apply(ctx, id, cmd); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	p.deleting.Go(func() { p.delete(ctx, id) })
	return nil
}

func (p *Publisher) apply(ctx context.Context, id int64, cmd []byte) error {
	if _, err := p.Applier.Apply(ctx, cmd); err != nil {
		return fmt.Errorf("publish outbox entry %d: %w", id, err)
	}
	return nil
}

// delete removes an applied entry; failing only means the relay applies it
// again.
func (p *Publisher) delete(ctx context.Context, id int64) {
	if err := p.Store.DeleteOutbox(ctx, id); err != nil {
		p.Logger.Warn("outbox entry applied but not removed", "id", id, "err", err)
	}
}

// Wait returns once the deletes of the Publishes that returned are done
// (Run waits for them before it returns).
func (p *Publisher) Wait() { p.deleting.Wait() }

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
			if err := p.apply(ctx, e.ID, e.Command); err != nil {
				return done, err
			}
			p.delete(ctx, e.ID)
			done++
		}
		if len(batch) < 256 {
			return done, nil
		}
	}
}

// Run is the relay: while this node leads, it drains entries left behind.
// It returns when ctx ends and Publish's deletes are done.
func (p *Publisher) Run(ctx context.Context) {
	defer p.Wait()
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
