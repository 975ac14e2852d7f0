package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/h0p/h0p/control/store"
)

// Store implements store.Store on PostgreSQL. Its Queries run on the pool,
// one statement per pooled connection; Write runs them on a transaction.
type Store struct {
	queries
	pool *pgxpool.Pool
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Queries = queries{}
	_ db            = (*pgxpool.Pool)(nil)
	_ db            = pgx.Tx(nil)
)

// db is what the queries need of a connection: both *pgxpool.Pool and
// pgx.Tx have it, so one implementation serves Store and Write.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements store.Queries on a pool or a transaction.
type queries struct {
	db db
}

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
	s := &Store{queries: queries{db: pool}, pool: pool}
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

// Write runs fn in one transaction at the server's default isolation (read
// committed): it commits if fn returns nil and rolls back otherwise. A panic
// in fn rolls back (the deferred Rollback) and goes on up.
//
// Unlike SQLite, PostgreSQL aborts a transaction at the first failed
// statement. The inserts below therefore report a taken unique value without
// failing (ON CONFLICT DO NOTHING), so fn can handle store.ErrConflict and go
// on, as it can on SQLite; after any other error fn should return it.
func (s *Store) Write(ctx context.Context, fn func(store.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// After Commit this is a no-op (ErrTxClosed). A failed rollback closes
	// the connection, which rolls back too.
	defer tx.Rollback(ctx)
	if err := fn(queries{db: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("commit", err)
	}
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

	// Sessions, invitations and the audit log. Audit ids are compared and
	// sorted byte-wise (COLLATE "C", as SQLite does) whatever the database's
	// collation, so the Before cursor and the order agree with the ULIDs'
	// time order. The diff is JSON, not JSONB: JSONB would reorder its keys
	// and respace it, and it is only ever read back whole. Audit entries
	// have no foreign keys: they outlive what they describe. api_keys_org
	// serves APIKeys and the cascade from orgs, which migration 1 missed.
	`CREATE TABLE sessions (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		digest BYTEA NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE TABLE invitations (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		email TEXT NOT NULL,
		role TEXT NOT NULL,
		digest BYTEA NOT NULL UNIQUE,
		invited_by TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		accepted_at BIGINT
	);
	CREATE INDEX invitations_org ON invitations(org_id);
	CREATE TABLE audit_logs (
		id TEXT COLLATE "C" PRIMARY KEY,
		org_id TEXT NOT NULL,
		at BIGINT NOT NULL,
		actor_type TEXT NOT NULL,
		actor_id TEXT NOT NULL,
		key_id TEXT NOT NULL DEFAULT '',
		action TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		resource_id TEXT NOT NULL,
		request_id TEXT NOT NULL DEFAULT '',
		ip TEXT NOT NULL DEFAULT '',
		diff JSON
	);
	CREATE INDEX audit_logs_org ON audit_logs(org_id, id DESC);
	CREATE INDEX audit_logs_actor ON audit_logs(org_id, actor_id, id DESC);
	CREATE INDEX audit_logs_resource ON audit_logs(org_id, resource_type, resource_id, id DESC);
	CREATE INDEX audit_logs_at ON audit_logs(org_id, at);
	CREATE INDEX api_keys_org ON api_keys(org_id, created_at);`,

	// Plans, usage counters, the full link, tags and domain events. The new
	// link columns have constant defaults, so adding them does not rewrite
	// the table (PostgreSQL 11+), and existing links read back as untitled,
	// never clicked, with no tags. An empty externalId is NULL, so only set
	// ones are unique per org. A never clicked link has last_clicked_at 0,
	// not NULL, so the sort and its cursor need no NULL ordering. attrs and
	// payload are JSON, not JSONB, to read back byte for byte, as audit
	// diffs. The list indexes end in id COLLATE "C", the tie-break of the
	// keyset order. LinkByURL's index holds md5(url), not the url: a btree
	// entry can hold at most ~2.7 kB and a destination may be 8 kB. Tag names
	// are unique by name_lower, which Go computes (strings.ToLower), so both
	// engines fold case alike whatever the database's locale.
	`ALTER TABLE orgs ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
	CREATE TABLE usage (
		org_id TEXT NOT NULL,
		period TEXT NOT NULL,
		metric TEXT NOT NULL,
		value BIGINT NOT NULL,
		PRIMARY KEY (org_id, period, metric)
	);
	ALTER TABLE links
		ADD COLUMN title TEXT NOT NULL DEFAULT '',
		ADD COLUMN external_id TEXT,
		ADD COLUMN password_hash TEXT NOT NULL DEFAULT '',
		ADD COLUMN expires_at BIGINT,
		ADD COLUMN valid_since BIGINT,
		ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false,
		ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false,
		ADD COLUMN attrs JSON,
		ADD COLUMN clicks BIGINT NOT NULL DEFAULT 0,
		ADD COLUMN last_clicked_at BIGINT NOT NULL DEFAULT 0;
	CREATE UNIQUE INDEX links_external_id ON links(org_id, external_id) WHERE external_id IS NOT NULL;
	CREATE INDEX links_created ON links(org_id, created_at, id COLLATE "C");
	CREATE INDEX links_clicks ON links(org_id, clicks, id COLLATE "C");
	CREATE INDEX links_last_clicked ON links(org_id, last_clicked_at, id COLLATE "C");
	CREATE INDEX links_url ON links(org_id, domain, md5(url));
	CREATE TABLE tags (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		name_lower TEXT NOT NULL,
		color TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		UNIQUE (org_id, name_lower)
	);
	CREATE TABLE link_tags (
		link_id TEXT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
		tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
		PRIMARY KEY (link_id, tag_id)
	);
	CREATE INDEX link_tags_tag ON link_tags(tag_id);
	CREATE TABLE events (
		id TEXT COLLATE "C" PRIMARY KEY,
		org_id TEXT NOT NULL,
		type TEXT NOT NULL,
		resource_id TEXT NOT NULL DEFAULT '',
		payload JSON,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX events_org ON events(org_id, id);`,
	// Accounts from before email verification are taken as verified.
	`ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
	UPDATE users SET email_verified_at = created_at;
	CREATE TABLE user_tokens (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		purpose TEXT NOT NULL,
		digest BYTEA NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at BIGINT
	);
	CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose, created_at);
	CREATE INDEX user_tokens_expires ON user_tokens(expires_at);`,

	// Idempotency keys of write requests, with the answer once it is known.
	// Entries expire by created_at (its index serves the purge); header is
	// JSON, as written, and body the API's bytes.
	`CREATE TABLE idempotency_keys (
		scope TEXT NOT NULL,
		key TEXT NOT NULL,
		fingerprint BYTEA NOT NULL,
		owner TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		status INTEGER NOT NULL DEFAULT 0,
		header JSON,
		body BYTEA,
		PRIMARY KEY (scope, key)
	);
	CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);`,
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)`); err != nil {
			return err
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
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
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

// inserted checks an INSERT … ON CONFLICT DO NOTHING: no row inserted means
// a unique value was taken.
func inserted(what string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return nil
}

// oneRow checks a write that names one row: none matched is ErrNotFound.
func oneRow(what string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// scanErr maps pgx.ErrNoRows to store.ErrNotFound.
func scanErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	}
	return fmt.Errorf("%s: %w", what, err)
}

// collect scans all rows with scan.
func collect[T any](what string, rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// limit is a LIMIT argument: a negative limit is none (NULL), as in SQLite.
func limit(n int) *int64 {
	if n < 0 {
		return nil
	}
	v := int64(n)
	return &v
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

// zeroMs stores the zero time as 0, for a time column that sorts (a link's
// last click): NULL would need its own place in the order and the cursor.
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

// nullJSON stores an empty or JSON null document as NULL; it reads back nil.
// The text goes to a JSON column as is (pgx sends a string unchanged).
func nullJSON(doc json.RawMessage) *string {
	if len(doc) == 0 || string(doc) == "null" {
		return nil
	}
	s := string(doc)
	return &s
}

func fromNullJSON(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

// args collects the arguments of a query built from parts; add returns the
// placeholder of the argument it appends.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// execGuarded runs a statement that may break a unique constraint which ON
// CONFLICT cannot cover (an UPDATE). Inside Write it runs under a savepoint,
// so a violation (store.ErrConflict) undoes only this statement and the
// transaction stays usable, as after a conflicting insert. On the pool the
// statement is a transaction of its own already.
func (q queries) execGuarded(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error) {
	tx, ok := q.db.(pgx.Tx)
	if !ok {
		return q.db.Exec(ctx, sql, arguments...)
	}
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		var err error
		tag, err = sp.Exec(ctx, sql, arguments...)
		return err
	})
	return tag, err
}

// nullString stores "" as NULL, so a bot key (no user) satisfies the foreign
// key to users and stays out of the one-user-key index.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Orgs.

func (q queries) HasOrgs(ctx context.Context) (bool, error) {
	var has bool
	if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orgs)`).Scan(&has); err != nil {
		return false, fmt.Errorf("has orgs: %w", err)
	}
	return has, nil
}

// plan is the plan an org is stored with: none given is the free plan.
func plan(p string) string {
	if p == "" {
		return "free"
	}
	return p
}

func (q queries) CreateOrg(ctx context.Context, o store.Org) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO orgs (id, name, plan, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, o.ID, o.Name, plan(o.Plan), ms(o.CreatedAt))
	return inserted("insert org", tag, err)
}

func (q queries) Org(ctx context.Context, id string) (store.Org, error) {
	var (
		o  store.Org
		at int64
	)
	err := q.db.QueryRow(ctx, `SELECT id, name, plan, created_at FROM orgs WHERE id = $1`, id).Scan(&o.ID, &o.Name, &o.Plan, &at)
	if err != nil {
		return store.Org{}, scanErr("org", err)
	}
	o.CreatedAt = fromMs(at)
	return o, nil
}

func (q queries) UpdateOrg(ctx context.Context, o store.Org) error {
	tag, err := q.db.Exec(ctx, `UPDATE orgs SET name = $1, plan = $2 WHERE id = $3`, o.Name, plan(o.Plan), o.ID)
	return oneRow("update org", tag, err)
}

// Usage.

func (q queries) AddUsage(ctx context.Context, orgID, period, metric string, delta int64) (int64, error) {
	var n int64
	if err := q.db.QueryRow(ctx, `INSERT INTO usage (org_id, period, metric, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, period, metric) DO UPDATE SET value = usage.value + excluded.value
		RETURNING value`, orgID, period, metric, delta).Scan(&n); err != nil {
		return 0, fmt.Errorf("add usage: %w", err)
	}
	return n, nil
}

func (q queries) Usage(ctx context.Context, orgID, period string) (map[string]int64, error) {
	rows, err := q.db.Query(ctx, `SELECT metric, value FROM usage WHERE org_id = $1 AND period = $2`, orgID, period)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	u := make(map[string]int64)
	var (
		metric string
		value  int64
	)
	_, err = pgx.ForEachRow(rows, []any{&metric, &value}, func() error {
		u[metric] = value
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return u, nil
}

// Users.

func (q queries) CreateUser(ctx context.Context, u store.User) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, email_verified_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.ID, u.Email, u.Name, u.PasswordHash, ms(u.CreatedAt), nullMs(u.EmailVerifiedAt))
	return inserted("insert user", tag, err)
}

const userSelect = `SELECT id, email, name, password_hash, created_at, email_verified_at FROM users `

func scanUser(r pgx.Row) (store.User, error) {
	var (
		u        store.User
		at       int64
		verified *int64
	)
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &at, &verified); err != nil {
		return store.User{}, scanErr("user", err)
	}
	u.CreatedAt, u.EmailVerifiedAt = fromMs(at), fromNullMs(verified)
	return u, nil
}

func (q queries) User(ctx context.Context, id string) (store.User, error) {
	return scanUser(q.db.QueryRow(ctx, userSelect+`WHERE id = $1`, id))
}

func (q queries) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return scanUser(q.db.QueryRow(ctx, userSelect+`WHERE email = $1`, email))
}

func (q queries) SetPassword(ctx context.Context, userID, hash string) error {
	tag, err := q.db.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	return oneRow("set password", tag, err)
}

func (q queries) SetEmailVerified(ctx context.Context, userID string, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE users SET email_verified_at = $1 WHERE id = $2`, ms(at), userID)
	return oneRow("set email verified", tag, err)
}

// User tokens.

func (q queries) CreateUserToken(ctx context.Context, t store.UserToken) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO user_tokens (id, user_id, purpose, digest, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		t.ID, t.UserID, t.Purpose, t.Digest, ms(t.CreatedAt), ms(t.ExpiresAt), nullMs(t.UsedAt))
	return inserted("insert user token", tag, err)
}

func (q queries) UserTokenByDigest(ctx context.Context, digest []byte) (store.UserToken, error) {
	var (
		t                store.UserToken
		created, expires int64
		used             *int64
	)
	err := q.db.QueryRow(ctx, `SELECT id, user_id, purpose, digest, created_at, expires_at, used_at
		FROM user_tokens WHERE digest = $1`, digest).
		Scan(&t.ID, &t.UserID, &t.Purpose, &t.Digest, &created, &expires, &used)
	if err != nil {
		return store.UserToken{}, scanErr("user token", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMs(created), fromMs(expires), fromNullMs(used)
	return t, nil
}

func (q queries) UseUserToken(ctx context.Context, id string, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE user_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, ms(at), id)
	return oneRow("use user token", tag, err)
}

func (q queries) CountUserTokens(ctx context.Context, userID, purpose string, since time.Time) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM user_tokens WHERE user_id = $1 AND purpose = $2 AND created_at >= $3`,
		userID, purpose, ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count user tokens: %w", err)
	}
	return n, nil
}

func (q queries) PurgeUserTokens(ctx context.Context, before time.Time) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM user_tokens WHERE expires_at < $1`, ms(before)); err != nil {
		return fmt.Errorf("purge user tokens: %w", err)
	}
	return nil
}

func (q queries) UseUserTokens(ctx context.Context, userID, purpose string, at time.Time) error {
	if _, err := q.db.Exec(ctx, `UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL`,
		ms(at), userID, purpose); err != nil {
		return fmt.Errorf("use user tokens: %w", err)
	}
	return nil
}

// Members.

func (q queries) AddMember(ctx context.Context, m store.Member) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		m.OrgID, m.UserID, string(m.Role), ms(m.CreatedAt))
	return inserted("insert membership", tag, err)
}

const memberSelect = `SELECT m.org_id, m.user_id, m.role, m.created_at, u.email, u.name
	FROM memberships m JOIN users u ON u.id = m.user_id `

// memberOrder lists by join time; ties go by ids in byte order, as in SQLite.
const memberOrder = ` ORDER BY m.created_at, m.user_id COLLATE "C", m.org_id COLLATE "C"`

func scanMember(r pgx.Row) (store.Member, error) {
	var (
		m    store.Member
		role string
		at   int64
	)
	if err := r.Scan(&m.OrgID, &m.UserID, &role, &at, &m.Email, &m.Name); err != nil {
		return store.Member{}, scanErr("member", err)
	}
	m.Role, m.CreatedAt = store.Role(role), fromMs(at)
	return m, nil
}

func (q queries) Member(ctx context.Context, orgID, userID string) (store.Member, error) {
	return scanMember(q.db.QueryRow(ctx, memberSelect+`WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID))
}

func (q queries) Members(ctx context.Context, orgID string) ([]store.Member, error) {
	rows, err := q.db.Query(ctx, memberSelect+`WHERE m.org_id = $1`+memberOrder, orgID)
	return collect("members", rows, err, scanMember)
}

func (q queries) Memberships(ctx context.Context, userID string) ([]store.Member, error) {
	rows, err := q.db.Query(ctx, memberSelect+`WHERE m.user_id = $1`+memberOrder, userID)
	return collect("memberships", rows, err, scanMember)
}

func (q queries) SetRole(ctx context.Context, orgID, userID string, role store.Role) error {
	tag, err := q.db.Exec(ctx, `UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3`,
		string(role), orgID, userID)
	return oneRow("set role", tag, err)
}

func (q queries) RemoveMember(ctx context.Context, orgID, userID string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	return oneRow("remove member", tag, err)
}

func (q queries) CountOwners(ctx context.Context, orgID string) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = $2`,
		orgID, string(store.RoleOwner)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// Sessions.

func (q queries) CreateSession(ctx context.Context, s store.Session) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO sessions (id, user_id, digest, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, s.Digest, ms(s.CreatedAt), ms(s.ExpiresAt))
	return inserted("insert session", tag, err)
}

func (q queries) SessionByDigest(ctx context.Context, digest []byte) (store.Session, error) {
	var (
		s                store.Session
		created, expires int64
	)
	err := q.db.QueryRow(ctx, `SELECT id, user_id, digest, created_at, expires_at FROM sessions WHERE digest = $1`,
		digest).Scan(&s.ID, &s.UserID, &s.Digest, &created, &expires)
	if err != nil {
		return store.Session{}, scanErr("session", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMs(created), fromMs(expires)
	return s, nil
}

func (q queries) DeleteSession(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return oneRow("delete session", tag, err)
}

func (q queries) DeleteSessions(ctx context.Context, userID, except string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, except); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// Invitations.

func (q queries) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO invitations
		(id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		inv.ID, inv.OrgID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy,
		ms(inv.CreatedAt), ms(inv.ExpiresAt), nullMs(inv.AcceptedAt))
	return inserted("insert invitation", tag, err)
}

func (q queries) InvitationByDigest(ctx context.Context, digest []byte) (store.Invitation, error) {
	var (
		inv              store.Invitation
		role             string
		created, expires int64
		accepted         *int64
	)
	err := q.db.QueryRow(ctx, `SELECT id, org_id, email, role, digest, invited_by, created_at, expires_at, accepted_at
		FROM invitations WHERE digest = $1`, digest).Scan(
		&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.Digest, &inv.InvitedBy, &created, &expires, &accepted)
	if err != nil {
		return store.Invitation{}, scanErr("invitation", err)
	}
	inv.Role = store.Role(role)
	inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt = fromMs(created), fromMs(expires), fromNullMs(accepted)
	return inv, nil
}

func (q queries) MarkInvitationAccepted(ctx context.Context, id string, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE invitations SET accepted_at = $1 WHERE id = $2`, ms(at), id)
	return oneRow("accept invitation", tag, err)
}

// API keys.

func (q queries) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	tag, err := q.db.Exec(ctx, `INSERT INTO api_keys
		(id, org_id, type, user_id, name, prefix, digest, permissions, created_by, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		k.ID, k.OrgID, string(k.Type), nullString(k.UserID), k.Name, k.Prefix, k.Digest, json.RawMessage(perms),
		k.CreatedBy, ms(k.CreatedAt), nullMs(k.LastUsedAt), nullMs(k.ExpiresAt))
	return inserted("insert api key", tag, err)
}

const keySelect = `SELECT id, org_id, type, user_id, name, prefix, digest, permissions,
	created_by, created_at, last_used_at, expires_at FROM api_keys `

func scanKey(r pgx.Row) (store.APIKey, error) {
	var (
		k             store.APIKey
		keyType       string
		userID        *string
		perms         []byte
		created       int64
		used, expires *int64
	)
	if err := r.Scan(&k.ID, &k.OrgID, &keyType, &userID, &k.Name, &k.Prefix, &k.Digest, &perms,
		&k.CreatedBy, &created, &used, &expires); err != nil {
		return store.APIKey{}, scanErr("api key", err)
	}
	if err := json.Unmarshal(perms, &k.Permissions); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s permissions: %w", k.ID, err)
	}
	k.Type = store.KeyType(keyType)
	if userID != nil {
		k.UserID = *userID
	}
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMs(created), fromNullMs(used), fromNullMs(expires)
	return k, nil
}

func (q queries) APIKey(ctx context.Context, orgID, id string) (store.APIKey, error) {
	return scanKey(q.db.QueryRow(ctx, keySelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	return scanKey(q.db.QueryRow(ctx, keySelect+`WHERE digest = $1`, digest))
}

func (q queries) APIKeys(ctx context.Context, orgID string) ([]store.APIKey, error) {
	rows, err := q.db.Query(ctx, keySelect+`WHERE org_id = $1 ORDER BY created_at, id COLLATE "C"`, orgID)
	return collect("api keys", rows, err, scanKey)
}

func (q queries) UpdateAPIKey(ctx context.Context, k store.APIKey) error {
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	// An UPDATE has no ON CONFLICT: a taken digest fails the statement (and,
	// inside Write, the transaction). Digests are random; it does not happen.
	tag, err := q.db.Exec(ctx, `UPDATE api_keys SET name = $1, permissions = $2, prefix = $3, digest = $4, expires_at = $5
		WHERE org_id = $6 AND id = $7`,
		k.Name, json.RawMessage(perms), k.Prefix, k.Digest, nullMs(k.ExpiresAt), k.OrgID, k.ID)
	return oneRow("update api key", tag, err)
}

func (q queries) DeleteAPIKey(ctx context.Context, orgID, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM api_keys WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete api key", tag, err)
}

func (q queries) DeleteUserKeys(ctx context.Context, orgID, userID string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM api_keys WHERE (org_id = $1 OR $1 = '') AND user_id = $2 AND type = $3`,
		orgID, userID, string(store.KeyUser)); err != nil {
		return fmt.Errorf("delete user keys: %w", err)
	}
	return nil
}

func (q queries) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	if _, err := q.db.Exec(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		ms(at), id, ms(at.Add(-minAge))); err != nil {
		return fmt.Errorf("touch api key: %w", err)
	}
	return nil
}

// Links.

// InsertLink inserts the link and its tags in one statement, so it is atomic
// on the pool too. ON CONFLICT DO NOTHING covers every unique index (the
// id, domain+key and the org's externalId); the tags go in only when the
// link did. Tag IDs that name no tag of the org are left out: a link never
// carries another org's tag, and one deleted meanwhile is gone as if the
// delete had come after.
func (q queries) InsertLink(ctx context.Context, l store.Link) error {
	var n int
	err := q.db.QueryRow(ctx, `WITH l AS (
			INSERT INTO links (id, org_id, domain, key, url, version, title, external_id, password_hash,
				expires_at, valid_since, archived, disabled, attrs, clicks, last_clicked_at,
				created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT DO NOTHING
			RETURNING id
		), t AS (
			INSERT INTO link_tags (link_id, tag_id)
			SELECT l.id, tags.id FROM l JOIN tags ON tags.org_id = $2 AND tags.id = ANY($20)
		)
		SELECT count(*) FROM l`,
		l.ID, l.OrgID, l.Domain, l.Key, l.URL, int64(l.Version), l.Title, nullString(l.ExternalID), l.PasswordHash,
		nullMs(l.ExpiresAt), nullMs(l.ValidSince), l.Archived, l.Disabled, nullJSON(l.Attrs), l.Clicks,
		zeroMs(l.LastClickedAt), l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt), tagIDs(l.TagIDs),
	).Scan(&n)
	if err != nil {
		return wrap("insert link", err)
	}
	if n == 0 {
		return fmt.Errorf("insert link: %w", store.ErrConflict)
	}
	return nil
}

// UpdateLink replaces every column but id and org_id, and the link's tags,
// in one statement: the tags not in the new set go, the new ones come (the
// two touch different rows, so their order within the statement does not
// matter). A taken domain+key or externalId is store.ErrConflict without
// spoiling a Write (execGuarded).
func (q queries) UpdateLink(ctx context.Context, l store.Link) error {
	tag, err := q.execGuarded(ctx, `WITH l AS (
			SELECT id FROM links WHERE org_id = $1 AND id = $2
		), gone AS (
			DELETE FROM link_tags WHERE link_id IN (SELECT id FROM l) AND tag_id <> ALL($20)
		), added AS (
			INSERT INTO link_tags (link_id, tag_id)
			SELECT l.id, tags.id FROM l JOIN tags ON tags.org_id = $1 AND tags.id = ANY($20)
			ON CONFLICT DO NOTHING
		)
		UPDATE links SET domain = $3, key = $4, url = $5, version = $6, title = $7, external_id = $8,
			password_hash = $9, expires_at = $10, valid_since = $11, archived = $12, disabled = $13,
			attrs = $14, clicks = $15, last_clicked_at = $16, created_by = $17, created_at = $18,
			updated_at = $19
		WHERE org_id = $1 AND id = $2`,
		l.OrgID, l.ID, l.Domain, l.Key, l.URL, int64(l.Version), l.Title, nullString(l.ExternalID), l.PasswordHash,
		nullMs(l.ExpiresAt), nullMs(l.ValidSince), l.Archived, l.Disabled, nullJSON(l.Attrs), l.Clicks,
		zeroMs(l.LastClickedAt), l.CreatedBy, ms(l.CreatedAt), ms(l.UpdatedAt), tagIDs(l.TagIDs))
	return oneRow("update link", tag, err)
}

// tagIDs is a link's tag set as an array argument: never NULL, which
// "tag_id <> ALL(…)" would take as unknown rather than empty.
func tagIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// linkSelect reads the links a query of them returns (SELECT * FROM links
// …), with their tags, sorted, in one statement: one snapshot, so a link
// never comes with the tags of another version of it. The tags are read
// around the query, not in it, so that a query that sorts and limits reads
// the tags of the page only: PostgreSQL would evaluate a sub-select of its
// own select list for every row it sorts. Queries that sort must sort the
// outer select again (cheap on a page).
func linkSelect(query string) string {
	return `SELECT id, org_id, domain, key, url, version, title, external_id, password_hash,
		expires_at, valid_since, archived, disabled, attrs::text,
		ARRAY(SELECT t.tag_id FROM link_tags t WHERE t.link_id = l.id ORDER BY t.tag_id COLLATE "C"),
		clicks, last_clicked_at, created_by, created_at, updated_at
	FROM (` + query + `) l`
}

func scanLink(r pgx.Row) (store.Link, error) {
	var (
		l                             store.Link
		version                       int64
		externalID, attrs             *string
		expires, validSince           *int64
		lastClicked, created, updated int64
	)
	if err := r.Scan(&l.ID, &l.OrgID, &l.Domain, &l.Key, &l.URL, &version, &l.Title, &externalID, &l.PasswordHash,
		&expires, &validSince, &l.Archived, &l.Disabled, &attrs, &l.TagIDs,
		&l.Clicks, &lastClicked, &l.CreatedBy, &created, &updated); err != nil {
		return store.Link{}, scanErr("link", err)
	}
	l.Version = uint64(version)
	if externalID != nil {
		l.ExternalID = *externalID
	}
	l.Attrs = fromNullJSON(attrs)
	if len(l.TagIDs) == 0 {
		l.TagIDs = nil
	}
	l.ExpiresAt, l.ValidSince = fromNullMs(expires), fromNullMs(validSince)
	l.LastClickedAt = fromZeroMs(lastClicked)
	l.CreatedAt, l.UpdatedAt = fromMs(created), fromMs(updated)
	return l, nil
}

func (q queries) Link(ctx context.Context, orgID, id string) (store.Link, error) {
	return scanLink(q.db.QueryRow(ctx, linkSelect(`SELECT * FROM links WHERE org_id = $1 AND id = $2`), orgID, id))
}

// LockLink locks the link's row (FOR UPDATE), then reads the link in a
// second statement. A concurrent Write that locks the same link waits on the
// lock until this one ends. Under read committed, the statement that waited
// sees the locked row as committed (it re-checks it, so after a delete it
// finds none) but every other row, the link's tags among them, as of its
// start; the next statement sees the tags as committed too, so an update
// made from what LockLink returns loses no concurrent change.
func (q queries) LockLink(ctx context.Context, orgID, id string) (store.Link, error) {
	var one int
	err := q.db.QueryRow(ctx, `SELECT 1 FROM links WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id).Scan(&one)
	if err != nil {
		return store.Link{}, scanErr("lock link", err)
	}
	return q.Link(ctx, orgID, id)
}

func (q queries) LinkByKey(ctx context.Context, orgID, domain, key string) (store.Link, error) {
	return scanLink(q.db.QueryRow(ctx, linkSelect(`SELECT * FROM links WHERE org_id = $1 AND domain = $2 AND key = $3`),
		orgID, domain, key))
}

func (q queries) LinkByExternalID(ctx context.Context, orgID, externalID string) (store.Link, error) {
	return scanLink(q.db.QueryRow(ctx, linkSelect(`SELECT * FROM links WHERE org_id = $1 AND external_id = $2`),
		orgID, externalID))
}

// LinkByURL finds the links through the md5(url) index, then compares the
// url itself.
func (q queries) LinkByURL(ctx context.Context, orgID, domain, url string) (store.Link, error) {
	return scanLink(q.db.QueryRow(ctx, linkSelect(`SELECT * FROM links
		WHERE org_id = $1 AND domain = $2 AND md5(url) = md5($3) AND url = $3
		ORDER BY created_at, id COLLATE "C" LIMIT 1`), orgID, domain, url))
}

// linkSorts maps a sort order to its column; each has an index on (org_id,
// column, id COLLATE "C").
var linkSorts = map[store.LinkSort]string{
	"":                      "created_at",
	store.SortCreatedAt:     "created_at",
	store.SortClicks:        "clicks",
	store.SortLastClickedAt: "last_clicked_at",
}

// likeEscaper makes a search match literally in LIKE … ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// linkWhere is the condition of f's filters; columns are qualified, as
// CountLinks joins link_tags.
func linkWhere(a *args, f store.LinkFilter) string {
	where := []string{"links.org_id = " + a.add(f.OrgID)}
	if f.Domain != "" {
		where = append(where, "links.domain = "+a.add(f.Domain))
	}
	if f.TagID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM link_tags ft WHERE ft.link_id = links.id AND ft.tag_id = "+a.add(f.TagID)+")")
	}
	if f.Search != "" {
		p := a.add("%" + likeEscaper.Replace(f.Search) + "%")
		where = append(where, `(links.key ILIKE `+p+` ESCAPE '\' OR links.url ILIKE `+p+` ESCAPE '\' OR links.title ILIKE `+p+` ESCAPE '\')`)
	}
	if f.ExternalID != "" {
		where = append(where, "links.external_id = "+a.add(f.ExternalID))
	}
	if f.CreatedBy != "" {
		where = append(where, "links.created_by = "+a.add(f.CreatedBy))
	}
	if f.Archived != nil {
		where = append(where, "links.archived = "+a.add(*f.Archived))
	}
	if f.Disabled != nil {
		where = append(where, "links.disabled = "+a.add(*f.Disabled))
	}
	return strings.Join(where, " AND ")
}

// Links pages through a keyset: (column, id) after the cursor, in the
// order of the list, which an index on (org_id, column, id) serves.
func (q queries) Links(ctx context.Context, f store.LinkFilter) ([]store.Link, error) {
	col, ok := linkSorts[f.Sort]
	if !ok {
		return nil, fmt.Errorf("links: unknown sort %q", f.Sort)
	}
	dir, after := "DESC", "<"
	if f.Asc {
		dir, after = "ASC", ">"
	}
	var a args
	where := linkWhere(&a, f)
	if f.After != nil {
		where += fmt.Sprintf(` AND (links.%s, links.id COLLATE "C") %s (%s, %s)`, col, after, a.add(f.After.Value), a.add(f.After.ID))
	}
	order := fmt.Sprintf(` ORDER BY %s %s, id COLLATE "C" %s`, col, dir, dir)
	sql := linkSelect(`SELECT * FROM links WHERE `+where+order+` LIMIT `+a.add(limit(f.Limit))) + order
	rows, err := q.db.Query(ctx, sql, a...)
	return collect("links", rows, err, scanLink)
}

func (q queries) CountLinks(ctx context.Context, f store.LinkFilter, groupBy string) ([]store.Count, error) {
	var a args
	where := linkWhere(&a, f)
	var sql string
	switch groupBy {
	case "":
		sql = `SELECT '', count(*) FROM links WHERE ` + where
	case "domain":
		sql = `SELECT links.domain, count(*) FROM links WHERE ` + where +
			` GROUP BY links.domain ORDER BY links.domain COLLATE "C"`
	case "tag":
		// A link counts once in each of its tags' groups, and in none when it
		// has none.
		sql = `SELECT lt.tag_id, count(*) FROM links JOIN link_tags lt ON lt.link_id = links.id WHERE ` + where +
			` GROUP BY lt.tag_id ORDER BY lt.tag_id COLLATE "C"`
	default:
		return nil, fmt.Errorf("count links: unknown group %q", groupBy)
	}
	rows, err := q.db.Query(ctx, sql, a...)
	return collect("count links", rows, err, func(r pgx.Row) (store.Count, error) {
		var c store.Count
		err := r.Scan(&c.Group, &c.Count)
		return c, err
	})
}

func (q queries) DeleteLink(ctx context.Context, orgID, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM links WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete link", tag, err)
}

// Tags.

// CreateTag stores the name and its lower case, on which names are unique
// per org.
func (q queries) CreateTag(ctx context.Context, t store.Tag) error {
	tag, err := q.db.Exec(ctx, `INSERT INTO tags (id, org_id, name, name_lower, color, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		t.ID, t.OrgID, t.Name, strings.ToLower(t.Name), t.Color, ms(t.CreatedAt))
	return inserted("insert tag", tag, err)
}

const tagSelect = `SELECT id, org_id, name, color, created_at FROM tags `

func scanTag(r pgx.Row) (store.Tag, error) {
	var (
		t  store.Tag
		at int64
	)
	if err := r.Scan(&t.ID, &t.OrgID, &t.Name, &t.Color, &at); err != nil {
		return store.Tag{}, scanErr("tag", err)
	}
	t.CreatedAt = fromMs(at)
	return t, nil
}

func (q queries) Tag(ctx context.Context, orgID, id string) (store.Tag, error) {
	return scanTag(q.db.QueryRow(ctx, tagSelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) TagByName(ctx context.Context, orgID, name string) (store.Tag, error) {
	return scanTag(q.db.QueryRow(ctx, tagSelect+`WHERE org_id = $1 AND name_lower = $2`, orgID, strings.ToLower(name)))
}

// Tags sorts by name case-insensitively ("alpha" before "Beta"), then
// byte-wise.
func (q queries) Tags(ctx context.Context, orgID string) ([]store.Tag, error) {
	rows, err := q.db.Query(ctx, tagSelect+`WHERE org_id = $1
		ORDER BY name_lower COLLATE "C", name COLLATE "C", id COLLATE "C"`, orgID)
	return collect("tags", rows, err, scanTag)
}

// TagPage is Tags a page at a time; name_lower is unique per org, so the
// name's case never breaks a tie.
func (q queries) TagPage(ctx context.Context, f store.TagFilter) ([]store.Tag, error) {
	const order = ` ORDER BY name_lower COLLATE "C", id COLLATE "C" LIMIT `
	if f.After == nil {
		rows, err := q.db.Query(ctx, tagSelect+`WHERE org_id = $1`+order+`$2`, f.OrgID, f.Limit)
		return collect("tags", rows, err, scanTag)
	}
	rows, err := q.db.Query(ctx, tagSelect+`WHERE org_id = $1 AND (name_lower COLLATE "C", id COLLATE "C") > ($2, $3)`+order+`$4`,
		f.OrgID, strings.ToLower(f.After.Name), f.After.ID, f.Limit)
	return collect("tags", rows, err, scanTag)
}

// UpdateTag stores the name and colour; a name the org has in any case is
// store.ErrConflict without spoiling a Write (execGuarded).
func (q queries) UpdateTag(ctx context.Context, t store.Tag) error {
	tag, err := q.execGuarded(ctx, `UPDATE tags SET name = $1, name_lower = $2, color = $3 WHERE org_id = $4 AND id = $5`,
		t.Name, strings.ToLower(t.Name), t.Color, t.OrgID, t.ID)
	return oneRow("update tag", tag, err)
}

// DeleteTag deletes the tag; link_tags cascades, so the tag leaves every
// link.
func (q queries) DeleteTag(ctx context.Context, orgID, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM tags WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete tag", tag, err)
}

// Events.

// AppendEvent stores an empty or JSON null payload as NULL.
func (q queries) AppendEvent(ctx context.Context, es ...store.Event) error {
	for _, e := range es {
		tag, err := q.db.Exec(ctx, `INSERT INTO events (id, org_id, type, resource_id, payload, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			e.ID, e.OrgID, e.Type, e.ResourceID, nullJSON(e.Payload), ms(e.CreatedAt))
		if err := inserted("append event", tag, err); err != nil {
			return err
		}
	}
	return nil
}

// Outbox.

func (q queries) AppendOutbox(ctx context.Context, cmd []byte, at time.Time) (int64, error) {
	var id int64
	if err := q.db.QueryRow(ctx, `INSERT INTO outbox (command, created_at) VALUES ($1, $2) RETURNING id`,
		cmd, ms(at)).Scan(&id); err != nil {
		return 0, fmt.Errorf("append outbox: %w", err)
	}
	return id, nil
}

func (q queries) PendingOutbox(ctx context.Context, olderThan time.Time, n int) ([]store.OutboxEntry, error) {
	rows, err := q.db.Query(ctx, `SELECT id, command, created_at FROM outbox
		WHERE created_at <= $1 ORDER BY id LIMIT $2`, ms(olderThan), limit(n))
	return collect("pending outbox", rows, err, func(r pgx.Row) (store.OutboxEntry, error) {
		var (
			e  store.OutboxEntry
			at int64
		)
		if err := r.Scan(&e.ID, &e.Command, &at); err != nil {
			return store.OutboxEntry{}, err
		}
		e.CreatedAt = fromMs(at)
		return e, nil
	})
}

func (q queries) DeleteOutbox(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete outbox entries: %w", err)
	}
	return nil
}

// Audit.

// AppendAudit stores an empty or JSON null diff as NULL; it reads back nil.
func (q queries) AppendAudit(ctx context.Context, es ...store.AuditEntry) error {
	for _, e := range es {
		tag, err := q.db.Exec(ctx, `INSERT INTO audit_logs
			(id, org_id, at, actor_type, actor_id, key_id, action, resource_type, resource_id, request_id, ip, diff)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			e.ID, e.OrgID, ms(e.At), e.ActorType, e.ActorID, e.KeyID, e.Action, e.ResourceType, e.ResourceID,
			e.RequestID, e.IP, nullJSON(e.Diff))
		if err := inserted("append audit", tag, err); err != nil {
			return err
		}
	}
	return nil
}

func (q queries) AuditLogs(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	add("org_id = ?", f.OrgID)
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
	args = append(args, limit(f.Limit))
	rows, err := q.db.Query(ctx, `SELECT id, org_id, at, actor_type, actor_id, key_id, action, resource_type,
		resource_id, request_id, ip, diff::text FROM audit_logs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	return collect("audit logs", rows, err, func(r pgx.Row) (store.AuditEntry, error) {
		var (
			e    store.AuditEntry
			at   int64
			diff *string
		)
		if err := r.Scan(&e.ID, &e.OrgID, &at, &e.ActorType, &e.ActorID, &e.KeyID, &e.Action, &e.ResourceType,
			&e.ResourceID, &e.RequestID, &e.IP, &diff); err != nil {
			return store.AuditEntry{}, err
		}
		e.At, e.Diff = fromMs(at), fromNullJSON(diff)
		return e, nil
	})
}

// Idempotency keys.

// ClaimIdempotencyKey inserts k, or takes over an expired entry of its key,
// in one statement: INSERT … ON CONFLICT decides under the key's row lock,
// so of two control nodes claiming one key one wins. When the key is held
// it reads the holder in a second statement; should the holder be gone by
// then (released or purged in between), it claims again.
func (q queries) ClaimIdempotencyKey(ctx context.Context, k store.IdempotencyKey, expiredBefore time.Time) (store.IdempotencyKey, bool, error) {
	for range 3 {
		tag, err := q.db.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, fingerprint, owner, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner,
				created_at = excluded.created_at, status = 0, header = NULL, body = NULL
			WHERE idempotency_keys.created_at <= $6`,
			k.Scope, k.Key, k.Fingerprint, k.Owner, ms(k.CreatedAt), ms(expiredBefore))
		if err != nil {
			return store.IdempotencyKey{}, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return k, true, nil
		}
		var (
			held   = store.IdempotencyKey{Scope: k.Scope, Key: k.Key}
			at     int64
			header *string
		)
		err = q.db.QueryRow(ctx, `SELECT fingerprint, owner, created_at, status, header::text, body FROM idempotency_keys
			WHERE scope = $1 AND key = $2`, k.Scope, k.Key).Scan(&held.Fingerprint, &held.Owner, &at, &held.Status, &header, &held.Body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return store.IdempotencyKey{}, false, fmt.Errorf("idempotency key: %w", err)
		}
		held.CreatedAt, held.Header = fromMs(at), fromNullJSON(header)
		return held, false, nil
	}
	return store.IdempotencyKey{}, false, fmt.Errorf("claim idempotency key: the key was released three times while claimed")
}

func (q queries) FinishIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	tag, err := q.db.Exec(ctx, `UPDATE idempotency_keys SET status = $1, header = $2, body = $3
		WHERE scope = $4 AND key = $5 AND owner = $6`, k.Status, nullJSON(k.Header), k.Body, k.Scope, k.Key, k.Owner)
	return oneRow("finish idempotency key", tag, err)
}

func (q queries) ReleaseIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3`,
		k.Scope, k.Key, k.Owner)
	return oneRow("release idempotency key", tag, err)
}

// PurgeIdempotencyKeys skips entries another transaction holds (a claim
// taking one over, another purge), so purges never wait or deadlock.
func (q queries) PurgeIdempotencyKeys(ctx context.Context, expiredBefore time.Time, n int) (int, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY (
		SELECT ctid FROM idempotency_keys WHERE created_at <= $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
		ms(expiredBefore), limit(n))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
