// Package chstore is the analytics.Store on ClickHouse, through its HTTP
// interface with net/http alone (ClickHouse 18.16 on up: Debian's; the Go
// drivers of today cannot insert into it). Every control node may share
// one; control opens it when --analytics-clickhouse-url is set.
// control/analytics/DESIGN.md holds the decisions and the figures.
//
// Contract, beyond analytics.Store's:
//
//   - Its tables are its own, in the URL's database, created by Open if
//     missing: analytics_clicks, a row per click in a MergeTree
//     partitioned by month (toYYYYMM(day)), ordered by (org, day, link,
//     at); analytics_edges, edge sequences, which the view
//     analytics_edges_of_clicks feeds from every insert of clicks.
//     Queries read the clicks; there are no rollups.
//   - Exactly once without transactions. An edge's batches go one at a
//     time across nodes: Ingest holds the edge's lock, a table
//     (analytics_lock_*) that only one CREATE TABLE makes, naming its
//     node (Options.Node) and process, dropped after. A lock left by a
//     node that stopped is taken over by the node's next process at once
//     (a node runs one process at a time), by another node once it is a
//     minute old (its holder may be paused, not gone). An INSERT whose
//     answer is lost (timeout, dropped connection) may still be running
//     on the server, so its process keeps the lock for that minute: the
//     batch shipped again is then found stored. A batch's clicks
//     carry its edge and sequence and go in one INSERT
//     (RowBinary), one block: ClickHouse writes a block's part per
//     partition, each whole or not at all, then the view's row. The
//     edge's last sequence is the greatest of analytics_edges and of its
//     clicks on the batch's own days, read under the lock (so a server
//     that stopped after the clicks but before the view still shows
//     them). A batch at or below it is a Duplicate, unless it is the last
//     one itself with a month of its clicks missing (the server stopped
//     between two parts): then the missing months are inserted. A batch
//     that stores no click writes its sequence to analytics_edges alone;
//     DeleteBefore writes the sequences of the clicks it deletes.
//   - Durability is the server's: 18.16 does not fsync parts, so a
//     machine crash may lose the last seconds' parts, which edges, told
//     they were stored, do not ship again.
//   - Strings are bytes: nothing is mended or dropped for its content.
//     Clicks before 1970 or after 2105 (the dates 18.16 handles) are
//     dropped; an empty edge id is refused (clicks.ErrRejected).
//   - Filters fold ASCII case only, as ClickHouse's lower() does.
//   - DeleteBefore is ALTER TABLE … DELETE, a mutation, which 18.16 runs
//     in the background by rewriting every part of the table; it waits
//     for the table's mutations to finish. Idempotent, any node may run
//     it; with nothing to delete it writes nothing.
//   - Export holds a page of at most 10,000 clicks in memory.
//   - It never reads the clock; it only waits on timers for mutations.
package chstore
