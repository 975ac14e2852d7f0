package chstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// RowBinary is ClickHouse's binary row format, the one format this
// package writes clicks in and reads answers from: strings are a uvarint
// length and their bytes (any bytes: nothing is mended), FixedString(n)
// n bytes, integers little-endian, Date a UInt16 of days since 1970.

// encoder appends RowBinary values to a buffer.
type encoder struct{ b []byte }

func (e *encoder) string(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bytes(p []byte)  { e.b = append(e.b, p...) }
func (e *encoder) uint8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) uint16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) int64(v int64)   { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }
func (e *encoder) uint64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) bool(v bool)     { e.uint8(b2u(v)) }
func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// decoder reads RowBinary values from an answer held in memory; the
// first error sticks and every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

// more reports whether another row follows.
func (d *decoder) more() bool { return d.err == nil && len(d.b) > 0 }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("rowbinary: %w", io.ErrUnexpectedEOF)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > math.MaxInt32 {
		d.err = errors.New("rowbinary: bad string length")
		return ""
	}
	d.b = d.b[k:]
	return string(d.take(int(n)))
}

func (d *decoder) fixed(dst []byte) { copy(dst, d.take(len(dst))) }

func (d *decoder) uint8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) int64() int64 { return int64(d.uint64()) }
