package replication

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the edge store to dir (which must
// not exist), while applies continue: Pebble's checkpoint, its WAL flushed
// first so the copy holds every batch applied before the call.
func (s *Store) Checkpoint(dir string) error {
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint edge store: %w", err)
	}
	return nil
}

// Checkpoint writes a consistent copy of the raft log and stable store to
// dir (which must not exist).
func (s *LogStore) Checkpoint(dir string) error {
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint raft log: %w", err)
	}
	return nil
}

// CheckpointRaft writes a copy of this node's raft state into dir, laid
// out as Config.Dir is (raft/, snapshots/): see CheckpointRaftDir. It must
// be taken after the edge store's checkpoint: raft then replays from the
// log whatever the edge store lacks.
func (n *Node) CheckpointRaft(dir string) error { return CheckpointRaftDir(n.logs, n.dir, dir) }

// CheckpointRaftDir copies the raft state of the node whose Config.Dir is
// src and whose log store is logs into dst: the log store's checkpoint,
// then every complete snapshot. Raft writes a snapshot under a temporary
// name and renames it when complete, so a snapshot directory without that
// suffix never changes; one reaped while it is copied is left out, and
// since the log checkpoint came first, a newer snapshot covers what the
// log no longer holds.
func CheckpointRaftDir(logs *LogStore, src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("checkpoint raft: %w", err)
	}
	if err := logs.Checkpoint(filepath.Join(dst, "raft")); err != nil {
		return err
	}
	snaps := filepath.Join(src, "snapshots")
	entries, err := os.ReadDir(snaps)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("checkpoint raft snapshots: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		err := copyDir(filepath.Join(snaps, e.Name()), filepath.Join(dst, "snapshots", e.Name()))
		if os.IsNotExist(err) {
			os.RemoveAll(filepath.Join(dst, "snapshots", e.Name()))
			continue // reaped meanwhile
		} else if err != nil {
			return fmt.Errorf("checkpoint raft snapshot %s: %w", e.Name(), err)
		}
	}
	return nil
}

// CheckpointStore is the edge store's Checkpoint, for callers holding the
// node.
func (n *Node) CheckpointStore(dir string) error { return n.store.Checkpoint(dir) }

func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CheckpointClosed copies the state of a node that is not running: the
// edge store in storeDir to storeDst, and the raft state of raftDir (its
// Config.Dir) to raftDst. It opens, and so locks, both stores: it fails
// while the node runs.
func CheckpointClosed(storeDir, raftDir, storeDst, raftDst string, logger *slog.Logger) error {
	if _, err := os.Stat(storeDir); err != nil {
		return fmt.Errorf("edge store: %w", err)
	}
	store, err := OpenStore(storeDir, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Checkpoint(storeDst); err != nil {
		return err
	}
	logs, err := OpenLogStore(filepath.Join(raftDir, "raft"), pebbleOptions(logger))
	if err != nil {
		return err
	}
	defer logs.Close()
	return CheckpointRaftDir(logs, raftDir, raftDst)
}
