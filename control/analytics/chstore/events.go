package chstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// exportPage is how many clicks Export reads with one query.
const exportPage = 10_000

// Events reads a page newest first, after the cursor's click, by (at, id).
func (s *Store) Events(ctx context.Context, q analytics.EventQuery) (analytics.EventPage, error) {
	return analytics.EventsByPages(ctx, q, s.events)
}

// Export reads the clicks oldest first, a page of exportPage at a time.
func (s *Store) Export(ctx context.Context, q analytics.EventQuery, fn func(*clicks.Click) error) error {
	return analytics.ExportByPages(ctx, q, exportPage, s.events, fn)
}

// firstWindow is the span events reads first, from the end of the range
// it pages through (the start, oldest first); each further read spans
// four times the last, until the page is full or the range read: a page
// of the newest clicks reads their day, not the whole range.
const firstWindow = 24 * time.Hour

// lastWindow bounds the windows: one this wide reads the rest of the
// range (a Duration overflows near 292 years; a range may end in 9999).
const lastWindow = 100 * 365 * 24 * time.Hour

// events reads up to limit of q's clicks past after (nil: from the start
// of the order), newest first or, for oldest, oldest first, by time and
// then id, in windows from where the order starts.
func (s *Store) events(ctx context.Context, q *analytics.EventQuery, after *clicks.Click, oldest bool, limit int) ([]clicks.Click, error) {
	lo, hi := q.Start, q.End
	if after != nil {
		if oldest {
			lo = latest(lo, after.Time)
		} else if t := after.Time.Add(1); t.Before(hi) {
			hi = t
		}
	}
	var out []clicks.Click
	for w := firstWindow; lo.Before(hi) && len(out) < limit; w = min(4*w, lastWindow) {
		from, to := lo, hi
		if w < lastWindow && w < hi.Sub(lo) {
			if oldest {
				to = lo.Add(w)
			} else {
				from = hi.Add(-w)
			}
		}
		cs, err := s.eventsIn(ctx, q, from, to, after, oldest, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if oldest {
			lo = to
		} else {
			hi = from
		}
	}
	return out, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// eventsIn reads up to limit of q's clicks in [from, to) past after.
func (s *Store) eventsIn(ctx context.Context, q *analytics.EventQuery, from, to time.Time, after *clicks.Click, oldest bool, limit int) ([]clicks.Click, error) {
	conds := where(q.Org, from, to, &q.Filter, q.Bots)
	order, cmp := "DESC", "<"
	if oldest {
		order, cmp = "ASC", ">"
	}
	if after != nil {
		at := analytics.UnixNanos(after.Time)
		id := fmt.Sprintf("toFixedString(unhex('%s'), 16)", hex.EncodeToString(after.ID[:]))
		conds = append(conds, fmt.Sprintf("at %s= %d", cmp, at), fmt.Sprintf("(at %s %d OR id %s %s)", cmp, at, cmp, id))
	}
	d, err := s.query(ctx, fmt.Sprintf(`SELECT at, bot, qr, link, id, domain, country, device, browser, os, referer, ip
		FROM analytics_clicks WHERE %s ORDER BY at %s, id %s LIMIT %d`, strings.Join(conds, " AND "), order, order, limit))
	if err != nil {
		return nil, err
	}
	var out []clicks.Click
	for d.more() {
		var c clicks.Click
		c.Time = time.Unix(0, d.int64()).UTC()
		c.Bot, c.QR = d.uint8() != 0, d.uint8() != 0
		c.LinkID = d.string()
		d.fixed(c.ID[:])
		for _, f := range []*string{&c.Domain, &c.Country, &c.Device, &c.Browser, &c.OS, &c.RefererHost} {
			*f = d.string()
		}
		d.fixed(c.IPHash[:])
		out = append(out, c)
	}
	return out, d.err
}
