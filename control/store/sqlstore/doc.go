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
// The decisions behind it (one query text per operation, values, errors,
// transactions, migrations) are in DESIGN.md beside this file.
package sqlstore
