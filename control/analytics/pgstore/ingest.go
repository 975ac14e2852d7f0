package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// Ingest stores b exactly once (see analytics.Store and the package doc):
// the edge's sequence, the clicks and their rollups in one transaction.
func (s *Store) Ingest(ctx context.Context, b *clicks.Batch, orgsOf analytics.OrgsOf) (analytics.Ingested, error) {
	if !storable(b.Edge) || b.Seq > math.MaxInt64 {
		return analytics.Ingested{}, fmt.Errorf("ingest: edge %q, sequence %d: %w", b.Edge, b.Seq, clicks.ErrRejected)
	}
	// A batch shipped again is answered without asking for its orgs; the
	// claim in the transaction decides.
	var last int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM analytics_edges WHERE edge = $1`, b.Edge).Scan(&last)
	switch {
	case err == nil && int64(b.Seq) <= last:
		return analytics.Ingested{Duplicate: true}, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return analytics.Ingested{}, fmt.Errorf("ingest: sequence of %s: %w", b.Edge, err)
	}
	orgs, err := analytics.BatchOrgs(ctx, b, orgsOf)
	if err != nil {
		return analytics.Ingested{}, err
	}
	f := newFold()
	for i := range b.Clicks {
		c := &b.Clicks[i]
		org, ok := orgs[c.LinkID]
		if !ok || !storable(org) || !storable(c.LinkID) || c.Time.Unix() < 0 || analytics.UnixNanos(c.Time) == math.MaxInt64 {
			f.Dropped++
			continue
		}
		f.add(mended(c), org)
	}
	dup := false
	err = s.retry(ctx, func(tx pgx.Tx) error {
		var err error
		dup, err = f.write(ctx, tx, b.Edge, int64(b.Seq))
		return err
	})
	if err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: %w", err)
	}
	if dup {
		return analytics.Ingested{Duplicate: true}, nil
	}
	return f.Ingested(), nil
}

// storable reports whether id can be an id in the store: not empty, and
// text PostgreSQL holds as it is.
func storable(id string) bool { return id != "" && isText(id) }

func isText(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }

// mended is c, or a copy whose strings text can hold (see the package doc).
func mended(c *clicks.Click) *clicks.Click {
	fields := func(c *clicks.Click) []*string {
		return []*string{&c.Domain, &c.Country, &c.Device, &c.Browser, &c.OS, &c.RefererHost}
	}
	for _, f := range fields(c) {
		if !isText(*f) {
			m := *c
			for _, g := range fields(&m) {
				*g = strings.ToValidUTF8(strings.ReplaceAll(*g, "\x00", ""), "\uFFFD")
			}
			return &m
		}
	}
	return c
}

// fold is a batch folded in memory: its clicks, one count per org rollup
// row, one profile per link rollup row, and what Ingested reports.
type fold struct {
	clicks   []*clicks.Click
	orgs     []string // of each of clicks
	counts   map[countKey]int64
	profiles map[profileKey]*profile
	analytics.Tally
}

// countKey is a row of analytics_counts.
type countKey struct {
	org   string
	gran  int16
	dim   int16
	unit  int32
	bot   bool
	value string
}

// profileKey is a row of analytics_link_counts.
type profileKey struct {
	org  string
	gran int16
	link string
	unit int32
}

// profile is a link rollup row: counts is nil for an hour's.
type profile struct {
	clicks, bots int64
	counts       map[entry]int64
}

// entry is a profile's key (dimension*2 + bot) and value.
type entry struct {
	key   int16
	value string
}

func newFold() *fold {
	return &fold{counts: map[countKey]int64{}, profiles: map[profileKey]*profile{}}
}

func (f *fold) add(c *clicks.Click, org string) {
	f.clicks = append(f.clicks, c)
	f.orgs = append(f.orgs, org)
	var bot int16
	if c.Bot {
		bot = 1
	}
	for _, gran := range []int16{granHour, granDay} {
		unit := unitOf(gran, c.Time)
		p := f.profiles[profileKey{org, gran, c.LinkID, unit}]
		if p == nil {
			p = &profile{}
			if gran == granDay {
				p.counts = map[entry]int64{}
			}
			f.profiles[profileKey{org, gran, c.LinkID, unit}] = p
		}
		if c.Bot {
			p.bots++
		} else {
			p.clicks++
		}
		for _, d := range analytics.RollupDims {
			v := analytics.Value(d, c)
			f.counts[countKey{org, gran, int16(d), unit, c.Bot, v}]++
			if d != analytics.DimTotal && p.counts != nil {
				p.counts[entry{int16(d)*2 + bot, v}]++
			}
		}
	}
	f.Add(c, org)
}

// The statements of an ingest. Rollup rows are written in key order, the
// same in every transaction, so that two ingests adding to the same rows
// wait for each other rather than deadlock.
const (
	// claimSeq moves the edge's sequence to $2 if it is below, and
	// returns no row if it is not: the batch is a duplicate. The row stays
	// locked until the transaction ends, so batches of one edge ingested
	// on two nodes at once go one after the other.
	claimSeq = `INSERT INTO analytics_edges AS e (edge, seq) VALUES ($1, $2)
		ON CONFLICT (edge) DO UPDATE SET seq = excluded.seq WHERE e.seq < excluded.seq
		RETURNING seq`
	addCounts = `INSERT INTO analytics_counts AS t (org, gran, dim, unit, bot, value, clicks)
		SELECT * FROM unnest($1::text[], $2::int2[], $3::int2[], $4::int4[], $5::bool[], $6::text[], $7::int8[])
		ON CONFLICT (org, gran, dim, unit, bot, value) DO UPDATE SET clicks = t.clicks + excluded.clicks`
	// Link rollups, rows with arrays, go in by COPY to a table of the
	// session and from there into their rows. An hour's has no profile
	// (NULL arrays): its subquery returns no row.
	stageProfiles = `CREATE TEMP TABLE IF NOT EXISTS analytics_link_stage (
		org text COLLATE "C", gran smallint, link text COLLATE "C", unit integer,
		clicks bigint, bots bigint, keys smallint[], vals text[], counts bigint[]) ON COMMIT DELETE ROWS`
	addProfiles = `INSERT INTO analytics_link_counts AS t (org, gran, link, unit, clicks, bots, keys, vals, counts)
		SELECT org, gran, link, unit, clicks, bots, keys, vals, counts FROM analytics_link_stage ORDER BY org, gran, link, unit
		ON CONFLICT (org, gran, link, unit) DO UPDATE SET clicks = t.clicks + excluded.clicks, bots = t.bots + excluded.bots,
			(keys, vals, counts) = (SELECT * FROM analytics_profile_add(t.keys, t.vals, t.counts, excluded.keys, excluded.vals, excluded.counts)
				WHERE excluded.keys IS NOT NULL)`
)

var (
	clickColumns   = []string{"at", "bot", "qr", "org", "link", "id", "domain", "country", "device", "browser", "os", "referer", "ip"}
	profileColumns = []string{"org", "gran", "link", "unit", "clicks", "bots", "keys", "vals", "counts"}
)

// write stores the fold as edge's batch seq in tx; dup when the edge's
// sequence is at or past seq already.
func (f *fold) write(ctx context.Context, tx pgx.Tx, edge string, seq int64) (dup bool, err error) {
	if err := tx.QueryRow(ctx, claimSeq, edge, seq).Scan(&seq); errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("claim sequence of %s: %w", edge, err)
	}
	if len(f.clicks) == 0 {
		return false, nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"analytics_clicks"}, clickColumns, &clickRows{f: f, i: -1}); err != nil {
		return false, fmt.Errorf("copy clicks: %w", err)
	}

	keys := make([]countKey, 0, len(f.counts))
	for k := range f.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		return cmp.Or(strings.Compare(a.org, b.org), cmp.Compare(a.gran, b.gran), cmp.Compare(a.dim, b.dim),
			cmp.Compare(a.unit, b.unit), cmp.Compare(b2i(a.bot), b2i(b.bot)), strings.Compare(a.value, b.value))
	})
	var (
		orgs, values []string
		grans, dims  []int16
		unitsOf      []int32
		bots         []bool
		ns           []int64
	)
	for _, k := range keys {
		orgs, grans, dims, unitsOf = append(orgs, k.org), append(grans, k.gran), append(dims, k.dim), append(unitsOf, k.unit)
		bots, values, ns = append(bots, k.bot), append(values, k.value), append(ns, f.counts[k])
	}
	if _, err := tx.Exec(ctx, addCounts, orgs, grans, dims, unitsOf, bots, values, ns); err != nil {
		return false, fmt.Errorf("add org rollups: %w", err)
	}

	if _, err := tx.Exec(ctx, stageProfiles); err != nil {
		return false, fmt.Errorf("stage link rollups: %w", err)
	}
	rows := make([][]any, 0, len(f.profiles))
	for k, p := range f.profiles {
		var pk []int16 // nil: NULL, an hour's
		var pv []string
		var pn []int64
		for e, n := range p.counts {
			pk, pv, pn = append(pk, e.key), append(pv, e.value), append(pn, n)
		}
		rows = append(rows, []any{k.org, k.gran, k.link, k.unit, p.clicks, p.bots, pk, pv, pn})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"analytics_link_stage"}, profileColumns, pgx.CopyFromRows(rows)); err != nil {
		return false, fmt.Errorf("stage link rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, addProfiles); err != nil {
		return false, fmt.Errorf("add link rollups: %w", err)
	}
	return false, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// clickRows feeds the fold's clicks to COPY, a row at a time.
type clickRows struct {
	f   *fold
	i   int
	row [13]any
}

func (r *clickRows) Next() bool { r.i++; return r.i < len(r.f.clicks) }

func (r *clickRows) Values() ([]any, error) {
	c := r.f.clicks[r.i]
	r.row = [13]any{c.Time.UnixNano(), c.Bot, c.QR, r.f.orgs[r.i], c.LinkID, c.ID[:], c.Domain, c.Country, c.Device,
		c.Browser, c.OS, c.RefererHost, c.IPHash[:]}
	return r.row[:], nil
}

func (r *clickRows) Err() error { return nil }
