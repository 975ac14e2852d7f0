package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"

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
	b := f.store.db.NewIndexedBatch()
	defer b.Close()
	var result any
	domains, err := applyCommand(b, l.Data)
	if err != nil {
		f.logger.Error("skipping raft entry that cannot be applied", "index", l.Index, "err", err)
		if f.onApplyError != nil {
			f.onApplyError()
		}
		// Start again from an empty batch: a half-applied command is never
		// written.
		b.Close()
		b = f.store.db.NewIndexedBatch()
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
		if keys := changedLinkKeys(b); len(keys) > 0 {
			f.store.linksChanged(keys)
		}
	}
	if domains && result == nil { // rare: reload the in-memory mirror
		if err := f.store.loadDomains(); err != nil {
			panic(fmt.Sprintf("fsm: reload domains at index %d: %v", l.Index, err))
		}
	}
	return result
}

// changedLinkKeys lists the link keys a committed batch set or deleted.
func changedLinkKeys(b *pebble.Batch) [][]byte {
	var keys [][]byte
	r := b.Reader()
	for {
		_, key, _, ok, err := r.Next()
		if !ok || err != nil {
			return keys
		}
		if kv.IsLinkKey(key) {
			keys = append(keys, append([]byte(nil), key...))
		}
	}
}

// applyCommand writes a command's ops into b and reports whether any
// changed domain records.
func applyCommand(b *pebble.Batch, data []byte) (domains bool, err error) {
	cmd, err := kv.DecodeCommand(data)
	if err != nil {
		return false, err
	}
	var delta int64 // change in the number of link records
	for _, op := range cmd.Ops {
		var d int64
		switch op.Type {
		case kv.OpPutLink:
			d, err = putLink(b, op.Link)
		case kv.OpDeleteLink:
			d, err = deleteLink(b, op.Delete)
		case kv.OpPutNode:
			err = b.Set(kv.NodeKey(op.Node.ID), kv.AppendNode(nil, op.Node), nil)
		case kv.OpPutDomain:
			domains = true
			err = b.Set(kv.AppendDomainKey(nil, []byte(op.Domain.Host)), kv.AppendDomain(nil, op.Domain), nil)
		case kv.OpDeleteDomain:
			domains = true
			err = b.Delete(kv.AppendDomainKey(nil, []byte(op.Domain.Host)), nil)
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
	n, err := readUint64(b, kv.LinkCountKey)
	if err != nil {
		return false, err
	}
	return domains, b.Set(kv.LinkCountKey, binary.BigEndian.AppendUint64(nil, uint64(int64(n)+delta)), nil)
}

// readUint64 reads an 8-byte counter through the batch; missing is 0.
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

// linkState reads the state row of id through the batch (so ops earlier in
// the same command are visible).
func linkState(b *pebble.Batch, id string) (kv.LinkState, bool, error) {
	v, closer, err := b.Get(kv.LinkStateKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return kv.LinkState{}, false, nil
	}
	if err != nil {
		return kv.LinkState{}, false, err
	}
	defer closer.Close()
	s, err := kv.DecodeLinkState(v)
	return s, err == nil, err
}

// removeLinkKey deletes host+slug if it still points at link id (another
// link may have taken the slug since) and reports whether it did.
func removeLinkKey(b *pebble.Batch, id, host, slug string) (bool, error) {
	key := kv.LinkKey(host, slug)
	v, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cur, err := kv.DecodeLink(v)
	closer.Close()
	if err != nil || cur.ID != id {
		return false, err
	}
	return true, b.Delete(key, nil)
}

// putLink returns the change in the number of link records.
func putLink(b *pebble.Batch, l *kv.Link) (int64, error) {
	st, found, err := linkState(b, l.ID)
	if err != nil {
		return 0, err
	}
	if found && st.Version >= l.Version {
		return 0, nil // replayed or late: a newer version (or the delete) won
	}
	var delta int64
	if found && !st.Deleted && (st.Domain != l.Domain || st.Slug != l.Slug) {
		removed, err := removeLinkKey(b, l.ID, st.Domain, st.Slug)
		if err != nil {
			return 0, err
		}
		if removed {
			delta--
		}
	}
	key := kv.LinkKey(l.Domain, l.Slug)
	switch _, closer, err := b.Get(key); {
	case errors.Is(err, pebble.ErrNotFound):
		delta++
	case err != nil:
		return 0, err
	default:
		closer.Close()
	}
	if err := b.Set(key, kv.AppendLink(nil, l), nil); err != nil {
		return 0, err
	}
	ns := kv.LinkState{Version: l.Version, Domain: l.Domain, Slug: l.Slug}
	return delta, b.Set(kv.LinkStateKey(l.ID), kv.AppendLinkState(nil, &ns), nil)
}

// deleteLink returns the change in the number of link records.
func deleteLink(b *pebble.Batch, d *kv.LinkDelete) (int64, error) {
	st, found, err := linkState(b, d.ID)
	if err != nil {
		return 0, err
	}
	if found && st.Version >= d.Version {
		return 0, nil
	}
	var delta int64
	if found && !st.Deleted {
		removed, err := removeLinkKey(b, d.ID, st.Domain, st.Slug)
		if err != nil {
			return 0, err
		}
		if removed {
			delta--
		}
	}
	// The tombstone keeps a replayed, older put from resurrecting the link.
	ns := kv.LinkState{Version: d.Version, Deleted: true}
	return delta, b.Set(kv.LinkStateKey(d.ID), kv.AppendLinkState(nil, &ns), nil)
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
	f.store.linksChanged(nil)
	if f.onRestore != nil {
		f.onRestore()
	}
	f.logger.Info("restored the edge store from a snapshot", "applied", applied)
	return nil
}
