package main

import (
	"runtime"
	"sync"
	"testing"

	"github.com/h0p/h0p/edge"
)

// edgeLoops gives the runtime one P beyond the loops, once per process.
func TestEdgeLoopsGiveASpareP(t *testing.T) {
	if !edge.EventLoopsSupported {
		t.Skip("no event loops outside Linux")
	}
	procs, asked := runtime.GOMAXPROCS(0), spareP.loops // an earlier test may have asked
	reset := func(loops int) {
		spareP.once, spareP.loops = sync.Once{}, loops
		if loops != 0 {
			spareP.once.Do(func() {})
		}
	}
	reset(0) // as if the process had never asked
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		reset(asked)
	})
	n := edgeLoops()
	if n != procs || runtime.GOMAXPROCS(0) != procs+1 {
		t.Fatalf("%d loops, GOMAXPROCS %d; want %d and %d", n, runtime.GOMAXPROCS(0), procs, procs+1)
	}
	if again := edgeLoops(); again != n || runtime.GOMAXPROCS(0) != procs+1 {
		t.Fatalf("second call: %d loops, GOMAXPROCS %d", again, runtime.GOMAXPROCS(0))
	}
}
