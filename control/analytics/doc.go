// Package analytics is control's click store: what it keeps of the clicks
// edges ship, and the stats, event lists and exports read from it. Store is
// the interface; pebblestore the embedded engine, pgstore the one control
// nodes share on PostgreSQL; analyticstest the suite every engine passes.
// Decisions and figures are in DESIGN.md.
//
// Contract:
//
//   - Exactly once. Ingest stores a clicks.Batch once: an edge's last
//     stored sequence is written in the same durable write as the
//     batch's clicks, and a batch at or below it stores nothing and
//     answers Duplicate. Edges ship in order; a gap is accepted. An edge
//     that loses its sequence must take a new id.
//   - Ingest asks the caller (OrgsOf) for the orgs of a batch's distinct
//     links, once a batch. Clicks of a link without one are dropped and
//     counted; an error stores nothing, so the edge ships again.
//   - Ingested is for control's SQL store: per link, its non-bot clicks
//     and last non-bot click (one update per link per batch); per org and
//     month (UTC), its non-bot clicks for usage. Bots are stored flagged
//     and excluded from stats unless a query asks (Bots).
//   - Link attributes are the caller's: key and tag filters arrive as link
//     ids (Filter.Link, Match.And), and the tag and UTM groupings with
//     each link's values (Query.LinkValues), as control's SQL store holds
//     them when the query runs. The store keeps of a link only its id.
//   - Ranges are [Start, End). Timeseries buckets are hours, days or
//     months of the query's IANA zone, daylight saving included, empty
//     ones 0 (Query.Buckets).
//   - A visitor is an IPHash within one UTC day (the edges' salt changes
//     daily): a bucket's or row's visitors are, summed over UTC days, the
//     distinct hashes of that day. Someone clicking on three days counts
//     three times; so may a local day that spans two UTC days count twice.
//   - Empty countries, devices, browsers, OSes and domains show as
//     "Unknown", no referer as "(direct)", triggers as link or qr (Value).
//     Filters match link ids exactly, other values regardless of case.
//   - DeleteBefore deletes whole UTC days; Retention runs it for each org
//     from its plan. A query reaching beyond the plan's retention is
//     refused before the store (CheckRetention: PLAN_LIMIT_REACHED).
//   - Errors on what a client sent are apierror VALIDATION_ERRORs naming
//     the parameter (the Parse helpers, Query.Check). Nothing here knows
//     HTTP.
package analytics
