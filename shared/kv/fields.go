package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt reports bytes that are not a valid encoding. Decoders wrap it with
// what they were reading.
var ErrCorrupt = errors.New("kv: corrupt encoding")

// fieldWriter appends `tag length bytes` fields to a buffer.
type fieldWriter struct{ b []byte }

func (w *fieldWriter) bytes(tag uint64, v []byte) {
	w.b = binary.AppendUvarint(w.b, tag)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
}

// string writes a field only when it is set: an absent field decodes as "".
func (w *fieldWriter) string(tag uint64, v string) {
	if v == "" {
		return
	}
	w.b = binary.AppendUvarint(w.b, tag)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
}

// uint writes a field only when it is set: an absent field decodes as 0.
func (w *fieldWriter) uint(tag, v uint64) {
	if v == 0 {
		return
	}
	var tmp [binary.MaxVarintLen64]byte
	w.bytes(tag, binary.AppendUvarint(tmp[:0], v))
}

func (w *fieldWriter) bool(tag uint64, v bool) {
	if v {
		w.uint(tag, 1)
	}
}

// fieldReader walks the fields of a record. Values alias the input.
type fieldReader struct {
	b   []byte
	err error
}

// next returns the next field; ok is false at the end or on error (see err).
func (r *fieldReader) next() (tag uint64, val []byte, ok bool) {
	if len(r.b) == 0 || r.err != nil {
		return 0, nil, false
	}
	tag, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad field tag", ErrCorrupt)
		return 0, nil, false
	}
	r.b = r.b[n:]
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		r.err = fmt.Errorf("%w: bad length for field %d", ErrCorrupt, tag)
		return 0, nil, false
	}
	val = r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return tag, val, true
}

// uint decodes a uvarint field value that must use all its bytes.
func (r *fieldReader) uint(tag uint64, val []byte) uint64 {
	v, n := binary.Uvarint(val)
	if n <= 0 || n != len(val) {
		r.err = fmt.Errorf("%w: bad integer in field %d", ErrCorrupt, tag)
		return 0
	}
	return v
}

// checkVersion strips the leading format version byte.
func checkVersion(b []byte, want byte, what string) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty %s", ErrCorrupt, what)
	}
	if b[0] != want {
		return nil, fmt.Errorf("%w: %s format version %d, want %d", ErrCorrupt, what, b[0], want)
	}
	return b[1:], nil
}
