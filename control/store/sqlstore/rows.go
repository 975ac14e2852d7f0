package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/store"
)

// What goes into statements and comes out of them, alike on both engines.

// wrap adds context to err and, for a unique violation, store.ErrConflict,
// keeping the engine's error (which names the constraint) reachable.
func wrap(what string, err error) error {
	if isUnique(err) {
		return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// inserted checks an INSERT … ON CONFLICT DO NOTHING of n rows: fewer rows
// inserted means a unique value was taken. Inserts skip a taken value
// rather than fail, which would abort a PostgreSQL transaction.
func inserted(what string, n int64, res sql.Result, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	got, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got < n {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return nil
}

// oneRow checks a write that names one row: none matched is ErrNotFound.
func oneRow(what string, res sql.Result, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// scanErr maps sql.ErrNoRows to store.ErrNotFound.
func scanErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	return fmt.Errorf("%s: %w", what, err)
}

type rowScanner interface{ Scan(dest ...any) error }

// collect scans every row of a query with scan.
func collect[T any](what string, rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// args collects the arguments of a query built from parts; add returns the
// placeholder of the argument it appends.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// insertRows runs insert (an INSERT … VALUES without its tuples) for rows,
// ncols values each, as multi-row statements: each carries a statement's
// parsing and round trip once for many rows, which a bulk of 1,000 links'
// audit entries and events notices. Chunks of 64, then 8, then 1 rows keep
// the statement texts (and so the prepared statements) at three per table.
// A taken unique value is store.ErrConflict (ON CONFLICT DO NOTHING, then a
// count of the rows that went in): outside Write nothing is stored then;
// inside, the Write is to roll back, as some rows may have gone in.
func (q queries) insertRows(ctx context.Context, what, insert string, ncols int, rows []any) error {
	if len(rows) == 0 {
		return nil
	}
	return q.atomic(ctx, func(q queries) error {
		for len(rows) > 0 {
			n := len(rows) / ncols
			switch {
			case n >= 64:
				n = 64
			case n >= 8:
				n = 8
			default:
				n = 1
			}
			res, err := q.db.ExecContext(ctx, insert+valuesFor(ncols, n), rows[:n*ncols]...)
			if err := inserted(what, int64(n), res, err); err != nil {
				return err
			}
			rows = rows[n*ncols:]
		}
		return nil
	})
}

var values sync.Map // [2]int{ncols, nrows} → "($1, …), (…) ON CONFLICT DO NOTHING"

// valuesFor is the tuples of a multi-row insert and its conflict clause.
func valuesFor(ncols, nrows int) string {
	key := [2]int{ncols, nrows}
	if s, ok := values.Load(key); ok {
		return s.(string)
	}
	var a args
	tuples := make([]string, nrows)
	for r := range tuples {
		marks := make([]string, ncols)
		for c := range marks {
			marks[c] = a.add(nil)
		}
		tuples[r] = "(" + strings.Join(marks, ", ") + ")"
	}
	s := strings.Join(tuples, ", ") + " ON CONFLICT DO NOTHING"
	values.Store(key, s)
	return s
}

// jsonList is a list argument: one JSON array, read in the query as rows
// of {json_each}.
func jsonList[T string | int64](vs []T) string {
	if vs == nil {
		return "[]"
	}
	b, _ := json.Marshal(vs) // strings and integers always encode
	return string(b)
}

// limit is a LIMIT argument: a negative limit is none.
func limit(n int) int64 {
	if n < 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// Times are stored as Unix milliseconds, the precision the API shows, and
// read back as UTC.

func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMs stores the zero time as NULL.
func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMs(v.Int64)
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

// nullString stores "" as NULL: a bot key (no user) then satisfies the
// foreign key to users and stays out of the one-user-key index, and only
// set externalIds are unique.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullJSON stores an empty or JSON null document as NULL; it reads back nil.
// The text goes in as written.
func nullJSON(doc json.RawMessage) sql.NullString {
	if len(doc) == 0 || string(doc) == "null" {
		return sql.NullString{}
	}
	return sql.NullString{String: string(doc), Valid: true}
}

func fromNullJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}
