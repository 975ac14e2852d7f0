package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/store/pgtest"
)

// The two engines' schemas are one schema: the same tables and columns
// (types as SQLite stores them: integer, text, blob), keys and indexes, as
// each engine's catalogue describes them. Where the engines spell a thing
// differently on purpose the comparison reads past it: collations, index
// directions (a btree serves both), and md5(url), PostgreSQL's stand-in for
// url in an index.
func TestSchemasAgree(t *testing.T) {
	pgtest.ServerURL(t)
	lite := schemaOf(t, engines[0].mustOpenEmpty(t))
	pg := schemaOf(t, engines[1].mustOpenEmpty(t))
	if d := schemaDiff(lite, pg, "sqlite", "postgres"); d != "" {
		t.Errorf("the engines' schemas differ:\n%s", d)
	}
	if len(lite) < 50 {
		t.Errorf("schema of %d lines; is the catalogue read?\n%s", len(lite), strings.Join(lite, "\n"))
	}
}

// schemaOf describes s's tables, a line per fact, sorted.
func schemaOf(t testing.TB, s *Store) []string {
	t.Helper()
	var lines []string
	var err error
	switch s.d {
	case sqliteDialect:
		lines, err = sqliteSchema(s.db)
	case postgresDialect:
		lines, err = postgresSchema(s.db)
	}
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	slices.Sort(lines)
	return lines
}

// schemaDiff lists the lines only one of a and b has.
func schemaDiff(a, b []string, aName, bName string) string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, fmt.Sprintf("only %s: %s", aName, l))
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, fmt.Sprintf("only %s: %s", bName, l))
		}
	}
	return strings.Join(out, "\n")
}

// Lines of a schema.

func columnLine(table string, n int, name, typ string, notNull bool) string {
	null := ""
	if notNull {
		null = " not null"
	}
	return fmt.Sprintf("table %s: column %d %s %s%s", table, n, name, typ, null)
}

func keyLine(table, kind string, cols []string) string {
	return fmt.Sprintf("table %s: %s (%s)", table, kind, strings.Join(cols, ", "))
}

func foreignKeyLine(table, from, to, toCols, onDelete string) string {
	return fmt.Sprintf("table %s: foreign key (%s) references %s (%s) on delete %s", table, from, to, toCols, onDelete)
}

func indexLine(name, table string, unique bool, cols []string, where string) string {
	kind := "index"
	if unique {
		kind = "unique index"
	}
	if where != "" {
		where = " where " + where
	}
	return fmt.Sprintf("%s %s on %s (%s)%s", kind, name, table, strings.Join(cols, ", "), where)
}

// predicate normalises a partial index's condition: PostgreSQL adds
// parentheses and casts.
func predicate(p string) string {
	p = strings.TrimSpace(strings.ReplaceAll(p, "::text", ""))
	for strings.HasPrefix(p, "(") && strings.HasSuffix(p, ")") {
		p = p[1 : len(p)-1]
	}
	return p
}

var sqliteTypes = map[string]string{"INTEGER": "integer", "TEXT": "text", "BLOB": "blob"}

func sqliteSchema(db *sql.DB) ([]string, error) {
	ctx := context.Background()
	tables, err := strs(db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`))
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT cid, name, type, "notnull", pk FROM pragma_table_info($1) ORDER BY cid`, table)
		if err != nil {
			return nil, err
		}
		pk := map[int]string{}
		for rows.Next() {
			var (
				cid, notNull, pkPos int
				name, typ           string
			)
			if err := rows.Scan(&cid, &name, &typ, &notNull, &pkPos); err != nil {
				rows.Close()
				return nil, err
			}
			if pkPos > 0 {
				pk[pkPos] = name
			}
			if sqliteTypes[typ] != "" {
				typ = sqliteTypes[typ]
			}
			// A primary key is never NULL (SQLite allows it in a TEXT one,
			// which inserts never make).
			lines = append(lines, columnLine(table, cid+1, name, typ, notNull == 1 || pkPos > 0))
		}
		rows.Close()
		var pkCols []string
		for i := 1; i <= len(pk); i++ {
			pkCols = append(pkCols, pk[i])
		}
		lines = append(lines, keyLine(table, "primary key", pkCols))

		rows, err = db.QueryContext(ctx, `SELECT "table", "from", "to", on_delete FROM pragma_foreign_key_list($1)`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var to, from, toCol, onDelete string
			if err := rows.Scan(&to, &from, &toCol, &onDelete); err != nil {
				rows.Close()
				return nil, err
			}
			lines = append(lines, foreignKeyLine(table, from, to, toCol, onDelete))
		}
		rows.Close()

		rows, err = db.QueryContext(ctx, `SELECT l.name, l."unique", l.origin, coalesce(m.sql, '')
			FROM pragma_index_list($1) l LEFT JOIN sqlite_master m ON m.type = 'index' AND m.name = l.name`, table)
		if err != nil {
			return nil, err
		}
		type index struct {
			name, origin, sql string
			unique            bool
		}
		var indexes []index
		for rows.Next() {
			var ix index
			if err := rows.Scan(&ix.name, &ix.unique, &ix.origin, &ix.sql); err != nil {
				rows.Close()
				return nil, err
			}
			indexes = append(indexes, ix)
		}
		rows.Close()
		for _, ix := range indexes {
			cols, err := strs(db.QueryContext(ctx, `SELECT coalesce(name, '?') FROM pragma_index_info($1) ORDER BY seqno`, ix.name))
			if err != nil {
				return nil, err
			}
			switch ix.origin {
			case "pk": // the primary key, above
			case "u":
				lines = append(lines, keyLine(table, "unique", cols))
			default:
				where := ""
				if i := strings.LastIndex(strings.ToUpper(ix.sql), " WHERE "); i >= 0 {
					where = predicate(ix.sql[i+len(" WHERE "):])
				}
				lines = append(lines, indexLine(ix.name, table, ix.unique, cols, where))
			}
		}
	}
	return lines, nil
}

var postgresTypes = map[string]string{
	"bigint": "integer", "integer": "integer", "boolean": "integer",
	"text": "text", "json": "text", "jsonb": "text",
	"bytea": "blob",
}

var postgresOnDelete = map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

// md5Column is an index column that is md5 of a column.
var md5Column = regexp.MustCompile(`^md5\((\w+)\)$`)

func postgresSchema(db *sql.DB) ([]string, error) {
	ctx := context.Background()
	tables, err := strs(db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`))
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT ordinal_position, column_name, data_type, is_nullable = 'NO'
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
			ORDER BY ordinal_position`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				n         int
				name, typ string
				notNull   bool
			)
			if err := rows.Scan(&n, &name, &typ, &notNull); err != nil {
				rows.Close()
				return nil, err
			}
			if postgresTypes[typ] != "" {
				typ = postgresTypes[typ]
			}
			lines = append(lines, columnLine(table, n, name, typ, notNull))
		}
		rows.Close()

		// Constraints (primary key, unique, foreign keys) with their
		// columns in key order.
		rows, err = db.QueryContext(ctx, `SELECT c.contype, coalesce(f.relname, ''), c.confdeltype,
			(SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
			coalesce((SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), '')
			FROM pg_constraint c LEFT JOIN pg_class f ON f.oid = c.confrelid
			WHERE c.conrelid = CAST($1 AS regclass) AND c.contype IN ('p', 'u', 'f')`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var kind, to, onDelete, cols, toCols string
			if err := rows.Scan(&kind, &to, &onDelete, &cols, &toCols); err != nil {
				rows.Close()
				return nil, err
			}
			switch kind {
			case "p":
				lines = append(lines, keyLine(table, "primary key", strings.Split(cols, ", ")))
			case "u":
				lines = append(lines, keyLine(table, "unique", strings.Split(cols, ", ")))
			case "f":
				lines = append(lines, foreignKeyLine(table, cols, to, toCols, postgresOnDelete[onDelete]))
			}
		}
		rows.Close()

		// Indexes that back no constraint.
		rows, err = db.QueryContext(ctx, `SELECT i.relname, ix.indisunique, coalesce(pg_get_expr(ix.indpred, ix.indrelid), ''),
			(SELECT string_agg(pg_get_indexdef(ix.indexrelid, k, true), '|' ORDER BY k) FROM generate_series(1, ix.indnkeyatts) k)
			FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid
			WHERE ix.indrelid = CAST($1 AS regclass)
				AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				name, where, cols string
				unique            bool
			)
			if err := rows.Scan(&name, &unique, &where, &cols); err != nil {
				rows.Close()
				return nil, err
			}
			cs := strings.Split(cols, "|")
			for i, c := range cs {
				cs[i] = md5Column.ReplaceAllString(c, "$1")
			}
			lines = append(lines, indexLine(name, table, unique, cs, predicate(where)))
		}
		rows.Close()
	}
	return lines, nil
}

// strs reads a query's one column of strings.
func strs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
