package links

import (
	"context"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/clicks"
)

func click(linkID string, at time.Duration, bot bool) clicks.Click {
	return clicks.Click{LinkID: linkID, Domain: "localhost", Time: t0.Add(at), Bot: bot}
}

func (s *stack) mustRecord(t *testing.T, b clicks.Batch) Admitted {
	t.Helper()
	a, err := s.RecordClicks(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Clicks) != len(a.Orgs) {
		t.Fatalf("%d clicks with %d orgs", len(a.Clicks), len(a.Orgs))
	}
	return a
}

func (s *stack) clicksOf(t *testing.T, id string) (int64, time.Time) {
	t.Helper()
	l, err := s.store.Link(context.Background(), "org_1", id)
	if err != nil {
		t.Fatal(err)
	}
	return l.Clicks, l.LastClickedAt
}

// A batch counts once, whether shipped again (its clicks to store are the
// same) or late; people count, bots are stored, gone links are dropped.
func TestRecordClicksCountsEachBatchOnce(t *testing.T) {
	s := mustStack(t)
	a := s.mustCreate(t, `{"url":"https://example.com/a","key":"a"}`)
	gone := s.mustCreate(t, `{"url":"https://example.com/g","key":"g"}`)
	if _, err := s.Delete(context.Background(), owner, gone.ID); err != nil {
		t.Fatal(err)
	}
	b := clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{
		click(a.ID, time.Minute, false), click(a.ID, 3*time.Minute, false), click(a.ID, 2*time.Minute, true),
		click(gone.ID, time.Minute, false)}}
	first := s.mustRecord(t, b)
	if first.Counted || len(first.Clicks) != 3 || first.Orgs[0] != "org_1" {
		t.Fatalf("first time: %+v", first)
	}
	if n, last := s.clicksOf(t, a.ID); n != 2 || !last.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("clicks %d, lastClickedAt %v", n, last)
	}
	again := s.mustRecord(t, b)
	if !again.Counted || len(again.Clicks) != 3 {
		t.Fatalf("shipped again: %+v", again)
	}
	late := b
	late.Seq = 0
	if got := s.mustRecord(t, late); !got.Counted || len(got.Clicks) != 0 {
		t.Fatalf("an older batch: %+v", got)
	}
	if n, _ := s.clicksOf(t, a.ID); n != 2 {
		t.Fatalf("clicks %d after repeats, want 2", n)
	}
	usage, _ := s.store.Usage(context.Background(), "org_1", plans.Period(t0))
	if usage[plans.ClicksPerMonth] != 2 {
		t.Errorf("tracked clicks %d, want 2", usage[plans.ClicksPerMonth])
	}
}

// The batch that takes a link to its maxClicks publishes it as exhausted:
// the edge store has it so; raising maxClicks brings it back.
func TestRecordClicksExhaustsAtMaxClicks(t *testing.T) {
	s := mustStack(t)
	l := s.mustCreate(t, `{"url":"https://example.com/m","key":"m","maxClicks":3}`)
	s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{click(l.ID, 0, false), click(l.ID, 0, false)}})
	rec, ok, err := s.edge.Link([]byte("localhost"), []byte("m"))
	if err != nil || !ok || rec.ClicksExhausted {
		t.Fatalf("after 2 of 3: %+v %v %v", rec, ok, err)
	}
	s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 2, Clicks: []clicks.Click{click(l.ID, 0, false), click(l.ID, 0, false)}})
	if rec, _, _ = s.edge.Link([]byte("localhost"), []byte("m")); !rec.ClicksExhausted || rec.Version != l.Version+1 {
		t.Fatalf("after 4 of 3: exhausted %v, version %d (was %d)", rec.ClicksExhausted, rec.Version, l.Version)
	}
	if _, err := s.Update(context.Background(), owner, l.ID, mustInput(t, `{"maxClicks":10}`)); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ = s.edge.Link([]byte("localhost"), []byte("m")); rec.ClicksExhausted {
		t.Fatal("still exhausted after maxClicks was raised")
	}
}

// An org at its plan's tracked clicks keeps its redirects but no longer
// counts or stores clicks, bots included.
func TestRecordClicksStopsAtThePlanLimit(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	if err := s.store.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Free", Plan: "free", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	free := access.Principal{Kind: access.UserKey, OrgID: "org_2", UserID: "usr_1", KeyID: "key_2"}
	l, err := s.Create(ctx, free, mustInput(t, `{"url":"https://example.com/f","key":"f"}`))
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(plans.Get("free").Limits[plans.ClicksPerMonth])
	if _, err := s.store.AddUsage(ctx, "org_2", plans.Period(t0), plans.ClicksPerMonth, limit-1); err != nil {
		t.Fatal(err)
	}
	got := s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{
		click(l.ID, 0, true), click(l.ID, 0, false), click(l.ID, 0, false), click(l.ID, 0, false)}})
	if len(got.Clicks) != 2 || !got.Clicks[0].Bot || got.Clicks[1].Bot {
		t.Fatalf("at the last click of the month: %+v", got.Clicks)
	}
	got = s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 2, Clicks: []clicks.Click{click(l.ID, 0, true), click(l.ID, 0, false)}})
	if len(got.Clicks) != 0 {
		t.Fatalf("over the limit: %+v", got.Clicks)
	}
	usage, _ := s.store.Usage(ctx, "org_2", plans.Period(t0))
	if usage[plans.ClicksPerMonth] != limit {
		t.Errorf("tracked clicks %d, want the limit %d", usage[plans.ClicksPerMonth], limit)
	}
}

// The batch that takes a link to its maxClicks writes the link back and
// publishes it: the link as it is once the batch counts, not as the batch
// first read it, so an update committed in between is kept (its url, its
// maxClicks) and the exhausted link gets a version of its own.
func TestRecordClicksAtMaxClicksKeepsAConcurrentUpdate(t *testing.T) {
	for _, tc := range []struct{ name, create, update string }{
		{"url changed", `{"url":"https://example.com/old","key":"m","maxClicks":3}`, `{"url":"https://example.com/new"}`},
		{"maxClicks set", `{"url":"https://example.com/old","key":"m"}`, `{"url":"https://example.com/new","maxClicks":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStack(t)
			ctx := context.Background()
			l := s.mustCreate(t, tc.create)
			updated := s.mustUpdate(t, l.ID, tc.update)
			s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{
				click(l.ID, 0, false), click(l.ID, 0, false), click(l.ID, 0, false)}})

			row, err := s.store.Link(ctx, "org_1", l.ID)
			if err != nil || row.URL != "https://example.com/new" || row.Version != updated.Version+1 || row.Clicks != 3 {
				t.Errorf("control store: url %s, version %d (updated: %d), clicks %d, %v", row.URL, row.Version, updated.Version, row.Clicks, err)
			}
			rec, ok := s.edgeLink(t, "m")
			if !ok || !rec.ClicksExhausted || rec.URL != "https://example.com/new" || rec.Version != updated.Version+1 {
				t.Errorf("edge: exhausted %v, url %s, version %d (updated: %d)", rec.ClicksExhausted, rec.URL, rec.Version, updated.Version)
			}
		})
	}
}
