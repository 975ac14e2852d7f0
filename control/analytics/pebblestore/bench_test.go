package pebblestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/clicks"
)

// benchBatches are batches of 10,000 clicks like an edge's at 100,000
// clicks a second: a minute of one org's traffic each, links and countries
// from Zipf laws.
func benchBatches(n int) []clicks.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	link := rand.NewZipf(rng, 1.07, 1, 9999)
	country := rand.NewZipf(rng, 1.2, 1, 49)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	out := make([]clicks.Batch, n)
	for k := range out {
		b := clicks.Batch{Edge: "e1", Seq: uint64(k + 1)}
		for range 10_000 {
			c := clicks.Click{Time: t0.Add(time.Duration(k)*time.Minute + time.Duration(rng.Int64N(int64(time.Minute)))),
				LinkID: fmt.Sprintf("link_a%025d", link.Uint64()), Domain: "h0p.link",
				Country: fmt.Sprintf("C%d", country.Uint64()), Device: "Mobile", Browser: "Chrome", OS: "Android",
				RefererHost: []string{"", "t.co", "www.google.com"}[rng.IntN(3)], Bot: rng.IntN(20) == 0}
			for i := range c.ID {
				c.ID[i], c.IPHash[i] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			b.Clicks = append(b.Clicks, c)
		}
		out[k] = b
	}
	return out
}

func orgA(_ context.Context, ids []string) (map[string]string, error) {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[id] = "org_a"
	}
	return m, nil
}

// BenchmarkIngest: one batch of 10,000 clicks an op; clicks/s is the
// figure to read.
func BenchmarkIngest(b *testing.B) {
	batches := benchBatches(20)
	s := mustOpen(&testing.T{}, b.TempDir(), Options{})
	defer s.Close()
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		bt := batches[i%len(batches)]
		bt.Seq = uint64(i + 1)
		if _, err := s.Ingest(ctx, &bt, orgA); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "clicks/s")
	// CPU time (Pebble's background work included) is steadier than
	// clicks/s on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*10_000), "cpu-ns/click")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFold: folding a batch in memory, without Pebble.
func BenchmarkFold(b *testing.B) {
	bt := benchBatches(1)[0]
	for b.Loop() {
		f := newFold()
		for i := range bt.Clicks {
			f.add(&bt.Clicks[i], "org_a")
		}
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "clicks/s")
}
