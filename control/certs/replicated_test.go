package certs

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/h0p/h0p/replication"
)

// A real single-voter raft node: an answer is in the replicated store once
// Put returns, and gone once Delete returns.
func TestReplicatedChallenges(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := replication.OpenStore(dir+"/edge", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	node, err := replication.Open(replication.Config{NodeID: "c1", RaftAddr: "127.0.0.1:0", Dir: dir, Voter: true,
		Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	c := ReplicatedChallenges{Applier: node}
	if err := c.Put(ctx, "tok_1", "tok_1.thumb"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := store.Challenge("tok_1"); err != nil || !ok || v != "tok_1.thumb" {
		t.Fatalf("after Put: %q %v %v", v, ok, err)
	}
	if err := c.Delete(ctx, "tok_1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.Challenge("tok_1"); err != nil || ok {
		t.Fatalf("after Delete: present %v (%v)", ok, err)
	}
	if err := c.Put(ctx, "../etc", "x"); err == nil {
		t.Error("a token that is not base64url was published")
	}
}
