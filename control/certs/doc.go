// Package certs obtains and renews, by ACME, the TLS certificates that edges
// serve for customers' custom domains, with HTTP-01 challenges.
//
// A Manager speaks to one ACME directory (Let's Encrypt in production) with
// golang.org/x/crypto/acme. Its account key is created once, an ECDSA P-256
// key kept sealed in the Store, and registered on first use; a manager
// started later finds it and reuses the account. For each certificate,
// Obtain orders the host, publishes every HTTP-01 answer through
// Challenges, asks the server to validate, deletes the answers whatever the
// outcome, then finalizes with a CSR for a new ECDSA P-256 key (never one
// key for two certificates). It checks that the issued leaf names the host
// and holds that key before the Store sees it. Hosts are lowercase DNS names
// without port; wildcards and addresses are refused (HTTP-01 cannot prove
// them). Every error names its host.
//
// Who answers challenges: every edge. The ACME server resolves the host to
// whichever edge the customer's DNS points at, and fetches
// http://<host>/.well-known/acme-challenge/<token> on port 80. So
// Challenges.Put (ReplicatedChallenges) writes the answer through raft like
// any record (kv.Challenge), the FSM stores it in each edge's Pebble, and
// every edge answers that path from its replicated store. Put must return only once the entry is committed,
// so that the answer is in place before validation is asked for. The answer
// (token.thumbprint) is no secret: it proves control of the host only to
// the holder of the account key.
//
// When it renews: a certificate is due when RenewBefore is left before its
// expiry, by default a third of its lifetime (30 days of Let's Encrypt's 90),
// which leaves weeks of retries before visitors see an expired certificate.
// Run calls RenewDue every Interval with the hosts it is given (the custom
// domains in use); RenewDue obtains a certificate for each host that has
// none or whose certificate is due. A host that fails waits Backoff before
// its next attempt, doubled on each failure up to MaxBackoff, and each
// failure is logged with the host, the count and the wait. Time comes from
// Now, so tests move the clock.
//
// What others may ask: Leaf (a host's certificate, public part only, and
// when it is due) and LastFailure (the error, time and next attempt of a
// host whose attempts are failing), which control/domains shows as the
// domain's certificate state. Failures live in the Store (through raft in
// production, kv.CertificateFailure, whole seconds), not in the manager:
// every control node reads the same, and a new leader waits for the stored
// next attempt. Writes: one per failure, one to forget them at the next
// success, none otherwise. Deleting the domain deletes them (control/domains).
// The message is the ACME server's words, bounded UTF-8, with no key material.
//
// How keys are sealed: a private key (the account's and each certificate's,
// PEM PKCS #8) is sealed by the Sealer, shared/sealed in production
// (AES-256-GCM under a key derived by HKDF from the cluster secret), before
// it reaches the Store or raft, and the plaintext PEM is cleared once sealed.
// The Store and the raft log only ever hold sealed keys; an edge opens a key
// into memory when it loads the certificate (Certificate.KeyPair).
//
// Which node runs it: the raft leader only, one Manager in the cluster.
// Two managers would race for the same orders and double the load on the
// ACME server's rate limits; a new leader starts its own, which finds the
// account, the certificates and the failures (with their backoff) in the
// Store and carries on. A leader that loses leadership cancels Run's
// context. The Manager itself does not know raft: that contract is kept by
// whoever starts it.
//
// What it exports: ExpiryCollector reports each host's certificate expiry
// (h0p_certificate_expiry_timestamp_seconds{host}) from the Store at each
// scrape, on every node that registers it, for alerts on failed renewals.
package certs
