package links

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/clicks"
)

// BenchmarkRecordClicks counts batches of 8,192 clicks spread over 10,000
// links (the worst case: nearly every click on a link of its own in the
// batch) on SQLite; ns/op is per click.
func BenchmarkRecordClicks(b *testing.B) {
	s := mustStack(b)
	ctx := context.Background()
	const nLinks = 10_000
	ids := make([]string, nLinks)
	err := s.store.Write(ctx, func(q store.Queries) error {
		for i := range ids {
			ids[i] = fmt.Sprintf("link_%05d", i)
			l := store.Link{ID: ids[i], OrgID: "org_1", Domain: "localhost", Key: fmt.Sprintf("k%05d", i),
				URL: "https://example.com/", Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
			if err := q.InsertLink(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	const per = 8192
	b.ResetTimer()
	seq := uint64(0)
	for done := 0; done < b.N; done += per {
		batch := clicks.Batch{Edge: "e1/x", Seq: seq + 1, Clicks: make([]clicks.Click, per)}
		seq++
		for i := range batch.Clicks {
			batch.Clicks[i] = clicks.Click{LinkID: ids[rand.IntN(nLinks)], Time: t0.Add(time.Duration(i) * time.Millisecond)}
		}
		if _, err := s.RecordClicks(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
}
