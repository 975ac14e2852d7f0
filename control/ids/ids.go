// Package ids makes the prefixed, time-ordered identifiers of the API
// (`link_01JH…`): a type prefix, then a ULID (48-bit millisecond time and 80
// random bits in Crockford base32). IDs made by one process are strictly
// increasing, even within a millisecond (the ULID monotonic rule: the random
// part of the last ID plus one), so sorting IDs of one type sorts them by
// creation, which keeps cursor pagination exact. Time is passed in so callers
// stay testable.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
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

var (
	mu     sync.Mutex
	lastMs uint64
	lastHi uint16 // top 16 of the 80 random bits
	lastLo uint64 // low 64 of the 80 random bits
)

// next returns the time and random parts of the next ULID.
func next(now time.Time) (ms uint64, hi uint16, lo uint64) {
	mu.Lock()
	defer mu.Unlock()
	ms = uint64(now.UnixMilli())
	if ms <= lastMs {
		// Same (or an earlier) millisecond: stay on the last one and count up.
		lastLo++
		if lastLo == 0 {
			lastHi++
		}
		return lastMs, lastHi, lastLo
	}
	var r [10]byte
	rand.Read(r[:])
	lastMs, lastHi, lastLo = ms, binary.BigEndian.Uint16(r[:2]), binary.BigEndian.Uint64(r[2:])
	return lastMs, lastHi, lastLo
}

// New returns prefix_ULID for the time now.
func New(prefix string, now time.Time) string {
	ms, rhi, rlo := next(now)
	// 128 bits: 48 of time, 80 random.
	hi := ms<<16 | uint64(rhi)
	lo := rlo
	b := make([]byte, 0, len(prefix)+1+26)
	b = append(b, prefix...)
	b = append(b, '_')
	// 26 base32 digits, least significant first; the first carries 3 bits.
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(append(b, out[:]...))
}
