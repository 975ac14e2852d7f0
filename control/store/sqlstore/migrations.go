package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// A migration changes the schema of both engines: sql, with the dialect's
// tokens (dialect.go) for what they spell differently.
type migration struct {
	sql string
	// postgres runs before sql on PostgreSQL only: it undoes what
	// PostgreSQL's own list of migrations once did differently.
	postgres string
}

// migrations run in order, each once, recorded by number in
// schema_migrations; append only, never edit one that has shipped.
//
// Each engine had a list of its own until migration 5; the two created the
// same tables and columns at each number but not the same indexes. The list
// below creates each table as both did, and each index at the first number
// at which either engine had it; migration 6 brings a database made by
// either old list to the same state, so a number means the same tables and
// columns on both engines, old databases or new, and from 6 on the same
// indexes too.
var migrations = []migration{
	// 1: orgs, users, memberships, API keys, links, the outbox. Foreign
	// keys get an index where deleting the parent cascades (PostgreSQL does
	// not index them itself). Slugs (domain, key) are unique as they are
	// spelt: case matters.
	{sql: `CREATE TABLE orgs (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		created_at {bigint} NOT NULL
	);
	CREATE TABLE users (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL DEFAULT '',
		password_hash TEXT NOT NULL DEFAULT '',
		created_at {bigint} NOT NULL
	);
	CREATE TABLE memberships (
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		created_at {bigint} NOT NULL,
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
		digest {bytes} NOT NULL UNIQUE,
		permissions {jsonb} NOT NULL,
		created_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		last_used_at {bigint},
		expires_at {bigint}
	);
	CREATE UNIQUE INDEX api_keys_one_user_key ON api_keys(org_id, user_id) WHERE type = 'user';
	CREATE INDEX api_keys_user ON api_keys(user_id);
	CREATE TABLE links (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id),
		domain TEXT NOT NULL,
		key TEXT NOT NULL,
		url TEXT NOT NULL,
		version {bigint} NOT NULL,
		created_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		updated_at {bigint} NOT NULL,
		UNIQUE (domain, key)
	);
	CREATE INDEX links_org ON links(org_id, id);
	CREATE TABLE outbox (
		id {serial},
		command {bytes} NOT NULL,
		created_at {bigint} NOT NULL
	);`},

	// 2: sessions, invitations and the audit log. Audit ids are compared
	// and sorted byte-wise ({C}) whatever the database's collation, so the
	// Before cursor and the order agree with the ULIDs' time order. The
	// diff is JSON, not JSONB: JSONB would reorder its keys and respace it,
	// and it is only ever read back whole. Audit entries have no foreign
	// keys: they outlive what they describe.
	{sql: `CREATE TABLE sessions (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		digest {bytes} NOT NULL UNIQUE,
		created_at {bigint} NOT NULL,
		expires_at {bigint} NOT NULL
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE TABLE invitations (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		email TEXT NOT NULL,
		role TEXT NOT NULL,
		digest {bytes} NOT NULL UNIQUE,
		invited_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		expires_at {bigint} NOT NULL,
		accepted_at {bigint}
	);
	CREATE INDEX invitations_org ON invitations(org_id);
	CREATE TABLE audit_logs (
		id TEXT{C} PRIMARY KEY,
		org_id TEXT NOT NULL,
		at {bigint} NOT NULL,
		actor_type TEXT NOT NULL,
		actor_id TEXT NOT NULL,
		key_id TEXT NOT NULL DEFAULT '',
		action TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		resource_id TEXT NOT NULL,
		request_id TEXT NOT NULL DEFAULT '',
		ip TEXT NOT NULL DEFAULT '',
		diff {json}
	);
	CREATE INDEX audit_logs_org ON audit_logs(org_id, id DESC);
	CREATE INDEX audit_logs_resource ON audit_logs(org_id, resource_type, resource_id, id DESC);
	CREATE INDEX api_keys_org ON api_keys(org_id, created_at);`},

	// 3: plans, usage counters, the full link, tags and domain events. The
	// new link columns have constant defaults, so adding them rewrites no
	// table, and existing links read back as untitled, never clicked, with
	// no tags. An empty externalId is NULL, so only set ones are unique per
	// org. A never clicked link has last_clicked_at 0, not NULL, so the sort
	// and its cursor need no NULL ordering. attrs and payload are JSON, not
	// JSONB, to read back byte for byte, as audit diffs. The list indexes
	// end in id{C}, the tie-break of the keyset order. LinkByURL's index
	// holds {md5}(url) on PostgreSQL, not the url: a btree entry can hold at
	// most ~2.7 kB and a destination may be 8 kB. Tag names are unique by
	// name_lower, which Go computes (strings.ToLower), so both engines fold
	// case alike whatever the database's locale.
	{sql: `ALTER TABLE orgs ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
	CREATE TABLE usage (
		org_id TEXT NOT NULL,
		period TEXT NOT NULL,
		metric TEXT NOT NULL,
		value {bigint} NOT NULL,
		PRIMARY KEY (org_id, period, metric)
	);
	ALTER TABLE links ADD COLUMN title TEXT NOT NULL DEFAULT '';
	ALTER TABLE links ADD COLUMN external_id TEXT;
	ALTER TABLE links ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
	ALTER TABLE links ADD COLUMN expires_at {bigint};
	ALTER TABLE links ADD COLUMN valid_since {bigint};
	ALTER TABLE links ADD COLUMN archived {bool} NOT NULL DEFAULT false;
	ALTER TABLE links ADD COLUMN disabled {bool} NOT NULL DEFAULT false;
	ALTER TABLE links ADD COLUMN attrs {json};
	ALTER TABLE links ADD COLUMN clicks {bigint} NOT NULL DEFAULT 0;
	ALTER TABLE links ADD COLUMN last_clicked_at {bigint} NOT NULL DEFAULT 0;
	CREATE UNIQUE INDEX links_external ON links(org_id, external_id) WHERE external_id IS NOT NULL;
	CREATE INDEX links_org_created ON links(org_id, created_at, id{C});
	CREATE INDEX links_org_clicks ON links(org_id, clicks, id{C});
	CREATE INDEX links_org_last_clicked ON links(org_id, last_clicked_at, id{C});
	CREATE INDEX links_org_url ON links(org_id, domain, {md5}(url));
	CREATE TABLE tags (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		name_lower TEXT NOT NULL,
		color TEXT NOT NULL DEFAULT '',
		created_at {bigint} NOT NULL,
		UNIQUE (org_id, name_lower)
	);
	CREATE TABLE link_tags (
		link_id TEXT NOT NULL REFERENCES links(id) ON DELETE CASCADE,
		tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
		PRIMARY KEY (link_id, tag_id)
	);
	CREATE INDEX link_tags_tag ON link_tags(tag_id);
	CREATE TABLE events (
		id TEXT{C} PRIMARY KEY,
		org_id TEXT NOT NULL,
		type TEXT NOT NULL,
		resource_id TEXT NOT NULL DEFAULT '',
		payload {json},
		created_at {bigint} NOT NULL
	);
	CREATE INDEX events_org ON events(org_id, id);`},

	// 4: email verification and password resets. Accounts from before email
	// verification are taken as verified.
	{sql: `ALTER TABLE users ADD COLUMN email_verified_at {bigint};
	UPDATE users SET email_verified_at = created_at;
	CREATE TABLE user_tokens (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		purpose TEXT NOT NULL,
		digest {bytes} NOT NULL UNIQUE,
		created_at {bigint} NOT NULL,
		expires_at {bigint} NOT NULL,
		used_at {bigint}
	);
	CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose, created_at);
	CREATE INDEX user_tokens_expires ON user_tokens(expires_at);`},

	// 5: idempotency keys of write requests, with the answer once it is
	// known. Entries expire by created_at (its index serves the purge);
	// header is JSON, as written, and body the API's bytes.
	{sql: `CREATE TABLE idempotency_keys (
		scope TEXT NOT NULL,
		key TEXT NOT NULL,
		fingerprint {bytes} NOT NULL,
		owner TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		status INTEGER NOT NULL DEFAULT 0,
		header {json},
		body {bytes},
		PRIMARY KEY (scope, key)
	);
	CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);`},

	// 6: the indexes a database made by either engine's old list may lack.
	// The audit log keeps two indexes, org_id+id (ids are ULIDs, in time
	// order: time ranges and actor filters walk it newest first) and the
	// resource's: every index costs every write of a link its audit entry's
	// page, so none on actor_id or at (they made a bulk create of 1,000
	// links 7% slower).
	// SQLite's lacked those of memberships_user to api_keys_org, or had them
	// later; PostgreSQL's named the link indexes otherwise (renamed here in
	// the tables' schema only, current_schema()).
	{
		postgres: `DO $$
		DECLARE r record;
		BEGIN
			FOR r IN SELECT v.old, v.new FROM (VALUES
					('links_external_id', 'links_external'),
					('links_created', 'links_org_created'),
					('links_clicks', 'links_org_clicks'),
					('links_last_clicked', 'links_org_last_clicked'),
					('links_url', 'links_org_url')) v(old, new)
				JOIN pg_indexes i ON i.schemaname = current_schema() AND i.indexname = v.old
			LOOP
				EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', current_schema(), r.old, r.new);
			END LOOP;
		END $$;`,
		sql: `CREATE INDEX IF NOT EXISTS memberships_user ON memberships(user_id);
		CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys(user_id);
		CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
		CREATE INDEX IF NOT EXISTS invitations_org ON invitations(org_id);
		DROP INDEX IF EXISTS audit_logs_actor;
		DROP INDEX IF EXISTS audit_logs_at;
		CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys(org_id, created_at);`,
	},
	// 7: click ingestion's checkpoint per edge: the last batch counted and
	// what it admitted (control/links, clicks.go).
	{sql: `CREATE TABLE click_checkpoints (
		edge TEXT PRIMARY KEY,
		seq {bigint} NOT NULL,
		admission {bytes},
		updated_at {bigint} NOT NULL
	);`},
	// 8: custom domains (control/domains). Names are unique across orgs;
	// the recheck reads them by checked_at.
	{sql: `CREATE TABLE domains (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		name TEXT NOT NULL UNIQUE,
		token TEXT NOT NULL,
		status TEXT NOT NULL,
		is_primary {bool} NOT NULL,
		version {bigint} NOT NULL,
		attrs {json},
		records {json},
		verified_at {bigint},
		last_ok_at {bigint},
		checked_at {bigint} NOT NULL,
		created_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		updated_at {bigint} NOT NULL
	);
	CREATE INDEX domains_org ON domains(org_id, id);
	CREATE INDEX domains_checked ON domains(checked_at);`},
	// 9: API usage per caller, UTC day, route and status class
	// (control/usage), added to by each control node's flushes. No
	// foreign keys: the counts outlive the keys they name, and a flush
	// must not fail on a row.
	{sql: `CREATE TABLE api_usage (
		org_id TEXT NOT NULL,
		principal_kind TEXT NOT NULL,
		principal_id TEXT NOT NULL,
		day TEXT NOT NULL,
		route TEXT NOT NULL,
		status_class TEXT NOT NULL,
		requests {bigint} NOT NULL,
		rate_limited {bigint} NOT NULL,
		last_used_at {bigint} NOT NULL,
		PRIMARY KEY (org_id, principal_kind, principal_id, day, route, status_class)
	);
	CREATE INDEX api_usage_org_day ON api_usage(org_id, day);`},
	// 10: webhooks (control/webhooks): endpoints with their sealed secrets,
	// and the delivery log the dispatcher works from, a message per event
	// and endpoint with its attempts. The dispatcher reads due messages by
	// (status, next_attempt_at); deleting an endpoint deletes its log.
	{sql: `CREATE TABLE webhooks (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		url TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		events {json} NOT NULL,
		scope {json},
		secret {bytes} NOT NULL,
		previous_secret {bytes},
		previous_expires_at {bigint},
		disabled_at {bigint},
		disabled_reason TEXT NOT NULL DEFAULT '',
		version {bigint} NOT NULL,
		created_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		updated_at {bigint} NOT NULL
	);
	CREATE INDEX webhooks_org ON webhooks(org_id, id{C});
	CREATE TABLE webhook_messages (
		id TEXT PRIMARY KEY,
		webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
		org_id TEXT NOT NULL,
		event_id TEXT NOT NULL DEFAULT '',
		event_type TEXT NOT NULL,
		payload {json} NOT NULL,
		status TEXT NOT NULL,
		attempts {bigint} NOT NULL DEFAULT 0,
		next_attempt_at {bigint},
		last_status_code {bigint} NOT NULL DEFAULT 0,
		last_latency_ms {bigint} NOT NULL DEFAULT 0,
		last_response {bytes},
		created_at {bigint} NOT NULL,
		updated_at {bigint} NOT NULL
	);
	CREATE INDEX webhook_messages_webhook ON webhook_messages(webhook_id, id{C});
	CREATE INDEX webhook_messages_due ON webhook_messages(status, next_attempt_at);
	CREATE TABLE webhook_attempts (
		message_id TEXT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
		attempt {bigint} NOT NULL,
		at {bigint} NOT NULL,
		status_code {bigint} NOT NULL DEFAULT 0,
		latency_ms {bigint} NOT NULL,
		response {bytes},
		error TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (message_id, attempt)
	);`},

	// 11: webhook fan-out. An event is fanned out (turned into webhook
	// messages) once: fanned_out_at is set in the transaction that inserts
	// its messages, and the partial index holds only the events still to
	// do. A flag, not a cursor over event IDs: an event whose transaction
	// commits after a later-numbered one would be skipped by a cursor.
	// Events from before the dispatcher count as done.
	{sql: `ALTER TABLE events ADD COLUMN fanned_out_at {bigint};
	UPDATE events SET fanned_out_at = created_at;
	CREATE INDEX events_fanout ON events(id{C}) WHERE fanned_out_at IS NULL;`},

	// 12: files (control/files). A file row is an org's name for a blob,
	// bytes stored once per SHA-256 outside the database; blobs counts the
	// files that name each one (refs), and since when none has
	// (zero_since), which is what the sweeper reads, through a partial
	// index of the unreferenced ones.
	{sql: `CREATE TABLE blobs (
		sha256 TEXT PRIMARY KEY,
		size {bigint} NOT NULL,
		refs {bigint} NOT NULL,
		zero_since {bigint}
	);
	CREATE INDEX blobs_zero ON blobs(zero_since) WHERE refs = 0;
	CREATE TABLE files (
		id TEXT PRIMARY KEY,
		org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
		name TEXT NOT NULL,
		media_type TEXT NOT NULL,
		size {bigint} NOT NULL,
		sha256 TEXT NOT NULL,
		width {bigint} NOT NULL DEFAULT 0,
		height {bigint} NOT NULL DEFAULT 0,
		created_by TEXT NOT NULL,
		created_at {bigint} NOT NULL,
		updated_at {bigint} NOT NULL,
		version {bigint} NOT NULL
	);
	CREATE INDEX files_org ON files(org_id, id{C});`},

	// 13: what uses a file. A link's image and preview image, when they
	// are files, are columns of their own beside attrs (which holds them
	// as given), and a saved QR code's file names its logo's file and the
	// link it encodes; partial indexes hold only the rows that name a
	// file, which is what a file's references are read through.
	{sql: `ALTER TABLE links ADD COLUMN image_file TEXT;
	ALTER TABLE links ADD COLUMN preview_image_file TEXT;
	CREATE INDEX links_image_file ON links(image_file) WHERE image_file IS NOT NULL;
	CREATE INDEX links_preview_image_file ON links(preview_image_file) WHERE preview_image_file IS NOT NULL;
	ALTER TABLE files ADD COLUMN logo_file_id TEXT;
	ALTER TABLE files ADD COLUMN link_id TEXT;
	CREATE INDEX files_logo ON files(logo_file_id) WHERE logo_file_id IS NOT NULL;`},

	// 14: the links that set UTM parameters, which the stats' UTM groupings
	// read (LinkUTMValues): a partial index, as most links set none.
	{sql: `CREATE INDEX links_org_utm ON links(org_id) WHERE (attrs -> 'utm') IS NOT NULL;`},
}

// migrate applies the missing migrations in one transaction, which first
// takes the dialect's migration lock: control nodes starting at once queue
// on it, the first migrates, the others find the versions recorded. DDL is
// transactional on both engines, so a crash mid-way leaves nothing
// half-applied.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if err := s.migrateTx(ctx, tx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

func (s *Store) migrateTx(ctx context.Context, tx *sql.Tx) error {
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.render(`CREATE TABLE IF NOT EXISTS schema_migrations (version {bigint} PRIMARY KEY)`)); err != nil {
		return err
	}
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i, m := range migrations {
		version := i + 1
		if done[version] {
			continue
		}
		texts := []string{m.sql}
		if s.d == postgresDialect && m.postgres != "" {
			texts = []string{m.postgres, m.sql}
		}
		for _, text := range texts {
			// Without arguments, several statements run as one text on
			// both drivers (pgx sends it with the simple protocol).
			if _, err := tx.ExecContext(ctx, s.d.tokens.Replace(text)); err != nil {
				return fmt.Errorf("migration %d: %w", version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.render(`INSERT INTO schema_migrations (version) VALUES ($1)`), version); err != nil {
			return fmt.Errorf("migration %d: record: %w", version, err)
		}
	}
	return nil
}
