package pebblestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/analyticstest"
	"github.com/h0p/h0p/shared/clicks"
)

func TestSuite(t *testing.T) {
	analyticstest.Run(t, func(t *testing.T) analytics.Store { return mustOpen(t, t.TempDir(), Options{}) })
}

func mustOpen(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
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
		c.ID = [16]byte{}
		for j := range c.ID {
			c.ID[j] = byte(rng.Uint32())
		}
		b.Clicks = append(b.Clicks, c)
	}
	return b
}

func total(t *testing.T, s analytics.Store) int64 {
	t.Helper()
	r, err := s.Query(context.Background(), analytics.Query{Org: "org_a", GroupBy: analytics.GroupCount,
		Start: day0, End: day0.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return r.Clicks
}

// TestReopen: a store closed as it stands (Pebble does not flush its
// memtable on Close; the WAL has the batches) keeps its clicks and every
// edge's sequence.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	for seq := uint64(1); seq <= 3; seq++ {
		if _, err := s.Ingest(ctx, batch("e1", seq, 10), analyticstest.OrgsOf); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	if got, err := s.Ingest(ctx, batch("e1", 3, 10), analyticstest.OrgsOf); err != nil || !got.Duplicate {
		t.Errorf("batch 3 after reopening: %+v %v, want a duplicate", got, err)
	}
	if got, err := s.Ingest(ctx, batch("e1", 4, 10), analyticstest.OrgsOf); err != nil || got.Duplicate || got.Stored != 10 {
		t.Errorf("batch 4 after reopening: %+v %v", got, err)
	}
	if got := total(t, s); got != 40 {
		t.Errorf("%d clicks after reopening, want 40", got)
	}
}

// TestCheckpoint: a checkpoint taken while an edge ships holds every
// batch stored before it, whole, with the edge's sequence; the store goes
// on after it.
func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	for seq := uint64(1); seq <= 3; seq++ {
		if _, err := s.Ingest(ctx, batch("e1", seq, 10), analyticstest.OrgsOf); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := s.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(dir); err == nil {
		t.Error("a checkpoint over an existing one succeeded")
	}
	if _, err := s.Ingest(ctx, batch("e1", 4, 10), analyticstest.OrgsOf); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, dir, Options{})
	defer c.Close()
	if got := total(t, c); got != 30 {
		t.Errorf("%d clicks in the checkpoint, want 30", got)
	}
	if got, err := c.Ingest(ctx, batch("e1", 3, 10), analyticstest.OrgsOf); err != nil || !got.Duplicate {
		t.Errorf("batch 3 on the checkpoint: %+v %v, want a duplicate", got, err)
	}
	if got := total(t, s); got != 40 {
		t.Errorf("%d clicks in the store after its checkpoint, want 40", got)
	}
}

// TestCrash takes crash images of the file system (only what was synced,
// plus a random part of the rest) while edges keep shipping, opens each,
// and ships every batch again: each image must end up with every click
// exactly once. A batch is in an image whole or not at all, its sequence
// with it.
func TestCrash(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	s := mustOpen(t, "db", Options{fs: fs})
	const batches, size = 60, 50
	edges := []string{"e1", "e2"}
	var wg sync.WaitGroup
	for _, e := range edges {
		wg.Go(func() {
			for seq := uint64(1); seq <= batches; seq++ {
				if _, err := s.Ingest(ctx, batch(e, seq, size), analyticstest.OrgsOf); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var images []*vfs.MemFS
	for range 6 {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		images = append(images, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng}))
	}
	wg.Wait()
	images = append(images, fs.CrashClone(vfs.CrashCloneCfg{}))
	s.Close()
	for i, img := range images {
		c := mustOpen(t, "db", Options{fs: img})
		before := total(t, c)
		t.Logf("image %d holds %d clicks", i, before)
		for _, e := range edges {
			for seq := uint64(1); seq <= batches; seq++ {
				got, err := c.Ingest(ctx, batch(e, seq, size), analyticstest.OrgsOf)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Duplicate && got.Stored != size {
					t.Fatalf("image %d: batch %s/%d stored %d clicks", i, e, seq, got.Stored)
				}
			}
		}
		if got, want := total(t, c), int64(len(edges)*batches*size); got != want {
			t.Errorf("image %d (%d clicks at open): %d clicks after shipping again, want %d", i, before, got, want)
		}
		c.Close()
	}
}

// TestConcurrent ingests from several edges while querying (run with
// -race).
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	var wg sync.WaitGroup
	for e := range 4 {
		wg.Go(func() {
			for seq := uint64(1); seq <= 20; seq++ {
				if _, err := s.Ingest(ctx, batch(fmt.Sprint("e", e), seq, 30), analyticstest.OrgsOf); err != nil {
					t.Error(err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := int64(0)
		for range 50 {
			n := total(t, s)
			if n < last || n%30 != 0 {
				t.Errorf("a query saw %d clicks after %d: batches are not atomic", n, last)
			}
			last = n
		}
	}()
	wg.Wait()
	<-done
	if got := total(t, s); got != 4*20*30 {
		t.Errorf("%d clicks, want %d", got, 4*20*30)
	}
}

// TestCorruptChunk: a damaged chunk is an error, never a panic.
func TestCorruptChunk(t *testing.T) {
	cs := batch("e1", 1, 3).Clicks
	ptrs := []*clicks.Click{&cs[0], &cs[1], &cs[2]}
	h, _ := hourOf(cs[0].Time)
	good := appendChunk(nil, h, ptrs)
	for n := range len(good) {
		var r chunkReader
		var c rawClick
		if err := r.reset(good[:n], h, nil); err != nil {
			continue
		}
		for {
			ok, err := r.next(&c)
			if err != nil || !ok {
				break
			}
		}
	}
	var r chunkReader
	var c rawClick
	if err := r.reset(good, h, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, err := r.next(&c); !ok || err != nil {
			t.Fatalf("click %d: %v", i, err)
		}
		if got := r.click(&c, "link_a1"); got.ID != cs[i].ID || !got.Time.Equal(cs[i].Time) || got.Country != cs[i].Country {
			t.Errorf("click %d: %+v, want %+v", i, got, cs[i])
		}
	}
}
