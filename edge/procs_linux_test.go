package edge

import (
	"log/slog"
	"runtime"
	"sync"
	"testing"
)

// LoopsWithSpareP gives the runtime one P beyond the loops, once per
// process, and New runs the loops it is told to.
func TestLoopsWithSpareP(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		spareP.once, spareP.loops = sync.Once{}, 0 // as if the process had never asked
	})
	n := LoopsWithSpareP()
	if n != procs || runtime.GOMAXPROCS(0) != procs+1 {
		t.Fatalf("%d loops, GOMAXPROCS %d; want %d and %d", n, runtime.GOMAXPROCS(0), procs, procs+1)
	}
	if again := LoopsWithSpareP(); again != n || runtime.GOMAXPROCS(0) != procs+1 {
		t.Fatalf("second call: %d loops, GOMAXPROCS %d", again, runtime.GOMAXPROCS(0))
	}
	s, err := New(Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", Logger: slog.New(slog.DiscardHandler), Loops: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.loops.Loops() != 3 {
		t.Fatalf("%d loops, want 3", s.loops.Loops())
	}
}
