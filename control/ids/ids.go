// Package ids makes the prefixed, time-ordered identifiers of the API
// (`link_01JH…`): a type prefix, then a ULID (48-bit millisecond time and 80
// random bits in Crockford base32). Sorting IDs of one type sorts them by
// creation time, which keeps cursor pagination simple. Time is passed in so
// callers stay testable.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// Prefixes of the object types.
const (
	Org  = "org"
	User = "usr"
	Key  = "key"
	Link = "link"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// New returns prefix_ULID for the time now.
func New(prefix string, now time.Time) string {
	var u [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(u[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	rand.Read(u[6:])
	b := make([]byte, 0, len(prefix)+1+26)
	b = append(b, prefix...)
	b = append(b, '_')
	hi := binary.BigEndian.Uint64(u[:8])
	lo := binary.BigEndian.Uint64(u[8:])
	// 128 bits as 26 base32 digits, least significant first; the first digit
	// carries the top 3 bits.
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(append(b, out[:]...))
}
