package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/h0p/h0p/control/store"
)

// Group commit (SQLite). SQLite has one writer at a time and, with
// synchronous=FULL, one fsync per commit: writers that each run their own
// transaction queue on the lock and pay an fsync apiece (~0.7 ms on this
// machine's disk), which caps writes near 1,000 a second. So Writes queue
// for one writer goroutine, which opens one transaction for whatever is
// queued and lends it to each Write in turn, inside a SAVEPOINT of its own.
// A function that fails is rolled back to its savepoint and only its caller
// sees the error; the others commit together with one fsync. Each Write is
// still atomic and isolated; it only shares its durability point with its
// neighbours.
//
// The function runs on its caller's goroutine, as it does on PostgreSQL: a
// panic (or runtime.Goexit, as t.FailNow calls) unwinds that caller's stack
// with its own trace, after the writer has rolled the function's statements
// back, and can reach no other caller. The Queries a turn lends stop
// working when the turn ends (sql.ErrTxDone, as after a PostgreSQL Write),
// so a goroutine the function left behind cannot write into a neighbour's
// part of the transaction.

// maxBatch bounds the functions in one transaction.
const maxBatch = 128

type writer struct {
	s    *Store
	reqs chan *writeReq
	done chan struct{}
}

type writeReq struct {
	turn   chan turn  // the writer lends the transaction, or says why not
	ended  chan bool  // the caller gives it back: true if the function returned nil
	result chan error // the writer answers a function that returned nil: the commit
}

type turn struct {
	q   queries
	l   *lent
	err error
}

func startWriter(s *Store) *writer {
	w := &writer{s: s, reqs: make(chan *writeReq), done: make(chan struct{})}
	go w.run()
	return w
}

func newWriteReq() *writeReq {
	return &writeReq{turn: make(chan turn, 1), ended: make(chan bool, 1), result: make(chan error, 1)}
}

// write queues fn and runs it when its turn comes (see above).
func (w *writer) write(ctx context.Context, fn func(store.Queries) error) error {
	req := newWriteReq()
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.s.closing:
		return errors.New("sqlite store closed")
	}
	return req.run(fn)
}

// run is the caller's side of a queued request: it waits for its turn,
// runs fn on the transaction lent, gives it back and, if fn returned nil,
// waits for the commit.
func (req *writeReq) run(fn func(store.Queries) error) error {
	t := <-req.turn
	if t.err != nil {
		return t.err
	}
	kept := false
	defer func() {
		if !kept { // fn returned an error, panicked or ended its goroutine
			t.l.end()
			req.ended <- false
		}
	}()
	if err := fn(t.q); err != nil {
		return err
	}
	kept = true
	t.l.end()
	req.ended <- true
	return <-req.result
}

// run serves queued writes until the store closes, on one connection of
// its own: SQLite keeps a page cache per connection and drops it when
// another connection has written since, so a writer that took whichever
// pooled connection was free re-read the pages of every table and index it
// touched (a fifth of a single create's time). Its own connection's cache
// stays valid from one transaction to the next.
func (w *writer) run() {
	defer close(w.done)
	ctx := context.Background()
	conn, err := w.s.db.Conn(ctx)
	if err != nil {
		w.fail(fmt.Errorf("sqlite writer connection: %w", err))
		return
	}
	defer conn.Close()
	// A finished transaction: what a turn's Queries run on once it is over.
	over, err := conn.BeginTx(ctx, nil)
	if err == nil {
		err = over.Rollback()
	}
	if err != nil {
		w.fail(fmt.Errorf("sqlite writer: %w", err))
		return
	}
	for {
		var first *writeReq
		select {
		case first = <-w.reqs:
		case <-w.s.closing:
			return
		}
		batch := []*writeReq{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		w.commit(conn, over, batch)
	}
}

// commit runs batch in one transaction, lending it to each request in turn.
func (w *writer) commit(conn *sql.Conn, over *sql.Tx, batch []*writeReq) {
	ctx := context.Background()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.turn <- turn{err: fmt.Errorf("begin: %w", err)}
		}
		return
	}
	// Alone in the transaction, a function is its own savepoint.
	alone := len(batch) == 1
	var kept []*writeReq
	// lost answers everyone once the transaction is lost: the functions
	// that ran and those from next on, which will not run.
	lost := func(next int, err error) {
		tx.Rollback()
		for _, r := range kept {
			r.result <- err
		}
		for _, r := range batch[next:] {
			r.turn <- turn{err: err}
		}
	}
	for i, r := range batch {
		if !alone {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				lost(i, fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		l := &lent{c: w.s.stmts, over: over}
		l.tx.Store(tx)
		r.turn <- turn{q: queries{s: w.s, db: l, tx: true}, l: l}
		if <-r.ended {
			kept = append(kept, r)
		} else if !alone {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				lost(i+1, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if !alone {
			if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
				lost(i+1, fmt.Errorf("release savepoint: %w", err))
				return
			}
		}
	}
	if len(kept) == 0 {
		tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, r := range kept {
			r.result <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	for _, r := range kept {
		r.result <- nil
	}
}

// fail answers every write with err until the store closes: the writer
// could not start.
func (w *writer) fail(err error) {
	for {
		select {
		case r := <-w.reqs:
			r.turn <- turn{err: err}
		case <-w.s.closing:
			return
		}
	}
}

// lent runs a turn's statements on the shared transaction (prepared once,
// see stmts.go), without its caller's cancellation: SQLite answers an
// interrupted write inside a transaction by rolling the whole transaction
// back, which would take the other writers' work with it. The caller still
// gets its answer when the batch commits. Once the turn is over it runs
// them on a finished transaction, which refuses them.
type lent struct {
	tx   atomic.Pointer[sql.Tx]
	over *sql.Tx
	c    *stmtCache
}

func (l *lent) end() { l.tx.Store(l.over) }

func (l *lent) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if st := l.c.get(ctx, q); st != nil {
		return tx.StmtContext(ctx, st)
	}
	return nil
}

func (l *lent) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, tx := context.WithoutCancel(ctx), l.tx.Load()
	if st := l.stmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, l.c.d.sql(q), args...)
}

func (l *lent) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx, tx := context.WithoutCancel(ctx), l.tx.Load()
	if st := l.stmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, l.c.d.sql(q), args...)
}

func (l *lent) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, tx := context.WithoutCancel(ctx), l.tx.Load()
	if st := l.stmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, l.c.d.sql(q), args...)
}
