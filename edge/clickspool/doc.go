// Package clickspool keeps an edge's clicks on its own disk until control
// has them, and ships them there: every click that reached the spool gets
// to control exactly once, through an edge crash, a restart or a control
// outage, unless the disk budget runs out first.
//
// The Spool is a directory of slot files, each holding one encoded
// clicks.Batch (shared/clicks), a segment, or none (slot.go). The open
// segment is kept in memory, laid out as a slot will hold it; sealing it
// writes it whole, in one write, into an empty slot, with direct I/O
// where the filesystem takes it (the page cache bypassed) and O_DSYNC: a
// crash leaves whole segments, at most one torn slot, and loses the open
// segment. A slot is made (written, synced, renamed into place, the
// directory synced) only when no empty one fits, and emptied, not
// deleted, once its segment is shipped. At Open, temporary files,
// misnamed slots and torn slots are logged and counted, then removed or
// emptied; a segment whose bytes fail their checksum when read for
// shipping is dropped the same way, its clicks counted as dropped.
//
// Sequence numbers grow by one per segment and are never reused: the spool
// keeps a high-water mark in its state file, reserved a range at a time, so
// a restart continues above any number it may have used, even when every
// segment was shipped. A batch's edge id is "<node id>/<incarnation>", the
// incarnation a random id made with the state file: an edge whose disk was
// wiped starts a new sequence under a new id, never one control has seen.
// Control stores a batch once per (edge id, sequence) and acknowledges one
// it already has.
//
// The Shipper takes the edge's click queue every TakeEvery on a ticker
// (Queue: the clicks come encoded, swapped with the shipper's buffer) and
// moves them into the open segment, allocating nothing: its CPU is taken
// from the edge's event loop, whose requests wait behind it (behind a
// garbage collection it caused too). A segment is sealed when it
// holds SegmentClicks clicks or SegmentBytes bytes, or its first click is
// Interval old, so a click is on disk within about one Interval. It ships
// the segments oldest first, one at a time, through a Sink, and empties a
// segment's slot only once the Sink returned nil. A failure is retried, same
// segment and same sequence, after a capped exponential backoff with
// jitter; a refusal for good (clicks.ErrRejected, clicks.ErrCorrupt)
// moves the segment to rejected/, logged and counted. Shipping starts at
// most Rate batches a second, the pace at which a backlog drains once
// control is back.
//
// The disk budget (MaxBytes) bounds the slots, those of unshipped
// segments and the empty ones kept for reuse (at most a quarter of it): a
// segment that would not fit drops the oldest ones (not the one being
// shipped), counted in h0p_edge_clicks_spool_dropped_total{reason="budget"}
// and logged. A failing disk write stops the draining, so the edge's queue
// fills and drops (h0p_edge_clicks_dropped_total) rather than the
// shipper's memory growing. One Shipper, in one process, uses a spool
// directory.
package clickspool
