package links

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/webhooks"
	"github.com/h0p/h0p/shared/clicks"
)

// BenchmarkRecordClicks counts batches of 8,192 clicks spread over 10,000
// links (the worst case: nearly every click on a link of its own in the
// batch) on SQLite; ns/op is per click. The org has no link.clicked
// endpoint (another org has one), as most orgs; "clicked" gives it one on
// all its links: an event per click.
func BenchmarkRecordClicks(b *testing.B) {
	b.Run("no endpoint", func(b *testing.B) { benchmarkRecordClicks(b, "org_2") })
	b.Run("clicked", func(b *testing.B) { benchmarkRecordClicks(b, "org_1") })
}

func benchmarkRecordClicks(b *testing.B, endpointOrg string) {
	s := mustStack(b)
	ctx := context.Background()
	if endpointOrg != "org_1" {
		if err := s.store.CreateOrg(ctx, store.Org{ID: endpointOrg, Name: "Other", Plan: "enterprise", CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.store.CreateWebhook(ctx, store.Webhook{ID: "wh_1", OrgID: endpointOrg, URL: "https://hooks.example.com/",
		Events: json.RawMessage(`["link.clicked"]`), Scope: json.RawMessage(`{"allLinks":true}`), Secret: []byte{1},
		Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	index := webhooks.NewSubscriptions(s.store, quiet)
	if err := index.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	s.ClickWebhooks = index
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
