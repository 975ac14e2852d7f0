package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/h0p/h0p/control/store"
)

// CreateUser fails with store.ErrConflict when the email is taken.
func (q queries) CreateUser(ctx context.Context, u store.User) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, email_verified_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.ID, u.Email, u.Name, u.PasswordHash, ms(u.CreatedAt), nullMs(u.EmailVerifiedAt))
	return inserted("insert user", 1, res, err)
}

const userSelect = `SELECT id, email, name, password_hash, created_at, email_verified_at FROM users `

func scanUser(r rowScanner) (store.User, error) {
	var (
		u        store.User
		at       int64
		verified sql.NullInt64
	)
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &at, &verified); err != nil {
		return store.User{}, scanErr("user", err)
	}
	u.CreatedAt, u.EmailVerifiedAt = fromMs(at), fromNullMs(verified)
	return u, nil
}

func (q queries) User(ctx context.Context, id string) (store.User, error) {
	return scanUser(q.db.QueryRowContext(ctx, userSelect+`WHERE id = $1`, id))
}

func (q queries) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return scanUser(q.db.QueryRowContext(ctx, userSelect+`WHERE email = $1`, email))
}

func (q queries) SetPassword(ctx context.Context, userID, hash string) error {
	res, err := q.db.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	return oneRow("set password", res, err)
}

func (q queries) SetEmailVerified(ctx context.Context, userID string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE users SET email_verified_at = $1 WHERE id = $2`, ms(at), userID)
	return oneRow("set email verified", res, err)
}
