package visitorsalt

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/h0p/h0p/replication/replicationtest"
	"github.com/h0p/h0p/shared/kv"
)

// A real single-voter raft node: Ensure publishes today's and tomorrow's
// salts once, keeps them as they are on the next pass, and publishes the
// next day's when the clock moves on.
func TestPublishesTodayAndTomorrowOnce(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, store := replicationtest.SingleVoter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	p := &Publisher{Applier: node, Salts: store, Logger: quiet, Now: func() time.Time { return now }}
	if err := p.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	today := kv.SaltDay(now)
	first := map[int64][32]byte{}
	for _, day := range []int64{today, today + 1} {
		v, ok, err := store.Salt(day)
		if err != nil || !ok || v == [32]byte{} {
			t.Fatalf("day %d: %v %v %v", day, v, ok, err)
		}
		first[day] = v
	}
	if first[today] == first[today+1] {
		t.Fatal("two days got the same salt")
	}
	applied := store.AppliedIndex()
	if err := p.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if store.AppliedIndex() != applied {
		t.Fatal("a second pass applied again with both salts present")
	}

	now = now.Add(2 * time.Hour) // the next day
	if err := p.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := store.Salt(today + 1); v != first[today+1] {
		t.Fatal("the day's salt changed once the day began")
	}
	if _, ok, _ := store.Salt(today + 2); !ok {
		t.Fatal("the day after was not published")
	}
}
