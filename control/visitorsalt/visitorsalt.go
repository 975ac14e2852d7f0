// Package visitorsalt publishes, through raft, the daily salt that edges
// hash visitors' addresses with (kv.Salt).
//
// On the raft leader, Run makes sure today's and tomorrow's salts exist,
// at start and then every Interval: a missing one is drawn from crypto/rand
// and applied. Publishing a day ahead means edges hold a day's salt before
// the day begins, whatever control's state at midnight; the FSM keeps the
// first salt applied for a day, so two leaders racing change nothing, and
// drops salts older than yesterday, so a past day's hashes cannot be
// recomputed from the store (the raft log forgets them at its next
// snapshot). An edge that finds no salt for a day hashes with a salt of its
// own until one arrives: its visitors are then counted apart from other
// edges' for that day, never mixed up with one another.
package visitorsalt

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/h0p/h0p/shared/kv"
)

// Applier is the raft side: replication.Node satisfies it.
type Applier interface {
	Apply(ctx context.Context, cmd []byte) (uint64, error)
	IsLeader() bool
}

// Salts reads the replicated store: replication.Store satisfies it.
type Salts interface {
	Salt(day int64) ([32]byte, bool, error)
}

// Publisher keeps today's and tomorrow's salts in the replicated store.
type Publisher struct {
	Applier  Applier
	Salts    Salts
	Logger   *slog.Logger
	Now      func() time.Time
	Interval time.Duration // zero: 10 minutes
}

// Run publishes missing salts until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	every := p.Interval
	if every == 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := p.Ensure(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Warn("visitor salt not published; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ensure publishes today's and tomorrow's salts if they are missing and
// this node leads; elsewhere it does nothing.
func (p *Publisher) Ensure(ctx context.Context) error {
	if !p.Applier.IsLeader() {
		return nil
	}
	today := kv.SaltDay(p.Now())
	for day := today; day <= today+1; day++ {
		_, ok, err := p.Salts.Salt(day)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		s := kv.Salt{Day: day}
		rand.Read(s.Value[:])
		if _, err := p.Applier.Apply(ctx, kv.PutSalt(s).Encode()); err != nil {
			return fmt.Errorf("publish the salt of day %d: %w", day, err)
		}
	}
	return nil
}
