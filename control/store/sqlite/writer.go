package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Group commit. SQLite has one writer at a time and, with synchronous=FULL,
// one fsync per commit: writers that each run their own transaction queue on
// the lock and pay an fsync apiece (~0.7 ms on this machine's disk), which
// caps writes near 1,000 a second. So Write hands its function to one writer
// goroutine, which runs whatever is queued in one transaction, each function
// inside its own SAVEPOINT: a function that fails (or panics) is rolled back
// to its savepoint and only its caller sees the error; the others commit
// together with one fsync. Each Write is still atomic and isolated; it only
// shares its durability point with its neighbours.

// maxBatch bounds the functions in one transaction.
const maxBatch = 128

type writeReq struct {
	fn   func(store.Queries) error
	done chan writeResult
}

type writeResult struct {
	err      error
	panicked any
}

// Write runs fn in a transaction (shared with other writers, see above):
// its changes commit if it returns nil and are rolled back otherwise.
func (s *Store) Write(ctx context.Context, fn func(store.Queries) error) error {
	req := writeReq{fn: fn, done: make(chan writeResult, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return fmt.Errorf("sqlite store closed")
	}
	r := <-req.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// writer runs queued writes until the store closes, on one connection of
// its own: SQLite keeps a page cache per connection and drops it when
// another connection has written since, so a writer that took whichever
// pooled connection was free re-read the pages of every table and index it
// touched (a fifth of a single create's time). Its own connection's cache
// stays valid from one transaction to the next.
func (s *Store) writer() {
	defer close(s.writerDone)
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		s.failWrites(fmt.Errorf("sqlite writer connection: %w", err))
		return
	}
	defer conn.Close()
	for {
		var first writeReq
		select {
		case first = <-s.writes:
		case <-s.closing:
			return
		}
		batch := []writeReq{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commit(conn, batch)
	}
}

// uncancelable runs a function's statements (prepared once, see stmts.go)
// without its caller's context cancellation: SQLite answers an interrupted
// write inside a transaction by rolling the whole transaction back, which
// would take the other writers' work with it. The caller still gets its
// answer when the batch commits.
type uncancelable struct {
	tx *sql.Tx
	c  *stmtCache
}

func (u uncancelable) stmt(ctx context.Context, q string) *sql.Stmt {
	if st := u.c.get(ctx, q); st != nil {
		return u.tx.StmtContext(ctx, st)
	}
	return nil
}

func (u uncancelable) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := u.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return u.tx.ExecContext(ctx, q, args...)
}

func (u uncancelable) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := u.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return u.tx.QueryContext(ctx, q, args...)
}

func (u uncancelable) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := u.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return u.tx.QueryRowContext(ctx, q, args...)
}

func (s *Store) commit(conn *sql.Conn, batch []writeReq) {
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	fail := func(err error) {
		for _, r := range batch {
			r.done <- writeResult{err: err}
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	q := queries{uncancelable{tx, s.stmts}}
	if len(batch) == 1 {
		// Alone in the transaction: it is its own savepoint.
		s.commitOne(tx, q, batch[0])
		return
	}
	for i, req := range batch {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		func() {
			defer func() {
				if v := recover(); v != nil {
					results[i].panicked = v
				}
			}()
			results[i].err = req.fn(q)
		}()
		if results[i].err != nil || results[i].panicked != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	for i, req := range batch {
		req.done <- results[i]
	}
}

// failWrites answers every write with err until the store closes: the writer
// could not start.
func (s *Store) failWrites(err error) {
	for {
		select {
		case r := <-s.writes:
			r.done <- writeResult{err: err}
		case <-s.closing:
			return
		}
	}
}

// Writes made outside Write would take SQLite's write lock on their own
// connection and wait (sleeping in the busy handler) for the writer's
// transactions; the hot ones go through the writer instead.

// DeleteOutbox removes applied outbox entries (the outbox reaper's call).
func (s *Store) DeleteOutbox(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.Write(ctx, func(q store.Queries) error { return q.DeleteOutbox(ctx, ids...) })
}

// TouchAPIKey records a key's use (at most once a minute per key).
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error {
	return s.Write(ctx, func(q store.Queries) error { return q.TouchAPIKey(ctx, id, at, minAge) })
}

// ClaimIdempotencyKey claims a key in one transaction: the insert and, when
// the key is held, the read of its holder.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k store.IdempotencyKey, expiredBefore time.Time) (store.IdempotencyKey, bool, error) {
	var (
		held    store.IdempotencyKey
		claimed bool
	)
	err := s.Write(ctx, func(q store.Queries) error {
		var err error
		held, claimed, err = q.ClaimIdempotencyKey(ctx, k, expiredBefore)
		return err
	})
	return held, claimed, err
}

// FinishIdempotencyKey stores a claimed key's answer.
func (s *Store) FinishIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	return s.Write(ctx, func(q store.Queries) error { return q.FinishIdempotencyKey(ctx, k) })
}

// ReleaseIdempotencyKey deletes a claimed key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k store.IdempotencyKey) error {
	return s.Write(ctx, func(q store.Queries) error { return q.ReleaseIdempotencyKey(ctx, k) })
}

// PurgeIdempotencyKeys deletes expired keys.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	var n int
	err := s.Write(ctx, func(q store.Queries) error {
		var err error
		n, err = q.PurgeIdempotencyKeys(ctx, expiredBefore, limit)
		return err
	})
	return n, err
}

func (s *Store) commitOne(tx *sql.Tx, q queries, req writeReq) {
	var r writeResult
	func() {
		defer func() {
			if v := recover(); v != nil {
				r.panicked = v
			}
		}()
		r.err = req.fn(q)
	}()
	if r.err != nil || r.panicked != nil {
		tx.Rollback()
		req.done <- r
		return
	}
	if err := tx.Commit(); err != nil {
		r.err = fmt.Errorf("commit: %w", err)
	}
	req.done <- r
}
