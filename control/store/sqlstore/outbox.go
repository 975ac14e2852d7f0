package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Outbox ids come from an AUTOINCREMENT rowid on SQLite and an identity
// sequence on PostgreSQL, which is allocated at insert time, not at
// commit: with several writers an entry with a smaller id can become
// visible after a larger one. Entries are deleted by id once applied
// (never consumed through a "last id" cursor) and commands carry
// per-object versions, so late visibility only delays an apply.

func (q queries) AppendOutbox(ctx context.Context, cmd []byte, at time.Time) (int64, error) {
	var id int64
	if err := q.db.QueryRowContext(ctx, `INSERT INTO outbox (command, created_at) VALUES ($1, $2) RETURNING id`,
		cmd, ms(at)).Scan(&id); err != nil {
		return 0, fmt.Errorf("append outbox: %w", err)
	}
	return id, nil
}

func (q queries) PendingOutbox(ctx context.Context, olderThan time.Time, n int) ([]store.OutboxEntry, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, command, created_at FROM outbox
		WHERE created_at <= $1 ORDER BY id LIMIT $2`, ms(olderThan), limit(n))
	return collect("pending outbox", rows, err, func(r rowScanner) (store.OutboxEntry, error) {
		var (
			e  store.OutboxEntry
			at int64
		)
		if err := r.Scan(&e.ID, &e.Command, &at); err != nil {
			return store.OutboxEntry{}, fmt.Errorf("scan outbox: %w", err)
		}
		e.CreatedAt = fromMs(at)
		return e, nil
	})
}

// DeleteOutbox removes applied entries (outbox.Publisher's call; on SQLite
// through the writer, queries.write).
func (q queries) DeleteOutbox(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	return q.write(ctx, func(q queries) error {
		if _, err := q.db.ExecContext(ctx, `DELETE FROM outbox
			WHERE id IN (SELECT CAST(value AS BIGINT) FROM {json_each}($1) value)`, jsonList(ids)); err != nil {
			return fmt.Errorf("delete outbox entries: %w", err)
		}
		return nil
	})
}
