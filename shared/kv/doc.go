// Package kv is the contract between the three parts of H0p that touch the
// edge database: control encodes replicated commands, the replication FSM
// decodes them and writes Pebble, and the edge reads Pebble. All three use this
// one package, so there is exactly one encoder and one decoder per format.
//
// # Formats
//
// Every encoded value starts with a format version byte. Records (the values
// stored in Pebble) are a sequence of fields, each `tag length bytes` with
// uvarint tag and length; integers are uvarints inside their field. A decoder
// skips tags it does not know, so a newer writer can add fields while older
// readers keep working during a rolling upgrade. Commands (raft log entries)
// are `version count op*`, each op `type length payload`; one command may hold
// many ops (a bulk write is one raft entry) and the FSM applies them in one
// Pebble batch. An op type a reader does not know is an error, never skipped:
// upgrade edges before control.
//
// # Keys
//
//	l/<host>\x00<slug>  link record, looked up by the edge on every request
//	i/<linkID>          link state: version, current host+slug, deleted flag
//	m/applied           the last raft index applied (8 bytes, big endian)
//	m/links             how many link records there are (8 bytes, big endian)
//	n/<nodeID>          a cluster node: role and control API address
//	d/<host>            a short domain's settings (root, not-found, expired URLs, doNotTrack, redirect status, indexable, HTTPS, HSTS)
//	s/<day>             a day's visitor salt (day: 8 bytes, big endian)
//	a/<token>           an ACME HTTP-01 answer (kv.Challenge)
//	c/<host>            a custom domain's TLS certificate, key sealed
//	f/<host>            a custom domain's failing certificate attempts
//	m/acme-account      the ACME account's sealed key
//
// Hosts are lowercase ASCII (IDNs in punycode); slugs never contain NUL. The
// link state row is what makes apply idempotent: an op whose version is not
// above the stored one changes nothing, and a delete leaves a tombstone so a
// late, replayed upsert cannot bring a deleted link back. Tombstones are small
// and are kept; compacting them is left for when it matters.
//
// This package must not depend on Pebble, raft or HTTP: it is pure encoding.
package kv
