package files

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/store"
)

// sweepBatch bounds the unreferenced blobs one Sweep removes.
const sweepBatch = 1000

// Swept counts what one Sweep removed: bytes no file has named for the
// grace period, and bytes no row ever knew of (orphans).
type Swept struct{ Unreferenced, Orphans int }

var errSkip = errors.New("skip")

// Sweep removes stored bytes that no file has named for Grace, and bytes
// older than Grace that no blob row knows of (an upload that stopped
// between storing its bytes and its commit). Each removal runs inside a
// transaction that holds the blob's row (locked, or claimed for an
// orphan), so an upload naming the same bytes waits for it, then finds
// them missing and stores them again.
func (s *Service) Sweep(ctx context.Context) (Swept, error) {
	var out Swept
	cutoff := s.now().Add(-s.grace())
	bs, err := s.Store.UnreferencedBlobs(ctx, cutoff, sweepBatch)
	if err != nil {
		return out, err
	}
	for _, b := range bs {
		removed, err := s.remove(ctx, b.SHA256, func(q store.Queries) error {
			held, err := q.LockBlob(ctx, b.SHA256)
			if errors.Is(err, store.ErrNotFound) {
				return errSkip
			}
			if err != nil {
				return err
			}
			if held.Refs > 0 || held.ZeroSince.After(cutoff) {
				return errSkip // named again since it was listed
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		if removed {
			out.Unreferenced++
		}
	}

	var orphans []store.Blob
	err = s.Blobs.List(ctx, func(key string, size int64, modified time.Time) error {
		if isKey(key) && !modified.After(cutoff) {
			orphans = append(orphans, store.Blob{SHA256: key, Size: size, ZeroSince: cutoff})
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("list blobs: %w", err)
	}
	for _, b := range orphans {
		if _, err := s.Store.Blob(ctx, b.SHA256); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return out, err
			}
			continue // known: referenced, or the pass above decides
		}
		removed, err := s.remove(ctx, b.SHA256, func(q store.Queries) error {
			err := q.ClaimBlob(ctx, b)
			if errors.Is(err, store.ErrConflict) {
				return errSkip // an upload named it since
			}
			return err
		})
		if err != nil {
			return out, err
		}
		if removed {
			out.Orphans++
		}
	}
	return out, nil
}

// isKey reports whether key is a lowercase hex SHA-256.
func isKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for _, c := range key {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// RunSweeper sweeps every interval (0: 10 minutes) until ctx ends; a
// failed sweep is logged and the next one tries again. Every control node
// may run it: each removal is one transaction over the blob's row.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger().Warn("file sweep stopped", "err", err)
		}
		if n.Unreferenced+n.Orphans > 0 {
			s.logger().Info("file sweep", "unreferenced", n.Unreferenced, "orphans", n.Orphans)
		}
	}
}

// remove deletes the bytes under key and their blob row in one
// transaction, once hold has locked or claimed the row (errSkip: leave
// them); it reports whether it removed them.
func (s *Service) remove(ctx context.Context, key string, hold func(store.Queries) error) (bool, error) {
	err := s.Store.Write(ctx, func(q store.Queries) error {
		if err := hold(q); err != nil {
			return err
		}
		if err := s.deleteBytes(ctx, key); err != nil {
			return fmt.Errorf("delete blob %s: %w", key, err)
		}
		return q.DeleteBlob(ctx, key)
	})
	if errors.Is(err, errSkip) {
		return false, nil
	}
	return err == nil, err
}

// deleteTimeout bounds one delete of stored bytes: it runs inside a
// store transaction (on SQLite, the one writer's turn).
const deleteTimeout = 30 * time.Second

func (s *Service) deleteBytes(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	return s.Blobs.Delete(ctx, key)
}
