package chstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// maxDay is the last day ClickHouse 18.16's date functions handle
// (2105-12-31): toDate and toYYYYMM answer 0 for later days, though a Date
// stores up to 2149.
const maxDay = 49672

// Ingest stores b exactly once (see analytics.Store and the package
// doc): under the edge's lock, the batch's clicks, each carrying the edge
// and sequence, in one INSERT, which the view analytics_edges_of_clicks
// follows with the sequence in analytics_edges; a batch without clicks to
// store, its sequence alone.
func (s *Store) Ingest(ctx context.Context, b *clicks.Batch, orgsOf analytics.OrgsOf) (analytics.Ingested, error) {
	if b.Edge == "" {
		return analytics.Ingested{}, fmt.Errorf("ingest: edge %q: %w", b.Edge, clicks.ErrRejected)
	}
	l := s.edgeLock(b.Edge)
	l.Lock()
	defer l.Unlock()
	release, err := s.lockEdge(ctx, b.Edge)
	if err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: %w", err)
	}
	keep := false // the lock, after an INSERT that may still be running
	defer func() {
		if !keep {
			release()
		}
	}()

	days := map[int64]bool{}
	for i := range b.Clicks {
		if d, ok := dayOf(&b.Clicks[i]); ok {
			days[d] = true
		}
	}
	st, err := s.stored(ctx, b.Edge, b.Seq, days)
	if err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: sequence of %s: %w", b.Edge, err)
	}
	if st.recorded || st.last > b.Seq {
		return analytics.Ingested{Duplicate: true}, nil
	}
	orgs, err := analytics.BatchOrgs(ctx, b, orgsOf)
	if err != nil {
		return analytics.Ingested{}, err
	}
	var (
		tally analytics.Tally
		e     encoder
	)
	for i := range b.Clicks {
		c := &b.Clicks[i]
		org, ok := orgs[c.LinkID]
		day, inRange := dayOf(c)
		if !ok || org == "" || c.LinkID == "" || !inRange {
			tally.Dropped++
			continue
		}
		if st.months[month(day)] {
			continue // stored by an INSERT cut short (see the package doc)
		}
		encodeClick(&e, c, org, day, b.Edge, b.Seq)
		tally.Add(c, org)
	}
	if st.last == b.Seq && tally.Stored == 0 {
		return analytics.Ingested{Duplicate: true}, nil
	}
	if len(e.b) > 0 {
		if _, err := s.do(ctx, `INSERT INTO analytics_clicks (`+clickColumns+`) FORMAT RowBinary`, e.b); err != nil {
			// Without the server's answer (a timeout, a lost connection)
			// the server may still be storing the clicks: the edge stays
			// locked until the lease ends, so that no node stores the
			// batch again before they show.
			keep = !errors.As(err, new(*answerError))
			return analytics.Ingested{}, fmt.Errorf("ingest: insert clicks: %w", err)
		}
	} else {
		// A batch that stores no click: its sequence alone.
		if err := s.exec(ctx, fmt.Sprintf(`INSERT INTO analytics_edges VALUES (%s, %d)`, lit(b.Edge), b.Seq)); err != nil {
			return analytics.Ingested{}, fmt.Errorf("ingest: record sequence: %w", err)
		}
	}
	return tally.Ingested(), nil
}

// dayOf is c's UTC day, ok when it is a Date ClickHouse handles.
func dayOf(c *clicks.Click) (day int64, ok bool) {
	u := c.Time.Unix()
	day = u / 86400
	return day, u >= 0 && day <= maxDay
}

// month is a day's partition, YYYYMM as toYYYYMM gives it.
func month(day int64) uint32 {
	y, m, _ := time.Unix(day*86400, 0).UTC().Date()
	return uint32(y*100 + int(m))
}

const clickColumns = `org, link, day, at, id, bot, qr, domain, country, device, browser, os, referer, ip, edge, seq`

// encodeClick appends c as a row of clickColumns.
func encodeClick(e *encoder, c *clicks.Click, org string, day int64, edge string, seq uint64) {
	e.string(org)
	e.string(c.LinkID)
	e.uint16(uint16(day))
	e.int64(c.Time.UnixNano())
	e.bytes(c.ID[:])
	e.bool(c.Bot)
	e.bool(c.QR)
	for _, v := range []string{c.Domain, c.Country, c.Device, c.Browser, c.OS, c.RefererHost} {
		e.string(v)
	}
	e.bytes(c.IPHash[:])
	e.string(edge)
	e.uint64(seq)
}

// storedSeq is what the store holds of an edge's batch: whether
// analytics_edges has it (the batch was stored whole), the last sequence
// among the clicks on the batch's days, and when that is the batch's own,
// the months (partitions) in which its clicks are stored.
type storedSeq struct {
	recorded bool
	last     uint64
	months   map[uint32]bool
}

// stored reads the edge's last sequence: the greatest of analytics_edges
// and of the clicks on the batch's days. A batch shipped again finds its
// own clicks there, on the days they were stored, even when the server
// stopped before the view wrote its sequence.
func (s *Store) stored(ctx context.Context, edge string, seq uint64, days map[int64]bool) (storedSeq, error) {
	var sql strings.Builder
	fmt.Fprintf(&sql, `SELECT toUInt32(0), max(seq), count() FROM analytics_edges WHERE edge = %s`, lit(edge))
	if len(days) > 0 {
		list := make([]string, 0, len(days))
		for _, d := range slices.Sorted(maps.Keys(days)) {
			list = append(list, dayLit(d))
		}
		fmt.Fprintf(&sql, ` UNION ALL SELECT toYYYYMM(day) AS m, max(seq), countIf(seq = %d) FROM analytics_clicks
			WHERE day IN (%s) AND edge = %s GROUP BY m`, seq, strings.Join(list, ", "), lit(edge))
	}
	d, err := s.query(ctx, sql.String())
	if err != nil {
		return storedSeq{}, err
	}
	st := storedSeq{months: map[uint32]bool{}}
	for d.more() {
		m, last, mine := d.uint32(), d.uint64(), d.uint64()
		switch {
		case m == 0: // analytics_edges
			st.recorded = mine > 0 && last >= seq
		case mine > 0:
			st.months[m] = true
			fallthrough
		default:
			st.last = max(st.last, last)
		}
	}
	if st.last != seq {
		clear(st.months)
	}
	return st, d.err
}
