// Package replicationtest runs a real replication node for tests: a
// single-voter raft group on 127.0.0.1 over its own store, leader before
// it is returned, closed when the test ends.
package replicationtest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/h0p/h0p/replication"
)

// SingleVoter opens a store and a node that is the sole voter of a new
// raft group, and waits until it leads.
func SingleVoter(t testing.TB) (*replication.Node, *replication.Store) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	node, err := replication.Open(replication.Config{NodeID: "t", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return node, store
}
