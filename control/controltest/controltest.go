// Package controltest runs a real control node for the tests of the
// packages built on the API (the Go client, the MCP server, the
// dashboard): a single-voter raft group over TCP on 127.0.0.1 with its edge
// store, and control.Open on 127.0.0.1:0 in the test's temporary
// directory, bootstrapped, running until the test ends.
package controltest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/password"
)

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Node is a running control node.
type Node struct {
	Control *control.Server
	// Key is the bootstrap Owner's API key (every Owner permission).
	Key string
	// Dir holds the node's data; a test may put more beside it.
	Dir string
	// Edge is the store raft writes, which an edge can serve from.
	Edge *replication.Store
}

// Start runs a control node with cfg, whose zero fields get the tests'
// defaults: APIAddr 127.0.0.1:0, DataDir <Dir>/control, DefaultDomain
// localhost, Logger Quiet, RelayInterval 50 ms, RateLimits far above the
// product's (tests click faster than people), cheap PasswordParams.
// beforeOpen, when given, runs once raft has a leader and before control
// opens: to start an edge over n.Edge and point cfg at it.
func Start(t testing.TB, cfg control.Config, beforeOpen ...func(n *Node, cfg *control.Config)) *Node {
	t.Helper()
	ctx := context.Background()
	n := &Node{Dir: t.TempDir()}
	st, err := replication.OpenStore(filepath.Join(n.Dir, "edge"), Quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n.Edge = st
	raft, err := replication.Open(replication.Config{NodeID: "c", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(n.Dir, "raft"),
		Voter: true, Bootstrap: true, Logger: Quiet, HeartbeatTimeout: 200 * time.Millisecond}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raft.Close() })
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := raft.WaitLeader(waitCtx); err != nil {
		t.Fatal(err)
	}
	defaults(&cfg, n.Dir)
	for _, f := range beforeOpen {
		f(n, &cfg)
	}
	srv, err := control.Open(ctx, cfg, raft)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
		srv.Close()
	})
	n.Control = srv
	if _, err := srv.Bootstrap(ctx, func(k string) error { n.Key = k; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func defaults(cfg *control.Config, dir string) {
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(dir, "control")
	}
	if cfg.DefaultDomain == "" {
		cfg.DefaultDomain = "localhost"
	}
	if cfg.Logger == nil {
		cfg.Logger = Quiet
	}
	if cfg.RelayInterval == 0 {
		cfg.RelayInterval = 50 * time.Millisecond
	}
	if cfg.RateLimits == (ratelimit.Limits{}) {
		cfg.RateLimits = ratelimit.Limits{PerSecond: 1000, PerMinute: 100_000}
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = password.Params{Memory: 1024, Time: 1, Threads: 1}
	}
}
