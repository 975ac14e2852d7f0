package analytics

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/clicks"
)

// What every engine does alike: the dimensions counted at ingest, a
// batch's orgs, what Ingested reports, and a Result from counts per value
// and bucket.

// RollupDims are the dimensions engines count at ingest. DimLink needs
// none: a link's own counts are its DimTotal.
var RollupDims = []Dimension{DimTotal, DimDomain, DimCountry, DimDevice, DimBrowser, DimOS, DimReferer, DimTrigger}

// BatchOrgs asks orgsOf, once, for the orgs of b's distinct links.
func BatchOrgs(ctx context.Context, b *clicks.Batch, orgsOf OrgsOf) (map[string]string, error) {
	var ids []string
	seen := map[string]bool{}
	for i := range b.Clicks {
		if id := b.Clicks[i].LinkID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	orgs, err := orgsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("ingest: orgs of links: %w", err)
	}
	return orgs, nil
}

// Tally keeps what Ingested reports of a batch as an engine stores it.
type Tally struct {
	Stored, Dropped int
	links           map[string]*LinkClicks
	usage           map[[2]string]int64
}

// Add counts c, stored for org: its link's clicks and the org's usage of
// the month, for a click by a person.
func (t *Tally) Add(c *clicks.Click, org string) {
	t.Stored++
	if c.Bot {
		return
	}
	if t.links == nil {
		t.links, t.usage = map[string]*LinkClicks{}, map[[2]string]int64{}
	}
	l := t.links[c.LinkID]
	if l == nil {
		l = &LinkClicks{LinkID: c.LinkID, Org: org}
		t.links[c.LinkID] = l
	}
	l.Clicks++
	if c.Time.After(l.LastClick) {
		l.LastClick = c.Time
	}
	t.usage[[2]string{org, c.Time.UTC().Format("2006-01")}]++
}

// Ingested is what the batch added, links by id, usage by org then month.
func (t *Tally) Ingested() Ingested {
	out := Ingested{Stored: t.Stored, Dropped: t.Dropped}
	for _, l := range t.links {
		out.Links = append(out.Links, *l)
	}
	slices.SortFunc(out.Links, func(a, b LinkClicks) int { return strings.Compare(a.LinkID, b.LinkID) })
	for k, n := range t.usage {
		out.Usage = append(out.Usage, Usage{Org: k[0], Period: k[1], Clicks: n})
	}
	slices.SortFunc(out.Usage, func(a, b Usage) int {
		return cmp.Or(strings.Compare(a.Org, b.Org), strings.Compare(a.Period, b.Period))
	})
	return out
}

// Assemble is q's Result from its counts: groups holds, per value (""
// for count and timeseries), a group whose counts gives clicks and
// visitors per bucket of bounds (one bucket, but for timeseries).
func Assemble[G any](q *Query, bounds []time.Time, groups map[string]G, counts func(G) (clicks, visitors []int64)) Result {
	var r Result
	switch q.GroupBy {
	case GroupCount:
		if g, ok := groups[""]; ok {
			c, v := counts(g)
			r.Clicks = c[0]
			if q.Unique {
				r.Visitors = v[0]
			}
		}
	case GroupTimeseries:
		r.Series = make([]Point, len(bounds)-1)
		g, ok := groups[""]
		for i := range r.Series {
			r.Series[i].Start = bounds[i].In(q.Location)
			if ok {
				c, v := counts(g)
				r.Series[i].Clicks = c[i]
				if q.Unique {
					r.Series[i].Visitors = v[i]
				}
			}
		}
	default:
		top := topRows{limit: q.Limit}
		for value, g := range groups {
			c, v := counts(g)
			if c[0] == 0 {
				continue
			}
			row := Row{Value: value, Clicks: c[0]}
			if q.Unique {
				row.Visitors = v[0]
			}
			top.add(row)
		}
		r.Rows = top.sorted()
	}
	return r
}

// compareRows orders rows most clicks first, then by value.
func compareRows(a, b Row) int {
	return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), strings.Compare(a.Value, b.Value))
}

// topRows keeps the first limit rows in compareRows' order (all when
// limit is 0): with a limit, a heap whose root is the last row kept, so
// top 10 of 60,000 links sorts 10 rows, not 60,000.
type topRows struct {
	limit int
	rows  []Row
}

func (t *topRows) add(r Row) {
	switch {
	case t.limit <= 0 || len(t.rows) < t.limit:
		t.rows = append(t.rows, r)
		if t.limit > 0 {
			t.up(len(t.rows) - 1)
		}
	case compareRows(r, t.rows[0]) < 0:
		t.rows[0] = r
		t.down(0)
	}
}

// up and down keep the heap: a parent comes after its children.
func (t *topRows) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if compareRows(t.rows[p], t.rows[i]) >= 0 {
			return
		}
		t.rows[p], t.rows[i] = t.rows[i], t.rows[p]
		i = p
	}
}

func (t *topRows) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(t.rows) {
			return
		}
		if c+1 < len(t.rows) && compareRows(t.rows[c+1], t.rows[c]) > 0 {
			c++
		}
		if compareRows(t.rows[i], t.rows[c]) >= 0 {
			return
		}
		t.rows[i], t.rows[c] = t.rows[c], t.rows[i]
		i = c
	}
}

func (t *topRows) sorted() []Row {
	slices.SortFunc(t.rows, compareRows)
	return t.rows
}
