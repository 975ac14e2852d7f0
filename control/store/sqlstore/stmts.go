package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared statements (SQLite). modernc's SQLite parses every statement it
// is given, and parsing was a fifth of the CPU of a link create;
// database/sql keeps a prepared statement per connection once asked.
// stmtCache prepares each query text once, keyed by the text as written,
// so the dialect renders it once too; texts past maxCached (none expected:
// dynamic texts are built from fixed parts) run unprepared.
const maxCached = 512

type stmtCache struct {
	db *sql.DB
	d  *dialect
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m) >= maxCached {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, c.d.sql(query))
	if err != nil {
		return nil // the unprepared path reports the error
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
}

// cachedDB runs queries outside transactions with cached statements.
type cachedDB struct{ c *stmtCache }

func (d cachedDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := d.c.get(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return d.c.db.ExecContext(ctx, d.c.d.sql(q), args...)
}

func (d cachedDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := d.c.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.c.db.QueryContext(ctx, d.c.d.sql(q), args...)
}

func (d cachedDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := d.c.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.c.db.QueryRowContext(ctx, d.c.d.sql(q), args...)
}
