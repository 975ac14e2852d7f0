package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/h0p/h0p/control/store"
)

// Writes that share a transaction stay apart: a function that fails,
// panics or ends its goroutine (as t.FailNow does) is rolled back alone, and
// its panic reaches its own caller only; the others commit.
func TestWriterBatchKeepsFunctionsApart(t *testing.T) {
	ctx := context.Background()
	s := engines[0].mustOpenEmpty(t)
	// A batch run as the writer runs one, on a connection of the test's:
	// the store's writer stays idle meanwhile.
	conn, err := s.db.Conn(ctx)
	must(t, err)
	defer conn.Close()
	over, err := conn.BeginTx(ctx, nil)
	must(t, err)
	must(t, over.Rollback())

	boom := errors.New("boom")
	kinds := []string{"commit", "panic", "fail", "exit", "commit", "panic", "commit"}
	type outcome struct {
		err      error
		panicked any
		exited   bool
	}
	var (
		wg    sync.WaitGroup
		outs  = make([]outcome, len(kinds))
		batch = make([]*writeReq, len(kinds))
	)
	for i, kind := range kinds {
		batch[i] = newWriteReq()
		wg.Go(func() {
			returned := false
			defer func() {
				outs[i].panicked = recover()
				outs[i].exited = !returned && outs[i].panicked == nil
			}()
			outs[i].err = batch[i].run(func(q store.Queries) error {
				if _, err := q.AppendOutbox(ctx, []byte(fmt.Sprint(i)), t0); err != nil {
					return err
				}
				switch kind {
				case "panic":
					panic(fmt.Sprint("boom ", i))
				case "fail":
					return boom
				case "exit":
					runtime.Goexit()
				}
				return nil
			})
			returned = true
		})
	}
	s.w.commit(conn, over, batch)
	wg.Wait()

	pending, err := s.PendingOutbox(ctx, t0, 100)
	must(t, err)
	committed := map[string]bool{}
	for _, p := range pending {
		committed[string(p.Command)] = true
	}
	for i, kind := range kinds {
		o := outs[i]
		var ok bool
		switch kind {
		case "commit":
			ok = o.err == nil && o.panicked == nil && !o.exited && committed[fmt.Sprint(i)]
		case "panic":
			ok = o.panicked == fmt.Sprint("boom ", i) && !committed[fmt.Sprint(i)]
		case "fail":
			ok = errors.Is(o.err, boom) && o.panicked == nil && !committed[fmt.Sprint(i)]
		case "exit":
			ok = o.exited && !committed[fmt.Sprint(i)]
		}
		if !ok {
			t.Errorf("function %d (%s): error %v, panic %v, goroutine ended %v, committed %v",
				i, kind, o.err, o.panicked, o.exited, committed[fmt.Sprint(i)])
		}
	}
	if len(pending) != 3 {
		t.Errorf("%d outbox entries, want the 3 of the functions that returned nil", len(pending))
	}
}

// A function that ends its goroutine (t.FailNow in a test) ends its
// caller's only: the writer goes on serving Writes.
func TestWriteGoexitEndsItsCallerOnly(t *testing.T) {
	ctx := context.Background()
	s := engines[0].mustOpenEmpty(t)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		done <- s.Write(ctx, func(q store.Queries) error {
			if _, err := q.AppendOutbox(ctx, []byte("exit"), t0); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
	}()
	if err, answered := <-done; answered {
		t.Fatalf("Write returned %v; want its goroutine ended", err)
	}
	must(t, s.Write(ctx, func(q store.Queries) error {
		_, err := q.AppendOutbox(ctx, []byte("after"), t0)
		return err
	}))
	if p, _ := s.PendingOutbox(ctx, t0, 10); len(p) != 1 || string(p[0].Command) != "after" {
		t.Errorf("outbox = %+v, want only the entry written after", p)
	}
}
