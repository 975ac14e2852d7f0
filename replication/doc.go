// Package replication is H0p's raft wiring: a Node (hashicorp/raft over
// mutual TLS, or plain TCP on loopback for h0p dev, with a Pebble log store),
// cluster membership (voters for control nodes and non-voters for edges,
// admitted through a control node's API, whose HTTP side is
// replication/cluster), the FSM that applies kv commands to the edge Store,
// FSM snapshots, and checkpoints of a node's stores for backups.
//
// Invariants (see DESIGN.md in this folder for the reasoning):
//   - The FSM is deterministic and writes each entry's changes and its index
//     in one Pebble batch; entries at or below the stored index are skipped,
//     so raft's replay after a restart applies nothing twice.
//   - Per-link versions and tombstones make a late or repeated command (the
//     outbox relay re-applying) a no-op.
//   - Snapshots stream a Pebble snapshot while applies continue; restore
//     replaces the whole store in one atomic batch, checked by CRC-32C.
//   - The raft log is synced on every write; FSM batches are not, because
//     on start the node restores the newest snapshot whenever the store is
//     behind it, and replays the log from there.
//
// It must not know HTTP, SQL or API types: its input is kv commands.
package replication
