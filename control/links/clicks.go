package links

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
)

// Counting clicks. An edge ships its clicks in numbered batches, in order;
// RecordClicks counts each batch once, in one transaction that also moves
// the edge's checkpoint (store.ClickCheckpoint): a batch at or below it was
// counted already. Per batch it adds to each link's clicks and
// lastClickedAt (one update per link), to each org's tracked clicks of the
// month, writes the link.clicked events of its clicks (clicked.go), and
// publishes, through raft, every link the batch took to its maxClicks,
// which edges then answer as expired.
//
// Only clicks by people count (a link's clicks, an org's usage, maxClicks);
// bots are stored, flagged, for analytics to show on request. A click on a
// link that no longer exists is dropped. An org at its plan's tracked
// clicks a month (plans.ClicksPerMonth) keeps redirecting, but its further
// clicks are neither counted nor stored, bots included, until the next
// month.
//
// What a batch admitted is kept with the checkpoint, so the batch the
// checkpoint names, shipped again because its acknowledgement was lost,
// gives the same clicks to store as the first time: analytics, which keeps
// its own checkpoint, stores them if it had not.

// Admitted is the part of a batch of clicks to store, in batch order, with
// each click's org.
type Admitted struct {
	Clicks []clicks.Click
	Orgs   []string
	// Counted: the batch was counted before (its clicks are those it
	// admitted then, or none when it is older than the checkpoint).
	Counted bool
}

// admission is what a batch admitted, kept with the checkpoint: the org of
// each link it counted, and per org how many of its human clicks (the
// first ones, in batch order) and whether its bots.
type admission struct {
	Links map[string]string       `json:"links"`
	Orgs  map[string]orgAdmission `json:"orgs"`
}

type orgAdmission struct {
	Humans int64 `json:"humans"`
	Bots   bool  `json:"bots"`
}

// apply picks b's admitted clicks.
func (a admission) apply(b *clicks.Batch) Admitted {
	var out Admitted
	taken := map[string]int64{}
	for _, c := range b.Clicks {
		org, ok := a.Links[c.LinkID]
		if !ok {
			continue
		}
		oa := a.Orgs[org]
		if c.Bot && !oa.Bots || !c.Bot && taken[org] >= oa.Humans {
			continue
		}
		if !c.Bot {
			taken[org]++
		}
		out.Clicks = append(out.Clicks, c)
		out.Orgs = append(out.Orgs, org)
	}
	return out
}

// RecordClicks counts batch b (see above) and returns its clicks to store.
func (s *Service) RecordClicks(ctx context.Context, b *clicks.Batch) (Admitted, error) {
	now := s.now()
	var (
		adm     admission
		counted bool
		pub     pending
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		cp, err := q.ClickCheckpoint(ctx, b.Edge)
		if err != nil {
			return err
		}
		if b.Seq < cp.Seq {
			counted, adm = true, admission{}
			return nil
		}
		if b.Seq == cp.Seq {
			counted = true
			return json.Unmarshal(cp.Admission, &adm)
		}
		adm, pub, err = s.count(ctx, q, b, now)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(adm)
		if err != nil {
			return err
		}
		return q.SetClickCheckpoint(ctx, store.ClickCheckpoint{Edge: b.Edge, Seq: b.Seq, Admission: raw, UpdatedAt: now})
	})
	if err != nil {
		return Admitted{}, fmt.Errorf("count clicks of %s #%d: %w", b.Edge, b.Seq, err)
	}
	if err := s.publish(ctx, pub); err != nil {
		// Counted and committed: the outbox relay publishes the exhausted
		// links; the batch needs no second count.
		s.logger().Warn("links that reached maxClicks wait for the outbox relay", "err", err)
	}
	out := adm.apply(b)
	out.Counted = counted
	return out, nil
}

// count decides what b admits and writes its counts inside a Write.
func (s *Service) count(ctx context.Context, q store.Queries, b *clicks.Batch, now time.Time) (admission, pending, error) {
	adm := admission{Links: map[string]string{}, Orgs: map[string]orgAdmission{}}
	var ids []string
	seen := map[string]bool{}
	for _, c := range b.Clicks {
		if !seen[c.LinkID] {
			seen[c.LinkID] = true
			ids = append(ids, c.LinkID)
		}
	}
	orgs, err := q.LinkOrgs(ctx, ids)
	if err != nil {
		return adm, pending{}, err
	}
	adm.Links = orgs
	// Each org's room under its plan's tracked clicks this month.
	period := plans.Period(now)
	room := map[string]int64{} // -1: no limit
	for _, org := range adm.Links {
		if _, ok := room[org]; ok {
			continue
		}
		plan, err := s.orgPlan(ctx, q, org)
		if err != nil {
			return adm, pending{}, err
		}
		limit := int64(plan.Limits[plans.ClicksPerMonth])
		if limit == 0 {
			room[org] = -1
			adm.Orgs[org] = orgAdmission{Bots: true}
			continue
		}
		usage, err := q.Usage(ctx, org, period)
		if err != nil {
			return adm, pending{}, err
		}
		room[org] = max(limit-usage[plans.ClicksPerMonth], 0)
		adm.Orgs[org] = orgAdmission{Bots: room[org] > 0}
	}
	perLink := map[string]int{} // link → its index in counts
	var counts []store.ClickCount
	for _, c := range b.Clicks {
		org, ok := adm.Links[c.LinkID]
		if !ok || c.Bot {
			continue
		}
		if r := room[org]; r == 0 {
			continue
		} else if r > 0 {
			room[org] = r - 1
		}
		oa := adm.Orgs[org]
		oa.Humans++
		adm.Orgs[org] = oa
		i, ok := perLink[c.LinkID]
		if !ok {
			i = len(counts)
			perLink[c.LinkID] = i
			counts = append(counts, store.ClickCount{LinkID: c.LinkID})
		}
		counts[i].Clicks++
		if c.Time.After(counts[i].Last) {
			counts[i].Last = c.Time
		}
	}
	added, err := q.AddLinksClicks(ctx, counts)
	if err != nil {
		return adm, pending{}, err
	}
	var ops []kv.Op
	for _, after := range added {
		// Only a link whose attributes hold a maxClicks can be exhausted;
		// the rest are not decoded.
		if !bytes.Contains(after.Attrs, []byte(`"maxClicks"`)) {
			continue
		}
		a, err := decodeAttrs(after.Attrs)
		if err != nil {
			return adm, pending{}, fmt.Errorf("link %s: %w", after.ID, err)
		}
		n := counts[perLink[after.ID]]
		if max := a.MaxClicks; max <= 0 || after.Clicks-n.Clicks >= max || after.Clicks < max {
			continue
		}
		// This batch took the link to its maxClicks: a new version tells
		// the edges. The row is locked since the count, so the link read
		// now is the one counted.
		sl, err := q.LockLink(ctx, after.OrgID, after.ID)
		if err != nil {
			return adm, pending{}, err
		}
		l, err := Decode(sl)
		if err != nil {
			return adm, pending{}, err
		}
		l.Version++
		row, err := l.toStore()
		if err != nil {
			return adm, pending{}, err
		}
		if err := q.UpdateLink(ctx, row); err != nil {
			return adm, pending{}, err
		}
		ops = append(ops, kv.Op{Type: kv.OpPutLink, Link: new(s.record(&l))})
	}
	for org, oa := range adm.Orgs {
		if oa.Humans > 0 {
			if _, err := q.AddUsage(ctx, org, period, plans.ClicksPerMonth, oa.Humans); err != nil {
				return adm, pending{}, err
			}
		}
	}
	if err := s.clickEvents(ctx, q, b, adm, now); err != nil {
		return adm, pending{}, err
	}
	pub, err := record(ctx, q, ops, now)
	return adm, pub, err
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
