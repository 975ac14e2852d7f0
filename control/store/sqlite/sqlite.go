// Package sqlite is the embedded control store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode with synchronous=FULL (it is the
// source of truth) and write transactions taken IMMEDIATE so concurrent
// writers queue instead of failing on lock upgrade.
//
// Timestamps are stored as Unix milliseconds, the precision the API shows.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/h0p/h0p/control/store"
)

// Store implements store.Store on SQLite.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) Close() error { return s.db.Close() }

// migrations run in order, each once; append only, never edit one that has
// shipped.
var migrations = []string{
	`CREATE TABLE orgs (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		created_at INTEGER NOT NULL
	);
	CREATE TABLE users (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL DEFAULT '',
		password_hash TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	);
	CREATE TABLE memberships (
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (org_id, user_id)
	);
	CREATE TABLE api_keys (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		type TEXT NOT NULL,
		user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		prefix TEXT NOT NULL,
		digest BLOB NOT NULL UNIQUE,
		permissions TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		last_used_at INTEGER,
		expires_at INTEGER
	);
	CREATE UNIQUE INDEX api_keys_one_user_key ON api_keys(org_id, user_id) WHERE type = 'user';
	CREATE TABLE links (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		domain TEXT NOT NULL,
		key TEXT NOT NULL,
		url TEXT NOT NULL,
		version INTEGER NOT NULL,
		created_by TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		UNIQUE (domain, key)
	);
	CREATE INDEX links_org ON links(org_id, id);
	CREATE TABLE outbox (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		command BLOB NOT NULL,
		created_at INTEGER NOT NULL
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for i, m := range migrations {
		version := i + 1
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
	}
	return nil
}

// tx runs fn in a write transaction, committing if it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMs stores the zero time as NULL.
func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// nullString stores "" as NULL (bot keys have no user).
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMs(v.Int64)
}

func (s *Store) HasOrgs(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM orgs LIMIT 1)`).Scan(&n); err != nil {
		return false, fmt.Errorf("count orgs: %w", err)
	}
	return n > 0, nil
}

func (s *Store) CreateBootstrap(ctx context.Context, b store.Bootstrap) error {
	perms, err := json.Marshal(b.Key.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`,
			b.Org.ID, b.Org.Name, ms(b.Org.CreatedAt)); err != nil {
			return fmt.Errorf("insert org: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)`,
			b.Owner.ID, b.Owner.Email, b.Owner.Name, ms(b.Owner.CreatedAt))
		if isUnique(err) {
			return fmt.Errorf("insert user %s: %w", b.Owner.Email, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
			b.Org.ID, b.Owner.ID, store.RoleOwner, ms(b.Org.CreatedAt)); err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		k := b.Key
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys
			(id, org_id, type, user_id, name, prefix, digest, permissions, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.OrgID, k.Type, nullString(k.UserID), k.Name, k.Prefix, k.Digest, string(perms), k.CreatedBy,
			ms(k.CreatedAt), nullMs(k.ExpiresAt)); err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return nil
	})
}

func (s *Store) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	var (
		k            store.APIKey
		userID       sql.NullString
		perms        string
		created      int64
		used, expire sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, type, user_id, name, prefix, digest, permissions,
		created_by, created_at, last_used_at, expires_at FROM api_keys WHERE digest = ?`, digest).Scan(
		&k.ID, &k.OrgID, &k.Type, &userID, &k.Name, &k.Prefix, &k.Digest, &perms,
		&k.CreatedBy, &created, &used, &expire)
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("api key by digest: %w", err)
	}
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s permissions: %w", k.ID, err)
	}
	k.UserID = userID.String
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMs(created), fromNullMs(used), fromNullMs(expire)
	return k, nil
}

func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		ms(at), id, ms(at.Add(-minAge)))
	if err != nil {
		return fmt.Errorf("touch api key: %w", err)
	}
	return nil
}

func (s *Store) CreateLink(ctx context.Context, l store.Link, cmd []byte) (int64, error) {
	var outboxID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO links
			(id, org_id, domain, key, url, version, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.OrgID, l.Domain, l.Key, l.URL, l.Version, l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt))
		if isUnique(err) {
			return store.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("insert link: %w", err)
		}
		outboxID, err = appendOutbox(ctx, tx, cmd, l.UpdatedAt)
		return err
	})
	return outboxID, err
}

func appendOutbox(ctx context.Context, tx *sql.Tx, cmd []byte, at time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox (command, created_at) VALUES (?, ?)`, cmd, ms(at))
	if err != nil {
		return 0, fmt.Errorf("append outbox: %w", err)
	}
	return res.LastInsertId()
}

type rowScanner interface{ Scan(dest ...any) error }

const linkColumns = `id, org_id, domain, key, url, version, created_by, created_at, updated_at`

func scanLink(r rowScanner) (store.Link, error) {
	var (
		l                store.Link
		created, updated int64
	)
	err := r.Scan(&l.ID, &l.OrgID, &l.Domain, &l.Key, &l.URL, &l.Version, &l.CreatedBy, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, store.ErrNotFound
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("scan link: %w", err)
	}
	l.CreatedAt, l.UpdatedAt = fromMs(created), fromMs(updated)
	return l, nil
}

func (s *Store) Link(ctx context.Context, orgID, id string) (store.Link, error) {
	return scanLink(s.db.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE org_id = ? AND id = ?`, orgID, id))
}

func (s *Store) DeleteLink(ctx context.Context, orgID, id string, at time.Time, cmd func(store.Link) []byte) (store.Link, int64, error) {
	var (
		l        store.Link
		outboxID int64
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		l, err = scanLink(tx.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE org_id = ? AND id = ?`, orgID, id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete link: %w", err)
		}
		outboxID, err = appendOutbox(ctx, tx, cmd(l), at)
		return err
	})
	return l, outboxID, err
}

func (s *Store) PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, created_at FROM outbox
		WHERE created_at <= ? ORDER BY id LIMIT ?`, ms(olderThan), limit)
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	defer rows.Close()
	var out []store.OutboxEntry
	for rows.Next() {
		var (
			e  store.OutboxEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Command, &at); err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		e.CreatedAt = fromMs(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) DeleteOutbox(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete outbox %d: %w", id, err)
	}
	return nil
}
