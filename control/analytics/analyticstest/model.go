package analyticstest

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// Model is an analytics.Store in memory that answers every query by
// looking at every click: too slow for use, plain enough to be the
// reference the suite checks engines against.
type Model struct {
	mu     sync.Mutex
	clicks []stored
	seq    map[string]uint64
}

type stored struct {
	org string
	c   clicks.Click
}

var _ analytics.Store = (*Model)(nil)

// NewModel returns an empty model.
func NewModel() *Model { return &Model{seq: map[string]uint64{}} }

func (m *Model) Ingest(ctx context.Context, b *clicks.Batch, orgsOf analytics.OrgsOf) (analytics.Ingested, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.seq[b.Edge]; ok && b.Seq <= last {
		return analytics.Ingested{Duplicate: true}, nil
	}
	var ids []string
	for _, c := range b.Clicks {
		if !slices.Contains(ids, c.LinkID) {
			ids = append(ids, c.LinkID)
		}
	}
	orgs, err := orgsOf(ctx, ids)
	if err != nil {
		return analytics.Ingested{}, err
	}
	var out analytics.Ingested
	links := map[string]*analytics.LinkClicks{}
	usage := map[[2]string]int64{}
	for _, c := range b.Clicks {
		org, ok := orgs[c.LinkID]
		if !ok || c.Time.Unix() < 0 {
			out.Dropped++
			continue
		}
		m.clicks = append(m.clicks, stored{org, c})
		out.Stored++
		if c.Bot {
			continue
		}
		l := links[c.LinkID]
		if l == nil {
			l = &analytics.LinkClicks{LinkID: c.LinkID, Org: org}
			links[c.LinkID] = l
		}
		l.Clicks++
		if c.Time.After(l.LastClick) {
			l.LastClick = c.Time
		}
		usage[[2]string{org, c.Time.UTC().Format("2006-01")}]++
	}
	for _, l := range links {
		out.Links = append(out.Links, *l)
	}
	slices.SortFunc(out.Links, func(a, b analytics.LinkClicks) int { return strings.Compare(a.LinkID, b.LinkID) })
	for k, n := range usage {
		out.Usage = append(out.Usage, analytics.Usage{Org: k[0], Period: k[1], Clicks: n})
	}
	slices.SortFunc(out.Usage, func(a, b analytics.Usage) int {
		return cmp.Or(strings.Compare(a.Org, b.Org), strings.Compare(a.Period, b.Period))
	})
	m.seq[b.Edge] = b.Seq
	return out, nil
}

func (m *Model) selected(org string, start, end time.Time, f *analytics.Filter, bots analytics.Bots) []clicks.Click {
	var out []clicks.Click
	for _, s := range m.clicks {
		c := s.c
		if s.org == org && !c.Time.Before(start) && c.Time.Before(end) && bots.Keep(c.Bot) && f.Keeps(&c) {
			out = append(out, c)
		}
	}
	return out
}

func (m *Model) Query(_ context.Context, q analytics.Query) (analytics.Result, error) {
	if err := q.Check(); err != nil {
		return analytics.Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	bounds := q.Buckets()
	n := len(bounds) - 1
	type tally struct {
		clicks   []int64
		visitors []map[string]bool // "day/iphash"
	}
	groups := map[string]*tally{}
	add := func(v string, b int, c *clicks.Click) {
		g := groups[v]
		if g == nil {
			g = &tally{clicks: make([]int64, n), visitors: make([]map[string]bool, n)}
			groups[v] = g
		}
		g.clicks[b]++
		if g.visitors[b] == nil {
			g.visitors[b] = map[string]bool{}
		}
		g.visitors[b][c.Time.UTC().Format(time.DateOnly)+string(c.IPHash[:])] = true
	}
	for _, c := range m.selected(q.Org, q.Start, q.End, &q.Filter, q.Bots) {
		b := 0
		for b+1 < n && !c.Time.Before(bounds[b+1]) {
			b++
		}
		switch d := q.GroupBy.Dimension(); {
		case q.GroupBy.ByLinkValues():
			var seen []string
			for _, v := range q.LinkValues[c.LinkID] {
				if !slices.Contains(seen, v) {
					seen = append(seen, v)
					add(v, b, &c)
				}
			}
		default:
			add(analytics.Value(d, &c), b, &c)
		}
	}
	var r analytics.Result
	visitors := func(g *tally, b int) int64 {
		if !q.Unique {
			return 0
		}
		return int64(len(g.visitors[b]))
	}
	switch q.GroupBy {
	case analytics.GroupCount:
		if g := groups[""]; g != nil {
			r.Clicks, r.Visitors = g.clicks[0], visitors(g, 0)
		}
	case analytics.GroupTimeseries:
		for b := range n {
			p := analytics.Point{Start: bounds[b]}
			if g := groups[""]; g != nil {
				p.Clicks, p.Visitors = g.clicks[b], visitors(g, b)
			}
			r.Series = append(r.Series, p)
		}
	default:
		for v, g := range groups {
			r.Rows = append(r.Rows, analytics.Row{Value: v, Clicks: g.clicks[0], Visitors: visitors(g, 0)})
		}
		slices.SortFunc(r.Rows, func(a, b analytics.Row) int {
			return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), strings.Compare(a.Value, b.Value))
		})
		if q.Limit > 0 && len(r.Rows) > q.Limit {
			r.Rows = r.Rows[:q.Limit]
		}
	}
	return r, nil
}

// newestFirst orders clicks by time, then id, descending.
func newestFirst(a, b clicks.Click) int {
	return cmp.Or(b.Time.Compare(a.Time), bytes.Compare(b.ID[:], a.ID[:]))
}

func (m *Model) Events(_ context.Context, q analytics.EventQuery) (analytics.EventPage, error) {
	if err := q.Check(); err != nil {
		return analytics.EventPage{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := m.selected(q.Org, q.Start, q.End, &q.Filter, q.Bots)
	slices.SortFunc(cs, newestFirst)
	if q.Cursor != "" {
		t, id, err := analytics.DecodeCursor(q.Cursor)
		if err != nil {
			return analytics.EventPage{}, err
		}
		i := 0
		for i < len(cs) && newestFirst(cs[i], clicks.Click{Time: t, ID: id}) <= 0 {
			i++
		}
		cs = cs[i:]
	}
	var p analytics.EventPage
	if len(cs) >= q.Limit {
		cs = cs[:q.Limit]
		last := cs[len(cs)-1]
		p.Next = analytics.EncodeCursor(last.Time, last.ID)
	}
	p.Events = cs
	return p, nil
}

func (m *Model) Export(ctx context.Context, q analytics.EventQuery, fn func(*clicks.Click) error) error {
	q.Limit, q.Cursor = 0, ""
	if err := q.Check(); err != nil {
		return err
	}
	m.mu.Lock()
	cs := m.selected(q.Org, q.Start, q.End, &q.Filter, q.Bots)
	m.mu.Unlock()
	slices.SortFunc(cs, func(a, b clicks.Click) int { return newestFirst(b, a) })
	for i := range cs {
		if err := fn(&cs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) Orgs(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range m.clicks {
		if !slices.Contains(out, s.org) {
			out = append(out, s.org)
		}
	}
	return out, nil
}

func (m *Model) DeleteBefore(_ context.Context, org string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	day := t.UTC().Truncate(24 * time.Hour)
	m.clicks = slices.DeleteFunc(m.clicks, func(s stored) bool { return s.org == org && s.c.Time.Before(day) })
	return nil
}

func (m *Model) Close() error { return nil }
