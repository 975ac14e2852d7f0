// Package postgres is the control store engine for several control nodes
// sharing one database: PostgreSQL through a pgx connection pool (pgxpool,
// no database/sql). It implements store.Store with the semantics of the
// embedded SQLite engine and passes the same suite (storetest).
//
// It owns the PostgreSQL schema and its migrations, nothing else: it knows no
// command format (outbox commands are bytes), never reads the clock, and does
// not pick or create the database or schema it runs in.
//
// Decisions:
//
//   - One implementation. Every store.Queries method is written once, on a
//     small type over what *pgxpool.Pool and pgx.Tx share (Exec, Query,
//     QueryRow). Store runs it on the pool, each statement on its own;
//     Write runs it on a transaction.
//   - Schema. The SQLite schema in PostgreSQL types: TEXT ids, BIGINT Unix
//     milliseconds (the precision the API shows, returned as UTC time.Time;
//     NULL for an optional time that is zero), BYTEA digests and commands,
//     an identity column for the outbox id. Permissions are JSONB (the Go
//     side encodes and decodes them with encoding/json). Audit diffs, link
//     attrs and event payloads are JSON, not JSONB, so they read back byte
//     for byte as written, as in SQLite; an empty or null document is SQL
//     NULL and reads back nil. Slugs are compared case-sensitively (UNIQUE
//     (domain, key) on TEXT). An empty externalId is NULL, so a partial
//     unique index makes only set ones unique per org. A never clicked link
//     has last_clicked_at 0 (the zero time), not NULL, so it sorts as time
//     zero with no NULL ordering in the sort or the cursor. Tag names are
//     unique per org by name_lower, lowered in Go (strings.ToLower) rather
//     than by the database's locale. LinkByURL's index is on md5(url): a
//     btree entry holds ~2.7 kB, a destination up to 8 kB. Foreign keys
//     get an index where deleting the parent cascades (PostgreSQL does not
//     index them itself). Audit entries and events have no foreign keys:
//     they outlive what they describe.
//   - Links and tags. A link's tags are link_tags rows, written in the
//     statement that writes the link (so InsertLink and UpdateLink are
//     atomic on the pool too); tag IDs that name no tag of the link's org
//     are left out. Reads return the tags in the statement that reads the
//     links (one snapshot), selected around the filtered, sorted and
//     limited query so that only the page's tags are read. Lists page by
//     keyset, (sort column, id) past the cursor, each order served by an
//     index on (org_id, column, id COLLATE "C"). Search is ILIKE on key,
//     url and title with %, _ and \ escaped; it scans the org's links
//     (no trigram index).
//   - Order. Lists sort as SQLite sorts: ties and the audit log go by id in
//     byte order (COLLATE "C"), whatever the database's collation, so the
//     audit cursor (id < Before) agrees with the ULIDs' time order.
//   - Where. Tables go into the first schema of the connection's
//     search_path (pass search_path in the URL to isolate an install or a
//     test); the URL is handed to pgx as is.
//   - Migrations are an ordered, append-only list recorded in
//     schema_migrations, applied in one transaction that first takes
//     pg_advisory_xact_lock(migrationLock). Control nodes starting at once
//     queue on the lock; the first migrates, the others find the versions
//     recorded. DDL is transactional, so a crash mid-migration leaves
//     nothing half-done. The lock is per database, so installs in other
//     schemas of the same database briefly share it.
//   - Errors. A missing row is store.ErrNotFound, on reads and on writes
//     that name one row (update, set, remove, delete by id) and matched
//     none; org-scoped ones look only in that org. Writes over a set
//     (DeleteUserKeys, DeleteOutbox) or with a condition (TouchAPIKey) do
//     not fail when nothing matched. A taken unique value is
//     store.ErrConflict: inserts use ON CONFLICT DO NOTHING and check that a
//     row went in, other statements map SQLSTATE 23505 (wrapped together
//     with the PostgreSQL error, which names the constraint); UpdateLink
//     and UpdateTag, which may take a unique value ON CONFLICT cannot
//     guard, run under a savepoint inside Write, so a conflict undoes only
//     that statement.
//   - Transactions run at the server default, read committed. PostgreSQL
//     aborts a transaction at its first failed statement, SQLite does not;
//     neither inserts nor link and tag updates leave the transaction
//     aborted on a conflict (above), so inside Write a caller can handle
//     ErrConflict and go on on both engines. Any other error
//     leaves the transaction unusable: return it. Write rolls back on an
//     error or a panic (which it lets through).
//   - LockLink is SELECT … FOR UPDATE: of two Writes that lock and delete
//     the same link, the second waits for the first, then re-reads the row
//     as committed, finds none and gets ErrNotFound, so exactly one delete
//     and one outbox entry happen. It reads the link in a second statement:
//     the statement that waited sees the locked row as committed but other
//     rows (the tags) as of its start. Outside Write it is a plain read.
//   - Outbox ids come from an identity sequence, which is allocated at insert
//     time, not at commit: with several writers an entry with a smaller id
//     can become visible after a larger one. Entries are deleted by id once
//     applied (never consumed through a "last id" cursor) and commands
//     carry per-object versions, so late visibility only delays an apply.
//   - Idempotency keys are claimed by one INSERT … ON CONFLICT (scope, key)
//     DO UPDATE … WHERE the entry has expired: PostgreSQL decides it under
//     the key's row lock, so of two control nodes claiming one key exactly
//     one inserts (or takes over an expired entry); the other reads the
//     holder. The purge deletes expired entries FOR UPDATE SKIP LOCKED, so
//     it never waits for a claim or another purge.
//   - A LIMIT below zero means no limit, as in SQLite; zero returns nothing.
//   - An empty APIKey.UserID (a bot key) is stored as NULL, so it satisfies
//     the foreign key to users and stays out of the one-user-key index; it
//     reads back as "". Empty audit fields (KeyID for a session, RequestID,
//     IP) are stored as "".
package postgres
