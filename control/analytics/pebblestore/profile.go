package pebblestore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/h0p/h0p/control/analytics"
)

// A profile is a link's rollup for one hour or day: its clicks per bot
// flag, dimension and value, in one key (r <org> 0 <gran> <unit> 8 <link>
// 0), where the org's rollups take a key per dimension and value. A link
// sees few values an hour, and one key for all of them is what lets a
// batch touching thousands of links write a key or two per link (a key per
// dimension and value made ingest spend most of its time on keys).
//
//	profile = entry*, sorted by (dim, bot, value)
//	entry   = dim(1) bot(1) uvarint(len) value uvarint(count)
//
// A reader stops once past the dimension it wants: a link's total clicks
// are its first entry or two.
//
// Profiles merge by a merge-join of their entries, summing counts.
var errCorruptProfile = errors.New("analytics: corrupt profile")

type entry struct {
	dim, bot byte
	value    []byte
	n        uint64
}

func compareEntries(a, b *entry) int {
	return cmp.Or(cmp.Compare(a.dim, b.dim), cmp.Compare(a.bot, b.bot), bytes.Compare(a.value, b.value))
}

func readEntry(b []byte) (e entry, rest []byte, err error) {
	if len(b) < 3 {
		return e, nil, errCorruptProfile
	}
	e.dim, e.bot = b[0], b[1]
	l, k := binary.Uvarint(b[2:])
	if k <= 0 || l > uint64(len(b)-2-k) {
		return e, nil, errCorruptProfile
	}
	b = b[2+k:]
	e.value, b = b[:l], b[l:]
	if e.n, k = binary.Uvarint(b); k <= 0 {
		return e, nil, errCorruptProfile
	}
	return e, b[k:], nil
}

func appendEntry(dst []byte, e *entry) []byte {
	dst = append(dst, e.dim, e.bot)
	dst = binary.AppendUvarint(dst, uint64(len(e.value)))
	dst = append(dst, e.value...)
	return binary.AppendUvarint(dst, e.n)
}

// dimEntries calls fn with each entry of dimension dim in profile p.
func dimEntries(p []byte, dim byte, fn func(e entry)) error {
	for len(p) > 0 && p[0] <= dim {
		e, rest, err := readEntry(p)
		if err != nil {
			return err
		}
		if e.dim == dim {
			fn(e)
		}
		p = rest
	}
	return nil
}

// mergeProfiles appends to dst the merge of profiles a and b.
func mergeProfiles(dst, a, b []byte) ([]byte, error) {
	var x, y entry
	var err error
	next := func(p *[]byte, e *entry) bool {
		if len(*p) == 0 || err != nil {
			return false
		}
		*e, *p, err = readEntry(*p)
		return err == nil
	}
	hx, hy := next(&a, &x), next(&b, &y)
	for hx || hy {
		switch c := compareEntries(&x, &y); {
		case !hy || hx && c < 0:
			dst = appendEntry(dst, &x)
			hx = next(&a, &x)
		case !hx || c > 0:
			dst = appendEntry(dst, &y)
			hy = next(&b, &y)
		default:
			x.n += y.n
			dst = appendEntry(dst, &x)
			hx, hy = next(&a, &x), next(&b, &y)
		}
	}
	return dst, err
}

// profileFold is a profile being folded at ingest.
type profileFold map[foldedEntry]uint64

type foldedEntry struct {
	dim, bot byte
	value    string
}

func (p profileFold) append(dst []byte) []byte {
	keys := make([]foldedEntry, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b foldedEntry) int {
		return cmp.Or(cmp.Compare(a.dim, b.dim), cmp.Compare(a.bot, b.bot), strings.Compare(a.value, b.value))
	})
	for _, k := range keys {
		dst = appendEntry(dst, &entry{dim: k.dim, bot: k.bot, value: []byte(k.value), n: p[k]})
	}
	return dst
}

// isProfileKey reports whether a rollup key holds a profile: its
// dimension byte, after r <org> 0 <gran> <unit>, is DimLink.
func isProfileKey(key []byte) bool {
	z := bytes.IndexByte(key, 0)
	return z > 0 && key[0] == prefixRollup && len(key) > z+6 && key[z+6] == byte(analytics.DimLink)
}
