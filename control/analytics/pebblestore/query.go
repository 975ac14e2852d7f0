package pebblestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/h0p/h0p/control/analytics"
)

// Query answers q from the rollups where they can, from the chunks where
// they cannot (see plan).
func (s *Store) Query(ctx context.Context, q analytics.Query) (analytics.Result, error) {
	if err := q.Check(); err != nil {
		return analytics.Result{}, err
	}
	bounds := q.Buckets()
	p := planOf(&q)
	t := newTally(&q, bounds)
	it, err := s.db.NewIter(nil)
	if err != nil {
		return analytics.Result{}, fmt.Errorf("query: %w", err)
	}
	defer it.Close()
	var raw []piece
	if p.raw {
		raw = []piece{{from: q.Start, to: q.End, bucket: -1}}
	} else {
		for _, pc := range decompose(&q) {
			if pc.gran == 0 {
				raw = append(raw, pc)
				continue
			}
			if err := s.readRollups(ctx, it, &q, p, pc, t); err != nil {
				return analytics.Result{}, fmt.Errorf("query: %w", err)
			}
		}
	}
	for _, pc := range raw {
		if err := s.scan(ctx, it, &q, p, pc, t); err != nil {
			return analytics.Result{}, fmt.Errorf("query: %w", err)
		}
	}
	return t.result(), nil
}

// plan is how a query reads. The rollups count clicks per hour and per UTC
// day, for the org and for each link, by one dimension at a time. A query
// is answered from them when it involves at most one dimension besides
// the link (the grouped one and the filtered ones) and does not ask for
// visitors; otherwise it scans the chunks of its range.
type plan struct {
	raw      bool
	dim      analytics.Dimension // the rollups read
	mode     scopeMode           // the org's rollups, or links'
	links    []string            // scopeLinks: the links selected, sorted
	notLinks map[string]bool     // links excluded
}

func planOf(q *analytics.Query) *plan {
	p := &plan{mode: scopeOrg}
	var single bool
	p.dim, single = q.RollupDimension()
	p.raw = q.Unique || !single
	p.mode, p.links, p.notLinks = linksOf(&q.Filter)
	if p.mode == scopeAnyLink && len(p.notLinks) == 0 && q.GroupBy.Dimension() != analytics.DimLink {
		p.mode = scopeOrg
	}
	return p
}

// linksOf is how a filter selects links: every link (scopeAnyLink, but
// those in notLinks), or a set of them (scopeLinks).
func linksOf(f *analytics.Filter) (mode scopeMode, links []string, notLinks map[string]bool) {
	lm := f.Link
	if len(lm.Not) > 0 {
		notLinks = map[string]bool{}
		for _, l := range lm.Not {
			notLinks[l] = true
		}
	}
	if lm.In == nil {
		return scopeAnyLink, nil, notLinks
	}
	links = []string{}
	for _, l := range lm.In {
		if !notLinks[l] {
			links = append(links, l)
		}
	}
	slices.Sort(links)
	return scopeLinks, slices.Compact(links), notLinks
}

// piece is an analytics.Piece in Pebble's units: whole hours or whole UTC
// days of rollups (gran), or the clicks of [from, to) from the chunks
// (gran 0). bucket -1: each click's bucket is looked up.
type piece struct {
	gran     byte
	u0, u1   uint32
	from, to time.Time
	bucket   int
}

// decompose is q's pieces (analytics.Query.Pieces) in Pebble's units.
func decompose(q *analytics.Query) []piece {
	var out []piece
	for _, p := range q.Pieces() {
		pc := piece{from: p.From, to: p.To, bucket: p.Bucket}
		switch p.Unit {
		case analytics.Hour:
			pc.gran = granHour
		case analytics.Day:
			pc.gran = granDay
		}
		if pc.gran != 0 {
			pc.u0, pc.u1 = unitOf(pc.gran, p.From), unitOf(pc.gran, p.To)
		}
		out = append(out, pc)
	}
	return out
}

// readRollups adds a rollup piece to t: from the org's rollups of p.dim,
// or from the selected links' profiles.
func (s *Store) readRollups(ctx context.Context, it *pebble.Iterator, q *analytics.Query, p *plan,
	pc piece, t *tally) error {
	by := q.GroupBy.Dimension()
	pass := map[string]bool{}
	// count adds n clicks of value v of p.dim, in scope (a link, or the org).
	count := func(scope, v []byte, n uint64) {
		if p.dim != analytics.DimTotal {
			ok, seen := pass[string(v)]
			if !seen {
				ok = q.Filter.Matches(p.dim, string(v))
				pass[string(v)] = ok
			}
			if !ok {
				return
			}
		}
		switch by {
		case analytics.DimTotal:
			t.get(nil).clicks[pc.bucket] += int64(n)
		case analytics.DimLink:
			if !q.GroupBy.ByLinkValues() { // top_links: the link's own group
				t.get(scope).clicks[pc.bucket] += int64(n)
				return
			}
			for _, g := range t.linkGroups(scope) {
				g.clicks[pc.bucket] += int64(n)
			}
		default:
			t.get(v).clicks[pc.bucket] += int64(n)
		}
	}
	if p.mode == scopeOrg {
		sp := span{prefix: rollupPrefix(nil, q.Org, pc.gran), dim: int(p.dim), u0: pc.u0, u1: pc.u1, mode: scopeOrg}
		return walk(it, &sp, func(_ uint32, _, rest, value []byte) error {
			n, k := binary.Uvarint(value)
			if len(rest) < 1 || k <= 0 {
				return fmt.Errorf("analytics: corrupt rollup")
			}
			if q.Bots.Keep(rest[0] == 1) {
				count(nil, rest[1:], n)
			}
			return ctx.Err()
		})
	}
	sp := span{prefix: rollupPrefix(nil, q.Org, pc.gran), dim: int(analytics.DimLink), u0: pc.u0, u1: pc.u1,
		mode: p.mode, links: p.links}
	return walk(it, &sp, func(_ uint32, link, _, value []byte) error {
		if p.notLinks[string(link)] {
			return ctx.Err()
		}
		err := dimEntries(value, byte(p.dim), func(e entry) {
			if q.Bots.Keep(e.bot == 1) {
				count(link, e.value, e.n)
			}
		})
		if err != nil {
			return err
		}
		return ctx.Err()
	})
}

// tally adds up a query's clicks and visitors per group and bucket.
type tally struct {
	q      *analytics.Query
	bounds []time.Time
	ns     []int64 // bounds in Unix ns, for looking up a click's bucket
	groups map[string]*group
	byLink map[string][]*group
	day    int64 // the UTC day of the visitor sets
	// slab and counts are where single-bucket groups come from, a
	// thousand at a time: top links makes one per link clicked.
	slab   []group
	counts []int64
}

type group struct {
	clicks   []int64
	visitors []int64
	seen     []map[[16]byte]struct{} // per bucket, of tally.day
}

func newTally(q *analytics.Query, bounds []time.Time) *tally {
	t := &tally{q: q, bounds: bounds, groups: map[string]*group{}, byLink: map[string][]*group{}, day: -1}
	for _, b := range bounds {
		t.ns = append(t.ns, b.UnixNano())
	}
	return t
}

func (t *tally) get(v []byte) *group {
	g := t.groups[string(v)]
	if g == nil {
		n := len(t.bounds) - 1
		if n == 1 {
			if len(t.slab) == 0 {
				t.slab, t.counts = make([]group, 1024), make([]int64, 1024)
			}
			g, t.slab = &t.slab[0], t.slab[1:]
			g.clicks, t.counts = t.counts[:1:1], t.counts[1:]
		} else {
			g = &group{clicks: make([]int64, n)}
		}
		if t.q.Unique {
			g.visitors, g.seen = make([]int64, n), make([]map[[16]byte]struct{}, n)
		}
		t.groups[string(v)] = g
	}
	return g
}

// linkGroups are the groups a click of link counts in: the link's own for
// top_links, one per value of Query.LinkValues for the others.
func (t *tally) linkGroups(link []byte) []*group {
	if gs, ok := t.byLink[string(link)]; ok {
		return gs
	}
	var gs []*group
	if t.q.GroupBy.ByLinkValues() {
		for _, v := range t.q.LinkValues[string(link)] {
			if g := t.get([]byte(v)); !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
	} else {
		gs = []*group{t.get(link)}
	}
	t.byLink[string(link)] = gs
	return gs
}

// bucket is the bucket of a click at ns.
func (t *tally) bucket(ns int64) int {
	return sort.Search(len(t.ns)-1, func(i int) bool { return t.ns[i+1] > ns })
}

// visit counts ip as a visitor of g's bucket b. A visitor is one
// visitor within a UTC day (the edge's salt changes daily), so the sets
// hold one day: scans go in time order, and newDay counts and empties
// them.
func (t *tally) visit(g *group, b int, ip []byte) {
	if g.seen[b] == nil {
		g.seen[b] = map[[16]byte]struct{}{}
	}
	g.seen[b][[16]byte(ip)] = struct{}{}
}

func (t *tally) newDay(day int64) {
	if day == t.day {
		return
	}
	t.day = day
	for _, g := range t.groups {
		for b, m := range g.seen {
			g.visitors[b] += int64(len(m))
			g.seen[b] = nil
		}
	}
}

func (t *tally) result() analytics.Result {
	t.newDay(-1)
	return analytics.Assemble(t.q, t.bounds, t.groups, func(g *group) ([]int64, []int64) { return g.clicks, g.visitors })
}
