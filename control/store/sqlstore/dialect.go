package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A dialect says what one engine needs said differently. Queries and
// migrations are written once, with $n placeholders (SQLite binds $n by
// number too); where the engines truly differ the text holds a {token},
// which the dialect replaces:
//
//	token          SQLite                              PostgreSQL
//	{bigint}       INTEGER                             BIGINT
//	{bool}         INTEGER                             BOOLEAN
//	{bytes}        BLOB                                BYTEA
//	{json}         TEXT                                JSON (kept as written)
//	{jsonb}        TEXT                                JSONB
//	{serial}       INTEGER PRIMARY KEY AUTOINCREMENT   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
//	{C}            nothing (BINARY is byte-wise)       COLLATE "C"
//	{md5}          nothing (the index holds the url)   md5
//	{ilike}        LIKE (folds ASCII only)             ILIKE
//	{for_update}   nothing (BEGIN IMMEDIATE locks)     FOR UPDATE
//	{skip_locked}  nothing                             FOR UPDATE SKIP LOCKED
//	{json_agg}     json_group_array                    json_agg
//	{json_each}    json_each                           json_array_elements_text
//
// Lists go as one JSON array parameter, read as rows by
// "SELECT value FROM {json_each}($n) value", so a query's text does not
// depend on the length of its list.
type dialect struct {
	tokens *strings.Replacer
	// positional: rewrite $1, $2, … $n, each once and in order, to ?:
	// modernc binds a named parameter ($n) by looking its name up, which
	// costs an allocation per parameter and execution.
	positional bool
	// savepoints: a failed statement aborts the whole transaction
	// (PostgreSQL), so one that may take a unique value ON CONFLICT cannot
	// guard runs under a savepoint inside Write (queries.guarded). SQLite
	// rolls back the failed statement only.
	savepoints bool
	// lockMigrations runs first in the migration transaction: PostgreSQL
	// serialises control nodes that start together with an advisory lock;
	// SQLite's BEGIN IMMEDIATE holds its one write lock already.
	lockMigrations string
	// joinValues: an UPDATE … FROM (VALUES …) finds each row through the
	// table's index (PostgreSQL), so many rows go in one statement and one
	// round trip. SQLite's planner scans the table for it instead (about
	// 40 µs a row at 100,000 links, against 8 µs for a statement of its
	// own, prepared), so there each row has its statement.
	joinValues bool

	rendered sync.Map // query text → its text for this engine
}

var sqliteDialect = &dialect{
	tokens: strings.NewReplacer(
		"{bigint}", "INTEGER",
		"{bool}", "INTEGER",
		"{bytes}", "BLOB",
		"{json}", "TEXT",
		"{jsonb}", "TEXT",
		"{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{C}", "",
		"{md5}", "",
		"{ilike}", "LIKE",
		"{for_update}", "",
		"{skip_locked}", "",
		"{json_agg}", "json_group_array",
		"{json_each}", "json_each",
	),
	positional: true,
}

// migrationLock is the pg_advisory_xact_lock key that serialises migrations
// of control nodes starting together. Advisory locks are per database, so
// installs in different schemas of one database share it; they only wait
// for each other's (short) migrations.
const migrationLock int64 = 0x68307063_6f6e7472 // "h0pcontr"

var postgresDialect = &dialect{
	tokens: strings.NewReplacer(
		"{bigint}", "BIGINT",
		"{bool}", "BOOLEAN",
		"{bytes}", "BYTEA",
		"{json}", "JSON",
		"{jsonb}", "JSONB",
		"{serial}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"{C}", ` COLLATE "C"`,
		"{md5}", "md5",
		"{ilike}", "ILIKE",
		"{for_update}", " FOR UPDATE",
		"{skip_locked}", " FOR UPDATE SKIP LOCKED",
		"{json_agg}", "json_agg",
		"{json_each}", "json_array_elements_text",
	),
	savepoints:     true,
	lockMigrations: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(migrationLock, 10) + ")",
	joinValues:     true,
}

// sql is query as this engine takes it. Texts are a fixed set (the dynamic
// ones are built from fixed parts), so the cache stays small.
func (d *dialect) sql(query string) string {
	if !d.positional && strings.IndexByte(query, '{') < 0 {
		return query
	}
	if s, ok := d.rendered.Load(query); ok {
		return s.(string)
	}
	s := d.render(query)
	d.rendered.Store(query, s)
	return s
}

// render replaces the tokens of query and, where it may, its placeholders.
func (d *dialect) render(query string) string {
	s := d.tokens.Replace(query)
	if d.positional {
		s = toPositional(s)
	}
	return s
}

// toPositional rewrites $1 … $n to ? when they come once each, in order;
// otherwise it leaves query as it is. No query text holds a $ elsewhere.
func toPositional(query string) string {
	var (
		b    strings.Builder
		next = 1
	)
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			b.WriteByte(query[i])
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(query[i+1 : j]); err != nil || n != next {
			return query
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}

// isUnique tells whether err is a unique (or primary key) violation, on
// either engine.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
}
