package certs

import (
	"context"
	"testing"
	"time"

	"github.com/h0p/h0p/replication/replicationtest"
)

// A real single-voter raft node: an answer is in the replicated store once
// Put returns, and gone once Delete returns.
func TestReplicatedChallenges(t *testing.T) {
	node, store := replicationtest.SingleVoter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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
