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
//   - Schema. The SQLite schema in PostgreSQL types: TEXT ids, BIGINT Unix
//     milliseconds (the precision the API shows, returned as UTC time.Time),
//     BYTEA digests and commands, an identity column for the outbox id.
//     Permissions are JSONB (validated by the server; the Go side still
//     encodes and decodes them with encoding/json). Slugs are compared
//     case-sensitively (UNIQUE (domain, key) on TEXT, default collation).
//     Two extra indexes (memberships.user_id, api_keys.user_id) exist
//     because PostgreSQL does not index foreign keys and deleting a user
//     cascades into both tables.
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
//   - Errors. A unique violation (SQLSTATE 23505) anywhere is
//     store.ErrConflict, wrapped together with the PostgreSQL error so the
//     constraint name stays visible; a missing row is store.ErrNotFound.
//   - Transactions run at the server default, read committed. DeleteLink
//     reads the row with SELECT … FOR UPDATE, so of two concurrent deletes
//     exactly one succeeds and appends one outbox entry; the other gets
//     ErrNotFound.
//   - Outbox ids come from an identity sequence, which is allocated at insert
//     time, not at commit: with several writers an entry with a smaller id
//     can become visible after a larger one. Entries are deleted one by one
//     once applied (never consumed through a "last id" cursor) and commands
//     carry per-object versions, so late visibility only delays an apply.
//   - An empty APIKey.UserID (a bot key) is stored as NULL, so it satisfies
//     the foreign key to users and stays out of the one-user-key index; it
//     reads back as "".
package postgres
