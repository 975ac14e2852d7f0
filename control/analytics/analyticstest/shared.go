package analyticstest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// SharedNodes checks what an engine that control nodes share promises:
// the batches 1 to batches of two edges, each sent to every node at once
// (an edge that timed out on one node ships to another), are each stored
// by one node once and answered Duplicate by the others, and every node
// then counts each click once. batch makes an edge's batch seq, the same
// for the same arguments, of org_a's clicks.
func SharedNodes(t *testing.T, nodes []analytics.Store, batches uint64, batch func(edge string, seq uint64) *clicks.Batch) {
	t.Helper()
	ctx := context.Background()
	edges := []string{"e1", "e2"}
	var (
		want       int64
		start, end time.Time
	)
	for _, edge := range edges {
		for seq := uint64(1); seq <= batches; seq++ {
			for _, c := range batch(edge, seq).Clicks {
				want++
				if start.IsZero() || c.Time.Before(start) {
					start = c.Time
				}
				if c.Time.After(end) {
					end = c.Time
				}
			}
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored = map[string]int{}
	)
	for _, edge := range edges {
		for _, s := range nodes {
			wg.Go(func() {
				for seq := uint64(1); seq <= batches; seq++ {
					got, err := s.Ingest(ctx, batch(edge, seq), OrgsOf)
					if err != nil {
						t.Error(err)
						return
					}
					if !got.Duplicate {
						mu.Lock()
						stored[fmt.Sprint(edge, seq)]++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	if len(stored) != len(edges)*int(batches) {
		t.Errorf("%d batches stored, want %d", len(stored), len(edges)*int(batches))
	}
	for b, n := range stored {
		if n != 1 {
			t.Errorf("batch %s stored %d times", b, n)
		}
	}
	for i, s := range nodes {
		for _, g := range []analytics.GroupBy{analytics.GroupCount, analytics.GroupCountries} {
			// The range ends a nanosecond after the last click: a
			// range is [Start, End) to the nanosecond.
			r, err := s.Query(ctx, analytics.Query{Org: "org_a", GroupBy: g, Start: start, End: end.Add(time.Nanosecond),
				Bots: analytics.BotsInclude})
			if err != nil {
				t.Fatal(err)
			}
			n := r.Clicks
			for _, row := range r.Rows {
				n += row.Clicks
			}
			if n != want {
				t.Errorf("node %d counts %d clicks by %s, want %d", i, n, g, want)
			}
		}
	}
}
