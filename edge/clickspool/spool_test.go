package clickspool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/h0p/h0p/shared/clicks"
)

var quiet = slog.New(slog.DiscardHandler)

func mustOpen(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	if opts.NodeID == "" {
		opts.NodeID = "e1"
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// someClicks makes n clicks numbered from first (in their ID).
func someClicks(first, n int) []clicks.Click {
	out := make([]clicks.Click, n)
	for i := range out {
		k := first + i
		out[i] = clicks.Click{ID: [16]byte{byte(k), byte(k >> 8), byte(k >> 16)}, Time: time.Unix(1_800_000_000+int64(k), 0).UTC(),
			LinkID: "link_1", Domain: "h0p.to", Country: "BR", Device: "mobile", Browser: "Chrome", OS: "Android"}
	}
	return out
}

func clickNo(c clicks.Click) int { return int(c.ID[0]) | int(c.ID[1])<<8 | int(c.ID[2])<<16 }

func mustWrite(t *testing.T, s *Spool, cs []clicks.Click) {
	t.Helper()
	for len(cs) > 0 {
		n, err := s.Write(cs)
		if err != nil || n == 0 {
			t.Fatalf("write: %d, %v", n, err)
		}
		cs = cs[n:]
	}
}

// mustTakeAll reads and empties every segment, oldest first, as a
// shipper whose control acknowledges everything would.
func mustTakeAll(t *testing.T, s *Spool) []clicks.Batch {
	t.Helper()
	var out []clicks.Batch
	for _, data := range mustTakeAllData(t, s) {
		var b clicks.Batch
		if err := b.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// mustTakeAllData is mustTakeAll's batches as bytes.
func mustTakeAllData(t *testing.T, s *Spool) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		g, data, ok, err := s.oldest()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, bytes.Clone(data))
		if err := s.shipped(g); err != nil {
			t.Fatal(err)
		}
	}
}

// slotName is the file of slot id.
func slotName(id uint64) string { return slot{id: id}.name() }

// slotBatch is the batch length a slot file's head gives, -1 for an
// empty slot.
func slotBatch(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(data[:slotHeadLen], make([]byte, slotHeadLen)) {
		return -1
	}
	if !bytes.HasPrefix(data, slotMagic) {
		t.Fatalf("%s: head %q", path, data[:slotHeadLen])
	}
	return int(binary.LittleEndian.Uint32(data[len(slotMagic):]))
}

func seqs(bs []clicks.Batch) []uint64 {
	var out []uint64
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	return out
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// A spool abandoned without any shutdown (a crash) is whole when opened
// again, and sequences continue above every one used, even once all
// segments were shipped and deleted.
func TestSpoolSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 10})
	mustWrite(t, s, someClicks(0, 25))
	edge := s.Edge()
	if !strings.HasPrefix(edge, "e1/") || len(edge) != len("e1/")+16 {
		t.Fatalf("edge id %q", edge)
	}

	s = mustOpen(t, dir, Options{SegmentClicks: 10}) // the first one is abandoned
	if s.Edge() != edge {
		t.Fatalf("edge id after a restart: %q, was %q", s.Edge(), edge)
	}
	got := mustTakeAll(t, s)
	if want := []uint64{1, 2, 3}; !slices.Equal(seqs(got), want) {
		t.Fatalf("sequences %v, want %v", seqs(got), want)
	}
	var n int
	for _, b := range got {
		for _, c := range b.Clicks {
			if clickNo(c) != n || b.Edge != edge {
				t.Fatalf("click %d of %s is %d", n, b.Edge, clickNo(c))
			}
			n++
		}
	}
	if n != 25 {
		t.Fatalf("%d clicks back, want 25", n)
	}

	// Everything shipped and deleted: a restart still continues above.
	s = mustOpen(t, dir, Options{})
	mustWrite(t, s, someClicks(25, 1))
	got = mustTakeAll(t, s)
	if len(got) != 1 || got[0].Seq <= 3 || got[0].Edge != edge {
		t.Fatalf("after a restart with an empty spool: %v of %q", seqs(got), got[0].Edge)
	}
	last := got[0].Seq
	s = mustOpen(t, dir, Options{})
	mustWrite(t, s, someClicks(26, 1))
	if got = mustTakeAll(t, s); got[0].Seq <= last {
		t.Fatalf("sequence %d after %d", got[0].Seq, last)
	}
}

// A spool whose directory was wiped is a new incarnation: the same node
// id, another edge id, so control never takes its sequences for old ones.
func TestWipedSpoolIsANewIncarnation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clicks")
	s := mustOpen(t, dir, Options{})
	mustWrite(t, s, someClicks(0, 3))
	edge := s.Edge()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	if s.Edge() == edge || !strings.HasPrefix(s.Edge(), "e1/") {
		t.Fatalf("edge id %q after a wipe, %q before", s.Edge(), edge)
	}
	// An unreadable state file is treated the same way.
	os.WriteFile(filepath.Join(dir, stateFile), []byte("garbage"), 0o600)
	if again := mustOpen(t, dir, Options{}); again.Edge() == s.Edge() {
		t.Fatal("an unreadable state file kept the incarnation")
	}
	// Another node id on the same directory is another edge too.
	if other := mustOpen(t, dir, Options{NodeID: "e2"}); !strings.HasPrefix(other.Edge(), "e2/") {
		t.Fatalf("edge id %q for node e2", other.Edge())
	}
}

// Files a crash tore (temporary files, a slot whose segment fails its
// checksum) or that are not slots the spool named are counted at open,
// and removed, or emptied for reuse; what it did not write is left.
func TestTornFilesAreRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustWrite(t, s, someClicks(0, 3))
	for _, name := range []string{"00000000000000000002.slot.tmp", "state.tmp", "x-y.slot", "7.slot"} {
		os.WriteFile(filepath.Join(dir, name), []byte("H0PS torn"), 0o600)
	}
	torn, _ := os.ReadFile(filepath.Join(dir, slotName(0)))
	torn[slotHeadLen+20] ^= 1 // a seal's write cut short
	os.WriteFile(filepath.Join(dir, slotName(5)), torn, 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)

	s = mustOpen(t, dir, Options{})
	if got := testutil.ToFloat64(s.m.corruptFiles); got != 5 {
		t.Errorf("corrupt files counted: %v, want 5", got)
	}
	want := []string{slotName(0), slotName(5), "notes.txt", rejectedDir, stateFile}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if n := slotBatch(t, filepath.Join(dir, slotName(5))); n != -1 {
		t.Errorf("the torn slot holds a batch of %d bytes, want it empty", n)
	}
	if got := mustTakeAll(t, s); len(got) != 1 || len(got[0].Clicks) != 3 {
		t.Errorf("segments after open: %v", seqs(got))
	}
	mustWrite(t, s, someClicks(3, 1)) // into an empty slot: no file made
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after a write %v, want %v", got, want)
	}
}

// A slot is reused once its segment shipped, and a spool opened again
// finds the shipped segments gone and the slots empty.
func TestShippedSlotsAreReused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 10})
	mustWrite(t, s, someClicks(0, 30))
	mustTakeAll(t, s)
	want := []string{slotName(0), slotName(1), slotName(2), rejectedDir, stateFile}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for i := range 3 {
		if n := slotBatch(t, filepath.Join(dir, slotName(uint64(i)))); n != -1 {
			t.Errorf("slot %d holds %d bytes after its segment shipped", i, n)
		}
	}
	mustWrite(t, s, someClicks(30, 20))
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files after reuse %v, want %v", got, want)
	}

	s = mustOpen(t, dir, Options{SegmentClicks: 10}) // a crash
	got := mustTakeAll(t, s)
	if !slices.Equal(seqs(got), []uint64{4, 5}) || clickNo(got[0].Clicks[0]) != 30 || clickNo(got[1].Clicks[9]) != 49 {
		t.Fatalf("after reopening: sequences %v", seqs(got))
	}
	if got := testutil.ToFloat64(s.m.corruptFiles); got != 0 {
		t.Errorf("corrupt files counted: %v", got)
	}
}

// Empty slots are kept for reuse up to a quarter of the budget; the rest
// are removed.
func TestEmptySlotsKeptWithinAQuarterOfTheBudget(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 10, MaxBytes: 16 * blockSize}) // segments of one block, room for 4 empty ones
	mustWrite(t, s, someClicks(0, 100))
	if got := len(files(t, dir)); got != 12 {
		t.Fatalf("%d files, want 10 slots, rejected/ and state", got)
	}
	mustTakeAll(t, s)
	if got := len(files(t, dir)); got != 6 {
		t.Fatalf("%d files once shipped, want 4 empty slots, rejected/ and state", got)
	}
}

// A segment too large for the empty slots makes its own within the
// budget, removing empty slots to make room.
func TestLargeSegmentRemovesEmptySlotsForRoom(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 10, SegmentBytes: blockSize, MaxBytes: 4 * blockSize}) // one empty slot kept
	mustWrite(t, s, someClicks(0, 20))
	mustTakeAll(t, s)
	if s.freeBytes != blockSize || len(files(t, dir)) != 3 {
		t.Fatalf("%d bytes of empty slots, files %v", s.freeBytes, files(t, dir))
	}
	sl, made := s.takeSlot(4 * blockSize)
	if !made || sl.size != 4*blockSize || s.freeBytes != 0 || len(s.free) != 0 || len(files(t, dir)) != 2 {
		t.Fatalf("slot %+v (made %v), %d bytes of empty slots, files %v", sl, made, s.freeBytes, files(t, dir))
	}
}

// A segment whose bytes fail their checksum is dropped when read, its
// clicks counted as dropped, its slot removed, and the next one is
// shipped.
func TestCorruptSegmentIsDropped(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 4})
	mustWrite(t, s, someClicks(0, 8))
	path := filepath.Join(dir, slotName(0))
	data, _ := os.ReadFile(path)
	data[slotHeadLen+slotBatch(t, path)/2] ^= 1
	os.WriteFile(path, data, 0o600)

	if got := mustTakeAll(t, s); !slices.Equal(seqs(got), []uint64{2}) {
		t.Fatalf("shipped %v, want [2]", seqs(got))
	}
	if got := testutil.ToFloat64(s.m.dropped.WithLabelValues("corrupt")); got != 4 {
		t.Errorf("dropped corrupt clicks: %v, want 4", got)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the corrupt segment's slot is still there: %v", err)
	}
}

// Beyond its disk budget the spool drops its oldest segments, not the one
// being shipped, counts their clicks and says so in the log.
func TestBudgetDropsTheOldest(t *testing.T) {
	dir := t.TempDir()
	probe := mustOpen(t, t.TempDir(), Options{SegmentClicks: 10})
	mustWrite(t, probe, someClicks(0, 10))
	size, _, _ := probe.stats()

	var logs bytes.Buffer
	s := mustOpen(t, dir, Options{SegmentClicks: 10, MaxBytes: 3*size + size/2,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mustWrite(t, s, someClicks(0, 50)) // five segments, room for three
	if _, n, _ := s.stats(); n != 3 {
		t.Fatalf("%d segments within the budget, want 3", n)
	}
	if got := testutil.ToFloat64(s.m.dropped.WithLabelValues("budget")); got != 20 {
		t.Errorf("dropped clicks: %v, want 20", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "disk budget") {
		t.Errorf("no warning: %s", logs.String())
	}

	// The oldest is being shipped: the next oldest goes instead.
	g, _, ok, err := s.oldest()
	if !ok || err != nil || g.seq != 3 {
		t.Fatalf("oldest: %+v %v %v", g, ok, err)
	}
	mustWrite(t, s, someClicks(50, 10))
	if err := s.shipped(g); err != nil {
		t.Fatal(err)
	}
	if got := mustTakeAll(t, s); !slices.Equal(seqs(got), []uint64{5, 6}) {
		t.Errorf("left after shipping 3: %v, want [5 6]", seqs(got))
	}
}

// A segment stays within SegmentBytes, whatever its clicks weigh; a click
// larger than that alone is a segment of its own.
func TestSegmentBytesBoundsASegment(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 2000})
	cs := someClicks(0, 100)
	cs[50].RefererHost = strings.Repeat("r", 3000)
	mustWrite(t, s, cs)
	var n int
	for _, g := range s.segs {
		if g.size+slotHeadLen > 2000 && g.clicks != 1 {
			t.Errorf("segment %d: %d bytes", g.seq, g.size)
		}
		n += g.clicks
	}
	if n != 100 {
		t.Fatalf("%d clicks written, want 100", n)
	}
}

// BenchmarkWrite is the shipper's cost per click at full segments: encode,
// write into a slot with its flush per 8,192 clicks, and empty the slot
// as shipped.
func BenchmarkWrite(b *testing.B) {
	s, err := Open(b.TempDir(), Options{NodeID: "e1", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	cs := someClicks(0, DefaultSegmentClicks)
	for i := range cs {
		cs[i].LinkID, cs[i].RefererHost = "link_01JEXAMPLE0000000000000000", "news.example.com"
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Write(cs); err != nil {
			b.Fatal(err)
		}
		for _, g := range slices.Clone(s.segs) { // shipped at once: the budget never binds
			if err := s.shipped(g); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cs)), "ns/click")
}

// The open segment stays in memory until its seal writes it whole: before
// that the directory holds no file of it, and a crash loses it, leaving
// the sealed segments as they were and nothing counted as corrupt.
func TestOpenSegmentIsWrittenAtItsSeal(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { testOpenSegmentIsWrittenAtItsSeal(t, direct) })
	}
}

func testOpenSegmentIsWrittenAtItsSeal(t *testing.T, direct bool) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	s.noDirect.Store(!direct)
	before := files(t, dir)
	var e clicks.Encoder
	cs := someClicks(0, 85)
	take := func(cs []clicks.Click) {
		for i := range cs {
			e.Add(&cs[i])
		}
		if !s.Take(&e) {
			t.Fatal("Take left clicks")
		}
	}
	take(cs[:50])
	if got := files(t, dir); !slices.Equal(got, before) {
		t.Fatalf("files with an open segment: %v, want %v", got, before)
	}
	take(cs[50:80])
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if direct && s.noDirect.Load() {
		t.Skip("no direct I/O here: ", dir)
	}
	if got := files(t, dir); len(got) != len(before)+1 {
		t.Fatalf("files after the seal: %v", got)
	}
	take(cs[80:]) // open, then abandoned: a crash

	s = mustOpen(t, dir, Options{})
	if n := testutil.ToFloat64(s.m.corruptFiles); n != 0 {
		t.Fatalf("%v corrupt files counted", n)
	}
	bs := mustTakeAll(t, s)
	if len(bs) != 1 || len(bs[0].Clicks) != 80 || clickNo(bs[0].Clicks[79]) != 79 {
		t.Fatalf("segments %+v", bs)
	}
}

// A seal that cannot write its file keeps the open segment, clicks and
// all, for the next seal, which writes it under the next sequence.
func TestFailedSealKeepsTheOpenSegment(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	blocker := filepath.Join(dir, slotName(0)+tmpSuffix)
	if err := os.Mkdir(blocker, 0o700); err != nil { // no file of that name can be created
		t.Fatal(err)
	}
	var e clicks.Encoder
	for _, c := range someClicks(0, 10) {
		e.Add(&c)
	}
	s.Take(&e)
	if err := s.Seal(); err == nil {
		t.Fatal("the seal wrote over a directory")
	}
	if n, _ := s.Pending(); n != 10 {
		t.Fatalf("%d clicks open after the failed seal, want 10", n)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	bs := mustTakeAll(t, s)
	if len(bs) != 1 || bs[0].Seq != 2 || len(bs[0].Clicks) != 10 {
		t.Fatalf("segments %+v", bs)
	}
}

// Segments written with direct I/O — taken in pieces that end anywhere in
// a block, sealed at any size, one of a click larger than the image — are
// the batches a buffered spool writes: whole, of the same sizes, with the
// same clicks.
func TestDirectSegmentsAreTheBufferedOnes(t *testing.T) {
	big := someClicks(1000, 1)[0]
	big.RefererHost = strings.Repeat("r", clicks.MaxString)
	big.LinkID = strings.Repeat("l", clicks.MaxString)
	big.Domain = strings.Repeat("d", clicks.MaxString)
	big.Country, big.Device, big.Browser, big.OS = big.Domain, big.Domain, big.Domain, big.Domain // ≈7 KiB
	write := func(direct bool) (segments [][]byte, usedDirect bool) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{SegmentBytes: blockSize + 256})
		s.noDirect.Store(!direct)
		cs := someClicks(0, 1500)
		var e clicks.Encoder
		for i, n := 0, 1; i < len(cs); i, n = i+n, n%37+3 {
			for _, c := range cs[i:min(i+n, len(cs))] {
				e.Add(&c)
			}
			if i%5 == 0 {
				e.Add(&big)
			}
			for !s.Take(&e) {
				if err := s.Seal(); err != nil {
					t.Fatal(err)
				}
			}
			if i%3 == 0 {
				if err := s.Seal(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Seal(); err != nil {
			t.Fatal(err)
		}
		usedDirect = direct && !s.noDirect.Load()
		out := mustTakeAllData(t, s)
		for _, b := range out {
			if _, err := clicks.Verify(b); err != nil {
				t.Fatal(err)
			}
		}
		return out, usedDirect
	}
	direct, used := write(true)
	if !used {
		t.Skip("no direct I/O here")
	}
	buffered, _ := write(false)
	if len(direct) != len(buffered) || len(direct) < 20 {
		t.Fatalf("%d segments direct, %d buffered", len(direct), len(buffered))
	}
	if !slices.ContainsFunc(direct, func(b []byte) bool { return len(b) > blockSize+256 }) {
		t.Fatal("no segment of one click larger than the image")
	}
	for i, b := range buffered {
		d := direct[i]
		if len(d) != len(b) {
			t.Fatalf("segment %d: %d bytes direct, %d buffered", i, len(d), len(b))
		}
		var bb, db clicks.Batch
		if err := bb.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if err := db.UnmarshalBinary(d); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(bb.Clicks, db.Clicks, func(a, b clicks.Click) bool { return a == b }) {
			t.Fatalf("segment %d: the clicks differ", i)
		}
	}
}

// A slot is made of a size class: powers of two up to 64 KiB, multiples
// of 64 KiB up to the image; an empty one is reused for a segment of its
// class or of down to half its size, the smallest first.
func TestSlotSizes(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	for _, c := range []struct{ used, size int }{
		{100, 4 << 10}, {4 << 10, 4 << 10}, {5000, 8 << 10}, {64 << 10, 64 << 10}, {70000, 128 << 10},
		{900 << 10, 960 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 4<<10},
	} {
		if got := s.slotSize(c.used); got != c.size {
			t.Errorf("slotSize(%d) = %d, want %d", c.used, got, c.size)
		}
	}
	s.free = []slot{{id: 1, size: 64 << 10}, {id: 2, size: 16 << 10}, {id: 3, size: 12 << 10}, {id: 4, size: 4 << 10}}
	s.freeBytes = 96 << 10
	for _, c := range []struct {
		size int64
		id   uint64
		made bool
	}{{8 << 10, 3, false}, {8 << 10, 2, false}, {8 << 10, 0, true}, {64 << 10, 1, false}, {4 << 10, 4, false}} {
		if sl, made := s.takeSlot(c.size); made != c.made || !made && sl.id != c.id {
			t.Errorf("takeSlot(%d) = %+v, made %v; want slot %d, made %v", c.size, sl, made, c.id, c.made)
		}
	}
}
