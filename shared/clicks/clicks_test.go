package clicks

import (
	"bytes"
	"errors"
	"hash/crc32"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func sample() Batch {
	return Batch{Edge: "edge-1", Seq: 42, Clicks: []Click{
		{ID: [16]byte{1, 2, 3}, Time: time.Date(2026, 12, 6, 10, 0, 0, 123, time.UTC), LinkID: "link_01", Domain: "h0p.to",
			Country: "BR", Device: "mobile", Browser: "Chrome", OS: "Android", RefererHost: "news.example", QR: true, IPHash: [16]byte{9}},
		{ID: [16]byte{4}, Time: time.Date(2026, 12, 6, 10, 0, 1, 0, time.UTC), LinkID: "link_02", Domain: "h0p.to", Bot: true},
	}}
}

func TestRoundTrip(t *testing.T) {
	b := sample()
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Batch
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
	}
	if h, err := Verify(data); err != nil || h != (Header{Edge: "edge-1", Seq: 42, Clicks: 2}) {
		t.Fatalf("Verify: %+v %v", h, err)
	}
	empty := Batch{Edge: "e", Seq: 1}
	data, _ = empty.MarshalBinary()
	if err := got.UnmarshalBinary(data); err != nil || got.Seq != 1 || len(got.Clicks) != 0 {
		t.Fatalf("empty batch: %+v %v", got, err)
	}
}

func TestCorruptionIsRefused(t *testing.T) {
	b := sample()
	data, _ := b.MarshalBinary()
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		var got Batch
		if err := got.UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: err %v", i, err)
		}
		if _, err := Verify(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: Verify says %v", i, err)
		}
	}
	for n := range len(data) {
		var got Batch
		if err := got.UnmarshalBinary(data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: err %v", n, err)
		}
	}
}

func TestBounds(t *testing.T) {
	if _, err := (&Batch{}).MarshalBinary(); err == nil {
		t.Fatal("a batch without an edge id was written")
	}
	long := sample()
	long.Clicks[0].RefererHost = string(bytes.Repeat([]byte("a"), MaxString+10))
	data, err := long.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Batch
	if err := got.UnmarshalBinary(data); err != nil || len(got.Clicks[0].RefererHost) != MaxString {
		t.Fatalf("long referer: %d bytes, %v", len(got.Clicks[0].RefererHost), err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	b := sample()
	data, _ := b.MarshalBinary()
	f.Add(data)
	f.Add([]byte("H0PC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Batch
		h, verr := Verify(data)
		if err := got.UnmarshalBinary(data); err != nil {
			return
		}
		if verr != nil || h != (Header{Edge: got.Edge, Seq: got.Seq, Clicks: len(got.Clicks)}) {
			t.Fatalf("decoded, but Verify says %+v %v", h, verr)
		}
		again, err := got.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		var twice Batch
		if err := twice.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(twice, got) {
			t.Fatalf("re-encoded batch differs: %v", err)
		}
	})
}

// MoveTo moves whole clicks, in order, within both bounds, and at least
// one into an empty encoder.
func TestMoveTo(t *testing.T) {
	var src Encoder
	var want []Click
	for i := range 10 {
		c := Click{ID: [16]byte{byte(i)}, Time: time.Unix(int64(i), 0).UTC(), LinkID: "link_" + string(rune('a'+i)),
			RefererHost: string(bytes.Repeat([]byte("r"), i*10))}
		src.Add(&c)
		want = append(want, c)
	}
	full := len(src.Body())
	var dst Encoder
	if n := src.MoveTo(&dst, 3, full); n != 3 || dst.Clicks() != 3 || src.Clicks() != 7 {
		t.Fatalf("by clicks: moved %d, dst %d, src %d", n, dst.Clicks(), src.Clicks())
	}
	if n := src.MoveTo(&dst, 10, len(dst.Body())+clickLen(src.Body())); n != 1 {
		t.Fatalf("by bytes: moved %d, want 1", n)
	}
	if n := src.MoveTo(&dst, 10, len(dst.Body())); n != 0 {
		t.Fatalf("into a full encoder: moved %d", n)
	}
	var empty Encoder
	if n := src.MoveTo(&empty, 10, 1); n != 1 {
		t.Fatalf("into an empty encoder, one click too large: moved %d, want 1", n)
	}
	empty.MoveTo(&dst, 10, full)
	if n := src.MoveTo(&dst, 10, full); n != 5 || src.Clicks() != 0 || len(src.Body()) != 0 {
		t.Fatalf("the rest: moved %d, left %d", n, src.Clicks())
	}
	got, err := dst.Decode()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("moved clicks: %v\n got %+v\nwant %+v", err, got, want)
	}
}

// A batch's head has one length for an edge id, whatever its sequence
// and click count: a spool writes it last in the place kept for it.
func TestHeadLenIsFixed(t *testing.T) {
	var e Encoder
	for _, n := range []int{0, 1, 200, MaxClicks} {
		for e.Clicks() < n {
			e.Add(&Click{})
		}
		for _, seq := range []uint64{0, 1, 1 << 20, 1<<63 - 1} {
			head, tail, err := e.Frame("edge-1/abc", seq)
			if err != nil {
				t.Fatal(err)
			}
			if len(head) != HeadLen("edge-1/abc") || e.Size(len("edge-1/abc")) != len(head)+len(e.Body())+len(tail) {
				t.Fatalf("%d clicks, seq %d: head %d bytes, HeadLen %d", n, seq, len(head), HeadLen("edge-1/abc"))
			}
			h, err := Verify(slices.Concat(head, e.Body(), tail))
			if err != nil || h.Seq != seq || h.Clicks != n {
				t.Fatalf("%d clicks, seq %d: Verify %+v %v", n, seq, h, err)
			}
		}
	}
}

func TestSumInSlicesIsTheWholeChecksum(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 4096} {
		var whole, sliced Encoder
		for i := range n {
			c := Click{Time: time.Unix(int64(i), 0), LinkID: strings.Repeat("l", i%40), Domain: "h0p.test", Country: "US"}
			c.ID[0], c.IPHash[3] = byte(i), byte(i>>8)
			whole.Add(&c)
			sliced.Add(&c)
			if i%(1+i%13) == 0 {
				sliced.Sum()
			}
		}
		hw, tw, err := whole.Frame("edge-1/abc", 42)
		if err != nil {
			t.Fatal(err)
		}
		hs, ts, err := sliced.Frame("edge-1/abc", 42)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(hw, hs) || !bytes.Equal(tw, ts) {
			t.Fatalf("%d clicks: checksum in slices %x, whole %x", n, ts, tw)
		}
		data := append(append(append([]byte(nil), hs...), sliced.Body()...), ts...)
		if _, err := Verify(data); err != nil {
			t.Fatalf("%d clicks: %v", n, err)
		}
	}
}

func TestCRC32Combine(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*7 + i>>5)
	}
	for _, cut := range []int{0, 1, 3, 4, 63, 64, 65, 1000, 4999, 5000} {
		a, b := data[:cut], data[cut:]
		got := crc32Combine(crc32.Checksum(a, table), crc32.Checksum(b, table), uint64(len(b)))
		if want := crc32.Checksum(data, table); got != want {
			t.Errorf("cut at %d: %08x, want %08x", cut, got, want)
		}
	}
}

// ResetTo encodes into the given array, in place while it has room, and
// the batch is the same as from a fresh encoder.
func TestResetToEncodesInPlace(t *testing.T) {
	buf := make([]byte, 0, 4096)
	var fresh, placed Encoder
	placed.Add(&Click{LinkID: "before"})
	placed.ResetTo(buf)
	for i := range 10 {
		c := Click{Time: time.Unix(int64(i), 0), LinkID: "lnk_1", Domain: "h0p.test"}
		fresh.Add(&c)
		placed.Add(&c)
	}
	if placed.Clicks() != 10 || &placed.Body()[0] != &buf[:1][0] {
		t.Fatalf("%d clicks, encoded in place: %v", placed.Clicks(), &placed.Body()[0] == &buf[:1][0])
	}
	hf, tf, _ := fresh.Frame("e/1", 1)
	hp, tp, _ := placed.Frame("e/1", 1)
	if !bytes.Equal(hf, hp) || !bytes.Equal(tf, tp) || !bytes.Equal(fresh.Body(), placed.Body()) {
		t.Fatal("the batch encoded in place differs")
	}
}
