package pebblestore

import (
	"context"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/h0p/h0p/control/analytics"
)

// chunkSpan is the chunks of org's hours [from's, to's) that sel selects.
func chunkSpan(org string, from, to time.Time, mode scopeMode, links []string) span {
	if mode == scopeOrg {
		mode = scopeAnyLink
	}
	return span{prefix: orgPrefix(nil, prefixEvents, org), dim: -1,
		u0: unitOf(granHour, from), u1: unitOf(granHour, to.Add(-1)) + 1, mode: mode, links: links}
}

// fieldFilter is a filter on one of a chunk's string fields, decided once
// per string of each chunk.
type fieldFilter struct {
	field  int
	dim    analytics.Dimension
	filter *analytics.Filter
	pass   []int8 // per string of the current chunk: 0 undecided, 1 passes, -1 fails
}

// scan adds the clicks of piece pc, read from the chunks, to t.
func (s *Store) scan(ctx context.Context, it *pebble.Iterator, q *analytics.Query, p *plan, pc piece, t *tally) error {
	from, to := pc.from.UnixNano(), pc.to.UnixNano()
	sp := chunkSpan(q.Org, pc.from, pc.to, p.mode, p.links)
	var filters []*fieldFilter
	for _, d := range analytics.Dimensions {
		if f := fieldOf(d); f >= 0 && !q.Filter.Get(d).Any() {
			filters = append(filters, &fieldFilter{field: f, dim: d, filter: &q.Filter})
		}
	}
	trigger := [2]bool{q.Filter.Matches(analytics.DimTrigger, analytics.TriggerLink),
		q.Filter.Matches(analytics.DimTrigger, analytics.TriggerQR)}
	by := q.GroupBy.Dimension()
	gfield := fieldOf(by)
	var (
		r     chunkReader
		c     rawClick
		dict  [][]byte
		byStr []*group // per string of the current chunk, when grouping by a field
	)
	return walk(it, &sp, func(hour uint32, link, _, value []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.notLinks[string(link)] {
			return nil
		}
		if q.Unique {
			t.newDay(int64(hour / 24))
		}
		if err := r.reset(value, hour, dict); err != nil {
			return err
		}
		dict = r.dict
		for _, f := range filters {
			f.pass = resize(f.pass, len(dict))
		}
		byStr = resize(byStr, len(dict))
		var gs []*group
		switch by {
		case analytics.DimTotal:
			gs = []*group{t.get(nil)}
		case analytics.DimLink:
			gs = t.linkGroups(link)
		}
		for {
			ok, err := r.next(&c)
			if err != nil || !ok {
				return err
			}
			if c.ns < from || c.ns >= to || !q.Bots.Keep(c.flags&flagBot != 0) {
				continue
			}
			qr := c.flags&flagQR != 0
			if !trigger[b2i(qr)] || !passes(filters, &c, dict) {
				continue
			}
			b := pc.bucket
			if b < 0 {
				b = t.bucket(c.ns)
			}
			switch {
			case gfield >= 0:
				x := c.f[gfield]
				if byStr[x] == nil {
					byStr[x] = t.get(shown(by, dict[x]))
				}
				gs = append(gs[:0], byStr[x])
			case by == analytics.DimTrigger:
				v := analytics.TriggerLink
				if qr {
					v = analytics.TriggerQR
				}
				gs = append(gs[:0], t.get([]byte(v)))
			}
			for _, g := range gs {
				g.clicks[b]++
				if q.Unique {
					t.visit(g, b, c.ip)
				}
			}
		}
	})
}

func passes(filters []*fieldFilter, c *rawClick, dict [][]byte) bool {
	for _, f := range filters {
		x := c.f[f.field]
		if f.pass[x] == 0 {
			f.pass[x] = -1
			if f.filter.Matches(f.dim, string(shown(f.dim, dict[x]))) {
				f.pass[x] = 1
			}
		}
		if f.pass[x] < 0 {
			return false
		}
	}
	return true
}

// shown is a stored string as stats show it (analytics.Value).
func shown(d analytics.Dimension, s []byte) []byte {
	if len(s) > 0 {
		return s
	}
	if d == analytics.DimReferer {
		return []byte(analytics.Direct)
	}
	return []byte(analytics.Unknown)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
