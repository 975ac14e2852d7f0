package pebblestore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// A chunk holds a batch's clicks of one link and hour, as stored:
//
//	version(1) uvarint(nstrings) (uvarint(len) bytes)* uvarint(nclicks) click*
//	click = uvarint(ns since the hour) id(16) iphash(16) flags(1) uvarint(string index)×6
//
// The strings are the chunk's distinct domains, countries, devices,
// browsers, OSes and referer hosts, as the edge sent them; each click
// names its six by index. A scan decides a filter or a group once per
// string, not once per click.
const chunkVersion = 1

const (
	flagBot = 1 << 0
	flagQR  = 1 << 1
)

// The six string fields of a click, in stored order.
const (
	fDomain = iota
	fCountry
	fDevice
	fBrowser
	fOS
	fReferer
	nFields
)

// fieldOf is the string field holding d (-1: none).
func fieldOf(d analytics.Dimension) int {
	switch d {
	case analytics.DimDomain:
		return fDomain
	case analytics.DimCountry:
		return fCountry
	case analytics.DimDevice:
		return fDevice
	case analytics.DimBrowser:
		return fBrowser
	case analytics.DimOS:
		return fOS
	case analytics.DimReferer:
		return fReferer
	}
	return -1
}

var errCorruptChunk = errors.New("analytics: corrupt chunk")

// appendChunk encodes cs, clicks of the hour starting at hour.
func appendChunk(dst []byte, hour uint32, cs []*clicks.Click) []byte {
	base := int64(hour) * hourSeconds * int64(time.Second)
	dict := make(map[string]uint64, 16)
	var strs []string
	idx := make([]uint64, 0, nFields*len(cs))
	for _, c := range cs {
		for _, s := range [nFields]string{c.Domain, c.Country, c.Device, c.Browser, c.OS, c.RefererHost} {
			i, ok := dict[s]
			if !ok {
				i = uint64(len(strs))
				dict[s] = i
				strs = append(strs, s)
			}
			idx = append(idx, i)
		}
	}
	dst = append(dst, chunkVersion)
	dst = binary.AppendUvarint(dst, uint64(len(strs)))
	for _, s := range strs {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(cs)))
	for i, c := range cs {
		dst = binary.AppendUvarint(dst, uint64(c.Time.UnixNano()-base))
		dst = append(dst, c.ID[:]...)
		dst = append(dst, c.IPHash[:]...)
		var flags byte
		if c.Bot {
			flags |= flagBot
		}
		if c.QR {
			flags |= flagQR
		}
		dst = append(dst, flags)
		for _, x := range idx[i*nFields : (i+1)*nFields] {
			dst = binary.AppendUvarint(dst, x)
		}
	}
	return dst
}

// chunkReader reads a chunk's clicks in place: dict and the clicks' ids
// alias the value and are valid while it is.
type chunkReader struct {
	base int64 // the hour's start, ns
	dict [][]byte
	n    int
	b    []byte
}

// rawClick is a click as a scan sees it.
type rawClick struct {
	ns     int64 // Unix ns
	id, ip []byte
	flags  byte
	f      [nFields]uint32 // indexes into the chunk's dict
}

// reset starts reading v, a chunk of the hour starting at hour; dict is
// reused for its strings.
func (r *chunkReader) reset(v []byte, hour uint32, dict [][]byte) error {
	*r = chunkReader{base: int64(hour) * hourSeconds * int64(time.Second), dict: dict[:0]}
	if len(v) == 0 || v[0] != chunkVersion {
		return errCorruptChunk
	}
	v = v[1:]
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return errCorruptChunk
	}
	v = v[k:]
	for range n {
		l, k := binary.Uvarint(v)
		if k <= 0 || l > uint64(len(v)-k) {
			return errCorruptChunk
		}
		r.dict = append(r.dict, v[k:k+int(l)])
		v = v[k+int(l):]
	}
	c, k := binary.Uvarint(v)
	if k <= 0 || c > uint64(len(v)) {
		return errCorruptChunk
	}
	r.n, r.b = int(c), v[k:]
	return nil
}

// next reads the next click into c; false at the end. A malformed click
// ends the chunk with errCorruptChunk from err.
func (r *chunkReader) next(c *rawClick) (bool, error) {
	if r.n == 0 {
		return false, nil
	}
	r.n--
	ns, k := binary.Uvarint(r.b)
	if k <= 0 || len(r.b) < k+33 {
		return false, errCorruptChunk
	}
	c.ns = r.base + int64(ns)
	c.id, c.ip, c.flags = r.b[k:k+16], r.b[k+16:k+32], r.b[k+32]
	b := r.b[k+33:]
	for i := range c.f {
		x, k := binary.Uvarint(b)
		if k <= 0 || x >= uint64(len(r.dict)) {
			return false, errCorruptChunk
		}
		c.f[i], b = uint32(x), b[k:]
	}
	r.b = b
	return true, nil
}

// click is c as a clicks.Click of link (strings copied).
func (r *chunkReader) click(c *rawClick, link string) clicks.Click {
	out := clicks.Click{Time: time.Unix(0, c.ns).UTC(), LinkID: link, Domain: string(r.dict[c.f[fDomain]]),
		Country: string(r.dict[c.f[fCountry]]), Device: string(r.dict[c.f[fDevice]]),
		Browser: string(r.dict[c.f[fBrowser]]), OS: string(r.dict[c.f[fOS]]),
		RefererHost: string(r.dict[c.f[fReferer]]), Bot: c.flags&flagBot != 0, QR: c.flags&flagQR != 0}
	copy(out.ID[:], c.id)
	copy(out.IPHash[:], c.ip)
	return out
}
