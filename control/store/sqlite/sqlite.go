// Package sqlite is the embedded control store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode with synchronous=FULL (it is the
// source of truth) and write transactions taken IMMEDIATE so concurrent
// writers queue instead of failing on lock upgrade. Writes go through one
// group-committing writer (writer.go); WAL checkpoints run beside it
// (checkpoint.go).
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
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/h0p/h0p/control/store"
)

// Store implements store.Store on SQLite.
type Store struct {
	queries
	db *sql.DB

	stmts      *stmtCache
	writes     chan writeReq // to the group-commit writer (writer.go)
	closing    chan struct{}
	writerDone chan struct{}

	checkpointerDone chan struct{} // checkpoint.go
}

// querier is what *sql.DB and *sql.Tx share: every query runs on either.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on a querier.
type queries struct{ q querier }

var _ store.Queries = queries{}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "mmap_size(268435456)", "cache_size(-65536)", "wal_autocheckpoint(0)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	cache := &stmtCache{db: db, m: map[string]*sql.Stmt{}}
	s := &Store{queries: queries{cachedDB{cache}}, db: db, stmts: cache,
		writes: make(chan writeReq), closing: make(chan struct{}), writerDone: make(chan struct{}),
		checkpointerDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// Close stops the writer (after the batch in progress) and closes the
// database.
func (s *Store) Close() error {
	close(s.closing)
	<-s.writerDone
	<-s.checkpointerDone
	s.stmts.close()
	return s.db.Close()
}

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
	`CREATE TABLE sessions (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		digest BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE TABLE invitations (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		email TEXT NOT NULL,
		role TEXT NOT NULL,
		digest BLOB NOT NULL UNIQUE,
		invited_by TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		accepted_at INTEGER
	);
	CREATE TABLE audit_logs (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL,
		at INTEGER NOT NULL,
		actor_type TEXT NOT NULL,
		actor_id TEXT NOT NULL,
		key_id TEXT NOT NULL DEFAULT '',
		action TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		resource_id TEXT NOT NULL,
		request_id TEXT NOT NULL DEFAULT '',
		ip TEXT NOT NULL DEFAULT '',
		diff TEXT
	);
	CREATE INDEX audit_logs_org ON audit_logs(org_id, id);
	CREATE INDEX audit_logs_resource ON audit_logs(org_id, resource_type, resource_id, id);
	CREATE INDEX memberships_user ON memberships(user_id);`,
	`ALTER TABLE orgs ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
	CREATE TABLE usage (
		org_id TEXT NOT NULL,
		period TEXT NOT NULL,
		metric TEXT NOT NULL,
		value INTEGER NOT NULL,
		PRIMARY KEY (org_id, period, metric)
	);
	ALTER TABLE links ADD COLUMN title TEXT NOT NULL DEFAULT '';
	ALTER TABLE links ADD COLUMN external_id TEXT;
	ALTER TABLE links ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
	ALTER TABLE links ADD COLUMN expires_at INTEGER;
	ALTER TABLE links ADD COLUMN valid_since INTEGER;
	ALTER TABLE links ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE links ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE links ADD COLUMN attrs TEXT;
	ALTER TABLE links ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE links ADD COLUMN last_clicked_at INTEGER NOT NULL DEFAULT 0;
	CREATE UNIQUE INDEX links_external ON links(org_id, external_id) WHERE external_id IS NOT NULL;
	CREATE INDEX links_org_created ON links(org_id, created_at, id);
	CREATE INDEX links_org_clicks ON links(org_id, clicks, id);
	CREATE INDEX links_org_last_clicked ON links(org_id, last_clicked_at, id);
	CREATE INDEX links_org_url ON links(org_id, domain, url);
	CREATE TABLE tags (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		name_lower TEXT NOT NULL,
		color TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		UNIQUE (org_id, name_lower)
	);
	CREATE TABLE link_tags (
		link_id TEXT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
		tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
		PRIMARY KEY (link_id, tag_id)
	);
	CREATE INDEX link_tags_tag ON link_tags(tag_id);
	CREATE TABLE events (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL,
		type TEXT NOT NULL,
		resource_id TEXT NOT NULL DEFAULT '',
		payload TEXT,
		created_at INTEGER NOT NULL
	);
	CREATE INDEX events_org ON events(org_id, id);`,
	// Accounts from before email verification are taken as verified.
	`ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
	UPDATE users SET email_verified_at = created_at;
	CREATE TABLE user_tokens (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		purpose TEXT NOT NULL,
		digest BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		used_at INTEGER
	);
	CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose, created_at);
	CREATE INDEX user_tokens_expires ON user_tokens(expires_at);
	CREATE INDEX sessions_user ON sessions(user_id);`,
	`CREATE TABLE idempotency_keys (
		scope TEXT NOT NULL,
		key TEXT NOT NULL,
		fingerprint BLOB NOT NULL,
		owner TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		status INTEGER NOT NULL DEFAULT 0,
		header TEXT,
		body BLOB,
		PRIMARY KEY (scope, key)
	);
	CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);`,
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

// tx runs fn in a write transaction (BEGIN IMMEDIATE: it holds SQLite's one
// write lock from the start, which also makes LockLink a plain read),
// committing if fn returns nil. A panic rolls back and goes on.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			tx.Rollback()
			panic(v)
		}
	}()
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

// insertErr maps a unique violation to store.ErrConflict.
func insertErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// insertRows runs insert (an INSERT … VALUES without its tuples) for args,
// ncols values per row, as multi-row statements: each statement carries a
// row's parsing and call overhead once for many rows, which a bulk of 1,000
// links' audit entries and events notices. Chunks of 64, then 8, then 1 rows
// keep the statement texts (and so the cached statements) at three per
// table.
func (q queries) insertRows(ctx context.Context, insert string, ncols int, args []any) error {
	tuple := "(?" + strings.Repeat(", ?", ncols-1) + ")"
	for len(args) > 0 {
		n := len(args) / ncols
		switch {
		case n >= 64:
			n = 64
		case n >= 8:
			n = 8
		default:
			n = 1
		}
		stmt := insert + tuple + strings.Repeat(", "+tuple, n-1)
		if _, err := q.q.ExecContext(ctx, stmt, args[:n*ncols]...); err != nil {
			return err
		}
		args = args[n*ncols:]
	}
	return nil
}

// oneRow turns "no row changed" into store.ErrNotFound.
func oneRow(what string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// scanErr maps sql.ErrNoRows to store.ErrNotFound.
func scanErr(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
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

type rowScanner interface{ Scan(dest ...any) error }

// Orgs.

func (q queries) HasOrgs(ctx context.Context) (bool, error) {
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM orgs LIMIT 1)`).Scan(&n); err != nil {
		return false, fmt.Errorf("count orgs: %w", err)
	}
	return n > 0, nil
}

func (q queries) CreateOrg(ctx context.Context, o store.Org) error {
	plan := o.Plan
	if plan == "" {
		plan = "free"
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO orgs (id, name, plan, created_at) VALUES (?, ?, ?, ?)`, o.ID, o.Name, plan, ms(o.CreatedAt))
	return insertErr("insert org", err)
}

func (q queries) Org(ctx context.Context, id string) (store.Org, error) {
	var (
		o  store.Org
		at int64
	)
	err := q.q.QueryRowContext(ctx, `SELECT id, name, plan, created_at FROM orgs WHERE id = ?`, id).Scan(&o.ID, &o.Name, &o.Plan, &at)
	o.CreatedAt = fromMs(at)
	return o, scanErr("org", err)
}

func (q queries) UpdateOrg(ctx context.Context, o store.Org) error {
	res, err := q.q.ExecContext(ctx, `UPDATE orgs SET name = ?, plan = ? WHERE id = ?`, o.Name, o.Plan, o.ID)
	return oneRow("update org", res, err)
}

func (q queries) AddUsage(ctx context.Context, orgID, period, metric string, delta int64) (int64, error) {
	var v int64
	err := q.q.QueryRowContext(ctx, `INSERT INTO usage (org_id, period, metric, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, period, metric) DO UPDATE SET value = value + excluded.value
		RETURNING value`, orgID, period, metric, delta).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("add usage: %w", err)
	}
	return v, nil
}

func (q queries) Usage(ctx context.Context, orgID, period string) (map[string]int64, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT metric, value FROM usage WHERE org_id = ? AND period = ?`, orgID, period)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			m string
			v int64
		)
		if err := rows.Scan(&m, &v); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		out[m] = v
	}
	return out, rows.Err()
}

// Users.

func (q queries) CreateUser(ctx context.Context, u store.User) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, email_verified_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, ms(u.CreatedAt), nullMs(u.EmailVerifiedAt))
	return insertErr("insert user", err)
}

const userSelect = `SELECT id, email, name, password_hash, created_at, email_verified_at FROM users `

func scanUser(r rowScanner) (store.User, error) {
	var (
		u        store.User
		at       int64
		verified sql.NullInt64
	)
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &at, &verified)
	u.CreatedAt, u.EmailVerifiedAt = fromMs(at), fromNullMs(verified)
	return u, scanErr("user", err)
}

func (q queries) User(ctx context.Context, id string) (store.User, error) {
	return scanUser(q.q.QueryRowContext(ctx, userSelect+`WHERE id = ?`, id))
}

func (q queries) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return scanUser(q.q.QueryRowContext(ctx, userSelect+`WHERE email = ?`, email))
}

func (q queries) SetEmailVerified(ctx context.Context, userID string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE users SET email_verified_at = ? WHERE id = ?`, ms(at), userID)
	return oneRow("set email verified", res, err)
}

// User tokens.

func (q queries) CreateUserToken(ctx context.Context, t store.UserToken) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO user_tokens (id, user_id, purpose, digest, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Purpose, t.Digest, ms(t.CreatedAt), ms(t.ExpiresAt), nullMs(t.UsedAt))
	return insertErr("insert user token", err)
}

func (q queries) UserTokenByDigest(ctx context.Context, digest []byte) (store.UserToken, error) {
	var (
		t                  store.UserToken
		created, expiresAt int64
		used               sql.NullInt64
	)
	err := q.q.QueryRowContext(ctx, `SELECT id, user_id, purpose, digest, created_at, expires_at, used_at
		FROM user_tokens WHERE digest = ?`, digest).
		Scan(&t.ID, &t.UserID, &t.Purpose, &t.Digest, &created, &expiresAt, &used)
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMs(created), fromMs(expiresAt), fromNullMs(used)
	return t, scanErr("user token", err)
}

func (q queries) UseUserToken(ctx context.Context, id string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE user_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`, ms(at), id)
	return oneRow("use user token", res, err)
}

func (q queries) CountUserTokens(ctx context.Context, userID, purpose string, since time.Time) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT count(*) FROM user_tokens WHERE user_id = ? AND purpose = ? AND created_at >= ?`,
		userID, purpose, ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count user tokens: %w", err)
	}
	return n, nil
}

func (q queries) PurgeUserTokens(ctx context.Context, before time.Time) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM user_tokens WHERE expires_at < ?`, ms(before)); err != nil {
		return fmt.Errorf("purge user tokens: %w", err)
	}
	return nil
}

func (q queries) UseUserTokens(ctx context.Context, userID, purpose string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE user_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL`,
		ms(at), userID, purpose)
	if err != nil {
		return fmt.Errorf("use user tokens: %w", err)
	}
	return nil
}

func (q queries) SetPassword(ctx context.Context, userID, hash string) error {
	res, err := q.q.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
	return oneRow("set password", res, err)
}

// Members.

func (q queries) AddMember(ctx context.Context, m store.Member) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
		m.OrgID, m.UserID, m.Role, ms(m.CreatedAt))
	return insertErr("insert membership", err)
}

const memberSelect = `SELECT m.org_id, m.user_id, m.role, m.created_at, u.email, u.name
	FROM memberships m JOIN users u ON u.id = m.user_id `

func (q queries) members(ctx context.Context, where string, arg any) ([]store.Member, error) {
	rows, err := q.q.QueryContext(ctx, memberSelect+where+` ORDER BY m.created_at, m.user_id, m.org_id`, arg)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	defer rows.Close()
	var out []store.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMember(r rowScanner) (store.Member, error) {
	var (
		m  store.Member
		at int64
	)
	err := r.Scan(&m.OrgID, &m.UserID, &m.Role, &at, &m.Email, &m.Name)
	m.CreatedAt = fromMs(at)
	return m, scanErr("member", err)
}

func (q queries) Member(ctx context.Context, orgID, userID string) (store.Member, error) {
	return scanMember(q.q.QueryRowContext(ctx, memberSelect+`WHERE m.org_id = ? AND m.user_id = ?`, orgID, userID))
}

func (q queries) Members(ctx context.Context, orgID string) ([]store.Member, error) {
	return q.members(ctx, `WHERE m.org_id = ?`, orgID)
}

func (q queries) Memberships(ctx context.Context, userID string) ([]store.Member, error) {
	return q.members(ctx, `WHERE m.user_id = ?`, userID)
}

func (q queries) SetRole(ctx context.Context, orgID, userID string, role store.Role) error {
	res, err := q.q.ExecContext(ctx, `UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?`, role, orgID, userID)
	return oneRow("set role", res, err)
}

func (q queries) RemoveMember(ctx context.Context, orgID, userID string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID)
	return oneRow("remove member", res, err)
}

func (q queries) CountOwners(ctx context.Context, orgID string) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE org_id = ? AND role = ?`, orgID, store.RoleOwner).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// Sessions.

func (q queries) CreateSession(ctx context.Context, s store.Session) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO sessions (id, user_id, digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.Digest, ms(s.CreatedAt), ms(s.ExpiresAt))
	return insertErr("insert session", err)
}

func (q queries) SessionByDigest(ctx context.Context, digest []byte) (store.Session, error) {
	var (
		s                  store.Session
		created, expiresAt int64
	)
	err := q.q.QueryRowContext(ctx, `SELECT id, user_id, digest, created_at, expires_at FROM sessions WHERE digest = ?`, digest).
		Scan(&s.ID, &s.UserID, &s.Digest, &created, &expiresAt)
	s.CreatedAt, s.ExpiresAt = fromMs(created), fromMs(expiresAt)
	return s, scanErr("session", err)
}

func (q queries) DeleteSession(ctx context.Context, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return oneRow("delete session", res, err)
}

func (q queries) DeleteSessions(ctx context.Context, userID, except string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// Invitations.

func (q queries) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO invitations
		(id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.OrgID, inv.Email, inv.Role, inv.Digest, inv.InvitedBy, ms(inv.CreatedAt), ms(inv.ExpiresAt), nullMs(inv.AcceptedAt))
	return insertErr("insert invitation", err)
}

func (q queries) InvitationByDigest(ctx context.Context, digest []byte) (store.Invitation, error) {
	var (
		inv                store.Invitation
		created, expiresAt int64
		accepted           sql.NullInt64
	)
	err := q.q.QueryRowContext(ctx, `SELECT id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at
		FROM invitations WHERE digest = ?`, digest).
		Scan(&inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &inv.Digest, &inv.InvitedBy, &created, &expiresAt, &accepted)
	inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt = fromMs(created), fromMs(expiresAt), fromNullMs(accepted)
	return inv, scanErr("invitation", err)
}

func (q queries) MarkInvitationAccepted(ctx context.Context, id string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE invitations SET accepted_at = ? WHERE id = ?`, ms(at), id)
	return oneRow("accept invitation", res, err)
}

// API keys.

func (q queries) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	_, err = q.q.ExecContext(ctx, `INSERT INTO api_keys
		(id, org_id, type, user_id, name, prefix, digest, permissions, created_by, created_at, last_used_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.OrgID, k.Type, nullString(k.UserID), k.Name, k.Prefix, k.Digest, string(perms), k.CreatedBy,
		ms(k.CreatedAt), nullMs(k.LastUsedAt), nullMs(k.ExpiresAt))
	return insertErr("insert api key", err)
}

const keySelect = `SELECT id, org_id, type, user_id, name, prefix, digest, permissions,
	created_by, created_at, last_used_at, expires_at FROM api_keys `

func scanKey(r rowScanner) (store.APIKey, error) {
	var (
		k            store.APIKey
		userID       sql.NullString
		perms        string
		created      int64
		used, expire sql.NullInt64
	)
	err := r.Scan(&k.ID, &k.OrgID, &k.Type, &userID, &k.Name, &k.Prefix, &k.Digest, &perms,
		&k.CreatedBy, &created, &used, &expire)
	if err != nil {
		return store.APIKey{}, scanErr("api key", err)
	}
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s permissions: %w", k.ID, err)
	}
	k.UserID = userID.String
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMs(created), fromNullMs(used), fromNullMs(expire)
	return k, nil
}

func (q queries) APIKey(ctx context.Context, orgID, id string) (store.APIKey, error) {
	return scanKey(q.q.QueryRowContext(ctx, keySelect+`WHERE org_id = ? AND id = ?`, orgID, id))
}

func (q queries) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	return scanKey(q.q.QueryRowContext(ctx, keySelect+`WHERE digest = ?`, digest))
}

func (q queries) APIKeys(ctx context.Context, orgID string) ([]store.APIKey, error) {
	rows, err := q.q.QueryContext(ctx, keySelect+`WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (q queries) UpdateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	res, err := q.q.ExecContext(ctx, `UPDATE api_keys SET name = ?, permissions = ?, prefix = ?, digest = ?, expires_at = ?
		WHERE org_id = ? AND id = ?`, k.Name, string(perms), k.Prefix, k.Digest, nullMs(k.ExpiresAt), k.OrgID, k.ID)
	if isUnique(err) {
		return fmt.Errorf("update api key: %w", store.ErrConflict)
	}
	return oneRow("update api key", res, err)
}

func (q queries) DeleteAPIKey(ctx context.Context, orgID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM api_keys WHERE org_id = ? AND id = ?`, orgID, id)
	return oneRow("delete api key", res, err)
}

func (q queries) DeleteUserKeys(ctx context.Context, orgID, userID string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM api_keys WHERE (org_id = ? OR ? = '') AND user_id = ? AND type = 'user'`,
		orgID, orgID, userID)
	if err != nil {
		return fmt.Errorf("delete user keys: %w", err)
	}
	return nil
}

func (q queries) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	_, err := q.q.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		ms(at), id, ms(at.Add(-minAge)))
	if err != nil {
		return fmt.Errorf("touch api key: %w", err)
	}
	return nil
}

// Links.

const linkColumns = `id, org_id, domain, key, url, version, title, external_id, password_hash, expires_at,
	valid_since, archived, disabled, attrs, clicks, last_clicked_at, created_by, created_at, updated_at`

func linkArgs(l store.Link) []any {
	var attrs sql.NullString
	if len(l.Attrs) > 0 && string(l.Attrs) != "null" {
		attrs = sql.NullString{String: string(l.Attrs), Valid: true}
	}
	return []any{l.ID, l.OrgID, l.Domain, l.Key, l.URL, l.Version, l.Title, nullString(l.ExternalID), l.PasswordHash,
		nullMs(l.ExpiresAt), nullMs(l.ValidSince), l.Archived, l.Disabled, attrs, l.Clicks, zeroMs(l.LastClickedAt),
		l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt)}
}

// zeroMs stores the zero time as 0 (never).
func zeroMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromZeroMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMs(v)
}

func (q queries) InsertLink(ctx context.Context, l store.Link) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO links (`+linkColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, linkArgs(l)...)
	if err := insertErr("insert link", err); err != nil {
		return err
	}
	return q.setLinkTags(ctx, l.ID, l.TagIDs)
}

func (q queries) UpdateLink(ctx context.Context, l store.Link) error {
	args := linkArgs(l)
	// SET every column but id and org_id, which scope the WHERE.
	res, err := q.q.ExecContext(ctx, `UPDATE links SET domain = ?, key = ?, url = ?, version = ?, title = ?,
		external_id = ?, password_hash = ?, expires_at = ?, valid_since = ?, archived = ?, disabled = ?, attrs = ?,
		clicks = ?, last_clicked_at = ?, created_by = ?, created_at = ?, updated_at = ?
		WHERE id = ? AND org_id = ?`, append(args[2:], l.ID, l.OrgID)...)
	if isUnique(err) {
		return fmt.Errorf("update link: %w", store.ErrConflict)
	}
	if err := oneRow("update link", res, err); err != nil {
		return err
	}
	if _, err := q.q.ExecContext(ctx, `DELETE FROM link_tags WHERE link_id = ?`, l.ID); err != nil {
		return fmt.Errorf("update link tags: %w", err)
	}
	return q.setLinkTags(ctx, l.ID, l.TagIDs)
}

func (q queries) setLinkTags(ctx context.Context, linkID string, tagIDs []string) error {
	for _, t := range tagIDs {
		if _, err := q.q.ExecContext(ctx, `INSERT INTO link_tags (link_id, tag_id) VALUES (?, ?)`, linkID, t); err != nil {
			return insertErr("tag link", err)
		}
	}
	return nil
}

func scanLink(r rowScanner) (store.Link, error) {
	var (
		l                         store.Link
		externalID, attrs         sql.NullString
		expires, validSince       sql.NullInt64
		lastClicked, created, upd int64
	)
	err := r.Scan(&l.ID, &l.OrgID, &l.Domain, &l.Key, &l.URL, &l.Version, &l.Title, &externalID, &l.PasswordHash,
		&expires, &validSince, &l.Archived, &l.Disabled, &attrs, &l.Clicks, &lastClicked, &l.CreatedBy, &created, &upd)
	if err != nil {
		return store.Link{}, scanErr("link", err)
	}
	l.ExternalID = externalID.String
	if attrs.Valid {
		l.Attrs = json.RawMessage(attrs.String)
	}
	l.ExpiresAt, l.ValidSince = fromNullMs(expires), fromNullMs(validSince)
	l.LastClickedAt, l.CreatedAt, l.UpdatedAt = fromZeroMs(lastClicked), fromMs(created), fromMs(upd)
	return l, nil
}

// oneLink reads one link and its tags.
func (q queries) oneLink(ctx context.Context, where string, args ...any) (store.Link, error) {
	l, err := scanLink(q.q.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE `+where, args...))
	if err != nil {
		return store.Link{}, err
	}
	links := []store.Link{l}
	if err := q.loadTags(ctx, links); err != nil {
		return store.Link{}, err
	}
	return links[0], nil
}

// loadTags fills the TagIDs of links in one query.
func (q queries) loadTags(ctx context.Context, links []store.Link) error {
	if len(links) == 0 {
		return nil
	}
	idx := map[string]int{}
	args := make([]any, len(links))
	for i, l := range links {
		idx[l.ID] = i
		args[i] = l.ID
	}
	marks := strings.Repeat("?,", len(links))
	rows, err := q.q.QueryContext(ctx, `SELECT link_id, tag_id FROM link_tags WHERE link_id IN (`+marks[:len(marks)-1]+`)
		ORDER BY link_id, tag_id`, args...)
	if err != nil {
		return fmt.Errorf("link tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var linkID, tagID string
		if err := rows.Scan(&linkID, &tagID); err != nil {
			return fmt.Errorf("link tags: %w", err)
		}
		i := idx[linkID]
		links[i].TagIDs = append(links[i].TagIDs, tagID)
	}
	return rows.Err()
}

func (q queries) Link(ctx context.Context, orgID, id string) (store.Link, error) {
	return q.oneLink(ctx, `org_id = ? AND id = ?`, orgID, id)
}

// LockLink reads the link; inside Write the IMMEDIATE transaction already
// holds the database's write lock.
func (q queries) LockLink(ctx context.Context, orgID, id string) (store.Link, error) {
	return q.Link(ctx, orgID, id)
}

func (q queries) LinkByKey(ctx context.Context, orgID, domain, key string) (store.Link, error) {
	return q.oneLink(ctx, `org_id = ? AND domain = ? AND key = ?`, orgID, domain, key)
}

func (q queries) LinkByExternalID(ctx context.Context, orgID, externalID string) (store.Link, error) {
	return q.oneLink(ctx, `org_id = ? AND external_id = ?`, orgID, externalID)
}

func (q queries) LinkByURL(ctx context.Context, orgID, domain, url string) (store.Link, error) {
	return q.oneLink(ctx, `org_id = ? AND domain = ? AND url = ? ORDER BY created_at, id LIMIT 1`, orgID, domain, url)
}

// linkWhere is the WHERE clause and its arguments for f's filters.
func linkWhere(f store.LinkFilter) (string, []any) {
	where := []string{"org_id = ?"}
	args := []any{f.OrgID}
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if f.Domain != "" {
		add("domain = ?", f.Domain)
	}
	if f.TagID != "" {
		add("id IN (SELECT link_id FROM link_tags WHERE tag_id = ?)", f.TagID)
	}
	if f.Search != "" {
		pat := "%" + likeEscaper.Replace(f.Search) + "%"
		add(`(key LIKE ? ESCAPE '\' OR url LIKE ? ESCAPE '\' OR title LIKE ? ESCAPE '\')`, pat, pat, pat)
	}
	if f.ExternalID != "" {
		add("external_id = ?", f.ExternalID)
	}
	if f.CreatedBy != "" {
		add("created_by = ?", f.CreatedBy)
	}
	if f.Archived != nil {
		add("archived = ?", *f.Archived)
	}
	if f.Disabled != nil {
		add("disabled = ?", *f.Disabled)
	}
	return strings.Join(where, " AND "), args
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func sortColumn(s store.LinkSort) string {
	switch s {
	case store.SortClicks:
		return "clicks"
	case store.SortLastClickedAt:
		return "last_clicked_at"
	}
	return "created_at"
}

func (q queries) Links(ctx context.Context, f store.LinkFilter) ([]store.Link, error) {
	where, args := linkWhere(f)
	col, dir, cmp := sortColumn(f.Sort), "DESC", "<"
	if f.Asc {
		dir, cmp = "ASC", ">"
	}
	if f.After != nil {
		where += fmt.Sprintf(" AND (%s %s ? OR (%s = ? AND id %s ?))", col, cmp, col, cmp)
		args = append(args, f.After.Value, f.After.Value, f.After.ID)
	}
	args = append(args, f.Limit)
	rows, err := q.q.QueryContext(ctx, `SELECT `+linkColumns+` FROM links WHERE `+where+
		fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT ?", col, dir, dir), args...)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	var out []store.Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return out, q.loadTags(ctx, out)
}

func (q queries) CountLinks(ctx context.Context, f store.LinkFilter, groupBy string) ([]store.Count, error) {
	where, args := linkWhere(f)
	var query string
	switch groupBy {
	case "":
		query = `SELECT '', count(*) FROM links WHERE ` + where
	case "domain":
		query = `SELECT domain, count(*) FROM links WHERE ` + where + ` GROUP BY domain`
	case "tag":
		query = `SELECT lt.tag_id, count(*) FROM links JOIN link_tags lt ON lt.link_id = links.id WHERE ` +
			strings.ReplaceAll(where, "org_id = ?", "links.org_id = ?") + ` GROUP BY lt.tag_id`
	default:
		return nil, fmt.Errorf("count links: unknown group %q", groupBy)
	}
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("count links: %w", err)
	}
	defer rows.Close()
	var out []store.Count
	for rows.Next() {
		var c store.Count
		if err := rows.Scan(&c.Group, &c.Count); err != nil {
			return nil, fmt.Errorf("count links: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q queries) DeleteLink(ctx context.Context, orgID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM links WHERE org_id = ? AND id = ?`, orgID, id)
	return oneRow("delete link", res, err)
}

// Tags.

func (q queries) CreateTag(ctx context.Context, t store.Tag) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO tags (id, org_id, name, name_lower, color, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, t.Name, strings.ToLower(t.Name), t.Color, ms(t.CreatedAt))
	return insertErr("insert tag", err)
}

const tagSelect = `SELECT id, org_id, name, color, created_at FROM tags `

func scanTag(r rowScanner) (store.Tag, error) {
	var (
		t  store.Tag
		at int64
	)
	err := r.Scan(&t.ID, &t.OrgID, &t.Name, &t.Color, &at)
	t.CreatedAt = fromMs(at)
	return t, scanErr("tag", err)
}

func (q queries) Tag(ctx context.Context, orgID, id string) (store.Tag, error) {
	return scanTag(q.q.QueryRowContext(ctx, tagSelect+`WHERE org_id = ? AND id = ?`, orgID, id))
}

func (q queries) TagByName(ctx context.Context, orgID, name string) (store.Tag, error) {
	return scanTag(q.q.QueryRowContext(ctx, tagSelect+`WHERE org_id = ? AND name_lower = ?`, orgID, strings.ToLower(name)))
}

// Tags and TagPage sort by name_lower with SQLite's default (binary)
// collation: byte-wise, as store.TagCursor says.
func (q queries) Tags(ctx context.Context, orgID string) ([]store.Tag, error) {
	return q.tags(ctx, tagSelect+`WHERE org_id = ? ORDER BY name_lower, id`, orgID)
}

func (q queries) TagPage(ctx context.Context, f store.TagFilter) ([]store.Tag, error) {
	if f.After == nil {
		return q.tags(ctx, tagSelect+`WHERE org_id = ? ORDER BY name_lower, id LIMIT ?`, f.OrgID, f.Limit)
	}
	return q.tags(ctx, tagSelect+`WHERE org_id = ? AND (name_lower, id) > (?, ?) ORDER BY name_lower, id LIMIT ?`,
		f.OrgID, strings.ToLower(f.After.Name), f.After.ID, f.Limit)
}

func (q queries) tags(ctx context.Context, query string, args ...any) ([]store.Tag, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	defer rows.Close()
	var out []store.Tag
	for rows.Next() {
		t, err := scanTag(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (q queries) UpdateTag(ctx context.Context, t store.Tag) error {
	res, err := q.q.ExecContext(ctx, `UPDATE tags SET name = ?, name_lower = ?, color = ? WHERE org_id = ? AND id = ?`,
		t.Name, strings.ToLower(t.Name), t.Color, t.OrgID, t.ID)
	if isUnique(err) {
		return fmt.Errorf("update tag: %w", store.ErrConflict)
	}
	return oneRow("update tag", res, err)
}

func (q queries) DeleteTag(ctx context.Context, orgID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM tags WHERE org_id = ? AND id = ?`, orgID, id)
	return oneRow("delete tag", res, err)
}

// Events.

func (q queries) AppendEvent(ctx context.Context, es ...store.Event) error {
	rows := make([]any, 0, 6*len(es))
	for _, e := range es {
		var payload sql.NullString
		if len(e.Payload) > 0 {
			payload = sql.NullString{String: string(e.Payload), Valid: true}
		}
		rows = append(rows, e.ID, e.OrgID, e.Type, e.ResourceID, payload, ms(e.CreatedAt))
	}
	return insertErr("append event", q.insertRows(ctx,
		`INSERT INTO events (id, org_id, type, resource_id, payload, created_at) VALUES `, 6, rows))
}

// Outbox.

func (q queries) AppendOutbox(ctx context.Context, cmd []byte, at time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO outbox (command, created_at) VALUES (?, ?)`, cmd, ms(at))
	if err != nil {
		return 0, fmt.Errorf("append outbox: %w", err)
	}
	return res.LastInsertId()
}

func (q queries) PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, command, created_at FROM outbox
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

func (q queries) DeleteOutbox(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	marks := strings.Repeat("?,", len(ids))
	if _, err := q.q.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (`+marks[:len(marks)-1]+`)`, args...); err != nil {
		return fmt.Errorf("delete outbox entries: %w", err)
	}
	return nil
}

// Audit.

func (q queries) AppendAudit(ctx context.Context, es ...store.AuditEntry) error {
	rows := make([]any, 0, 12*len(es))
	for _, e := range es {
		var diff sql.NullString
		if len(e.Diff) > 0 && string(e.Diff) != "null" {
			diff = sql.NullString{String: string(e.Diff), Valid: true}
		}
		rows = append(rows, e.ID, e.OrgID, ms(e.At), e.ActorType, e.ActorID, e.KeyID, e.Action, e.ResourceType,
			e.ResourceID, e.RequestID, e.IP, diff)
	}
	return insertErr("append audit", q.insertRows(ctx, `INSERT INTO audit_logs
		(id, org_id, at, actor_type, actor_id, key_id, action, resource_type, resource_id, request_id, ip, diff)
		VALUES `, 12, rows))
}

func (q queries) AuditLogs(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	where := []string{"org_id = ?"}
	args := []any{f.OrgID}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.ActorID != "" {
		add("actor_id = ?", f.ActorID)
	}
	if f.ResourceType != "" {
		add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	if !f.From.IsZero() {
		add("at >= ?", ms(f.From))
	}
	if !f.To.IsZero() {
		add("at < ?", ms(f.To))
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	args = append(args, f.Limit)
	rows, err := q.q.QueryContext(ctx, `SELECT id, org_id, at, actor_type, actor_id, key_id, action, resource_type,
		resource_id, request_id, ip, diff FROM audit_logs WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("audit logs: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e    store.AuditEntry
			at   int64
			diff sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.OrgID, &at, &e.ActorType, &e.ActorID, &e.KeyID, &e.Action, &e.ResourceType,
			&e.ResourceID, &e.RequestID, &e.IP, &diff); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At = fromMs(at)
		if diff.Valid {
			e.Diff = json.RawMessage(diff.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Idempotency keys.

// ClaimIdempotencyKey inserts k, or takes over an expired entry of its key,
// in one statement; when the key is held, it reads the holder. The two
// statements need one transaction to agree: Store's ClaimIdempotencyKey
// runs them in one (writer.go).
func (q queries) ClaimIdempotencyKey(ctx context.Context, k store.IdempotencyKey, expiredBefore time.Time) (store.IdempotencyKey, bool, error) {
	var one int
	err := q.q.QueryRowContext(ctx, `INSERT INTO idempotency_keys (scope, key, fingerprint, owner, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner,
			created_at = excluded.created_at, status = 0, header = NULL, body = NULL
		WHERE idempotency_keys.created_at <= ?
		RETURNING 1`, k.Scope, k.Key, k.Fingerprint, k.Owner, ms(k.CreatedAt), ms(expiredBefore)).Scan(&one)
	if err == nil {
		return k, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.IdempotencyKey{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	var (
		held   = store.IdempotencyKey{Scope: k.Scope, Key: k.Key}
		at     int64
		header sql.NullString
	)
	err = q.q.QueryRowContext(ctx, `SELECT fingerprint, owner, created_at, status, header, body FROM idempotency_keys
		WHERE scope = ? AND key = ?`, k.Scope, k.Key).Scan(&held.Fingerprint, &held.Owner, &at, &held.Status, &header, &held.Body)
	if err != nil {
		return store.IdempotencyKey{}, false, scanErr("idempotency key", err)
	}
	held.CreatedAt = fromMs(at)
	if header.Valid {
		held.Header = json.RawMessage(header.String)
	}
	return held, false, nil
}

func (q queries) FinishIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	var header sql.NullString
	if len(k.Header) > 0 {
		header = sql.NullString{String: string(k.Header), Valid: true}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE idempotency_keys SET status = ?, header = ?, body = ?
		WHERE scope = ? AND key = ? AND owner = ?`, k.Status, header, k.Body, k.Scope, k.Key, k.Owner)
	return oneRow("finish idempotency key", res, err)
}

func (q queries) ReleaseIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND owner = ?`,
		k.Scope, k.Key, k.Owner)
	return oneRow("release idempotency key", res, err)
}

func (q queries) PurgeIdempotencyKeys(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE rowid IN
		(SELECT rowid FROM idempotency_keys WHERE created_at <= ? ORDER BY created_at LIMIT ?)`, ms(expiredBefore), limit)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
