package certs

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/replication/replicationtest"
	"github.com/h0p/h0p/shared/kv"
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

// silentChallenges publishes nothing while mute is set, as an edge that
// the customer's DNS does not point at: the ACME server's validation fails.
type silentChallenges struct {
	*memChallenges
	mute atomic.Bool
}

func (c *silentChallenges) Put(ctx context.Context, token, keyAuth string) error {
	if c.mute.Load() {
		return nil
	}
	return c.memChallenges.Put(ctx, token, keyAuth)
}

// Failures live in the replicated store through a real raft node: a
// manager that made no attempt (a follower's, or a new leader's) reads the
// same failure as the one that made it, keeps its backoff instead of
// retrying at once, and a success forgets the failure for every manager.
// Skipped attempts and successes after none write no raft entry.
func TestFailureKeptInReplicatedStore(t *testing.T) {
	env := mustStartPebble(t, 3600, testHost)
	node, records := replicationtest.SingleVoter(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The host is a served custom domain: failures are kept only for those.
	domain := kv.Command{Ops: []kv.Op{{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: testHost, Version: 1}}}}
	if _, err := node.Apply(ctx, domain.Encode()); err != nil {
		t.Fatal(err)
	}
	challenges := &silentChallenges{memChallenges: env.challenges}
	challenges.mute.Store(true)
	clock := &testClock{}
	newManager := func() *Manager {
		return &Manager{DirectoryURL: env.Directory, CARoot: env.Minica, Challenges: challenges,
			Store: ReplicatedStore{Applier: node, Records: records}, Sealer: mustSealer(t), Now: clock.Now,
			Backoff: time.Minute, MaxBackoff: 10 * time.Minute, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	}
	leader := newManager()
	if err := leader.RenewDue(ctx, []string{testHost}); err == nil {
		t.Fatal("RenewDue succeeded without a published answer")
	}
	msg, at, next, err := leader.LastFailure(ctx, testHost)
	if err != nil || !strings.HasPrefix(msg, "the ACME server could not validate the domain: ") || strings.Contains(msg, "certificate for "+testHost) ||
		next.Sub(at) != time.Minute {
		t.Fatalf("leader's LastFailure = %q, %v, %v, %v", msg, at, next, err)
	}
	if rec, ok, err := records.CertificateFailure(testHost); err != nil || !ok || rec.Failures != 1 || rec.Message != msg {
		t.Fatalf("replicated record %+v %v %v", rec, ok, err)
	}

	// A manager that made no attempt answers the same.
	other := newManager()
	if m2, at2, next2, err := other.LastFailure(ctx, testHost); err != nil || m2 != msg || !at2.Equal(at) || !next2.Equal(next) {
		t.Fatalf("other manager's LastFailure = %q, %v, %v, %v; want the leader's %q, %v, %v", m2, at2, next2, err, msg, at, next)
	}

	// A new leader within the backoff does not try, and writes nothing.
	puts, index := env.challenges.putCount(), node.AppliedIndex()
	if err := other.RenewDue(ctx, []string{testHost}); err != nil {
		t.Fatalf("RenewDue within the backoff: %v", err)
	}
	if challenges.memChallenges.putCount() != puts || node.AppliedIndex() != index {
		t.Fatal("a new leader retried at once instead of keeping the backoff")
	}

	// Past it, it tries; the second failure doubles the wait.
	clock.advance(61 * time.Second)
	if err := other.RenewDue(ctx, []string{testHost}); err == nil {
		t.Fatal("second attempt succeeded without a published answer")
	}
	rec, ok, err := records.CertificateFailure(testHost)
	if err != nil || !ok || rec.Failures != 2 || rec.Next-rec.At != 120 {
		t.Fatalf("after the second failure: %+v %v %v; want 2 failures, 2 minutes", rec, ok, err)
	}

	// A success forgets the failure, for every manager.
	challenges.mute.Store(false)
	clock.advance(121 * time.Second)
	if err := other.RenewDue(ctx, []string{testHost}); err != nil {
		t.Fatalf("RenewDue with the answer published: %v", err)
	}
	for name, m := range map[string]*Manager{"leader": leader, "other": other} {
		if msg, _, _, err := m.LastFailure(ctx, testHost); msg != "" || err != nil {
			t.Fatalf("%s's LastFailure after a success = %q, %v", name, msg, err)
		}
	}
	if _, ok, err := records.CertificateFailure(testHost); ok || err != nil {
		t.Fatalf("the failure outlived a success: %v %v", ok, err)
	}
	// A later check with nothing due writes nothing.
	index = node.AppliedIndex()
	if err := leader.RenewDue(ctx, []string{testHost}); err != nil || node.AppliedIndex() != index {
		t.Fatalf("a check with nothing due: %v, raft index %d → %d", err, index, node.AppliedIndex())
	}
}
