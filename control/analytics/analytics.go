package analytics

import (
	"context"
	"time"

	"github.com/h0p/h0p/shared/clicks"
)

// Store is the click store: what control's ingestion, the stats API, the
// events list and export, and the retention job use. The embedded engine
// is pebblestore, the shared one pgstore; every engine runs analyticstest.
type Store interface {
	// Ingest stores b once: a batch whose sequence is at or below the last
	// one stored for its edge stores nothing and answers Duplicate. The
	// clicks and the edge's new sequence are written together, durably,
	// before Ingest returns. orgsOf names the org of each link; clicks of a
	// link it does not name are dropped (counted in Dropped), and an error
	// from it fails the ingest, storing nothing. A batch no retry can
	// store (an edge id no key can hold) is refused with clicks.ErrRejected.
	Ingest(ctx context.Context, b *clicks.Batch, orgsOf OrgsOf) (Ingested, error)
	// Query answers a stats query; it checks q first (Query.Check).
	Query(ctx context.Context, q Query) (Result, error)
	// Events lists an org's clicks newest first, a page at a time.
	Events(ctx context.Context, q EventQuery) (EventPage, error)
	// Export calls fn with each of an org's clicks matching q, oldest
	// first, holding a bounded part of them in memory (pebblestore an
	// hour of clicks, pgstore a page); q's Limit and Cursor are ignored.
	// An error from fn stops it and is returned.
	Export(ctx context.Context, q EventQuery, fn func(*clicks.Click) error) error
	// Orgs lists the orgs the store holds clicks of.
	Orgs(ctx context.Context) ([]string, error)
	// DeleteBefore deletes an org's clicks and rollups of every UTC day
	// that ends at or before t.
	DeleteBefore(ctx context.Context, org string, t time.Time) error
	Close() error
}

// OrgsOf returns the org of each of linkIDs that has one. Ingest calls it
// once a batch with the batch's distinct link ids.
type OrgsOf func(ctx context.Context, linkIDs []string) (map[string]string, error)

// KnownOrgs is an OrgsOf for clicks whose orgs the caller has already:
// orgs[i] is the org of cs[i].
func KnownOrgs(cs []clicks.Click, orgs []string) OrgsOf {
	m := make(map[string]string)
	for i := range cs {
		m[cs[i].LinkID] = orgs[i]
	}
	return func(context.Context, []string) (map[string]string, error) { return m, nil }
}

// Ingested is what one batch added. Bots are stored (flagged) but counted
// nowhere here: a link's clicks and an org's usage are of non-bot clicks,
// the same clicks its stats show by default.
type Ingested struct {
	Duplicate bool         // the batch was stored before; nothing else is set
	Links     []LinkClicks // links with non-bot clicks in the batch, by id
	Usage     []Usage      // non-bot clicks per org and month, by org then month
	Stored    int          // clicks stored, bots included
	Dropped   int          // clicks not stored: no org for the link, or an id or time no key can hold
}

// LinkClicks is one link's share of a batch: control adds Clicks to the
// link's click count and sets its last click to LastClick if later.
type LinkClicks struct {
	LinkID    string
	Org       string
	Clicks    int64
	LastClick time.Time
}

// Usage is an org's non-bot clicks in a calendar month (UTC, "2026-11",
// as plans.Period), from the clicks' own times.
type Usage struct {
	Org    string
	Period string
	Clicks int64
}

// Result answers a Query. Count sets Clicks (and Visitors); timeseries
// sets Series, one Point per bucket, empty buckets included; the other
// groupings set Rows, by clicks (then value), at most Limit of them.
// Visitors is set only when the query asks for Unique.
type Result struct {
	Clicks   int64
	Visitors int64
	Series   []Point
	Rows     []Row
}

// Point is a timeseries bucket: from Start (in the query's zone) to the
// next Point's Start, or the query's End for the last.
type Point struct {
	Start    time.Time
	Clicks   int64
	Visitors int64
}

// Row is one value of the grouped dimension.
type Row struct {
	Value    string
	Clicks   int64
	Visitors int64
}

// EventQuery selects raw clicks of one org in [Start, End).
type EventQuery struct {
	Org        string
	Start, End time.Time
	Filter     Filter
	Bots       Bots
	Limit      int    // page size: 1 to MaxEventLimit, 0 for DefaultEventLimit
	Cursor     string // the previous page's Next, "" for the first page
}

// Page sizes of Events.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventPage is a page of Events: clicks newest first (by time, then id).
// Next is the cursor of the following page, "" when there is none.
type EventPage struct {
	Events []clicks.Click
	Next   string
}
