package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/h0p/h0p/shared/kv"
)

// FSM applies kv commands to the edge Store. It is deterministic: it reads
// nothing but the log entry and the store, never the clock or randomness.
type FSM struct {
	store  *Store
	logger *slog.Logger
	// onApplyError counts entries that could not be decoded; they are skipped
	// (the applied index still moves) so one bad entry cannot wedge a node.
	onApplyError func()
	// onRestore counts snapshot installs.
	onRestore func()
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns the FSM that writes store. Node makes its own; this is for
// tools and tests that feed entries by hand.
func NewFSM(store *Store, logger *slog.Logger) *FSM {
	return &FSM{store: store, logger: logger}
}

// ApplyError is what Apply returns (as raft's response) for an entry it could
// not apply.
type ApplyError struct{ Err error }

func (e *ApplyError) Error() string { return "apply: " + e.Err.Error() }
func (e *ApplyError) Unwrap() error { return e.Err }

// Apply applies one committed entry in one Pebble batch together with its
// index. Entries at or below the stored applied index are replays (raft
// re-delivers committed entries after a restart) and change nothing.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Index <= f.store.applied.Load() {
		return nil
	}
	b := f.store.db.NewBatch()
	defer b.Close()
	var result any
	domains, err := applyCommand(f.store.db, b, l.Data)
	if err != nil {
		f.logger.Error("skipping raft entry that cannot be applied", "index", l.Index, "err", err)
		if f.onApplyError != nil {
			f.onApplyError()
		}
		// Start again from an empty batch: a half-applied command is never
		// written.
		b.Reset()
		result = &ApplyError{Err: err}
	}
	if err := b.Set(kv.AppliedIndexKey, binary.BigEndian.AppendUint64(nil, l.Index), nil); err != nil {
		panic(fmt.Sprintf("fsm: batch set: %v", err))
	}
	// NoSync: the raft log is the durable record. After a power loss Pebble
	// comes back at an earlier, consistent applied index and raft replays the
	// rest; see Node's restore-on-start rule.
	if err := b.Commit(pebble.NoSync); err != nil {
		// The store cannot take writes: continuing would diverge from the log.
		panic(fmt.Sprintf("fsm: commit index %d: %v", l.Index, err))
	}
	f.store.applied.Store(l.Index)
	if result == nil {
		if keys, values := changedLinks(b); len(keys) > 0 {
			f.store.linksChanged(keys, values)
		}
	}
	if domains && result == nil { // rare: reload the in-memory mirror
		if err := f.store.loadDomains(); err != nil {
			panic(fmt.Sprintf("fsm: reload domains at index %d: %v", l.Index, err))
		}
	}
	return result
}

// changedLinks lists the link keys a committed batch set or deleted, each
// with its new record (nil: deleted), in batch order. The values point into
// the batch: valid until it closes. Apply writes link keys only with Set and
// Delete; a range deletion over them would be reported by its start key
// alone (Restore, the one user of DeleteRange, reports "all changed").
func changedLinks(b *pebble.Batch) (keys, values [][]byte) {
	r := b.Reader()
	for {
		kind, key, value, ok, err := r.Next()
		if !ok || err != nil {
			return keys, values
		}
		if !kv.IsLinkKey(key) {
			continue
		}
		if kind != pebble.InternalKeyKindSet {
			value = nil
		}
		keys, values = append(keys, append([]byte(nil), key...)), append(values, value)
	}
}

// applyCommand writes a command's ops into b and reports whether any
// changed what the domain mirror holds: domain records, or certificates
// (kv.Domain.Certified). It reads the store, never b: what earlier ops of
// the same command wrote is tracked in an applier.
func applyCommand(db pebble.Reader, b *pebble.Batch, data []byte) (domains bool, err error) {
	cmd, err := kv.DecodeCommand(data)
	if err != nil {
		return false, err
	}
	a, err := newApplier(db, b, cmd.Ops)
	if err != nil {
		return false, err
	}
	var delta int64 // change in the number of live links
	for _, op := range cmd.Ops {
		var d int64
		switch op.Type {
		case kv.OpPutLink:
			d, err = a.putLink(op.Link)
		case kv.OpDeleteLink:
			d, err = a.deleteLink(op.Delete)
		case kv.OpPutNode:
			err = b.Set(kv.NodeKey(op.Node.ID), kv.AppendNode(nil, op.Node), nil)
		case kv.OpPutDomain:
			domains = true
			err = b.Set(kv.AppendDomainKey(nil, []byte(op.Domain.Host)), kv.AppendDomain(nil, op.Domain), nil)
		case kv.OpDeleteDomain:
			domains = true
			err = b.Delete(kv.AppendDomainKey(nil, []byte(op.Domain.Host)), nil)
		case kv.OpPutSalt:
			err = putSalt(db, b, op.Salt)
		case kv.OpPutChallenge:
			err = b.Set(kv.ChallengeKey(op.Challenge.Token), []byte(op.Challenge.KeyAuth), nil)
		case kv.OpDeleteChallenge:
			err = b.Delete(kv.ChallengeKey(op.Challenge.Token), nil)
		case kv.OpPutCertificate:
			domains = true
			err = putCertificate(db, b, op.Certificate)
		case kv.OpDeleteCertificate:
			domains = true
			err = b.Delete(kv.CertificateKey(op.Certificate.Host), nil)
		case kv.OpPutACMEAccount:
			err = b.Set(kv.ACMEAccountKey, op.Sealed, nil)
		case kv.OpPutCertificateFailure:
			err = putCertificateFailure(db, b, op.CertificateFailure)
		case kv.OpDeleteCertificateFailure:
			err = b.Delete(kv.CertificateFailureKey(op.CertificateFailure.Host), nil)
		default:
			err = fmt.Errorf("unknown %v", op.Type)
		}
		if err != nil {
			return false, fmt.Errorf("%v: %w", op.Type, err)
		}
		delta += d
	}
	if delta == 0 {
		return domains, nil
	}
	n, err := readUint64(db, kv.LinkCountKey)
	if err != nil {
		return false, err
	}
	return domains, b.Set(kv.LinkCountKey, binary.BigEndian.AppendUint64(nil, uint64(int64(n)+delta)), nil)
}

// putSalt sets s unless its day has a salt (the first one applied wins, so
// every node hashes with the same salt all day), and deletes the salts of
// days before s's yesterday.
func putSalt(db pebble.Reader, b *pebble.Batch, s *kv.Salt) error {
	key := kv.SaltKey(s.Day)
	_, closer, err := db.Get(key)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	if err := b.Set(key, s.Value[:], nil); err != nil {
		return err
	}
	return b.DeleteRange(kv.SaltKeyLowerBound, kv.SaltKey(s.Day-1), nil)
}

// putCertificate sets c unless the store holds a later version of its
// host's certificate.
func putCertificate(db pebble.Reader, b *pebble.Batch, c *kv.Certificate) error {
	key := kv.CertificateKey(c.Host)
	v, closer, err := db.Get(key)
	switch {
	case err == nil:
		old, derr := kv.DecodeCertificate(v)
		closer.Close()
		if derr == nil && old.Version >= c.Version {
			return nil
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	return b.Set(key, kv.AppendCertificate(nil, c), nil)
}

// putCertificateFailure sets f while its host has a domain record: a
// failure recorded after the domain's deletion (an attempt that was under
// way) is dropped, so none outlives its domain.
func putCertificateFailure(db pebble.Reader, b *pebble.Batch, f *kv.CertificateFailure) error {
	_, closer, err := db.Get(kv.AppendDomainKey(nil, []byte(f.Host)))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	closer.Close()
	return b.Set(kv.CertificateFailureKey(f.Host), kv.AppendCertificateFailure(nil, f), nil)
}

// readUint64 reads an 8-byte counter; missing is 0.
func readUint64(r pebble.Reader, key []byte) (uint64, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%q is %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// applier applies the link ops of one command. It reads the state rows of
// every link the command touches up front, in key order with one iterator
// (a bulk create of 1,000 new links costs 1,000 forward seeks, not 2,000
// point reads through every level), and keeps what the command itself
// writes so later ops see earlier ones.
type applier struct {
	db     pebble.Reader
	b      *pebble.Batch
	states map[string]kv.LinkState // link ID → state, for the links that have one
	owners map[string]string       // link key written by this command → owning ID ("" deleted)
}

func newApplier(db pebble.Reader, b *pebble.Batch, ops []kv.Op) (*applier, error) {
	a := &applier{db: db, b: b, states: map[string]kv.LinkState{}, owners: map[string]string{}}
	var ids []string
	for _, op := range ops {
		switch {
		case op.Type == kv.OpPutLink && op.Link != nil:
			ids = append(ids, op.Link.ID)
		case op.Type == kv.OpDeleteLink && op.Delete != nil:
			ids = append(ids, op.Delete.ID)
		}
	}
	if len(ids) == 0 {
		return a, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: kv.LinkStateKey(ids[0]), UpperBound: kv.LinkStateKeyUpperBound})
	if err != nil {
		return nil, fmt.Errorf("read link states: %w", err)
	}
	defer it.Close()
	var key []byte
	for _, id := range ids {
		key = kv.AppendLinkStateKey(key[:0], id)
		if !it.SeekGE(key) {
			break // no state row at or after this one: none for the rest
		}
		if !bytes.Equal(it.Key(), key) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read link state %s: %w", id, err)
		}
		st, err := kv.DecodeLinkState(v)
		if err != nil {
			return nil, fmt.Errorf("link state %s: %w", id, err)
		}
		a.states[id] = st
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read link states: %w", err)
	}
	return a, nil
}

// removeKey deletes host+slug if it still points at link id (another link
// may have taken the slug since).
func (a *applier) removeKey(id, host, slug string) error {
	key := kv.LinkKey(host, slug)
	owner, ok := a.owners[string(key)]
	if !ok {
		v, closer, err := a.db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, err := kv.DecodeLink(v)
		closer.Close()
		if err != nil {
			return err
		}
		owner = cur.ID
	}
	if owner != id {
		return nil
	}
	a.owners[string(key)] = ""
	return a.b.Delete(key, nil)
}

// putLink returns the change in the number of live links.
func (a *applier) putLink(l *kv.Link) (int64, error) {
	st, found := a.states[l.ID]
	if found && st.Version >= l.Version {
		return 0, nil // replayed or late: a newer version (or the delete) won
	}
	var delta int64
	switch {
	case !found || st.Deleted:
		delta = 1
	case st.Domain != l.Domain || st.Slug != l.Slug:
		if err := a.removeKey(l.ID, st.Domain, st.Slug); err != nil {
			return 0, err
		}
	}
	key := kv.LinkKey(l.Domain, l.Slug)
	if err := a.b.Set(key, kv.AppendLink(nil, l), nil); err != nil {
		return 0, err
	}
	a.owners[string(key)] = l.ID
	ns := kv.LinkState{Version: l.Version, Domain: l.Domain, Slug: l.Slug}
	a.states[l.ID] = ns
	return delta, a.b.Set(kv.LinkStateKey(l.ID), kv.AppendLinkState(nil, &ns), nil)
}

// deleteLink returns the change in the number of live links.
func (a *applier) deleteLink(d *kv.LinkDelete) (int64, error) {
	st, found := a.states[d.ID]
	if found && st.Version >= d.Version {
		return 0, nil
	}
	var delta int64
	if found && !st.Deleted {
		delta = -1
		if err := a.removeKey(d.ID, st.Domain, st.Slug); err != nil {
			return 0, err
		}
	}
	// The tombstone keeps a replayed, older put from resurrecting the link.
	ns := kv.LinkState{Version: d.Version, Deleted: true}
	a.states[d.ID] = ns
	return delta, a.b.Set(kv.LinkStateKey(d.ID), kv.AppendLinkState(nil, &ns), nil)
}

// Snapshot format: a header, then for every key in order `uvarint(len(k)) k
// uvarint(len(v)) v`, then a zero-length key as terminator and the CRC-32C of
// everything before it.
var snapshotMagic = []byte("h0p-snapshot-1\n")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot captures a consistent Pebble view. It is cheap: the copy happens in
// Persist, off the FSM goroutine, while applies continue.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.store.db.NewSnapshot()}, nil
}

type fsmSnapshot struct{ snap *pebble.Snapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	crc := crc32.New(crcTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	if _, err := bw.Write(snapshotMagic); err != nil {
		return err
	}
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return err
	}
	defer it.Close()
	var hdr []byte
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(it.Key())))
		bw.Write(hdr)
		bw.Write(it.Key())
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(v)))
		bw.Write(hdr)
		if _, err := bw.Write(v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

func (s *fsmSnapshot) Release() { s.snap.Close() }

// crcReader checksums exactly the bytes its caller consumes.
type crcReader struct {
	r   *bufio.Reader
	sum uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sum = crc32.Update(c.sum, crcTable, p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.sum = crc32.Update(c.sum, crcTable, []byte{b})
	}
	return b, err
}

func (c *crcReader) chunk() ([]byte, error) {
	n, err := binary.ReadUvarint(c)
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, fmt.Errorf("%d-byte chunk", n)
	}
	buf := make([]byte, n)
	_, err = io.ReadFull(c, buf)
	return buf, err
}

// Restore replaces the whole edge database with the snapshot in one atomic
// batch: readers see either the old state or the new one, never a mix. A
// snapshot that fails its checksum changes nothing.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := &crcReader{r: bufio.NewReaderSize(rc, 1<<16)}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != string(snapshotMagic) {
		return errors.New("restore: not an h0p snapshot")
	}
	b := f.store.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{0}, []byte{0xff}, nil); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var applied uint64
	for {
		k, err := r.chunk()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if len(k) == 0 {
			break
		}
		v, err := r.chunk()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if string(k) == string(kv.AppliedIndexKey) && len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		if err := b.Set(k, v, nil); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	var sum [4]byte
	if _, err := io.ReadFull(r.r, sum[:]); err != nil {
		return fmt.Errorf("restore: read checksum: %w", err)
	}
	if got := binary.BigEndian.Uint32(sum[:]); got != r.sum {
		return fmt.Errorf("restore: checksum %08x, computed %08x", got, r.sum)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("restore: commit: %w", err)
	}
	f.store.applied.Store(applied)
	if err := f.store.loadDomains(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.store.linksChanged(nil, nil)
	if f.onRestore != nil {
		f.onRestore()
	}
	f.logger.Info("restored the edge store from a snapshot", "applied", applied)
	return nil
}
