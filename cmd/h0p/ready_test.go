package main

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestEdgeReadinessWaitsForCatchUpThenStays(t *testing.T) {
	var applied atomic.Uint64
	c := &catchUp{applied: applied.Load, started: time.Now(), timeout: time.Hour,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if c.check() == nil {
		t.Fatal("ready before joining")
	}
	applied.Store(5)
	c.setTarget(10)
	if c.check() == nil {
		t.Fatal("ready at applied 5 of 10")
	}
	applied.Store(10)
	if err := c.check(); err != nil {
		t.Fatalf("not ready at 10 of 10: %v", err)
	}
	// Static stability: nothing that happens later makes it unready.
	c.setTarget(100)
	if err := c.check(); err != nil {
		t.Errorf("became unready after catching up: %v", err)
	}
}

func TestEdgeReadinessWithoutControlAfterTimeout(t *testing.T) {
	c := &catchUp{applied: func() uint64 { return 3 }, started: time.Now().Add(-time.Minute), timeout: 30 * time.Second,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := c.check(); err != nil {
		t.Errorf("no control answered for a minute: %v, want ready on local state", err)
	}
}
