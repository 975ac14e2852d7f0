package certs

import (
	"context"
	"fmt"

	"github.com/h0p/h0p/shared/kv"
)

// Applier is the raft side: replication.Node satisfies it.
type Applier interface {
	Apply(ctx context.Context, cmd []byte) (uint64, error)
}

// ReplicatedChallenges publishes HTTP-01 answers through raft as
// kv.Challenge records: Put returns once the answer is committed and
// applied on the leader; every edge, which answers the challenge path from
// its replicated store, has it within the propagation bound of links.
type ReplicatedChallenges struct{ Applier Applier }

var _ Challenges = ReplicatedChallenges{}

// Put publishes keyAuthorization as token's answer.
func (r ReplicatedChallenges) Put(ctx context.Context, token, keyAuthorization string) error {
	if !kv.ValidChallengeToken(token) {
		return fmt.Errorf("publish challenge: token %q is not base64url", token)
	}
	if _, err := r.Applier.Apply(ctx, kv.PutChallenge(kv.Challenge{Token: token, KeyAuth: keyAuthorization}).Encode()); err != nil {
		return fmt.Errorf("publish challenge: %w", err)
	}
	return nil
}

// Delete removes token's answer.
func (r ReplicatedChallenges) Delete(ctx context.Context, token string) error {
	if !kv.ValidChallengeToken(token) {
		return fmt.Errorf("delete challenge: token %q is not base64url", token)
	}
	if _, err := r.Applier.Apply(ctx, kv.DeleteChallenge(token).Encode()); err != nil {
		return fmt.Errorf("delete challenge: %w", err)
	}
	return nil
}
