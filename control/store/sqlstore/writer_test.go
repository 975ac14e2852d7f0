package sqlstore

import (
	"context"
	"runtime"
	"testing"

	"github.com/h0p/h0p/control/store"
)

// A Write whose function panics or ends its goroutine (as t.FailNow does)
// is rolled back and ends its own caller only: the writer goes on serving
// Writes.
func TestWriteThatPanicsOrExitsEndsItsCallerOnly(t *testing.T) {
	for _, kind := range []string{"panic", "exit"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := engines[0].mustOpenEmpty(t)
			type outcome struct {
				err      error
				panicked any
				returned bool
			}
			done := make(chan outcome, 1)
			go func() {
				var o outcome
				defer func() {
					o.panicked = recover()
					done <- o
				}()
				o.err = s.Write(ctx, func(q store.Queries) error {
					if _, err := q.AppendOutbox(ctx, []byte(kind), t0); err != nil {
						return err
					}
					if kind == "panic" {
						panic("boom")
					}
					runtime.Goexit()
					return nil
				})
				o.returned = true
			}()
			o := <-done
			if o.returned || kind == "panic" && o.panicked != "boom" || kind == "exit" && o.panicked != nil {
				t.Fatalf("Write returned %v, panicked %v; want its caller's goroutine to %s", o.err, o.panicked, kind)
			}
			must(t, s.Write(ctx, func(q store.Queries) error {
				_, err := q.AppendOutbox(ctx, []byte("after"), t0)
				return err
			}))
			if p, _ := s.PendingOutbox(ctx, t0, 10); len(p) != 1 || string(p[0].Command) != "after" {
				t.Errorf("outbox = %+v, want only the entry written after", p)
			}
		})
	}
}
