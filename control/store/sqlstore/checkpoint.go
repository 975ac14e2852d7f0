package sqlstore

import (
	"context"
	"log/slog"
	"time"
)

// Checkpoints (SQLite). SQLite's automatic checkpoint runs inside the
// commit that pushes the WAL past 1,000 pages, on the one writer goroutine,
// where it cost a tenth of a bulk create's time (copying pages back into
// the database file and an fsync of it). The store turns it off
// (wal_autocheckpoint=0) and checkpoints from its own goroutine instead, on
// another connection, in PASSIVE mode: it copies what no reader still needs
// and never blocks the writer, which goes on appending to the WAL
// meanwhile. SQLite restarts the WAL from its beginning once a checkpoint
// has caught up, so the file stops growing at about one interval's worth of
// writes.
const checkpointInterval = 250 * time.Millisecond

func (s *Store) checkpointer() {
	defer close(s.checkpointerDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			if _, err := s.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				slog.Warn("sqlite checkpoint failed", "err", err)
			}
		}
	}
}
