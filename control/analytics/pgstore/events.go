package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// exportPage is how many clicks Export reads with one query.
const exportPage = 10_000

// Events reads a page newest first, after the cursor's click: keyset
// paging on (at, id), down the org's (or a link's) time index.
func (s *Store) Events(ctx context.Context, q analytics.EventQuery) (analytics.EventPage, error) {
	return analytics.EventsByPages(ctx, q, s.events)
}

// Export reads the clicks oldest first, a page of exportPage at a time.
func (s *Store) Export(ctx context.Context, q analytics.EventQuery, fn func(*clicks.Click) error) error {
	return analytics.ExportByPages(ctx, q, exportPage, s.events, fn)
}

// events reads up to limit of q's clicks past after (nil: from the start
// of the order), newest first or, for oldest, oldest first, by time and
// then id.
func (s *Store) events(ctx context.Context, q *analytics.EventQuery, after *clicks.Click, oldest bool, limit int) ([]clicks.Click, error) {
	st := &statement{}
	st.printf(`SELECT c.at, c.bot, c.qr, c.link, c.id, c.domain, c.country, c.device, c.browser, c.os, c.referer, c.ip
		FROM analytics_clicks c`)
	conds := append(clickConds(st, &q.Filter, q.Bots),
		"c.org = "+st.arg(q.Org), "c.at >= "+st.arg(analytics.UnixNanos(q.Start)), "c.at < "+st.arg(analytics.UnixNanos(q.End)))
	order := "DESC"
	if oldest {
		order = "ASC"
	}
	if after != nil {
		at, id := st.arg(analytics.UnixNanos(after.Time)), st.arg(after.ID[:])
		if oldest {
			conds = append(conds, "c.at >= "+at, "(c.at, c.id) > ("+at+", "+id+")")
		} else {
			conds = append(conds, "c.at <= "+at, "(c.at, c.id) < ("+at+", "+id+")")
		}
	}
	st.where(conds)
	st.printf(" ORDER BY c.at %s, c.id %s LIMIT %s", order, order, st.arg(limit))
	rows, err := s.pool.Query(ctx, st.sql.String(), st.args...)
	if err != nil {
		return nil, err
	}
	var (
		out     []clicks.Click
		c       clicks.Click
		at      int64
		id, ip  []byte
		scanned = []any{&at, &c.Bot, &c.QR, &c.LinkID, &id, &c.Domain, &c.Country, &c.Device, &c.Browser, &c.OS, &c.RefererHost, &ip}
	)
	_, err = pgx.ForEachRow(rows, scanned, func() error {
		if len(id) != len(c.ID) || len(ip) != len(c.IPHash) {
			return fmt.Errorf("click of %s at %d: id or IP hash of %d and %d bytes", c.LinkID, at, len(id), len(ip))
		}
		c.Time = time.Unix(0, at).UTC()
		copy(c.ID[:], id)
		copy(c.IPHash[:], ip)
		out = append(out, c)
		return nil
	})
	return out, err
}
