package password

import (
	"context"
	"runtime"
)

// Turns bounds the hashes and checks a process runs at once. Each holds
// its Params' memory while it runs (64 MiB for users', 19 MiB for links'),
// so a control node has one Turns for all of them, whoever asks.
type Turns struct{ c chan struct{} }

// NewTurns allows n at once; n <= 0 allows GOMAXPROCS.
func NewTurns(n int) *Turns {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Turns{c: make(chan struct{}, n)}
}

// Take waits for a turn until ctx ends. Call release when the work is done.
func (t *Turns) Take(ctx context.Context) (release func(), err error) {
	select {
	case t.c <- struct{}{}:
		return func() { <-t.c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
