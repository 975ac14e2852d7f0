package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/analytics"
)

// Query answers q in SQL. A query that involves at most one dimension
// besides the link and does not ask for visitors reads rollups for the
// whole hours and UTC days of its buckets (analytics.Query.Pieces) and
// the clicks for the parts of hours; any other reads the clicks of its
// range, in one scan. Rollups are the org's (analytics_counts) unless the
// query selects links or groups by them (analytics_link_counts).
func (s *Store) Query(ctx context.Context, q analytics.Query) (analytics.Result, error) {
	if err := q.Check(); err != nil {
		return analytics.Result{}, err
	}
	t := &tally{q: &q, bounds: q.Buckets(), groups: map[string]*group{}}
	dim, single := q.RollupDimension()
	var raw, rolled []analytics.Piece
	whole := q.Unique || !single
	// A link's hours have no profile: a query of links and a dimension
	// reads the clicks of the hours around its days.
	noHours := !orgScope(&q) && dim != analytics.DimTotal
	if !whole {
		for _, p := range q.Pieces() {
			if p.Unit == 0 || p.Unit == analytics.Hour && noHours {
				raw = append(raw, p)
			} else {
				rolled = append(rolled, p)
			}
		}
	}
	if len(rolled) > 0 {
		if err := s.run(ctx, rollupStatement(&q, dim, rolled), t); err != nil {
			return analytics.Result{}, fmt.Errorf("query rollups: %w", err)
		}
	}
	if whole || len(raw) > 0 {
		if err := s.run(ctx, clickStatement(&q, t.bounds, raw), t); err != nil {
			return analytics.Result{}, fmt.Errorf("query clicks: %w", err)
		}
	}
	return t.result(), nil
}

// statement is SQL text and its arguments, built together.
type statement struct {
	sql  strings.Builder
	args []any
}

// arg adds an argument and returns its placeholder.
func (st *statement) arg(v any) string {
	st.args = append(st.args, v)
	return "$" + strconv.Itoa(len(st.args))
}

func (st *statement) printf(format string, a ...any) { fmt.Fprintf(&st.sql, format, a...) }

// lateral joins each piece p to the rows of table (with its alias) that
// conds select, found by their own index scan: a piece is a narrow range
// the planner cannot see in a join condition, and OFFSET 0 keeps it from
// flattening the subquery into one.
func (st *statement) lateral(table string, conds []string) {
	alias := table[strings.LastIndexByte(table, ' ')+1:]
	st.printf(" CROSS JOIN LATERAL (SELECT %s.* FROM %s", alias, table)
	st.where(conds)
	st.printf(" OFFSET 0) %s", alias)
}

// where adds the conditions, joined by AND; none is TRUE.
func (st *statement) where(conds []string) {
	if len(conds) == 0 {
		conds = []string{"TRUE"}
	}
	st.printf(" WHERE %s", strings.Join(conds, " AND "))
}

// match is the condition that expr, a value of d, passes m: link ids
// exactly, other values folding ASCII case; "" when m selects any value.
func (st *statement) match(expr string, d analytics.Dimension, m analytics.Match) string {
	if m.Any() {
		return ""
	}
	list := func(vs []string) string {
		out := make([]string, len(vs)) // never nil: a nil list would be NULL
		for i, v := range vs {
			if d != analytics.DimLink {
				v = asciiLower(v)
			}
			out[i] = v
		}
		return st.arg(out) + "::text[]"
	}
	if d != analytics.DimLink {
		expr = "lower((" + expr + ") COLLATE \"C\")"
	}
	var conds []string
	if m.In != nil {
		conds = append(conds, expr+" = ANY("+list(m.In)+")")
	}
	if len(m.Not) > 0 {
		conds = append(conds, "NOT ("+expr+" = ANY("+list(m.Not)+"))")
	}
	return strings.Join(conds, " AND ")
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// valueSQL is the SQL of a click's value of d in analytics_clicks c, as
// analytics.Value gives it.
func valueSQL(d analytics.Dimension) string {
	orUnknown := func(col string) string {
		return "COALESCE(NULLIF(c." + col + ", ''), " + quote(analytics.Unknown) + ")"
	}
	switch d {
	case analytics.DimDomain:
		return orUnknown("domain")
	case analytics.DimCountry:
		return orUnknown("country")
	case analytics.DimDevice:
		return orUnknown("device")
	case analytics.DimBrowser:
		return orUnknown("browser")
	case analytics.DimOS:
		return orUnknown("os")
	case analytics.DimReferer:
		return "COALESCE(NULLIF(c.referer, ''), " + quote(analytics.Direct) + ")"
	case analytics.DimTrigger:
		return "CASE WHEN c.qr THEN " + quote(analytics.TriggerQR) + " ELSE " + quote(analytics.TriggerLink) + " END"
	case analytics.DimLink:
		return "c.link"
	}
	return "''"
}

// quote is a constant of this package as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// linkValues joins each link (the column link) to its values of
// q.LinkValues, as lv.v: a link with none is left out, a value a link has
// twice counts once.
func (st *statement) linkValues(q *analytics.Query, link string) {
	var links, values []string
	for l, vs := range q.LinkValues {
		seen := map[string]bool{}
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				links, values = append(links, l), append(values, v)
			}
		}
	}
	if links == nil {
		links, values = []string{}, []string{}
	}
	st.printf(" JOIN unnest(%s::text[], %s::text[]) AS lv(link, v) ON lv.link = %s", st.arg(links), st.arg(values), link)
}

// clickStatement reads clicks: of pieces, the parts of hours a rollup
// plan leaves, or with none, of the whole range, each in its bucket of
// bounds. It returns a row per bucket and group, with its clicks and, for
// Unique, its visitors (distinct IP hashes of each UTC day, summed over
// the days).
func clickStatement(q *analytics.Query, bounds []time.Time, pieces []analytics.Piece) *statement {
	st := &statement{}
	g := "''"
	switch by := q.GroupBy.Dimension(); {
	case q.GroupBy.ByLinkValues():
		g = "lv.v"
	case by != analytics.DimTotal:
		g = valueSQL(by)
	}
	b := "p.b"
	if pieces == nil {
		b = "0"
		if len(bounds) > 2 {
			ns := make([]int64, len(bounds))
			for i, t := range bounds {
				ns[i] = analytics.UnixNanos(t)
			}
			b = "width_bucket(c.at, " + st.arg(ns) + "::int8[]) - 1"
		}
	}
	if q.Unique {
		st.printf("SELECT b, g, sum(n)::int8, count(*) FROM (SELECT %s AS b, %s AS g, c.at / %d AS day, c.ip, count(*) AS n",
			b, g, int64(24*time.Hour))
	} else {
		st.printf("SELECT %s AS b, %s AS g, count(*), 0::int8", b, g)
	}
	conds := append(clickConds(st, &q.Filter, q.Bots), "c.org = "+st.arg(q.Org))
	if pieces == nil {
		// The range's bounds as constants: the planner sees how much of
		// the table it spans.
		st.printf(" FROM analytics_clicks c")
		conds = append(conds, "c.at >= "+st.arg(analytics.UnixNanos(q.Start)), "c.at < "+st.arg(analytics.UnixNanos(q.End)))
	} else {
		var from, to []int64
		var buckets []int32
		for _, p := range pieces {
			from, to, buckets = append(from, analytics.UnixNanos(p.From)), append(to, analytics.UnixNanos(p.To)), append(buckets, int32(p.Bucket))
		}
		st.printf(" FROM unnest(%s::int8[], %s::int8[], %s::int4[]) AS p(f, t, b)", st.arg(from), st.arg(to), st.arg(buckets))
		st.lateral("analytics_clicks c", append(conds, "c.at >= p.f", "c.at < p.t"))
		conds = nil
	}
	if q.GroupBy.ByLinkValues() {
		st.linkValues(q, "c.link")
	}
	st.where(conds)
	if q.Unique {
		st.printf(" GROUP BY 1, 2, 3, 4) v GROUP BY 1, 2")
	} else {
		st.printf(" GROUP BY 1, 2")
	}
	return st
}

// clickConds are the conditions on analytics_clicks c of a filter and bots.
func clickConds(st *statement, f *analytics.Filter, bots analytics.Bots) []string {
	var conds []string
	switch bots {
	case analytics.BotsExclude:
		conds = append(conds, "NOT c.bot")
	case analytics.BotsOnly:
		conds = append(conds, "c.bot")
	}
	for _, d := range analytics.Dimensions {
		if c := st.match(valueSQL(d), d, f.Get(d)); c != "" {
			conds = append(conds, c)
		}
	}
	return conds
}

// orgScope reports whether q reads the org's rollups (it neither selects
// links nor groups by them) rather than its links'.
func orgScope(q *analytics.Query) bool {
	return q.Filter.Link.Any() && q.GroupBy.Dimension() != analytics.DimLink
}

// rollupStatement reads the rollups of pieces (whole hours and days) for
// dim, the one dimension q involves besides the link: a row per bucket
// and group, with its clicks.
func rollupStatement(q *analytics.Query, dim analytics.Dimension, pieces []analytics.Piece) *statement {
	st := &statement{}
	var grans []int16
	var u0, u1, buckets []int32
	for _, p := range pieces {
		gran := granHour
		if p.Unit == analytics.Day {
			gran = granDay
		}
		grans, buckets = append(grans, gran), append(buckets, int32(p.Bucket))
		u0, u1 = append(u0, unitOf(gran, p.From)), append(u1, unitOf(gran, p.To))
	}
	pieceSQL := fmt.Sprintf("unnest(%s::int2[], %s::int4[], %s::int4[], %s::int4[]) AS p(gran, u0, u1, b)",
		st.arg(grans), st.arg(u0), st.arg(u1), st.arg(buckets))
	by := q.GroupBy.Dimension()
	if orgScope(q) {
		// The org's rollups of dim.
		g := "''"
		if by != analytics.DimTotal {
			g = "r.value"
		}
		st.printf("SELECT p.b, %s AS g, sum(r.clicks)::int8, 0::int8 FROM %s", g, pieceSQL)
		conds := []string{"r.org = " + st.arg(q.Org), "r.gran = p.gran", "r.dim = " + st.arg(int16(dim)),
			"r.unit >= p.u0", "r.unit < p.u1"}
		switch q.Bots {
		case analytics.BotsExclude:
			conds = append(conds, "NOT r.bot")
		case analytics.BotsOnly:
			conds = append(conds, "r.bot")
		}
		if c := st.match("r.value", dim, q.Filter.Get(dim)); c != "" {
			conds = append(conds, c)
		}
		st.lateral("analytics_counts r", conds)
		st.printf(" GROUP BY 1, 2")
		return st
	}

	// The links' rollups: their clicks columns, or their profiles' counts
	// of dim.
	g, n := "''", map[analytics.Bots]string{analytics.BotsExclude: "r.clicks", analytics.BotsOnly: "r.bots",
		analytics.BotsInclude: "r.clicks + r.bots"}[q.Bots]
	switch {
	case q.GroupBy.ByLinkValues():
		g = "lv.v"
	case by == analytics.DimLink:
		g = "r.link"
	case by != analytics.DimTotal:
		g = "e.v"
	}
	if dim != analytics.DimTotal {
		n = "e.n"
	}
	st.printf("SELECT p.b, %s AS g, sum(%s)::int8, 0::int8 FROM %s", g, n, pieceSQL)
	conds := []string{"r.org = " + st.arg(q.Org), "r.gran = p.gran", "r.unit >= p.u0", "r.unit < p.u1"}
	if c := st.match("r.link", analytics.DimLink, q.Filter.Link); c != "" {
		conds = append(conds, c)
	}
	st.lateral("analytics_link_counts r", conds)
	conds = nil
	if dim != analytics.DimTotal {
		st.printf(" CROSS JOIN LATERAL unnest(r.keys, r.vals, r.counts) AS e(k, v, n)")
		var keys []int16
		if q.Bots != analytics.BotsOnly {
			keys = append(keys, int16(dim)*2)
		}
		if q.Bots != analytics.BotsExclude {
			keys = append(keys, int16(dim)*2+1)
		}
		conds = append(conds, "e.k = ANY("+st.arg(keys)+"::int2[])")
		if c := st.match("e.v", dim, q.Filter.Get(dim)); c != "" {
			conds = append(conds, c)
		}
	}
	if q.GroupBy.ByLinkValues() {
		st.linkValues(q, "r.link")
	}
	st.where(conds)
	st.printf(" GROUP BY 1, 2")
	return st
}

// run adds the rows of st (bucket, group, clicks, visitors) to t.
func (s *Store) run(ctx context.Context, st *statement, t *tally) error {
	rows, err := s.pool.Query(ctx, st.sql.String(), st.args...)
	if err != nil {
		return err
	}
	var (
		b         int32
		g         string
		n, unique int64
	)
	_, err = pgx.ForEachRow(rows, []any{&b, &g, &n, &unique}, func() error {
		if int(b) < 0 || int(b) >= len(t.bounds)-1 {
			return fmt.Errorf("bucket %d of %d", b, len(t.bounds)-1)
		}
		gr := t.get(g)
		gr.clicks[b] += n
		gr.visitors[b] += unique
		return nil
	})
	return err
}

// tally adds up a query's clicks and visitors per group and bucket.
type tally struct {
	q      *analytics.Query
	bounds []time.Time
	groups map[string]*group
}

type group struct{ clicks, visitors []int64 }

func (t *tally) get(v string) *group {
	g := t.groups[v]
	if g == nil {
		n := len(t.bounds) - 1
		g = &group{clicks: make([]int64, n), visitors: make([]int64, n)}
		t.groups[v] = g
	}
	return g
}

func (t *tally) result() analytics.Result {
	return analytics.Assemble(t.q, t.bounds, t.groups, func(g *group) ([]int64, []int64) { return g.clicks, g.visitors })
}
