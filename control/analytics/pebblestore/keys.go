package pebblestore

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/h0p/h0p/control/analytics"
)

// The key schema. Ids (org, link, edge) never hold a NUL byte (Ingest
// drops clicks whose would), so NUL ends each of them.
//
//	q <edge>                                       → the edge's last sequence stored, 8 bytes big-endian
//	e <org> 0 <hour> <link> 0 <edge> 0 <seq>        → a chunk: the batch's clicks of that link and hour
//	r <org> 0 <gran> <unit> <dim> 0 <bot> <value>   → the org's clicks with that value (uvarint)
//	r <org> 0 <gran> <unit> 8 <link> 0              → the link's profile: its counts of every dimension
//
// hour and unit are 4 bytes big-endian: hours (gran 'h') or days (gran 'd')
// since 1970-01-01 UTC. dim is an analytics.Dimension below DimLink (8);
// value is the click's value of it as stats show it (analytics.Value), ""
// for DimTotal. The empty string between dim and NUL is the org's scope,
// where a link id is a link's: both kinds of rollup read alike (walk).
// The merge operator adds rollups up. Everything of an org before a UTC
// day is three key ranges.
const (
	prefixSeq    = 'q'
	prefixEvents = 'e'
	prefixRollup = 'r'
	granHour     = 'h'
	granDay      = 'd'
)

const (
	hourSeconds = 3600
	daySeconds  = 86400
)

func seqKey(edge string) []byte { return append([]byte{prefixSeq}, edge...) }

// orgPrefix is p <org> 0.
func orgPrefix(dst []byte, p byte, org string) []byte {
	dst = append(dst, p)
	dst = append(dst, org...)
	return append(dst, 0)
}

func appendUnit(dst []byte, u uint32) []byte { return binary.BigEndian.AppendUint32(dst, u) }

// hourOf is the hour of t; ok is false before 1970 or past what 4 bytes
// of hours hold.
func hourOf(t time.Time) (uint32, bool) {
	s := t.Unix()
	return uint32(s / hourSeconds), s >= 0 && s/hourSeconds < 1<<32-1
}

// unitOf is the unit of gran holding t, clamped to what a key holds.
func unitOf(gran byte, t time.Time) uint32 {
	div := int64(hourSeconds)
	if gran == granDay {
		div = daySeconds
	}
	return uint32(min(max(t.Unix(), 0)/div, 1<<32-1))
}

func unitStart(gran byte, u uint32) time.Time {
	if gran == granDay {
		return time.Unix(int64(u)*daySeconds, 0).UTC()
	}
	return time.Unix(int64(u)*hourSeconds, 0).UTC()
}

// chunkKey is e <org> 0 <hour> <link> 0 <edge> 0 <seq>: one per batch,
// link and hour, so storing a batch again would rewrite the same keys.
func chunkKey(dst []byte, org string, hour uint32, link, edge string, seq uint64) []byte {
	dst = orgPrefix(dst, prefixEvents, org)
	dst = appendUnit(dst, hour)
	dst = append(dst, link...)
	dst = append(dst, 0)
	dst = append(dst, edge...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// profileKey is r <org> 0 <gran> <unit> 8 <link> 0.
func profileKey(dst []byte, org string, gran byte, unit uint32, link string) []byte {
	dst = appendUnit(rollupPrefix(dst, org, gran), unit)
	dst = append(dst, byte(analytics.DimLink))
	dst = append(dst, link...)
	return append(dst, 0)
}

// rollupPrefix is r <org> 0 <gran>.
func rollupPrefix(dst []byte, org string, gran byte) []byte {
	return append(orgPrefix(dst, prefixRollup, org), gran)
}

// scopeOf splits key's rest after a unit and what follows it: the scope
// (up to its NUL) and what comes after.
func scopeOf(rest []byte) (scope, after []byte, ok bool) {
	z := bytes.IndexByte(rest, 0)
	if z < 0 {
		return nil, nil, false
	}
	return rest[:z], rest[z+1:], true
}

// keyUpperBound is the smallest key after every key starting with p.
func keyUpperBound(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
