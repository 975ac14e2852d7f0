package chstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/analytics"
)

// Query answers q with one SELECT over the clicks of its range: the
// bucket and value of each click computed in SQL, grouped and counted by
// ClickHouse; Go assembles the rows (analytics.Assemble).
func (s *Store) Query(ctx context.Context, q analytics.Query) (analytics.Result, error) {
	if err := q.Check(); err != nil {
		return analytics.Result{}, err
	}
	bounds := q.Buckets()
	n := len(bounds) - 1
	groups := map[string]*group{}
	counts := func(g *group) ([]int64, []int64) { return g.clicks, g.visitors }

	conds := where(q.Org, q.Start, q.End, &q.Filter, q.Bots)
	value := valueExpr(q.GroupBy.Dimension())
	if q.GroupBy.ByLinkValues() {
		expr, links := linkValuesExpr(q.LinkValues)
		if links == "" {
			return analytics.Assemble(&q, bounds, groups, counts), nil
		}
		conds = append(conds, "link IN ("+links+")")
		value = expr
	}
	visitors := "toUInt64(0)"
	if q.Unique {
		visitors = "uniqExact(day, ip)" // a visitor is an IP hash within a UTC day
	}
	sql := fmt.Sprintf(`SELECT toUInt32(%s) AS b, %s AS v, count(), %s FROM analytics_clicks WHERE %s GROUP BY b, v`,
		bucketExpr(bounds), value, visitors, strings.Join(conds, " AND "))
	d, err := s.query(ctx, sql)
	if err != nil {
		return analytics.Result{}, fmt.Errorf("query: %w", err)
	}
	for d.more() {
		b, v, c, u := int(d.uint32()), d.string(), d.uint64(), d.uint64()
		if d.err != nil {
			break
		}
		if b >= n {
			return analytics.Result{}, fmt.Errorf("query: a row of bucket %d, of %d buckets", b, n)
		}
		g := groups[v]
		if g == nil {
			g = &group{clicks: make([]int64, n), visitors: make([]int64, n)}
			groups[v] = g
		}
		g.clicks[b] += int64(c)
		g.visitors[b] += int64(u)
	}
	if d.err != nil {
		return analytics.Result{}, fmt.Errorf("query: %w", d.err)
	}
	return analytics.Assemble(&q, bounds, groups, counts), nil
}

// group is a value's clicks and visitors per bucket.
type group struct{ clicks, visitors []int64 }

// valueExpr is d's value of a click in SQL, as analytics.Value gives it.
func valueExpr(d analytics.Dimension) string {
	orUnknown := func(col string) string {
		return fmt.Sprintf("if(%s = '', %s, %s)", col, lit(analytics.Unknown), col)
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
		return fmt.Sprintf("if(referer = '', %s, referer)", lit(analytics.Direct))
	case analytics.DimTrigger:
		return fmt.Sprintf("if(qr, %s, %s)", lit(analytics.TriggerQR), lit(analytics.TriggerLink))
	case analytics.DimLink:
		return "link"
	}
	return "''"
}

// where is the conditions selecting an org's clicks in [start, end)
// that f and bots keep. The day bounds let ClickHouse skip partitions
// and primary key ranges; at decides.
func where(org string, start, end time.Time, f *analytics.Filter, bots analytics.Bots) []string {
	first := min(max(start.Unix(), 0)/86400, maxDay)
	last := min(max(end.Add(-time.Nanosecond).Unix(), 0)/86400, maxDay) // the day of the range's last nanosecond
	conds := []string{
		"org = " + lit(org),
		"day >= " + dayLit(first), "day <= " + dayLit(last),
		"at >= " + strconv.FormatInt(analytics.UnixNanos(start), 10), "at < " + strconv.FormatInt(analytics.UnixNanos(end), 10),
	}
	switch bots {
	case analytics.BotsExclude:
		conds = append(conds, "bot = 0")
	case analytics.BotsOnly:
		conds = append(conds, "bot = 1")
	}
	for _, d := range analytics.Dimensions {
		m := f.Get(d)
		if m.Any() {
			continue
		}
		// Link ids match exactly, other values regardless of ASCII case
		// (lower() in ClickHouse folds ASCII only).
		expr, fold := valueExpr(d), func(s string) string { return s }
		if d != analytics.DimLink {
			expr, fold = "lower("+expr+")", lowerASCII
		}
		if m.In != nil {
			if len(m.In) == 0 {
				conds = append(conds, "0")
			} else {
				conds = append(conds, expr+" IN ("+list(m.In, fold)+")")
			}
		}
		if len(m.Not) > 0 {
			conds = append(conds, expr+" NOT IN ("+list(m.Not, fold)+")")
		}
	}
	return conds
}

// list is vs, each through fold, as a list of string literals.
func list(vs []string, fold func(string) string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = lit(fold(v))
	}
	return strings.Join(out, ", ")
}

// lowerASCII is s with ASCII letters lowered, byte by byte, as
// ClickHouse's lower(): other bytes, valid UTF-8 or not, stay.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// bucketExpr is the bucket of a click in SQL: 0 before bounds[1], i from
// bounds[i] on. Bounds a fixed step apart (UTC, or a zone without a
// daylight saving change in the range) divide; others count the bounds
// at or before the click, one comparison a bound.
func bucketExpr(bounds []time.Time) string {
	n := len(bounds) - 1
	if n == 1 {
		return "0"
	}
	step := bounds[2].Sub(bounds[1])
	uniform := true
	for i := 1; i < n; i++ {
		uniform = uniform && bounds[i+1].Sub(bounds[i]) == step
	}
	b1 := analytics.UnixNanos(bounds[1])
	if uniform {
		return fmt.Sprintf("if(at < %d, 0, intDiv(at - %d, %d) + 1)", b1, b1, step.Nanoseconds())
	}
	terms := make([]string, 0, n-1)
	for _, b := range bounds[1:n] {
		terms = append(terms, fmt.Sprintf("(at >= %d)", analytics.UnixNanos(b)))
	}
	return strings.Join(terms, " + ")
}

// linkValuesExpr is the values of a click's link in SQL, one row each
// (arrayJoin), and the links that have values as a list: empty when none
// has.
func linkValuesExpr(values map[string][]string) (expr, links string) {
	var ids []string
	for id, vs := range values {
		if len(vs) > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", ""
	}
	slices.Sort(ids)
	sets := make([]string, len(ids))
	idx := make([]string, len(ids))
	for i, id := range ids {
		var seen []string
		for _, v := range values[id] {
			if !slices.Contains(seen, v) {
				seen = append(seen, v)
			}
		}
		sets[i] = "[" + list(seen, func(s string) string { return s }) + "]"
		idx[i] = strconv.Itoa(i + 1)
	}
	links = list(ids, func(s string) string { return s })
	expr = fmt.Sprintf("arrayJoin(arrayElement([%s], transform(link, [%s], [%s], 0)))",
		strings.Join(sets, ", "), links, strings.Join(idx, ", "))
	return expr, links
}
