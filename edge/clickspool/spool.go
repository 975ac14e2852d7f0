package clickspool

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/shared/clicks"
)

// Options configure a Spool.
type Options struct {
	// NodeID is the edge's node id, the first part of its batches' edge id.
	NodeID string
	// MaxBytes is the disk budget of the spool's slots, those holding
	// unshipped segments and those kept empty for reuse (0: 1 GiB).
	MaxBytes int64
	// SegmentClicks bounds the clicks in a segment (0: 8192).
	SegmentClicks int
	// SegmentBytes bounds a segment's slot, its batch and the slot's
	// head, so a batch fits the body control accepts; a click too large
	// for it alone is a segment of its own (0: 1 MiB).
	SegmentBytes int
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // the spool's and its shipper's metrics; nil: none
	Now          func() time.Time      // nil: time.Now
}

// Defaults.
const (
	DefaultMaxBytes      = 1 << 30
	DefaultSegmentClicks = 8192
	DefaultSegmentBytes  = 1 << 20
)

// reserveStep is how many sequence numbers the state file reserves at a
// time: one state write (two fsyncs) per reserveStep segments, and at most
// reserveStep numbers skipped per restart (control needs them increasing,
// not contiguous).
const reserveStep = 4096

const (
	stateFile   = "state"
	rejectedDir = "rejected"
	slotSuffix  = ".slot"
	batchSuffix = ".batch" // a refused batch's file in rejected/
	tmpSuffix   = ".tmp"
	stateMagic  = "h0p click spool 1"
)

// Spool is a directory of slot files, each holding one sealed segment or
// none, and one open segment, in memory until sealing writes it whole
// into a free slot (slot.go). Take, Seal and Write are for one goroutine
// at a time (the Shipper's); the rest is safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	edge string
	log  *slog.Logger
	m    *metrics

	writeMu sync.Mutex     // one Take, Seal or Write at a time; guards the fields below
	open    clicks.Encoder // the open segment's clicks
	opened  time.Time      // when its first click was added
	// img is the open segment as a slot will hold it (slot.go): the
	// place of the slot's head and the batch head (clicks.HeadLen), then
	// the body open encodes into; its length is a slot's.
	img      []byte
	next     uint64 // the sequence of the next segment
	reserved uint64 // sequences from here on were never used (the state file says so)

	readBuf   []byte      // oldest's and Open's, reused
	zeroBlock []byte      // an empty slot's head, aligned
	noDirect  atomic.Bool // the filesystem refused direct I/O

	mu        sync.Mutex
	segs      []segment // oldest first
	bytes     int64     // their slots'
	free      []slot    // empty slots, kept for reuse
	freeBytes int64
	nextSlot  uint64        // the number of the next slot file made
	busy      uint64        // the sequence of the segment being shipped (0: none)
	written   chan struct{} // a segment was written (capacity 1)
	drops     dropLog
}

// segment is one sealed batch, in its slot.
type segment struct {
	seq     uint64
	clicks  int
	size    int64 // the batch's bytes
	created time.Time
	slot    slot
}

// batchName is the name of the segment's batch set aside in rejected/.
func (g segment) batchName() string { return fmt.Sprintf("%020d-%d%s", g.seq, g.clicks, batchSuffix) }

// dropLog keeps the budget's warnings to one a minute while it drops.
type dropLog struct {
	last            time.Time
	segs, clicks    int
	firstSeq, upSeq uint64
}

// Open opens the spool in dir, creating it (and the edge's incarnation)
// if needed.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.NodeID == "" {
		return nil, errors.New("click spool: a node id is required")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentClicks <= 0 || opts.SegmentClicks > clicks.MaxClicks {
		opts.SegmentClicks = DefaultSegmentClicks
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger.With("subsystem", "clickspool"), written: make(chan struct{}, 1),
		zeroBlock: alignedBuffer(blockSize)}
	if err := mkdirSynced(filepath.Join(dir, rejectedDir)); err != nil {
		return nil, fmt.Errorf("click spool: %w", err)
	}
	edge, reserved, err := readState(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.log.Warn("click spool state unreadable: starting a new incarnation", "dir", dir, "err", err)
	}
	if !strings.HasPrefix(edge, opts.NodeID+"/") {
		var inc [8]byte
		rand.Read(inc[:])
		edge = opts.NodeID + "/" + hex.EncodeToString(inc[:])
	}
	if len(edge) > clicks.MaxEdgeID {
		return nil, fmt.Errorf("click spool: node id %q is too long", opts.NodeID)
	}
	s.edge = edge
	if opts.SegmentBytes >= slotHeadLen+clicks.HeadLen(edge)+4 {
		s.img = alignedBuffer(roundUp(opts.SegmentBytes))
	}
	s.emptyOpen()
	s.m = newMetrics(opts.Registerer, s)
	if err := s.scan(); err != nil {
		return nil, err
	}
	s.next = max(reserved, 1)
	if n := len(s.segs); n > 0 {
		s.next = max(s.next, s.segs[n-1].seq+1)
	}
	s.reserved = s.next
	// The state is written now, not at the first segment, so that the
	// incarnation exists for as long as the directory does.
	if err := writeState(dir, s.edge, s.reserved); err != nil {
		return nil, fmt.Errorf("click spool: %w", err)
	}
	return s, nil
}

// Edge is the edge id of the batches this spool writes.
func (s *Spool) Edge() string { return s.edge }

// scan reads the slots in the directory: the segments they hold, whole,
// and the empty ones. What a crash tore (a temporary file, a slot whose
// segment fails its checksum) or misnamed is logged and counted, then
// removed or emptied for reuse.
func (s *Spool) scan() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("click spool: %w", err)
	}
	var slots []slot
	for _, e := range entries {
		name := e.Name()
		if name == stateFile || name == rejectedDir {
			continue
		}
		if !strings.HasSuffix(name, tmpSuffix) && !strings.HasSuffix(name, slotSuffix) {
			s.log.Warn("click spool: ignoring a file it did not write", "file", name)
			continue
		}
		id, ok := parseSlotName(name)
		var info fs.FileInfo
		if ok {
			info, err = e.Info()
			ok = err == nil && info.Mode().IsRegular() && info.Size() > 0 && info.Size()%blockSize == 0
		}
		if !ok {
			s.log.Warn("click spool: removing a torn or misnamed file", "file", name)
			s.m.corruptFiles.Inc()
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("click spool: %w", err)
			}
			continue
		}
		s.nextSlot = max(s.nextSlot, id+1)
		slots = append(slots, slot{id: id, size: info.Size(), modified: info.ModTime()})
	}
	for _, sl := range slots {
		data, err := s.readSlot(sl, -1)
		if err != nil && !errors.Is(err, errTornSlot) {
			return fmt.Errorf("click spool: %w", err)
		}
		if err == nil && data == nil { // empty
			if s.keepable(sl) {
				s.keep(sl)
			} else if err := s.removeSlot(sl); err != nil {
				return fmt.Errorf("click spool: %w", err)
			}
			continue
		}
		var h clicks.Header
		if err == nil {
			h, err = clicks.Verify(data)
		}
		if err != nil {
			s.log.Warn("click spool: emptying a slot whose segment is torn or corrupt", "file", sl.name(), "err", err)
			s.m.corruptFiles.Inc()
			s.mu.Lock()
			err = s.dropSlot(sl, true)
			s.mu.Unlock()
			if err != nil {
				return fmt.Errorf("click spool: %w", err)
			}
			continue
		}
		s.segs = append(s.segs, segment{seq: h.Seq, clicks: h.Clicks, size: int64(len(data)), created: sl.modified, slot: sl})
		s.bytes += sl.size
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmp.Compare(a.seq, b.seq) })
	return nil
}

// Take moves src's clicks into the open segment, opening one if needed, as
// many as fit (SegmentClicks clicks, SegmentBytes bytes); it says whether
// all did: if not, Seal, then Take the rest. A click larger than
// SegmentBytes alone is a segment of its own. It writes nothing to disk.
func (s *Spool) Take(src *clicks.Encoder) bool {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	n := s.open.Clicks()
	frame := slotHeadLen + s.open.Size(len(s.edge)) - len(s.open.Body())
	if src.MoveTo(&s.open, s.opts.SegmentClicks, s.opts.SegmentBytes-frame) > 0 {
		if n == 0 {
			s.opened = s.opts.Now()
		}
		s.open.Sum() // the checksum as the clicks come: sealing adds no pass over the segment
	}
	return src.Clicks() == 0
}

// emptyOpen empties the open segment, encoding the next one into the
// image when there is one.
func (s *Spool) emptyOpen() {
	switch {
	case s.img != nil:
		body := slotHeadLen + clicks.HeadLen(s.edge)
		s.open.ResetTo(s.img[body : body : s.opts.SegmentBytes-4]) // room for the tail
	case cap(s.open.Body()) > 4*s.opts.SegmentBytes:
		s.open = clicks.Encoder{} // one oversized click must not pin its buffer
	default:
		s.open.Reset()
	}
}

// Pending says how many clicks the open segment holds and when the first was
// added.
func (s *Spool) Pending() (clicks int, since time.Time) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.open.Clicks(), s.opened
}

// Seal writes the open segment durably as the spool's next segment, making
// room within the budget by dropping the oldest; nothing when it is empty.
// After an error the open segment is as it was, to be sealed again.
func (s *Spool) Seal() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	n := s.open.Clicks()
	if n == 0 {
		return nil
	}
	if s.next >= s.reserved {
		if err := writeState(s.dir, s.edge, s.next+reserveStep); err != nil {
			return fmt.Errorf("click spool: reserve sequences: %w", err)
		}
		s.reserved = s.next + reserveStep
	}
	// Once tried, a sequence is spent: a failed write may have reached
	// the disk.
	seq := s.next
	s.next++
	head, tail, err := s.open.Frame(s.edge, seq)
	if err != nil {
		return fmt.Errorf("click spool: %w", err)
	}
	used := slotHeadLen + len(head) + len(s.open.Body()) + len(tail)
	sl, made := s.takeSlot(int64(s.slotSize(used)))
	size := roundUp(used) // of an empty slot, the blocks the segment fills
	if made {
		size = int(sl.size) // a new one, whole
	}
	if err := s.writeSlot(sl, made, s.slotImage(head, tail, used, size)); err != nil {
		return fmt.Errorf("click spool: %w", err)
	}
	s.emptyOpen()
	s.mu.Lock()
	s.segs = append(s.segs, segment{seq: seq, clicks: n, size: int64(used - slotHeadLen), created: s.opts.Now(), slot: sl})
	s.bytes += sl.size
	s.mu.Unlock()
	s.m.spooled.Add(float64(n))
	select {
	case s.written <- struct{}{}:
	default:
	}
	return nil
}

// Write adds cs's first clicks to the open segment, as many as fit, and
// seals it: it says how many it took. After an error none of cs is in the
// spool and the open segment is empty.
func (s *Spool) Write(cs []clicks.Click) (int, error) {
	var e clicks.Encoder
	for i := range cs {
		e.Add(&cs[i])
	}
	s.Take(&e)
	if err := s.Seal(); err != nil {
		s.writeMu.Lock()
		s.emptyOpen()
		s.writeMu.Unlock()
		return 0, err
	}
	return len(cs) - e.Clicks(), nil
}

// takeSlot is a slot for a segment whose slot is made size bytes: the
// smallest empty one of size to twice that, else a new one (made true),
// within the budget: beyond it the oldest segments, but the one being
// shipped, are dropped and their slots reused.
func (s *Spool) takeSlot(size int64) (sl slot, made bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		i := -1
		for j, f := range s.free {
			if f.size >= size && f.size <= 2*size && (i < 0 || f.size < s.free[i].size) {
				i = j
			}
		}
		if i >= 0 {
			sl = s.free[i]
			s.free = slices.Delete(s.free, i, i+1)
			s.freeBytes -= sl.size
			return sl, false
		}
		if s.bytes+s.freeBytes+size <= s.opts.MaxBytes || !s.dropOldest() {
			break
		}
	}
	for s.bytes+s.freeBytes+size > s.opts.MaxBytes && len(s.free) > 0 { // empty slots too small for it
		f := s.free[0]
		if err := s.removeSlot(f); err != nil {
			break
		}
		s.free = s.free[1:]
		s.freeBytes -= f.size
	}
	sl = slot{id: s.nextSlot, size: size}
	s.nextSlot++
	return sl, true
}

// dropOldest drops the oldest segment but the one being shipped, counted
// and logged, emptying its slot; false when there is none. s.mu is held.
func (s *Spool) dropOldest() bool {
	i := 0
	if len(s.segs) > 0 && s.segs[0].seq == s.busy {
		i = 1
	}
	if i >= len(s.segs) {
		return false
	}
	g := s.segs[i]
	if err := s.dropSlot(g.slot, true); err != nil {
		s.log.Error("click spool: dropping a segment failed", "seq", g.seq, "err", err)
		return false
	}
	s.segs = slices.Delete(s.segs, i, i+1)
	s.bytes -= g.slot.size
	s.m.dropped.WithLabelValues("budget").Add(float64(g.clicks))
	s.noteDrop(g)
	return true
}

// noteDrop logs budget drops: the first at once, then one line a minute
// for those since.
func (s *Spool) noteDrop(g segment) {
	d := &s.drops
	if d.segs == 0 {
		d.firstSeq = g.seq
	}
	d.segs++
	d.clicks += g.clicks
	d.upSeq = g.seq
	now := s.opts.Now()
	if now.Sub(d.last) < time.Minute {
		return
	}
	s.log.Warn("click spool over its disk budget: dropped the oldest unshipped clicks",
		"segments", d.segs, "clicks", d.clicks, "fromSeq", d.firstSeq, "toSeq", d.upSeq, "budgetBytes", s.opts.MaxBytes)
	*d = dropLog{last: now}
}

// oldest reads the oldest segment and marks it as being shipped (until
// shipped, setAside or release); data is valid until the next call (one
// caller, the shipper). ok is false when there is none. A segment
// whose bytes are no longer the batch it was is logged, counted as
// dropped and its slot emptied, and the next one read.
func (s *Spool) oldest() (g segment, data []byte, ok bool, err error) {
	for {
		s.mu.Lock()
		if len(s.segs) == 0 {
			s.mu.Unlock()
			return segment{}, nil, false, nil
		}
		g = s.segs[0]
		s.busy = g.seq
		s.mu.Unlock()
		data, err = s.readSlot(g.slot, g.size)
		switch {
		case err != nil && !errors.Is(err, errTornSlot) && !errors.Is(err, fs.ErrNotExist):
			s.release()
			return segment{}, nil, false, fmt.Errorf("click spool: %w", err)
		case err != nil:
		case data == nil:
			err = errors.New("the slot is empty")
		default:
			var h clicks.Header
			if h, err = clicks.Verify(data); err == nil && (h.Seq != g.seq || h.Clicks != g.clicks) {
				err = fmt.Errorf("holds sequence %d with %d clicks", h.Seq, h.Clicks)
			}
			if err == nil {
				return g, data, true, nil
			}
		}
		s.log.Error("click spool: dropping a corrupt segment", "seq", g.seq, "clicks", g.clicks, "err", err)
		s.m.corruptFiles.Inc()
		s.m.dropped.WithLabelValues("corrupt").Add(float64(g.clicks))
		if err := s.forget(g, false); err != nil {
			return segment{}, nil, false, err
		}
	}
}

// shipped empties the slot of a segment control acknowledged.
func (s *Spool) shipped(g segment) error {
	if err := s.forget(g, true); err != nil {
		return err
	}
	s.m.shipped.Add(float64(g.clicks))
	return nil
}

// setAside writes a segment control refused for good, its batch data, to
// rejected/, and empties its slot.
func (s *Spool) setAside(g segment, data []byte) error {
	if err := writeFileSynced(filepath.Join(s.dir, rejectedDir), g.batchName(), data); err != nil {
		s.release()
		return fmt.Errorf("click spool: %w", err)
	}
	if err := s.forget(g, true); err != nil {
		return err
	}
	s.m.rejected.Add(float64(g.clicks))
	return nil
}

// release ends the shipping of a segment that stays.
func (s *Spool) release() {
	s.mu.Lock()
	s.busy = 0
	s.mu.Unlock()
}

// forget empties g's slot, kept for reuse if reuse (a slot that held a
// corrupt segment is removed), and drops its entry.
func (s *Spool) forget(g segment, reuse bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = 0
	if err := s.dropSlot(g.slot, reuse); err != nil {
		return fmt.Errorf("click spool: %w", err)
	}
	if i := slices.IndexFunc(s.segs, func(x segment) bool { return x.seq == g.seq }); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
		s.bytes -= g.slot.size
	}
	return nil
}

// stats is what the gauges report.
func (s *Spool) stats() (bytes int64, segs int, oldest time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 {
		oldest = max(0, s.opts.Now().Sub(s.segs[0].created))
	}
	return s.bytes, len(s.segs), oldest
}

// readState reads the state file: the edge id and the first sequence never
// reserved.
func readState(dir string) (edge string, reserved uint64, err error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return "", 0, err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || lines[0] != stateMagic {
		return "", 0, errors.New("not a click spool state file")
	}
	edge, ok1 := strings.CutPrefix(lines[1], "edge ")
	r, ok2 := strings.CutPrefix(lines[2], "reserved ")
	reserved, err = strconv.ParseUint(r, 10, 64)
	if !ok1 || !ok2 || err != nil || edge == "" {
		return "", 0, errors.New("not a click spool state file")
	}
	return edge, reserved, nil
}

func writeState(dir, edge string, reserved uint64) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nedge %s\nreserved %d\n", stateMagic, edge, reserved)
	return writeFileSynced(dir, stateFile, b.Bytes())
}

// writeFileSynced writes name in dir so that a crash leaves the old file
// or the new one, whole: a temporary file, synced, renamed over name, and
// the directory synced.
func writeFileSynced(dir, name string, data ...[]byte) error {
	return replaceSynced(dir, name, 0, func(f *os.File) error {
		for _, d := range data {
			if _, err := f.Write(d); err != nil {
				return err
			}
		}
		return nil
	})
}

// replaceSynced is writeFileSynced with the temporary file opened with
// flag added and written by write.
func replaceSynced(dir, name string, flag int, write func(*os.File) error) error {
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|flag, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(dir); err != nil {
		os.Remove(path) // not known durable: better absent than half there after a crash
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirSynced creates dir and its parents, syncing each parent it added to.
func mkdirSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}
