// Package replicationtest runs real replication nodes for tests: a
// single-voter raft group on 127.0.0.1 over its own store, leader before
// it is returned, and followers that join it, each closed when the test
// ends.
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
	dir, quiet, store := openStore(t)
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

// Follower opens a store and a node that joins leader's raft group as a
// non-voter: it receives and applies every entry, as a control node that
// does not lead does, without changing the group's quorum. It waits until
// the node has caught up with the leader.
func Follower(t testing.TB, leader *replication.Node) (*replication.Node, *replication.Store) {
	t.Helper()
	dir, quiet, store := openStore(t)
	id := "f-" + filepath.Base(dir)
	node, err := replication.Open(replication.Config{NodeID: id, RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	if err := leader.AddMember(id, node.Addr(), false); err != nil {
		t.Fatal(err)
	}
	CaughtUp(t, node, leader)
	return node, store
}

// CaughtUp waits until follower has applied every entry leader has.
func CaughtUp(t testing.TB, follower, leader *replication.Node) {
	t.Helper()
	want := leader.AppliedIndex()
	deadline := time.Now().Add(10 * time.Second)
	for follower.AppliedIndex() < want {
		if time.Now().After(deadline) {
			t.Fatalf("follower applied %d after 10s, want %d", follower.AppliedIndex(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openStore opens an edge store in a new directory, closed when t ends:
// the directory (for the node's raft files beside it), a logger that
// drops everything, and the store.
func openStore(t testing.TB) (string, *slog.Logger, *replication.Store) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return dir, quiet, store
}
