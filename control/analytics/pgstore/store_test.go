package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/analyticstest"
	"github.com/h0p/h0p/control/store/pgtest"
	"github.com/h0p/h0p/shared/clicks"
)

func TestSuite(t *testing.T) {
	analyticstest.Run(t, func(t *testing.T) analytics.Store {
		_, dbURL := pgtest.Schema(t)
		return mustOpen(t, dbURL)
	})
}

func mustOpen(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// batch is edge's batch seq: n clicks of link_a1, the same for the same
// arguments, as an edge ships a spooled batch again.
func batch(edge string, seq uint64, n int) *clicks.Batch {
	b := &clicks.Batch{Edge: edge, Seq: seq}
	rng := rand.New(rand.NewPCG(seq, uint64(len(edge))))
	for i := range n {
		c := analyticstest.Click("link_a1", day0.Add(time.Duration(seq)*time.Minute+time.Duration(i)*time.Millisecond), fmt.Sprint(i))
		for j := range c.ID {
			c.ID[j] = byte(rng.Uint32())
		}
		c.Country = []string{"US", "BR", "FR"}[rng.IntN(3)]
		b.Clicks = append(b.Clicks, c)
	}
	return b
}

func total(t *testing.T, s analytics.Store, g analytics.GroupBy) int64 {
	t.Helper()
	r, err := s.Query(context.Background(), analytics.Query{Org: "org_a", GroupBy: g, Start: day0, End: day0.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	n := r.Clicks
	for _, row := range r.Rows {
		n += row.Clicks
	}
	return n
}

// Two control nodes share the database; every batch of two edges reaches
// both at once. Each batch is stored once, by one node.
func TestNodesShareEdges(t *testing.T) {
	_, dbURL := pgtest.Schema(t)
	nodes := []analytics.Store{mustOpen(t, dbURL), mustOpen(t, dbURL)}
	defer nodes[0].Close()
	defer nodes[1].Close()
	analyticstest.SharedNodes(t, nodes, 40, func(edge string, seq uint64) *clicks.Batch { return batch(edge, seq, 30) })
}

// Control nodes that start together migrate once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	_, dbURL := pgtest.Schema(t)
	var (
		wg     sync.WaitGroup
		stores [3]*Store
		errs   [3]error
	)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dbURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var n int
	if err := stores[0].pool.QueryRow(context.Background(), `SELECT count(*) FROM analytics_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) {
		t.Errorf("analytics_migrations has %d rows, want %d", n, len(migrations))
	}
}

// The retention job runs on every control node: deletions at once, and
// again, end as one.
func TestConcurrentDeleteBefore(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	nodes := []*Store{mustOpen(t, dbURL), mustOpen(t, dbURL)}
	defer nodes[0].Close()
	defer nodes[1].Close()
	for seq := uint64(1); seq <= 5; seq++ {
		b := batch("e1", seq, 20)
		for i := range b.Clicks {
			b.Clicks[i].Time = day0.AddDate(0, 0, int(seq)).Add(time.Duration(i) * time.Minute)
		}
		if _, err := nodes[0].Ingest(ctx, b, analyticstest.OrgsOf); err != nil {
			t.Fatal(err)
		}
	}
	cut := day0.AddDate(0, 0, 3).Add(time.Hour) // days 1 and 2 go
	for range 2 {
		var wg sync.WaitGroup
		for _, s := range nodes {
			wg.Go(func() {
				if err := s.DeleteBefore(ctx, "org_a", cut); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for _, g := range []analytics.GroupBy{analytics.GroupCount, analytics.GroupTopLinks, analytics.GroupCountries} {
		if got := total(t, nodes[1], g); got != 60 {
			t.Errorf("%s after deletion: %d clicks, want 60", g, got)
		}
	}
}

// What PostgreSQL's text cannot hold: a referer is stored mended, a link
// id dropped, an edge id refused.
func TestMended(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	defer s.Close()
	b := batch("e1", 1, 3)
	b.Clicks[0].RefererHost = "bad\x00host\xff"
	b.Clicks[1].LinkID = "link_a\x00"
	got, err := s.Ingest(ctx, b, func(_ context.Context, ids []string) (map[string]string, error) {
		m := map[string]string{}
		for _, id := range ids {
			m[id] = "org_a"
		}
		return m, nil
	})
	if err != nil || got.Stored != 2 || got.Dropped != 1 {
		t.Fatalf("ingest: %+v %v, want 2 stored and 1 dropped", got, err)
	}
	r, err := s.Query(ctx, analytics.Query{Org: "org_a", GroupBy: analytics.GroupReferers, Start: day0, End: day0.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 2 || r.Rows[0].Value != "badhost\uFFFD" && r.Rows[1].Value != "badhost\uFFFD" {
		t.Errorf("referers %+v", r.Rows)
	}
	for _, edge := range []string{"e\x00", "e\xff", ""} {
		if _, err := s.Ingest(ctx, &clicks.Batch{Edge: edge, Seq: 1}, analyticstest.OrgsOf); !errors.Is(err, clicks.ErrRejected) {
			t.Errorf("edge %q: %v, want ErrRejected", edge, err)
		}
	}
	if _, err := s.Ingest(ctx, &clicks.Batch{Edge: "e2", Seq: 1 << 63}, analyticstest.OrgsOf); !errors.Is(err, clicks.ErrRejected) {
		t.Errorf("sequence 2^63: %v, want ErrRejected", err)
	}
}
