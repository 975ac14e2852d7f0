package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// CreateAPIKey stores the key's digest, never the key; a bot key has no
// user (NULL). A second user key of a user in an org is store.ErrConflict
// (api_keys_one_user_key).
func (q queries) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	res, err := q.db.ExecContext(ctx, `INSERT INTO api_keys
		(id, org_id, type, user_id, name, prefix, digest, permissions, created_by, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		k.ID, k.OrgID, string(k.Type), nullString(k.UserID), k.Name, k.Prefix, k.Digest, string(perms),
		k.CreatedBy, ms(k.CreatedAt), nullMs(k.LastUsedAt), nullMs(k.ExpiresAt))
	return inserted("insert api key", 1, res, err)
}

const keySelect = `SELECT id, org_id, type, user_id, name, prefix, digest, permissions,
	created_by, created_at, last_used_at, expires_at FROM api_keys `

func scanKey(r rowScanner) (store.APIKey, error) {
	var (
		k             store.APIKey
		keyType       string
		userID        sql.NullString
		perms         []byte
		created       int64
		used, expires sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.OrgID, &keyType, &userID, &k.Name, &k.Prefix, &k.Digest, &perms,
		&k.CreatedBy, &created, &used, &expires); err != nil {
		return store.APIKey{}, scanErr("api key", err)
	}
	if err := json.Unmarshal(perms, &k.Permissions); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s permissions: %w", k.ID, err)
	}
	k.Type, k.UserID = identity.KeyType(keyType), userID.String
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMs(created), fromNullMs(used), fromNullMs(expires)
	return k, nil
}

func (q queries) APIKey(ctx context.Context, orgID, id string) (store.APIKey, error) {
	return scanKey(q.db.QueryRowContext(ctx, keySelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	return scanKey(q.db.QueryRowContext(ctx, keySelect+`WHERE digest = $1`, digest))
}

func (q queries) APIKeys(ctx context.Context, orgID string) ([]store.APIKey, error) {
	rows, err := q.db.QueryContext(ctx, keySelect+`WHERE org_id = $1 ORDER BY created_at, id{C}`, orgID)
	return collect("api keys", rows, err, scanKey)
}

// UpdateAPIKey stores a new name, permissions, prefix, digest and expiry; a
// taken digest (random: it does not happen) is store.ErrConflict.
func (q queries) UpdateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	res, err := q.guarded(ctx, `UPDATE api_keys SET name = $1, permissions = $2, prefix = $3, digest = $4, expires_at = $5
		WHERE org_id = $6 AND id = $7`,
		k.Name, string(perms), k.Prefix, k.Digest, nullMs(k.ExpiresAt), k.OrgID, k.ID)
	return oneRow("update api key", res, err)
}

func (q queries) DeleteAPIKey(ctx context.Context, orgID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM api_keys WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete api key", res, err)
}

func (q queries) DeleteUserKeys(ctx context.Context, orgID, userID string) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM api_keys WHERE (org_id = $1 OR $1 = '') AND user_id = $2 AND type = $3`,
		orgID, userID, string(identity.KeyUser)); err != nil {
		return fmt.Errorf("delete user keys: %w", err)
	}
	return nil
}

// TouchAPIKey writes at most once per minAge, and on SQLite through the
// writer (queries.write): a busy key costs one write a minute, not one a
// request.
func (q queries) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	return q.write(ctx, func(q queries) error {
		if _, err := q.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1
			WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
			ms(at), id, ms(at.Add(-minAge))); err != nil {
			return fmt.Errorf("touch api key: %w", err)
		}
		return nil
	})
}
