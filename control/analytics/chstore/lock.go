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
// A node that stops while holding it leaves the table: after the lease
// (Store.lease, lockLease) another node drops it and takes the edge.
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
		err := s.exec(ctx, `CREATE TABLE `+name+` (edge String) ENGINE = Null`)
		if err == nil {
			return func() {
				// A lock left by a failed drop is taken over after the lease.
				s.exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+name)
			}, nil
		}
		if !strings.Contains(err.Error(), "Code: 57") && !dropped(err) { // TABLE_ALREADY_EXISTS: another node holds it
			return nil, fmt.Errorf("lock edge: %w", err)
		}
		d, err := s.query(ctx, fmt.Sprintf(`SELECT toInt64(now()) - toInt64(metadata_modification_time) FROM system.tables
			WHERE database = currentDatabase() AND name = %s`, lit(name)))
		if err != nil && !dropped(err) {
			return nil, fmt.Errorf("lock edge: %w", err)
		}
		if err != nil {
			d = &decoder{} // the lock was dropped: no age, try again
		}
		if age := time.Duration(d.int64()) * time.Second; d.err == nil && age > s.lease {
			if err := s.exec(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
				return nil, fmt.Errorf("lock edge: take over a lock of %v: %w", age, err)
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

// dropped reports whether err is UNKNOWN_TABLE, which ClickHouse answers
// a CREATE TABLE or a read of system.tables that meets the DROP of a
// table of the same name (a lock released meanwhile): worth another try.
func dropped(err error) bool {
	return strings.Contains(err.Error(), "Code: 60")
}
