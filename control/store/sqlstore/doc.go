// Package sqlstore is the control store on SQL databases: SQLite, the
// embedded default (modernc.org/sqlite; OpenSQLite), and PostgreSQL for
// several control nodes sharing one database (pgx through database/sql;
// OpenPostgres). It implements store.Store once for both and passes the
// suite every engine runs (storetest).
//
// It owns the schema, its migrations and the SQL, nothing else: it knows
// no command format (outbox commands are bytes), never reads the clock, and
// does not pick or create the database or schema it runs in (on
// PostgreSQL, tables go into the first schema of the search_path).
//
// Decisions:
//
//   - One text per operation, in a file per entity, with $n placeholders;
//     where the engines truly differ (types, the C collation, row locks,
//     JSON functions) the text holds a token the dialect replaces
//     (dialect.go). TestSchemasAgree reads both engines' catalogues and
//     fails when their schemas part.
//   - Values. Times are integer Unix milliseconds (the API's precision,
//     read back as UTC; NULL for an optional zero time, 0 for a link never
//     clicked so it sorts with no NULL ordering). JSON documents are kept
//     as written (TEXT; JSON, not JSONB, on PostgreSQL) and an empty or
//     null one is NULL. Ties and the audit log sort by id byte-wise on both
//     engines, so cursors agree with the ULIDs' time order; lists page by
//     keyset, each order served by an index. A negative LIMIT is none.
//   - Errors. A missing row is store.ErrNotFound, on reads and on writes
//     that name one row (org-scoped ones look only in that org); writes
//     over a set or with a condition do not fail when nothing matched. A
//     taken unique value is store.ErrConflict and never aborts the
//     transaction: inserts are ON CONFLICT DO NOTHING and count the rows
//     that went in, updates run under a savepoint inside a PostgreSQL
//     Write. So inside Write a caller can handle ErrConflict and go on on
//     both engines; after any other error it returns it (PostgreSQL has
//     aborted the transaction).
//   - Transactions. Write commits if its function returns nil, and rolls
//     back on an error or a panic, which goes on up in the caller; the
//     Queries it lends work only while the function runs. A change of
//     several statements made outside Write (a link and its tags) runs as a
//     Write of its own. PostgreSQL runs at read committed, locking rows
//     where a Write reads to change (LockLink: FOR UPDATE; the idempotency
//     purge skips locked rows). SQLite takes write transactions IMMEDIATE,
//     holding its one write lock from the start; Writes take turns on one
//     connection kept for writing, a transaction each (writer.go), with
//     prepared statements (stmts.go) and WAL checkpoints off the commit
//     path (checkpoint.go); hot writes outside Write go through it too.
//     The store batches nothing: concurrent link creates are batched
//     above it (control/links).
//   - Migrations are one ordered, append-only list recorded in
//     schema_migrations, applied in one transaction that on PostgreSQL
//     first takes an advisory lock: nodes starting at once queue, the first
//     migrates, the others find the versions recorded, and a crash leaves
//     nothing half-done. Databases made while each engine had a list of its
//     own keep their version numbers (migrations.go).
package sqlstore
