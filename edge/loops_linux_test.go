package edge

import (
	"log/slog"
	"testing"
)

// New runs the event loops it is told to (Config.Loops), whatever
// GOMAXPROCS is: the process chooses it (h0p edge runs one loop per P and
// gives the runtime one P more).
func TestNewRunsConfigLoops(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", Logger: slog.New(slog.DiscardHandler), Loops: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.loops.Loops() != 3 {
		t.Fatalf("%d loops, want 3", s.loops.Loops())
	}
}
