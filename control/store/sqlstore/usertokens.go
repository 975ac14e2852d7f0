package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

func (q queries) CreateUserToken(ctx context.Context, t store.UserToken) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO user_tokens (id, user_id, purpose, digest, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		t.ID, t.UserID, t.Purpose, t.Digest, ms(t.CreatedAt), ms(t.ExpiresAt), nullMs(t.UsedAt))
	return inserted("insert user token", 1, res, err)
}

func (q queries) UserTokenByDigest(ctx context.Context, digest []byte) (store.UserToken, error) {
	var (
		t                store.UserToken
		created, expires int64
		used             sql.NullInt64
	)
	err := q.db.QueryRowContext(ctx, `SELECT id, user_id, purpose, digest, created_at, expires_at, used_at
		FROM user_tokens WHERE digest = $1`, digest).
		Scan(&t.ID, &t.UserID, &t.Purpose, &t.Digest, &created, &expires, &used)
	if err != nil {
		return store.UserToken{}, scanErr("user token", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMs(created), fromMs(expires), fromNullMs(used)
	return t, nil
}

// UseUserToken sets used_at only while it is unset, so of two uses one
// finds the row and the other ErrNotFound.
func (q queries) UseUserToken(ctx context.Context, id string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE user_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, ms(at), id)
	return oneRow("use user token", res, err)
}

func (q queries) UseUserTokens(ctx context.Context, userID, purpose string, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL`,
		ms(at), userID, purpose)
	if err != nil {
		return fmt.Errorf("use user tokens: %w", err)
	}
	return nil
}

func (q queries) CountUserTokens(ctx context.Context, userID, purpose string, since time.Time) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM user_tokens WHERE user_id = $1 AND purpose = $2 AND created_at >= $3`,
		userID, purpose, ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count user tokens: %w", err)
	}
	return n, nil
}

func (q queries) PurgeUserTokens(ctx context.Context, before time.Time) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM user_tokens WHERE expires_at < $1`, ms(before)); err != nil {
		return fmt.Errorf("purge user tokens: %w", err)
	}
	return nil
}
