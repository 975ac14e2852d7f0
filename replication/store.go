package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/h0p/h0p/shared/kv"
)

// Store is the edge database: the Pebble instance the FSM writes and the edge
// reads. Its layout is kv's key schema.
type Store struct {
	db      *pebble.DB
	applied atomic.Uint64 // mirrors kv.AppliedIndexKey
	// domains mirrors the domain records: few, read on every request, and
	// a Pebble miss costs as much as a hit. Replaced whole when a domain or
	// a certificate changes: each record says whether its host has a
	// certificate (kv.Domain.Certified), so the edge decides a redirect to
	// HTTPS from this one lookup.
	domains atomic.Pointer[map[string]kv.Domain]

	// gen counts applies that changed link records, and onLinks hears which
	// keys they changed and to what: together they let a reader keep links
	// in memory (see Generation).
	gen     atomic.Uint64
	onLinks atomic.Pointer[func(keys, values [][]byte)]
}

// Generation changes whenever a link record may have changed. A cache reads
// it before reading a link and stores what it read only if it is unchanged
// (checked under the same lock that OnLinksChanged's invalidation takes), so
// it never keeps a value older than the store's.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// OnLinksChanged sets the one function told, after each apply, which link
// keys changed and their new records (values[i] nil: deleted), in the order
// applied; keys nil: possibly all, after a snapshot restore. It runs on the
// FSM's goroutine, before the next apply; values are valid only during the
// call. Set it before serving.
func (s *Store) OnLinksChanged(fn func(keys, values [][]byte)) { s.onLinks.Store(&fn) }

func (s *Store) linksChanged(keys, values [][]byte) {
	s.gen.Add(1)
	if fn := s.onLinks.Load(); fn != nil {
		(*fn)(keys, values)
	}
}

// EachLink calls fn with every link record (its key and encoded value, valid
// only during the call) as of one moment, in key order, until fn returns
// false or ctx ends.
func (s *Store) EachLink(ctx context.Context, fn func(key, value []byte) bool) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: kv.LinkKeyLowerBound, UpperBound: kv.LinkKeyUpperBound})
	if err != nil {
		return fmt.Errorf("iterate links: %w", err)
	}
	for ok := it.First(); ok && ctx.Err() == nil; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("iterate links: %w", err)
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate links: %w", err)
	}
	return ctx.Err()
}

const memTableSize = 4 << 20

// OpenStore opens (or creates) the edge database in dir.
func OpenStore(dir string, logger *slog.Logger) (*Store, error) {
	opts := pebbleOptions(logger)
	// Every request that misses the edge's link cache is a point read:
	// bloom filters skip the levels without the key.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Pebble charges its memtables (4 MiB each, the live one and one being
	// flushed) to the block cache: with its default 8 MiB the cache kept
	// nothing at all (0 hits), and every read fetched the index, filter and
	// data blocks from the files. 24 MiB leaves 16 MiB for blocks, which
	// holds the index and filter blocks of 1,000,000 links and the whole of
	// a store of tens of thousands. Measured on 1,000,000 links with
	// uniformly random reads: 20 µs → 11.6 µs a read (a data block miss
	// remains); on 20,000: 16 µs → 4 µs; larger caches gained little.
	opts.MemTableSize = memTableSize
	opts.CacheSize = 16<<20 + 2*memTableSize
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open edge store: %w", err)
	}
	s := &Store{db: db}
	idx, err := s.readApplied()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.applied.Store(idx)
	if err := s.loadDomains(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// loadDomains reads every domain record into the in-memory mirror, each
// marked Certified when its host has a certificate.
func (s *Store) loadDomains() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: kv.AppendDomainKey(nil, nil), UpperBound: []byte("d0")})
	if err != nil {
		return fmt.Errorf("load domains: %w", err)
	}
	defer it.Close()
	m := map[string]kv.Domain{}
	for ok := it.First(); ok; ok = it.Next() {
		d, err := kv.DecodeDomain(it.Value())
		if err != nil {
			return fmt.Errorf("load domains: %w", err)
		}
		switch _, closer, err := s.db.Get(kv.CertificateKey(d.Host)); {
		case err == nil:
			closer.Close()
			d.Certified = true
		case !errors.Is(err, pebble.ErrNotFound):
			return fmt.Errorf("load domains: certificate of %s: %w", d.Host, err)
		}
		m[d.Host] = d
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("load domains: %w", err)
	}
	s.domains.Store(&m)
	return nil
}

// Close closes the database. Readers must be stopped first.
func (s *Store) Close() error { return s.db.Close() }

// Compact rewrites the whole store into its settled shape, for after a bulk
// load: the reads that follow then touch one file per level at most, and no
// background compaction competes with serving.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff, 0xff}, true); err != nil {
		return fmt.Errorf("compact edge store: %w", err)
	}
	return nil
}

// AppliedIndex is the last raft index whose changes the store holds.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

func (s *Store) readApplied() (uint64, error) {
	v, closer, err := s.db.Get(kv.AppliedIndexKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read applied index: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("applied index is %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// LinkCount is how many link records the store holds.
func (s *Store) LinkCount() (uint64, error) { return readUint64(s.db, kv.LinkCountKey) }

// Nodes returns the cluster node records, ordered by ID.
func (s *Store) Nodes() ([]kv.Node, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: kv.NodeKeyLowerBound, UpperBound: kv.NodeKeyUpperBound})
	if err != nil {
		return nil, fmt.Errorf("iterate nodes: %w", err)
	}
	defer it.Close()
	var nodes []kv.Node
	for ok := it.First(); ok; ok = it.Next() {
		n, err := kv.DecodeNode(it.Value())
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, it.Error()
}

// Digest is the SHA-256 over every key and value in order, leaving out the
// applied index (which says how far a node got, not what it holds).
func (s *Store) Digest() (string, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(nil)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	defer it.Close()
	h := sha256.New()
	var lenBuf [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.Equal(it.Key(), kv.AppliedIndexKey) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return "", fmt.Errorf("digest: %w", err)
		}
		h.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(it.Key()))))
		h.Write(it.Key())
		h.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(v))))
		h.Write(v)
	}
	if err := it.Error(); err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Node returns the record of node id.
func (s *Store) Node(id string) (kv.Node, bool, error) {
	v, closer, err := s.db.Get(kv.NodeKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return kv.Node{}, false, nil
	}
	if err != nil {
		return kv.Node{}, false, fmt.Errorf("get node: %w", err)
	}
	defer closer.Close()
	n, err := kv.DecodeNode(v)
	return n, err == nil, err
}

// Link returns the link at host+slug. host must be normalised. The key is
// built in a stack buffer, so a lookup allocates only for the decoded strings.
func (s *Store) Link(host, slug []byte) (kv.Link, bool, error) {
	var buf [512]byte
	v, closer, err := s.db.Get(kv.AppendLinkKey(buf[:0], host, slug))
	if errors.Is(err, pebble.ErrNotFound) {
		return kv.Link{}, false, nil
	}
	if err != nil {
		return kv.Link{}, false, fmt.Errorf("get link: %w", err)
	}
	defer closer.Close()
	l, err := kv.DecodeLink(v)
	if err != nil {
		return kv.Link{}, false, err
	}
	return l, true, nil
}

// Salt returns day's visitor salt, if the store has it (kv.Salt).
func (s *Store) Salt(day int64) ([32]byte, bool, error) {
	var salt [32]byte
	v, closer, err := s.db.Get(kv.SaltKey(day))
	if errors.Is(err, pebble.ErrNotFound) {
		return salt, false, nil
	}
	if err != nil {
		return salt, false, fmt.Errorf("get salt: %w", err)
	}
	defer closer.Close()
	if len(v) != len(salt) {
		return salt, false, fmt.Errorf("salt of day %d is %d bytes", day, len(v))
	}
	copy(salt[:], v)
	return salt, true, nil
}

// Challenge returns the key authorization published for ACME token, if
// any (kv.Challenge).
func (s *Store) Challenge(token string) (string, bool, error) {
	v, closer, err := s.db.Get(kv.ChallengeKey(token))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get challenge: %w", err)
	}
	defer closer.Close()
	return string(v), true, nil
}

// Certificate returns the TLS certificate of custom domain host
// (normalised), if any (kv.Certificate).
func (s *Store) Certificate(host string) (kv.Certificate, bool, error) {
	v, closer, err := s.db.Get(kv.CertificateKey(host))
	if errors.Is(err, pebble.ErrNotFound) {
		return kv.Certificate{}, false, nil
	}
	if err != nil {
		return kv.Certificate{}, false, fmt.Errorf("get certificate: %w", err)
	}
	defer closer.Close()
	c, err := kv.DecodeCertificate(v)
	if err != nil {
		return kv.Certificate{}, false, fmt.Errorf("certificate of %s: %w", host, err)
	}
	return c, true, nil
}

// CertificateFailure returns the failing certificate attempts of custom
// domain host (normalised), if its attempts are failing
// (kv.CertificateFailure).
func (s *Store) CertificateFailure(host string) (kv.CertificateFailure, bool, error) {
	v, closer, err := s.db.Get(kv.CertificateFailureKey(host))
	if errors.Is(err, pebble.ErrNotFound) {
		return kv.CertificateFailure{}, false, nil
	}
	if err != nil {
		return kv.CertificateFailure{}, false, fmt.Errorf("get certificate failure: %w", err)
	}
	defer closer.Close()
	f, err := kv.DecodeCertificateFailure(v)
	if err != nil {
		return kv.CertificateFailure{}, false, fmt.Errorf("certificate failure of %s: %w", host, err)
	}
	return f, true, nil
}

// ACMEAccount returns the ACME account's sealed key, if one is kept.
func (s *Store) ACMEAccount() ([]byte, bool, error) {
	v, closer, err := s.db.Get(kv.ACMEAccountKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get acme account: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Domain returns the settings of short domain host (normalised), if any,
// from the in-memory mirror.
func (s *Store) Domain(host []byte) (kv.Domain, bool, error) {
	d, ok := (*s.domains.Load())[string(host)]
	return d, ok, nil
}

// DomainHosts lists the hosts that have a domain record, sorted.
func (s *Store) DomainHosts() []string {
	m := *s.domains.Load()
	hosts := make([]string, 0, len(m))
	for h := range m {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return hosts
}

// pebbleLogger sends Pebble's chatter to slog at debug level and its errors
// at error level.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...)) // Pebble's contract: Fatalf does not return.
}

func pebbleOptions(logger *slog.Logger) *pebble.Options {
	return &pebble.Options{Logger: pebbleLogger{logger.With("subsystem", "pebble")}}
}
