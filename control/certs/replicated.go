package certs

import (
	"context"
	"fmt"
	"time"

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

// Records is the replicated store's side: replication.Store satisfies it.
type Records interface {
	Certificate(host string) (kv.Certificate, bool, error)
	ACMEAccount() ([]byte, bool, error)
	CertificateFailure(host string) (kv.CertificateFailure, bool, error)
}

// ReplicatedStore keeps certificates, the account key and failing attempts
// in the replicated store, through raft: the certificate every edge serves
// is the one the manager stored, a new leader finds all three, and every
// control node reads the same failures. Keys arrive sealed and stay so.
type ReplicatedStore struct {
	Applier Applier
	Records Records
}

var _ Store = ReplicatedStore{}

// Certificate reads host's certificate.
func (r ReplicatedStore) Certificate(_ context.Context, host string) (Certificate, bool, error) {
	rec, ok, err := r.Records.Certificate(host)
	if err != nil || !ok {
		return Certificate{}, false, err
	}
	c := Certificate{Host: rec.Host, ChainPEM: rec.ChainPEM, SealedKey: rec.SealedKey}
	leaf, err := c.Leaf()
	if err != nil {
		return Certificate{}, false, err
	}
	c.NotBefore, c.NotAfter = leaf.NotBefore, leaf.NotAfter
	return c, true, nil
}

// PutCertificate publishes c as its host's next version.
func (r ReplicatedStore) PutCertificate(ctx context.Context, c Certificate) error {
	old, _, err := r.Records.Certificate(c.Host)
	if err != nil {
		return err
	}
	rec := kv.Certificate{Host: c.Host, ChainPEM: c.ChainPEM, SealedKey: c.SealedKey, NotAfter: c.NotAfter.Unix(), Version: old.Version + 1}
	if _, err := r.Applier.Apply(ctx, kv.PutCertificate(rec).Encode()); err != nil {
		return fmt.Errorf("publish certificate of %s: %w", c.Host, err)
	}
	return nil
}

// AccountKey reads the sealed account key.
func (r ReplicatedStore) AccountKey(context.Context) ([]byte, bool, error) {
	return r.Records.ACMEAccount()
}

// PutAccountKey keeps the sealed account key.
func (r ReplicatedStore) PutAccountKey(ctx context.Context, sealedKey []byte) error {
	if _, err := r.Applier.Apply(ctx, kv.PutACMEAccount(sealedKey).Encode()); err != nil {
		return fmt.Errorf("keep acme account: %w", err)
	}
	return nil
}

// Failure reads host's failing attempts. Times are kept in whole seconds.
func (r ReplicatedStore) Failure(_ context.Context, host string) (Failure, bool, error) {
	rec, ok, err := r.Records.CertificateFailure(host)
	if err != nil || !ok {
		return Failure{}, false, err
	}
	return Failure{Host: rec.Host, Failures: int(rec.Failures), Message: rec.Message,
		At: time.Unix(rec.At, 0).UTC(), Next: time.Unix(rec.Next, 0).UTC()}, true, nil
}

// PutFailure publishes f as its host's failing attempts.
func (r ReplicatedStore) PutFailure(ctx context.Context, f Failure) error {
	rec := kv.CertificateFailure{Host: f.Host, Failures: uint64(max(f.Failures, 1)), Message: f.Message, At: f.At.Unix(), Next: f.Next.Unix()}
	if _, err := r.Applier.Apply(ctx, kv.PutCertificateFailure(rec).Encode()); err != nil {
		return fmt.Errorf("publish certificate failure of %s: %w", f.Host, err)
	}
	return nil
}

// DeleteFailure forgets host's failing attempts.
func (r ReplicatedStore) DeleteFailure(ctx context.Context, host string) error {
	if _, err := r.Applier.Apply(ctx, kv.DeleteCertificateFailure(host).Encode()); err != nil {
		return fmt.Errorf("forget certificate failure of %s: %w", host, err)
	}
	return nil
}
