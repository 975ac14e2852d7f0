package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/h0p/h0p/control/store"
)

// The writer (SQLite). SQLite has one writer at a time: a transaction that
// wanted the write lock while another connection held it would wait for
// it in the busy handler, asleep. So Writes, and the writes made outside
// Write (queries.write), take turns on one connection the store keeps for
// writing, each in a transaction of its own, run on its caller's
// goroutine: a panic (or runtime.Goexit, as t.FailNow calls) rolls that
// transaction back and goes on up in its caller, and the next Write takes
// its turn. Writes are not batched here: the one batching layer is above
// the store, where concurrent link creates share statements and a raft
// entry on both engines (control/links, coalesce.go).
//
// Its own connection keeps its page cache: SQLite drops a connection's
// cache when another connection has written since, so a writer that took
// whichever pooled connection was free re-read the pages of every table
// and index it touched (a fifth of a single create's time).
type writer struct {
	conn *sql.Conn
	turn chan struct{} // holds a token while a Write runs
}

var errClosed = errors.New("sqlite store closed")

func openWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite writer connection: %w", err)
	}
	return &writer{conn: conn, turn: make(chan struct{}, 1)}, nil
}

// write runs fn in a transaction of its own when its turn comes. The
// transaction runs without its caller's cancellation: SQLite answers an
// interrupted statement by marking the connection unusable, and
// database/sql would then drop the writer's connection. Waiting for the
// turn stops with ctx.
func (w *writer) write(ctx context.Context, s *Store, fn func(store.Queries) error) error {
	select {
	case w.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosed
	}
	defer func() { <-w.turn }()
	select {
	case <-s.closing: // closed while this Write waited
		return errClosed
	default:
	}
	ctx = context.WithoutCancel(ctx)
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// After Commit this is a no-op (ErrTxDone); after an error, a panic or
	// runtime.Goexit it rolls back.
	defer tx.Rollback()
	if err := fn(queries{s: s, db: stmtTx{tx: tx, c: s.stmts}, tx: true}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// close waits for the Write in progress (s.closing is closed: no other
// starts) and releases the connection.
func (w *writer) close() error {
	w.turn <- struct{}{}
	return w.conn.Close()
}

// stmtTx runs a Write's statements on its transaction, prepared once (see
// stmts.go) and without their caller's cancellation (see write). Once the
// transaction is over they fail with sql.ErrTxDone.
type stmtTx struct {
	tx *sql.Tx
	c  *stmtCache
}

func (t stmtTx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st := t.c.get(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	return nil
}

func (t stmtTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.c.d.sql(q), args...)
}

func (t stmtTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.c.d.sql(q), args...)
}

func (t stmtTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.c.d.sql(q), args...)
}
