package analytics

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/h0p/h0p/shared/clicks"
)

// PageReader reads up to limit of q's clicks past after (nil: from the
// start of the order), newest first or, for oldest, oldest first, by time
// and then id: keyset paging, which the SQL engines implement and
// EventsByPages and ExportByPages page with.
type PageReader func(ctx context.Context, q *EventQuery, after *clicks.Click, oldest bool, limit int) ([]clicks.Click, error)

// EventsByPages is Store.Events for an engine that reads pages with read:
// the cursor is the last click's (time, id).
func EventsByPages(ctx context.Context, q EventQuery, read PageReader) (EventPage, error) {
	if err := q.Check(); err != nil {
		return EventPage{}, err
	}
	var after *clicks.Click
	if q.Cursor != "" {
		t, id, err := DecodeCursor(q.Cursor)
		if err != nil {
			return EventPage{}, err
		}
		after = &clicks.Click{Time: t, ID: id}
	}
	cs, err := read(ctx, &q, after, false, q.Limit)
	if err != nil {
		return EventPage{}, fmt.Errorf("events: %w", err)
	}
	page := EventPage{Events: cs}
	if len(cs) == q.Limit {
		last := cs[len(cs)-1]
		page.Next = EncodeCursor(last.Time, last.ID)
	}
	return page, nil
}

// ExportByPages is Store.Export for an engine that reads pages with read,
// size clicks at a time, oldest first.
func ExportByPages(ctx context.Context, q EventQuery, size int, read PageReader, fn func(*clicks.Click) error) error {
	q.Limit, q.Cursor = 0, ""
	if err := q.Check(); err != nil {
		return err
	}
	var after *clicks.Click
	for {
		cs, err := read(ctx, &q, after, true, size)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for i := range cs {
			if err := fn(&cs[i]); err != nil {
				return err
			}
		}
		if len(cs) < size {
			return nil
		}
		after = &cs[len(cs)-1]
	}
}

// UnixNanos is t in Unix nanoseconds, as the SQL engines keep a click's
// time, clamped to what an int64 holds: a range may end in the year 9999.
func UnixNanos(t time.Time) int64 {
	const most = math.MaxInt64/1_000_000_000 - 1 // seconds
	switch s := t.Unix(); {
	case s > most:
		return math.MaxInt64
	case s < -most:
		return math.MinInt64
	}
	return t.UnixNano()
}
