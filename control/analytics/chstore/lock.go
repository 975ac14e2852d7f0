package chstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// An edge's lock across control nodes is a table: CREATE TABLE of a name
// that exists fails, so of the nodes creating an edge's lock table at
// once exactly one succeeds, and holds the edge until it drops the table.
// Its one column names the node that holds it (Options.Node) and the
// holding process (a random instance of each Store). A node that stops
// while holding it leaves the table: the node's next process takes it
// over at once, since a node runs one process at a time (its data
// directory is locked), so the lock's holder is gone. Another node, and
// the holding process itself (which keeps the lock after an INSERT whose
// answer was lost, see Ingest), wait for the lease (Store.lease,
// lockLease), as a holder that is only paused, or an INSERT still running
// on the server, may still write.
const (
	lockLease = time.Minute
	lockPoll  = 10 * time.Millisecond
)

// lockName is the table that is edge's lock.
func lockName(edge string) string {
	h := sha256.Sum256([]byte(edge))
	return "analytics_lock_" + hex.EncodeToString(h[:10])
}

// lockEdge takes edge's lock, waiting for a node that holds it, and
// returns its release.
func (s *Store) lockEdge(ctx context.Context, edge string) (release func(), err error) {
	name := lockName(edge)
	for {
		err := s.exec(ctx, `CREATE TABLE `+name+` (`+s.owner+` UInt8) ENGINE = Null`)
		if err == nil {
			return func() {
				// A lock left by a failed drop is taken over by this
				// node's next ingest of the edge, by others after the lease.
				s.exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+name)
			}, nil
		}
		if !strings.Contains(err.Error(), "Code: 57") && !dropped(err) { // TABLE_ALREADY_EXISTS: another node holds it
			return nil, fmt.Errorf("lock edge: %w", err)
		}
		d, err := s.query(ctx, fmt.Sprintf(`SELECT toInt64(now()) - toInt64(metadata_modification_time),
			(SELECT any(name) FROM system.columns WHERE database = currentDatabase() AND table = %[1]s)
			FROM system.tables WHERE database = currentDatabase() AND name = %[1]s`, lit(name)))
		if err != nil && !dropped(err) {
			return nil, fmt.Errorf("lock edge: %w", err)
		}
		if err != nil {
			d = &decoder{} // the lock was dropped: no age, try again
		}
		age, holder := time.Duration(d.int64())*time.Second, d.string()
		if d.err == nil && (age > s.lease || s.node != "" && holder != s.owner && strings.HasPrefix(holder, lockNode(s.node))) {
			if err := s.exec(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
				return nil, fmt.Errorf("lock edge: take over a lock of %v held by %s: %w", age, holder, err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock edge: %w", ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// lockOwner is the column name that says a process of node holds a lock:
// node in hex, so any ID makes a plain identifier, then the process's own
// random instance; "edge" for a store of no node.
func lockOwner(node, instance string) string {
	if node == "" {
		return "edge"
	}
	return lockNode(node) + instance
}

// lockNode is the start of the lock owners of node's processes.
func lockNode(node string) string {
	return "node_" + hex.EncodeToString([]byte(node)) + "_"
}

// dropped reports whether err is what ClickHouse answers a CREATE TABLE
// or a read of system.tables that meets the DROP of a lock (released
// meanwhile): UNKNOWN_TABLE, or a lock table's metadata file not found.
// A read of system.tables opens every table's metadata file, so the lock
// dropped may be another edge's. Worth another try.
func dropped(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Code: 60") ||
		strings.Contains(msg, "File not found") && strings.Contains(msg, "/analytics_lock_")
}
