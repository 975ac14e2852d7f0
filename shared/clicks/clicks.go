// Package clicks is what an edge and control agree on about clicks: the
// Click record and the Batch an edge ships, with its binary form.
//
// A Batch carries the edge's id and a sequence number that grows by one per
// batch the edge makes; control counts a batch once by keeping, per edge,
// the last sequence it stored, in the same write as the clicks. A batch
// shipped twice (an acknowledgement lost, an edge restarted before it could
// drop a shipped batch) is stored once.
//
// The binary form is versioned and checksummed: magic "H0PC", a version
// byte, the edge id, the sequence, the click count, the clicks, and a
// CRC-32C of everything before it. The sequence and the count are uvarints
// padded to a fixed width, so that a batch's head has one length for an
// edge id (HeadLen): a spool can write a batch's clicks as they come and
// its head last, in the place kept for it. Decode bounds every length it reads, so
// a corrupt spool segment or a hostile body is an error, never a panic or a
// large allocation. Verify checks a batch whole and reads its header
// without decoding its clicks.
package clicks

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Click is one redirect as analytics sees it. Raw client addresses never
// appear: IPHash is a truncated SHA-256 of a daily salt and the address.
type Click struct {
	ID          [16]byte // random, unique per click
	Time        time.Time
	LinkID      string
	Domain      string
	Country     string // ISO 3166-1 alpha-2, "" when unknown
	Device      string
	Browser     string
	OS          string
	RefererHost string // "" for direct visits
	Bot         bool
	QR          bool // the visit came from a QR code (?qr=1)
	IPHash      [16]byte
}

// IDString is the click's public id.
func (c *Click) IDString() string { return "clk_" + hex.EncodeToString(c.ID[:]) }

// Batch is a run of clicks from one edge, numbered by that edge.
type Batch struct {
	Edge   string
	Seq    uint64
	Clicks []Click
}

// Bounds of the binary form.
const (
	MaxClicks    = 65536 // clicks in one batch
	MaxString    = 1024  // bytes in one string field
	MaxEdgeID    = 128   // bytes in the edge id
	version      = 1
	clickFlagBot = 1 << 0
	clickFlagQR  = 1 << 1
)

var (
	magic = [4]byte{'H', '0', 'P', 'C'}
	table = crc32.MakeTable(crc32.Castagnoli)

	// ErrCorrupt: the bytes are not a batch this package wrote.
	ErrCorrupt = errors.New("clicks: corrupt batch")

	// ErrRejected: control refused a batch for good (it cannot read it, or
	// the batch breaks a rule no retry changes). An edge sets such a batch
	// aside rather than ship it again; control answers a corrupt batch so
	// too.
	ErrRejected = errors.New("clicks: batch rejected")
)

// Append appends b's binary form to dst.
func (b *Batch) Append(dst []byte) ([]byte, error) {
	var e Encoder
	for i := range b.Clicks {
		e.Add(&b.Clicks[i])
	}
	head, tail, err := e.Frame(b.Edge, b.Seq)
	if err != nil {
		return dst, err
	}
	dst = append(dst, head...)
	dst = append(dst, e.body...)
	return append(dst, tail...), nil
}

// Encoder builds a batch's binary form a click at a time, so the work of
// encoding a batch can be spread over the time its clicks arrive. The
// zero value is an empty batch.
type Encoder struct {
	body []byte // the clicks' binary form
	n    int
	// sum is the CRC-32C of body[:summed] (Sum): Frame then checksums
	// only the rest.
	sum    uint32
	summed int
}

// Add encodes c as the batch's next click.
func (e *Encoder) Add(c *Click) {
	dst := append(e.body, c.ID[:]...)
	dst = binary.AppendVarint(dst, c.Time.UnixNano())
	for _, s := range [...]string{c.LinkID, c.Domain, c.Country, c.Device, c.Browser, c.OS, c.RefererHost} {
		if len(s) > MaxString {
			s = s[:MaxString] // only a referer host can be this long; it is cut, not refused
		}
		dst = appendString(dst, s)
	}
	var flags byte
	if c.Bot {
		flags |= clickFlagBot
	}
	if c.QR {
		flags |= clickFlagQR
	}
	dst = append(dst, flags)
	e.body = append(dst, c.IPHash[:]...)
	e.n++
}

// Clicks is the number of clicks added.
func (e *Encoder) Clicks() int { return e.n }

// Size is the batch's size in binary form for an edge id of edgeLen bytes.
func (e *Encoder) Size(edgeLen int) int {
	return headLen(edgeLen) + len(e.body) + 4
}

// HeadLen is the length of the head Frame returns for edge.
func HeadLen(edge string) int { return headLen(len(edge)) }

func headLen(edgeLen int) int {
	return len(magic) + 1 + uvarintLen(uint64(edgeLen)) + edgeLen + seqWidth + countWidth
}

// Widths of the head's padded uvarints.
const (
	seqWidth   = binary.MaxVarintLen64
	countWidth = 3 // 21 bits ≥ MaxClicks
)

// Body is the clicks' binary form so far: the part of the batch between
// Frame's head and tail. It is valid until the next Add or Reset.
func (e *Encoder) Body() []byte { return e.body }

// Frame is what goes around Body to make the binary form of the batch of
// edge and seq: the batch is head, Body, tail.
func (e *Encoder) Frame(edge string, seq uint64) (head, tail []byte, err error) {
	if len(edge) == 0 || len(edge) > MaxEdgeID {
		return nil, nil, fmt.Errorf("clicks: edge id must be 1 to %d bytes", MaxEdgeID)
	}
	if e.n > MaxClicks {
		return nil, nil, fmt.Errorf("clicks: %d clicks in one batch, at most %d", e.n, MaxClicks)
	}
	head = append(magic[:len(magic):len(magic)], version)
	head = appendString(head, edge)
	head = appendPaddedUvarint(head, seq, seqWidth)
	head = appendPaddedUvarint(head, uint64(e.n), countWidth)
	e.Sum()
	sum := crc32Combine(crc32.Checksum(head, table), e.sum, uint64(len(e.body)))
	return head, binary.LittleEndian.AppendUint32(nil, sum), nil
}

// Sum checksums the body added since the last Sum, so that Frame's work
// does not grow with the batch: a spool calls it as the clicks come, in
// slices, rather than over a whole segment at once.
func (e *Encoder) Sum() {
	e.sum = crc32.Update(e.sum, table, e.body[e.summed:])
	e.summed = len(e.body)
}

// Reset empties the encoder, keeping its buffer.
func (e *Encoder) Reset() { e.body, e.n, e.sum, e.summed = e.body[:0], 0, 0, 0 }

// ResetTo empties the encoder and has it encode into buf's array, from
// its start and within its capacity (beyond it, into a new array, as
// append does): a spool lays a segment out in memory as its file holds
// it.
func (e *Encoder) ResetTo(buf []byte) {
	e.Reset()
	e.body = buf[:0]
}

// MoveTo moves e's first clicks to the end of dst, as many as keep dst
// within maxClicks clicks and a Body of maxBody bytes, but at least one
// when dst is empty, and says how many. The clicks left stay in e, in
// order. Moving all of them, the common case, is one copy.
func (e *Encoder) MoveTo(dst *Encoder, maxClicks, maxBody int) int {
	if e.n == 0 {
		return 0
	}
	if dst.n+e.n <= maxClicks && len(dst.body)+len(e.body) <= maxBody {
		n := e.n
		dst.body, dst.n = append(dst.body, e.body...), dst.n+n
		e.Reset()
		return n
	}
	n, size := 0, 0
	for n < e.n {
		l := clickLen(e.body[size:])
		if dst.n+n+1 > maxClicks || len(dst.body)+size+l > maxBody {
			if dst.n+n > 0 {
				break
			}
		}
		n, size = n+1, size+l
	}
	dst.body, dst.n = append(dst.body, e.body[:size]...), dst.n+n
	e.body, e.n = append(e.body[:0], e.body[size:]...), e.n-n
	e.sum, e.summed = 0, 0
	return n
}

// crc32Combine is the CRC-32C of a followed by b, given a's, b's and b's
// length: a's checksum times x^(8·len(b)) modulo the polynomial, plus
// b's (zlib's crc32_combine).
func crc32Combine(a, b uint32, lenB uint64) uint32 {
	return multModP(x2nModP(lenB, 3), a) ^ b
}

// multModP is a·b modulo the CRC-32C polynomial, both reflected.
func multModP(a, b uint32) uint32 {
	m, p := uint32(1)<<31, uint32(0)
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				return p
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ crc32.Castagnoli
		} else {
			b >>= 1
		}
	}
}

// x2nModP is x^(n·2^k) modulo the CRC-32C polynomial.
func x2nModP(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
	}
	return p
}

// x2nTable[k] is x^(2^k) modulo the CRC-32C polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = multModP(p, p)
	}
	return t
}()

// clickLen is the length of the click Add encoded at the start of b.
func clickLen(b []byte) int {
	i := 16
	_, k := binary.Varint(b[i:])
	i += k
	for range 7 { // the strings Add writes
		l, k := binary.Uvarint(b[i:])
		i += k + int(l)
	}
	return i + 1 + 16 // flags, IP hash
}

// Decode decodes the clicks added (strings copied out).
func (e *Encoder) Decode() ([]Click, error) {
	cs := make([]Click, e.n)
	r := reader{b: e.body}
	return cs, r.clicks(cs)
}

// MarshalBinary is Append to a new slice.
func (b *Batch) MarshalBinary() ([]byte, error) { return b.Append(nil) }

// Header is what a batch says of itself besides its clicks.
type Header struct {
	Edge   string
	Seq    uint64
	Clicks int
}

// Verify checks that data is one whole batch written by Append (magic,
// version, checksum) and reads its header without decoding the clicks: the
// cheap check of a spool segment before it is shipped, or of a body before
// it is handed on.
func Verify(data []byte) (Header, error) {
	h, _, err := readHeader(data)
	return h, err
}

// readHeader checks data's checksum and version and reads its header; r
// is left at the first click.
func readHeader(data []byte) (Header, reader, error) {
	if len(data) < len(magic)+1+4 || [4]byte(data[:4]) != magic {
		return Header{}, reader{}, ErrCorrupt
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, table) != sum {
		return Header{}, reader{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if body[4] != version {
		return Header{}, reader{}, fmt.Errorf("%w: version %d", ErrCorrupt, body[4])
	}
	r := reader{b: body[5:]}
	edge := r.string(MaxEdgeID)
	seq := r.uvarint()
	n := r.uvarint()
	// A click takes at least 16+1+7+1+16 bytes: a count the remaining
	// bytes cannot hold is refused before anything is allocated.
	if r.err != nil || n > MaxClicks || n > uint64(len(r.b))/41 || edge == "" {
		return Header{}, reader{}, ErrCorrupt
	}
	return Header{Edge: edge, Seq: seq, Clicks: int(n)}, r, nil
}

// UnmarshalBinary decodes a batch written by Append. Strings are copied out
// of data; b keeps no reference to it.
func (b *Batch) UnmarshalBinary(data []byte) error {
	h, r, err := readHeader(data)
	if err != nil {
		return err
	}
	out := Batch{Edge: h.Edge, Seq: h.Seq, Clicks: make([]Click, h.Clicks)}
	if err := r.clicks(out.Clicks); err != nil {
		return err
	}
	*b = out
	return nil
}

// clicks decodes len(cs) clicks into cs; they must be all r holds.
func (r *reader) clicks(cs []Click) error {
	for i := range cs {
		c := &cs[i]
		copy(c.ID[:], r.bytes(16))
		c.Time = time.Unix(0, r.varint()).UTC()
		c.LinkID = r.string(MaxString)
		c.Domain = r.string(MaxString)
		c.Country = r.string(MaxString)
		c.Device = r.string(MaxString)
		c.Browser = r.string(MaxString)
		c.OS = r.string(MaxString)
		c.RefererHost = r.string(MaxString)
		flags := r.bytes(1)
		if len(flags) == 1 {
			c.Bot, c.QR = flags[0]&clickFlagBot != 0, flags[0]&clickFlagQR != 0
		}
		copy(c.IPHash[:], r.bytes(16))
	}
	if r.err != nil || len(r.b) != 0 {
		return ErrCorrupt
	}
	return nil
}

// appendPaddedUvarint appends v as a uvarint of exactly width bytes (v
// must fit): continuation bits set on leading zero groups, which
// binary.Uvarint reads as the same number.
func appendPaddedUvarint(dst []byte, v uint64, width int) []byte {
	for range width - 1 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader reads the fields of a batch, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() { r.err, r.b = ErrCorrupt, nil }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string(max int) string {
	n := r.uvarint()
	if n > uint64(max) {
		r.fail()
		return ""
	}
	return string(r.bytes(int(n)))
}
