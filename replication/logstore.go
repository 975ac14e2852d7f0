package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// LogStore is raft's log and stable store on its own Pebble database, with
// every write synced. It is separate from the edge database so that restoring
// an FSM snapshot never touches the log, and so both can be tuned apart.
//
// (hashicorp/raft-boltdb/v2 was the first choice, but its v2.3.1 imports
// go-metrics/compat, which raft v1.8.0's go-metrics v0.7.0 no longer has; one
// storage engine is simpler anyway.)
type LogStore struct {
	db *pebble.DB

	mu          sync.Mutex // guards first and last, which mirror the keys
	first, last uint64
}

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

const (
	logPrefix    = 'l' // 'l' + 8-byte big-endian index → encoded raft.Log
	stablePrefix = 's' // 's' + name → value
	logFormat    = 1
)

// OpenLogStore opens (or creates) the raft log store in dir.
func OpenLogStore(dir string, opts *pebble.Options) (*LogStore, error) {
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open raft log store: %w", err)
	}
	s := &LogStore{db: db}
	if err := s.loadBounds(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *LogStore) Close() error { return s.db.Close() }

func logKey(i uint64) []byte {
	k := make([]byte, 9)
	k[0] = logPrefix
	binary.BigEndian.PutUint64(k[1:], i)
	return k
}

var (
	logLower = []byte{logPrefix}
	logUpper = []byte{logPrefix + 1}
)

// loadBounds reads the first and last index from the keys themselves.
func (s *LogStore) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logLower, UpperBound: logUpper})
	if err != nil {
		return fmt.Errorf("raft log bounds: %w", err)
	}
	defer it.Close()
	var first, last uint64
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key()[1:])
		it.Last()
		last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("raft log bounds: %w", err)
	}
	s.mu.Lock()
	s.first, s.last = first, last
	s.mu.Unlock()
	return nil
}

func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

func (s *LogStore) GetLog(index uint64, out *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("get raft log %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeLog(v, out); err != nil {
		return fmt.Errorf("raft log %d: %w", index, err)
	}
	out.Index = index
	return nil
}

func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	for _, l := range logs {
		buf = encodeLog(buf[:0], l)
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return fmt.Errorf("store raft log: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store raft logs: %w", err)
	}
	s.mu.Lock()
	for _, l := range logs {
		if s.first == 0 || l.Index < s.first {
			s.first = l.Index
		}
		if l.Index > s.last {
			s.last = l.Index
		}
	}
	s.mu.Unlock()
	return nil
}

func (s *LogStore) DeleteRange(min, max uint64) error {
	if err := s.db.DeleteRange(logKey(min), logKey(max+1), pebble.Sync); err != nil {
		return fmt.Errorf("delete raft logs %d-%d: %w", min, max, err)
	}
	// Raft trims a prefix (compaction) or a suffix (a conflicting tail); either
	// way re-reading the bounds from the keys is cheap and cannot drift.
	return s.loadBounds()
}

func stableKey(k []byte) []byte { return append([]byte{stablePrefix}, k...) }

func (s *LogStore) Set(k, v []byte) error {
	if err := s.db.Set(stableKey(k), v, pebble.Sync); err != nil {
		return fmt.Errorf("raft stable set %q: %w", k, err)
	}
	return nil
}

// Get returns an empty value for a missing key, as raft expects.
func (s *LogStore) Get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(stableKey(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raft stable get %q: %w", k, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

func (s *LogStore) SetUint64(k []byte, v uint64) error {
	return s.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

func (s *LogStore) GetUint64(k []byte) (uint64, error) {
	v, err := s.Get(k)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raft stable %q: %d bytes, want 8", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// encodeLog: format byte, term, type, appendedAt (unix ns), data, extensions.
func encodeLog(b []byte, l *raft.Log) []byte {
	b = append(b, logFormat)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.AppendVarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

func decodeLog(b []byte, l *raft.Log) error {
	errBad := errors.New("corrupt raft log entry")
	if len(b) < 1 || b[0] != logFormat {
		return errBad
	}
	b = b[1:]
	term, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return errBad
	}
	l.Term = term
	l.Type = raft.LogType(b[n])
	b = b[n+1:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return errBad
	}
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	b = b[n:]
	readBytes := func() ([]byte, bool) {
		ln, n := binary.Uvarint(b)
		if n <= 0 || ln > uint64(len(b)-n) {
			return nil, false
		}
		v := append([]byte(nil), b[n:n+int(ln)]...)
		b = b[n+int(ln):]
		return v, true
	}
	var ok bool
	if l.Data, ok = readBytes(); !ok {
		return errBad
	}
	if l.Extensions, ok = readBytes(); !ok {
		return errBad
	}
	return nil
}
