package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/h0p/h0p/control/store"
)

// Store implements store.Store on SQLite or PostgreSQL. Its Queries run on
// their own; Write runs them in a transaction.
type Store struct {
	queries
	db *sql.DB
	d  *dialect

	// SQLite only (nil on PostgreSQL): writes take turns on one connection
	// (writer.go), statements are prepared once (stmts.go), and WAL
	// checkpoints run beside the writer (checkpoint.go).
	w                *writer
	stmts            *stmtCache
	closing          chan struct{}
	checkpointerDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Queries = queries{}
)

// OpenSQLite opens (or creates) the SQLite database file at path and
// migrates it. It is in WAL mode with synchronous=FULL (it is the source of
// truth), and write transactions are taken IMMEDIATE, so concurrent writers
// queue instead of failing on lock upgrade.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "mmap_size(268435456)", "cache_size(-65536)", "wal_autocheckpoint(0)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db, d: sqliteDialect, closing: make(chan struct{}), checkpointerDone: make(chan struct{})}
	s.stmts = &stmtCache{db: db, d: s.d, m: map[string]*sql.Stmt{}}
	s.queries = queries{s: s, db: cachedDB{s.stmts}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.w, err = openWriter(ctx, s); err != nil {
		db.Close()
		return nil, err
	}
	go s.checkpointer()
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database at dbURL (a postgres://
// URL or key=value string, as pgx parses it, pool_* settings included) and
// migrates it. Tables live in the first schema of the connection's
// search_path.
func OpenPostgres(ctx context.Context, dbURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	// database/sql pools the connections as pgxpool would have: the same
	// bounds and lifetimes. pgx prepares and caches each query text per
	// connection itself.
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	s := &Store{db: db, d: postgresDialect}
	s.queries = queries{s: s, db: plainDB{db, s.d}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Close stops the SQLite writer (after the Write in progress) and
// checkpointer, then closes the database, waiting for statements in
// progress. Closing again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var werr error
		if s.w != nil {
			close(s.closing)
			werr = s.w.close()
			<-s.checkpointerDone
			s.stmts.close()
		}
		s.closeErr = errors.Join(werr, s.db.Close())
	})
	return s.closeErr
}

// Write runs fn in one transaction: it commits if fn returns nil and rolls
// back otherwise. A panic in fn rolls back and goes on up in the caller.
// On SQLite, Writes take turns (writer.go).
func (s *Store) Write(ctx context.Context, fn func(store.Queries) error) error {
	if s.w != nil {
		return s.w.write(ctx, s, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// After Commit this is a no-op (ErrTxDone); after an error or a panic
	// it rolls back.
	defer tx.Rollback()
	if err := fn(queries{s: s, db: plainDB{tx, s.d}, tx: true}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// querier is what the queries need of a connection, a pool or a
// transaction; its implementations take texts as written (tokens and $n)
// and run them as the engine takes them.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// plainDB runs texts on a *sql.DB or *sql.Tx of PostgreSQL, where pgx
// prepares and caches statements itself.
type plainDB struct {
	db querier
	d  *dialect
}

func (p plainDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, p.d.sql(q), args...)
}

func (p plainDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, p.d.sql(q), args...)
}

func (p plainDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, p.d.sql(q), args...)
}

// queries implements store.Queries, each method once for both engines, on
// the store's pool or on a Write's transaction.
type queries struct {
	s  *Store
	db querier
	tx bool // inside Write
}

// atomic runs fn, statements that must commit together: inside Write as
// part of it, outside in a Write of its own.
func (q queries) atomic(ctx context.Context, fn func(queries) error) error {
	if q.tx {
		return fn(q)
	}
	return q.s.Write(ctx, func(tq store.Queries) error { return fn(tq.(queries)) })
}

// write runs fn, a write made outside Write, through SQLite's writer: on
// its own connection it would take the write lock and wait (sleeping in
// the busy handler) for the writer's transactions. Hot writes go this
// way. Inside Write, and on PostgreSQL, fn runs as it is.
func (q queries) write(ctx context.Context, fn func(queries) error) error {
	if q.tx || q.s.w == nil {
		return fn(q)
	}
	return q.atomic(ctx, fn)
}

// guarded runs a statement that may take a unique value ON CONFLICT cannot
// guard (an UPDATE). Inside Write on PostgreSQL it runs under a savepoint,
// so a violation (store.ErrConflict) undoes only this statement and the
// transaction stays usable, as SQLite's statement rollback leaves it.
func (q queries) guarded(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !q.tx || !q.s.d.savepoints {
		return q.db.ExecContext(ctx, query, args...)
	}
	if _, err := q.db.ExecContext(ctx, "SAVEPOINT guard"); err != nil {
		return nil, err
	}
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		if _, rerr := q.db.ExecContext(ctx, "ROLLBACK TO SAVEPOINT guard"); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
	}
	if _, rerr := q.db.ExecContext(ctx, "RELEASE SAVEPOINT guard"); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return res, err
}
