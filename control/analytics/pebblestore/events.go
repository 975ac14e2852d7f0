package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// Events reads hour by hour back from the end (or the cursor), skipping
// hours without clicks: a page costs the decoding of the hours it spans.
func (s *Store) Events(ctx context.Context, q analytics.EventQuery) (analytics.EventPage, error) {
	if err := q.Check(); err != nil {
		return analytics.EventPage{}, err
	}
	end := q.End
	var after func(c *clicks.Click) bool // the clicks still to list, by the cursor
	if q.Cursor != "" {
		ct, cid, err := analytics.DecodeCursor(q.Cursor)
		if err != nil {
			return analytics.EventPage{}, err
		}
		if ct.Before(end) {
			end = ct.Add(1)
		}
		after = func(c *clicks.Click) bool { return compareClicks(c, ct, cid) < 0 }
	}
	mode, links, notLinks := linksOf(&q.Filter)
	it, err := s.db.NewIter(nil)
	if err != nil {
		return analytics.EventPage{}, fmt.Errorf("events: %w", err)
	}
	defer it.Close()
	prefix := orgPrefix(nil, prefixEvents, q.Org)
	first := unitOf(granHour, q.Start)
	var page analytics.EventPage
	var hour []clicks.Click
	for h := unitOf(granHour, end.Add(-1)); h >= first; {
		hour = hour[:0]
		sp := span{prefix: prefix, dim: -1, u0: h, u1: h + 1, mode: mode, links: links}
		err := s.readChunks(it, &sp, &q, notLinks, func(_ uint32, c *clicks.Click) error {
			if after == nil || after(c) {
				hour = append(hour, *c)
			}
			return ctx.Err()
		})
		if err != nil {
			return analytics.EventPage{}, fmt.Errorf("events: %w", err)
		}
		slices.SortFunc(hour, func(a, b clicks.Click) int { return -compareClicks(&a, b.Time, b.ID) })
		for _, c := range hour {
			page.Events = append(page.Events, c)
			if len(page.Events) == q.Limit {
				page.Next = analytics.EncodeCursor(c.Time, c.ID)
				return page, nil
			}
		}
		// The previous hour holding clicks of the org.
		if !it.SeekLT(appendUnit(bytes.Clone(prefix), h)) || !bytes.HasPrefix(it.Key(), prefix) ||
			len(it.Key()) < len(prefix)+4 {
			break
		}
		h = binary.BigEndian.Uint32(it.Key()[len(prefix):])
		if ctx.Err() != nil {
			return analytics.EventPage{}, ctx.Err()
		}
	}
	if err := it.Error(); err != nil {
		return analytics.EventPage{}, fmt.Errorf("events: %w", err)
	}
	return page, nil
}

// Export streams the clicks hour by hour, each hour sorted by time.
func (s *Store) Export(ctx context.Context, q analytics.EventQuery, fn func(*clicks.Click) error) error {
	q.Limit, q.Cursor = 0, ""
	if err := q.Check(); err != nil {
		return err
	}
	mode, links, notLinks := linksOf(&q.Filter)
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer it.Close()
	var hour []clicks.Click
	flush := func() error {
		slices.SortFunc(hour, func(a, b clicks.Click) int { return compareClicks(&a, b.Time, b.ID) })
		for i := range hour {
			if err := fn(&hour[i]); err != nil {
				return err
			}
		}
		hour = hour[:0]
		return ctx.Err()
	}
	cur := uint32(0)
	sp := chunkSpan(q.Org, q.Start, q.End, mode, links)
	err = s.readChunks(it, &sp, &q, notLinks, func(h uint32, c *clicks.Click) error {
		if h != cur {
			if err := flush(); err != nil {
				return err
			}
			cur = h
		}
		hour = append(hour, *c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return flush()
}

// readChunks calls fn with each click of sp's chunks that q selects, and
// the hour of its chunk.
func (s *Store) readChunks(it *pebble.Iterator, sp *span, q *analytics.EventQuery, notLinks map[string]bool,
	fn func(hour uint32, c *clicks.Click) error) error {
	start, end := q.Start.UnixNano(), q.End.UnixNano()
	var (
		r    chunkReader
		c    rawClick
		dict [][]byte
	)
	return walk(it, sp, func(h uint32, link, _, value []byte) error {
		if notLinks[string(link)] {
			return nil
		}
		if err := r.reset(value, h, dict); err != nil {
			return err
		}
		dict = r.dict
		id := string(link)
		for {
			ok, err := r.next(&c)
			if err != nil || !ok {
				return err
			}
			if c.ns < start || c.ns >= end || !q.Bots.Keep(c.flags&flagBot != 0) {
				continue
			}
			click := r.click(&c, id)
			if !q.Filter.Keeps(&click) {
				continue
			}
			if err := fn(h, &click); err != nil {
				return err
			}
		}
	})
}

// compareClicks orders clicks by time, then id.
func compareClicks(a *clicks.Click, t time.Time, id [16]byte) int {
	return cmp.Or(a.Time.Compare(t), bytes.Compare(a.ID[:], id[:]))
}
