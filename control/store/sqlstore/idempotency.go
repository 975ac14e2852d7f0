package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Idempotency keys are written, outside Write, through SQLite's writer
// (queries.write).

// ClaimIdempotencyKey inserts k, or takes over an expired entry of its key,
// in one statement: INSERT … ON CONFLICT decides under the key's row lock
// (PostgreSQL) or the write lock (SQLite), so of two claims of one key, by
// two requests or two control nodes, one wins. When the key is held it
// reads the holder in a second statement; should the holder be gone by
// then (released or purged in between, which only PostgreSQL's read
// committed lets happen), it claims again.
func (q queries) ClaimIdempotencyKey(ctx context.Context, k store.IdempotencyKey, expiredBefore time.Time) (store.IdempotencyKey, bool, error) {
	var (
		held    store.IdempotencyKey
		claimed bool
	)
	err := q.write(ctx, func(q queries) error {
		for range 3 {
			res, err := q.db.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, fingerprint, owner, created_at)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner,
					created_at = excluded.created_at, status = 0, header = NULL, body = NULL
				WHERE idempotency_keys.created_at <= $6`,
				k.Scope, k.Key, k.Fingerprint, k.Owner, ms(k.CreatedAt), ms(expiredBefore))
			if err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			} else if n == 1 {
				held, claimed = k, true
				return nil
			}
			var (
				at     int64
				header sql.NullString
			)
			held = store.IdempotencyKey{Scope: k.Scope, Key: k.Key}
			err = q.db.QueryRowContext(ctx, `SELECT fingerprint, owner, created_at, status, header, body FROM idempotency_keys
				WHERE scope = $1 AND key = $2`, k.Scope, k.Key).Scan(&held.Fingerprint, &held.Owner, &at, &held.Status, &header, &held.Body)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("idempotency key: %w", err)
			}
			held.CreatedAt, held.Header = fromMs(at), fromNullJSON(header)
			return nil
		}
		return errors.New("claim idempotency key: the key was released three times while claimed")
	})
	if err != nil {
		return store.IdempotencyKey{}, false, err
	}
	return held, claimed, nil
}

func (q queries) FinishIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	return q.write(ctx, func(q queries) error {
		res, err := q.db.ExecContext(ctx, `UPDATE idempotency_keys SET status = $1, header = $2, body = $3
			WHERE scope = $4 AND key = $5 AND owner = $6`, k.Status, nullJSON(k.Header), k.Body, k.Scope, k.Key, k.Owner)
		return oneRow("finish idempotency key", res, err)
	})
}

func (q queries) ReleaseIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	return q.write(ctx, func(q queries) error {
		res, err := q.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3`,
			k.Scope, k.Key, k.Owner)
		return oneRow("release idempotency key", res, err)
	})
}

// PurgeIdempotencyKeys deletes the oldest expired entries. On PostgreSQL it
// skips entries another transaction holds (a claim taking one over,
// another purge), so purges never wait or deadlock.
func (q queries) PurgeIdempotencyKeys(ctx context.Context, expiredBefore time.Time, n int) (int, error) {
	var purged int64
	err := q.write(ctx, func(q queries) error {
		res, err := q.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (scope, key) IN (
			SELECT scope, key FROM idempotency_keys WHERE created_at <= $1 ORDER BY created_at LIMIT $2{skip_locked})`,
			ms(expiredBefore), limit(n))
		if err != nil {
			return fmt.Errorf("purge idempotency keys: %w", err)
		}
		purged, err = res.RowsAffected()
		return err
	})
	return int(purged), err
}
