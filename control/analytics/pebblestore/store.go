// Package pebblestore is the embedded analytics.Store: clicks and their
// rollups in a Pebble database of their own, needing no other server.
// control/analytics/DESIGN.md holds its layout, decisions and figures.
package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/h0p/h0p/control/analytics"
)

var _ analytics.Store = (*Store)(nil)

// Store is the Pebble click store. Its methods are safe for concurrent
// use; batches of different edges are ingested concurrently and share
// their syncs.
type Store struct {
	db *pebble.DB

	mu    sync.Mutex
	edges map[string]*edgeState
}

// edgeState is an edge's last stored sequence, read from the database on
// the edge's first batch since Open. mu orders the edge's batches.
type edgeState struct {
	mu     sync.Mutex
	loaded bool
	have   bool // some batch of the edge is stored
	last   uint64
}

// Options tune Open; the zero value is the default.
type Options struct {
	Logger     *slog.Logger
	CacheBytes int64 // block cache; 0 is 64 MiB

	fs vfs.FS // tests: an in-memory file system
}

// Open opens (or creates) the click store in dir.
func Open(dir string, o Options) (*Store, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cache := o.CacheBytes
	if cache <= 0 {
		cache = 64 << 20
	}
	opts := &pebble.Options{
		Logger:       pebbleLogger{logger.With("subsystem", "analytics-pebble")},
		Merger:       sumMerger,
		CacheSize:    cache,
		MemTableSize: 32 << 20,
		FS:           o.fs,
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open analytics store: %w", err)
	}
	return &Store{db: db, edges: map[string]*edgeState{}}, nil
}

// Checkpoint writes a consistent copy of the store to dir (which must not
// exist) while ingestion goes on: Pebble's checkpoint, its WAL flushed
// first so the copy holds every batch stored before the call. Opening dir
// opens the copy.
func (s *Store) Checkpoint(dir string) error {
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint analytics store: %w", err)
	}
	return nil
}

// Close closes the database; nothing may use the store after.
func (s *Store) Close() error { return s.db.Close() }

// sumMerger adds up rollups: an org's uvarint counts, a link's profiles.
// A rollup key takes one merge per batch that counted into it, never a
// read.
var sumMerger = &pebble.Merger{
	Name: "h0p.analytics.sum.v1",
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		if isProfileKey(key) {
			m := &profileMerger{}
			return m, m.MergeNewer(value)
		}
		m := &sum{}
		return m, m.MergeNewer(value)
	},
}

type sum struct {
	n   uint64
	buf [binary.MaxVarintLen64]byte
}

func (m *sum) MergeNewer(v []byte) error {
	x, k := binary.Uvarint(v)
	if k <= 0 {
		return errors.New("analytics: corrupt count")
	}
	m.n += x
	return nil
}

func (m *sum) MergeOlder(v []byte) error { return m.MergeNewer(v) }

func (m *sum) Finish(bool) ([]byte, io.Closer, error) {
	return binary.AppendUvarint(m.buf[:0], m.n), nil, nil
}

// profileMerger merges profiles: their sum does not depend on order.
type profileMerger struct{ p []byte }

func (m *profileMerger) MergeNewer(v []byte) error {
	if m.p == nil { // the first operand: a copy (Pebble reuses v), not a merge
		m.p = append(make([]byte, 0, len(v)), v...)
		return nil
	}
	var err error
	m.p, err = mergeProfiles(make([]byte, 0, len(m.p)+len(v)), m.p, v)
	return err
}

func (m *profileMerger) MergeOlder(v []byte) error { return m.MergeNewer(v) }

func (m *profileMerger) Finish(bool) ([]byte, io.Closer, error) { return m.p, nil, nil }

// pebbleLogger sends Pebble's chatter to slog at debug level and its
// errors at error level.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...)) // Pebble's contract: Fatalf does not return.
}

// Orgs lists the orgs with clicks or rollups, skipping from one org's keys
// to the next.
func (s *Store) Orgs(ctx context.Context) ([]string, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer it.Close()
	seen := map[string]bool{}
	var out []string
	for _, p := range []byte{prefixEvents, prefixRollup} {
		for ok := it.SeekGE([]byte{p}); ok && it.Key()[0] == p && ctx.Err() == nil; {
			k := it.Key()
			z := bytes.IndexByte(k, 0)
			if z < 0 {
				ok = it.Next()
				continue
			}
			if org := string(k[1:z]); !seen[org] {
				seen[org] = true
				out = append(out, org)
			}
			ok = it.SeekGE(keyUpperBound(k[:z+1]))
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return out, ctx.Err()
}

// DeleteBefore deletes org's chunks and rollups of the UTC days that end
// at or before t: three range deletions, one write.
func (s *Store) DeleteBefore(ctx context.Context, org string, t time.Time) error {
	day := t.Unix() / daySeconds
	if day <= 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	hour := uint32(min(day*24, 1<<32-1))
	b := s.db.NewBatch()
	defer b.Close()
	ranges := [][2][]byte{
		{orgPrefix(nil, prefixEvents, org), appendUnit(orgPrefix(nil, prefixEvents, org), hour)},
		{rollupPrefix(nil, org, granHour), appendUnit(rollupPrefix(nil, org, granHour), hour)},
		{rollupPrefix(nil, org, granDay), appendUnit(rollupPrefix(nil, org, granDay), uint32(day))},
	}
	for _, r := range ranges {
		if err := b.DeleteRange(r[0], r[1], nil); err != nil {
			return fmt.Errorf("delete clicks of %s: %w", org, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("delete clicks of %s: %w", org, err)
	}
	return nil
}

// Compact rewrites the whole store into its settled shape, for after a
// bulk load (benchmarks).
func (s *Store) Compact(ctx context.Context) error {
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("compact analytics store: %w", err)
	}
	return nil
}
