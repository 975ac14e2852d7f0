package sqlstore

import (
	"context"
	"fmt"

	"github.com/h0p/h0p/control/store"
)

func (q queries) CreateSession(ctx context.Context, s store.Session) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO sessions (id, user_id, digest, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, s.Digest, ms(s.CreatedAt), ms(s.ExpiresAt))
	return inserted("insert session", 1, res, err)
}

func (q queries) SessionByDigest(ctx context.Context, digest []byte) (store.Session, error) {
	var (
		s                store.Session
		created, expires int64
	)
	err := q.db.QueryRowContext(ctx, `SELECT id, user_id, digest, created_at, expires_at FROM sessions WHERE digest = $1`,
		digest).Scan(&s.ID, &s.UserID, &s.Digest, &created, &expires)
	if err != nil {
		return store.Session{}, scanErr("session", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMs(created), fromMs(expires)
	return s, nil
}

func (q queries) DeleteSession(ctx context.Context, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return oneRow("delete session", res, err)
}

func (q queries) DeleteSessions(ctx context.Context, userID, except string) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, except); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
