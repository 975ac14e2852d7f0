package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/h0p/h0p/control/store"
)

// Store implements store.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// string, as pgx parses it) and migrates it. Tables live in the first schema
// of the connection's search_path.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close waits for connections in use to be released, then closes them all.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrations run in order, each once; append only, never edit one that has
// shipped. The schema is the SQLite engine's, in PostgreSQL types.
var migrations = []string{
	`CREATE TABLE orgs (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE users (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL DEFAULT '',
		password_hash TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL
	);
	CREATE TABLE memberships (
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (org_id, user_id)
	);
	CREATE INDEX memberships_user ON memberships(user_id);
	CREATE TABLE api_keys (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		type TEXT NOT NULL,
		user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		prefix TEXT NOT NULL,
		digest BYTEA NOT NULL UNIQUE,
		permissions JSONB NOT NULL,
		created_by TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		last_used_at BIGINT,
		expires_at BIGINT
	);
	CREATE UNIQUE INDEX api_keys_one_user_key ON api_keys(org_id, user_id) WHERE type = 'user';
	CREATE INDEX api_keys_user ON api_keys(user_id);
	CREATE TABLE links (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		domain TEXT NOT NULL,
		key TEXT NOT NULL,
		url TEXT NOT NULL,
		version BIGINT NOT NULL,
		created_by TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		UNIQUE (domain, key)
	);
	CREATE INDEX links_org ON links(org_id, id);
	CREATE TABLE outbox (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		command BYTEA NOT NULL,
		created_at BIGINT NOT NULL
	);`,
}

// migrationLock is the pg_advisory_xact_lock key that serialises migrations
// of control nodes starting together. Advisory locks are per database, so
// installs in different schemas of one database share it; they only wait for
// each other's (short) migrations.
const migrationLock int64 = 0x68307063_6f6e7472 // "h0pcontr"

// migrate applies the missing migrations in one transaction under the
// migration lock. DDL is transactional in PostgreSQL, so a node that crashes
// mid-way leaves nothing half-applied, and a node that waited for the lock
// finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for i, m := range migrations {
			version := i + 1
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
				return fmt.Errorf("migration %d: %w", version, err)
			}
			if done {
				continue
			}
			// No arguments: pgx sends it with the simple protocol, which
			// allows several statements.
			if _, err := tx.Exec(ctx, m); err != nil {
				return fmt.Errorf("migration %d: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
				return fmt.Errorf("migration %d: record: %w", version, err)
			}
		}
		return nil
	})
}

// tx runs fn in a transaction at the server's default isolation (read
// committed), committing if it returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		// The error of fn is the one worth returning; a failed rollback
		// closes the connection, which rolls back too.
		tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// wrap adds context to err and, for a unique violation, store.ErrConflict
// while keeping the PostgreSQL error (which names the constraint) reachable.
func wrap(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMs stores the zero time as NULL.
func nullMs(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMs(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return fromMs(*v)
}

// nullString stores "" as NULL, so a bot key (no user) satisfies the foreign
// key to users and stays out of the one-user-key index.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Store) HasOrgs(ctx context.Context) (bool, error) {
	var has bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orgs)`).Scan(&has); err != nil {
		return false, fmt.Errorf("has orgs: %w", err)
	}
	return has, nil
}

func (s *Store) CreateBootstrap(ctx context.Context, b store.Bootstrap) error {
	perms, err := json.Marshal(b.Key.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)`,
			b.Org.ID, b.Org.Name, ms(b.Org.CreatedAt)); err != nil {
			return wrap("insert org", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)`,
			b.Owner.ID, b.Owner.Email, b.Owner.Name, ms(b.Owner.CreatedAt)); err != nil {
			return wrap("insert user", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			b.Org.ID, b.Owner.ID, string(store.RoleOwner), ms(b.Org.CreatedAt)); err != nil {
			return wrap("insert membership", err)
		}
		k := b.Key
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys
			(id, org_id, type, user_id, name, prefix, digest, permissions, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.ID, k.OrgID, string(k.Type), nullString(k.UserID), k.Name, k.Prefix, k.Digest, json.RawMessage(perms),
			k.CreatedBy, ms(k.CreatedAt), nullMs(k.ExpiresAt)); err != nil {
			return wrap("insert api key", err)
		}
		return nil
	})
}

func (s *Store) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	var (
		k            store.APIKey
		keyType      string
		userID       *string
		perms        []byte
		created      int64
		used, expire *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT id, org_id, type, user_id, name, prefix, digest, permissions,
		created_by, created_at, last_used_at, expires_at FROM api_keys WHERE digest = $1`, digest).Scan(
		&k.ID, &k.OrgID, &keyType, &userID, &k.Name, &k.Prefix, &k.Digest, &perms,
		&k.CreatedBy, &created, &used, &expire)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("api key by digest: %w", err)
	}
	if err := json.Unmarshal(perms, &k.Permissions); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s permissions: %w", k.ID, err)
	}
	k.Type = store.KeyType(keyType)
	if userID != nil {
		k.UserID = *userID
	}
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMs(created), fromNullMs(used), fromNullMs(expire)
	return k, nil
}

func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		ms(at), id, ms(at.Add(-minAge)))
	if err != nil {
		return fmt.Errorf("touch api key: %w", err)
	}
	return nil
}

func (s *Store) CreateLink(ctx context.Context, l store.Link, cmd []byte) (int64, error) {
	var outboxID int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO links
			(id, org_id, domain, key, url, version, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			l.ID, l.OrgID, l.Domain, l.Key, l.URL, int64(l.Version), l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt)); err != nil {
			return wrap("insert link", err)
		}
		var err error
		outboxID, err = appendOutbox(ctx, tx, cmd, l.UpdatedAt)
		return err
	})
	return outboxID, err
}

func appendOutbox(ctx context.Context, tx pgx.Tx, cmd []byte, at time.Time) (int64, error) {
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO outbox (command, created_at) VALUES ($1, $2) RETURNING id`,
		cmd, ms(at)).Scan(&id); err != nil {
		return 0, fmt.Errorf("append outbox: %w", err)
	}
	return id, nil
}

const linkColumns = `id, org_id, domain, key, url, version, created_by, created_at, updated_at`

func scanLink(r pgx.Row) (store.Link, error) {
	var (
		l                store.Link
		version          int64
		created, updated int64
	)
	err := r.Scan(&l.ID, &l.OrgID, &l.Domain, &l.Key, &l.URL, &version, &l.CreatedBy, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Link{}, store.ErrNotFound
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("scan link: %w", err)
	}
	l.Version = uint64(version)
	l.CreatedAt, l.UpdatedAt = fromMs(created), fromMs(updated)
	return l, nil
}

func (s *Store) Link(ctx context.Context, orgID, id string) (store.Link, error) {
	return scanLink(s.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM links WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (s *Store) DeleteLink(ctx context.Context, orgID, id string, at time.Time, cmd func(store.Link) []byte) (store.Link, int64, error) {
	var (
		l        store.Link
		outboxID int64
	)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// FOR UPDATE: a concurrent delete (or update) of the same link waits
		// here and then finds no row, instead of both reading it and both
		// appending a delete command built from it.
		var err error
		l, err = scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM links
			WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM links WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete link: %w", err)
		}
		outboxID, err = appendOutbox(ctx, tx, cmd(l), at)
		return err
	})
	return l, outboxID, err
}

func (s *Store) PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, command, created_at FROM outbox
		WHERE created_at <= $1 ORDER BY id LIMIT $2`, ms(olderThan), limit)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	return out, nil
}

func (s *Store) DeleteOutbox(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete outbox %d: %w", id, err)
	}
	return nil
}
