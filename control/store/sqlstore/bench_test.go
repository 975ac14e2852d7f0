package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/pgtest"
)

// BenchmarkWriteLinks is the floor of link creation on the SQLite store:
// transactions of 1,000 links (a bulk create) or of 3 (the single creates
// that arrive together: the links API writes them as one), random keys and
// URLs like API-created ones, without and with an audit entry and an event
// per link and an outbox entry per transaction as the links API writes
// them, and nothing else (no HTTP, JSON, validation or raft). links/s is
// what the store alone allows, one writer; compare make bench-create.
func BenchmarkWriteLinks(b *testing.B) { benchWriteLinks(b, engines[0]) }

// BenchmarkWriteLinksPostgres is BenchmarkWriteLinks on PostgreSQL, one
// client: a round trip per statement, so it says more about the network
// than about a cluster's throughput.
func BenchmarkWriteLinksPostgres(b *testing.B) {
	pgtest.ServerURL(b)
	benchWriteLinks(b, engines[1])
}

func benchWriteLinks(b *testing.B, e engine) {
	for _, c := range []struct {
		batch   int
		journal bool
	}{{1000, false}, {1000, true}, {3, false}, {3, true}} {
		batch, journal := c.batch, c.journal
		b.Run(fmt.Sprintf("batch=%d/journal=%v", batch, journal), func(b *testing.B) {
			ctx := context.Background()
			s := e.mustOpenEmpty(b)
			now := time.Now()
			if err := s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", Plan: "enterprise", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			diff := json.RawMessage(`{"after":{"id":"link_x","domain":"h0p.link","key":"abcdefg","url":"https://example.com/landing/page?utm_source=x","title":"","tags":[]}}`)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				err := s.Write(ctx, func(q store.Queries) error {
					var audits []store.AuditEntry
					var events []store.Event
					for range batch {
						n++
						id := fmt.Sprintf("link_%026d", n)
						key := fmt.Sprintf("%07x", uint32(n)*2654435761)
						l := store.Link{ID: id, OrgID: "org_1", Domain: "h0p.link", Key: key,
							URL: "https://example.com/landing/" + key + "?item=" + id, Version: 1, CreatedBy: "key_1", CreatedAt: now, UpdatedAt: now}
						if err := q.InsertLink(ctx, l); err != nil {
							return err
						}
						if journal {
							audits = append(audits, store.AuditEntry{ID: "aud_" + id, OrgID: "org_1", At: now, ActorType: "bot", ActorID: "key_1",
								KeyID: "key_1", Action: "link.created", ResourceType: "link", ResourceID: id, Diff: diff})
							events = append(events, store.Event{ID: "evt_" + id, OrgID: "org_1", Type: "link.created", ResourceID: id, Payload: diff, CreatedAt: now})
						}
					}
					if !journal {
						return nil
					}
					if err := q.AppendAudit(ctx, audits...); err != nil {
						return err
					}
					if err := q.AppendEvent(ctx, events...); err != nil {
						return err
					}
					_, err := q.AppendOutbox(ctx, make([]byte, 200*batch), now)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "links/s")
		})
	}
}

// BenchmarkReadLinks reads links of an org of 2,000, half of them with two
// tags, on the SQLite store: one by id, a page of 100, one by url.
func BenchmarkReadLinks(b *testing.B) { benchReadLinks(b, engines[0]) }

// BenchmarkReadLinksPostgres is BenchmarkReadLinks on PostgreSQL.
func BenchmarkReadLinksPostgres(b *testing.B) {
	pgtest.ServerURL(b)
	benchReadLinks(b, engines[1])
}

func benchReadLinks(b *testing.B, e engine) {
	ctx := context.Background()
	s := e.mustOpenEmpty(b)
	now := time.Now()
	must(b, s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", CreatedAt: now}))
	for i := range 3 {
		must(b, s.CreateTag(ctx, store.Tag{ID: fmt.Sprintf("tag_%d", i), OrgID: "org_1", Name: fmt.Sprint(i), CreatedAt: now}))
	}
	must(b, s.Write(ctx, func(q store.Queries) error {
		for i := range 2000 {
			l := store.Link{ID: fmt.Sprintf("link_%05d", i), OrgID: "org_1", Domain: "h0p.link", Key: fmt.Sprint(i),
				URL: fmt.Sprintf("https://example.com/%d", i), Version: 1, CreatedBy: "key_1",
				CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now}
			if i%2 == 0 {
				l.TagIDs = []string{"tag_0", "tag_2"}
			}
			if err := q.InsertLink(ctx, l); err != nil {
				return err
			}
		}
		return nil
	}))
	b.Run("Link", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Link(ctx, "org_1", "link_00042"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Links100", func(b *testing.B) {
		for b.Loop() {
			if ls, err := s.Links(ctx, store.LinkFilter{OrgID: "org_1", Limit: 100}); err != nil || len(ls) != 100 {
				b.Fatal(len(ls), err)
			}
		}
	})
	b.Run("LinkByURL", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.LinkByURL(ctx, "org_1", "h0p.link", "https://example.com/1500"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
