package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// span is a run of keys a query reads: for each unit in [u0, u1), the
// keys prefix <unit> [dim] <scope> 0 … whose scope mode selects.
// Chunks (e <org> 0 <hour> <link> 0 …) are spans without dim whose scope
// is the link; rollups (r <org> 0 <gran> <unit> <dim> <scope> 0 …) spans
// with one.
type span struct {
	prefix []byte
	dim    int // the byte after the unit; -1 for chunks
	u0, u1 uint32
	mode   scopeMode
	links  []string // sorted and distinct, for scopeLinks
}

type scopeMode uint8

const (
	scopeAnyLink scopeMode = iota // every link's keys
	scopeOrg                      // the org's own rollups (scope "")
	scopeLinks                    // the keys of span.links
)

// walk calls fn with the unit, scope, rest of key (after the scope's
// NUL) and value of every key of sp, in key order; the slices are valid
// only during the call. It seeks over what it does not need: from one
// link of span.links to the next, and from a unit to the next unit that
// has keys.
func walk(it *pebble.Iterator, sp *span, fn func(u uint32, scope, rest, value []byte) error) error {
	if sp.mode == scopeLinks && len(sp.links) == 0 {
		return nil
	}
	var key []byte
	for u := sp.u0; u < sp.u1; {
		key = appendUnit(append(key[:0], sp.prefix...), u)
		if sp.dim >= 0 {
			key = append(key, byte(sp.dim))
		}
		nb := len(key)
		switch sp.mode {
		case scopeOrg:
			key = append(key, 0)
		case scopeAnyLink:
			key = append(key, 1)
		case scopeLinks:
			key = append(append(key, sp.links[0]...), 0)
		}
		i := 0
		for ok := it.SeekGE(key); ok; {
			k := it.Key()
			if len(k) < nb || !bytes.Equal(k[:nb], key[:nb]) {
				break
			}
			scope, rest, good := scopeOf(k[nb:])
			if !good {
				return fmt.Errorf("analytics: malformed key %q", k)
			}
			if sp.mode == scopeOrg && len(scope) > 0 {
				break
			}
			if sp.mode == scopeLinks {
				for i < len(sp.links) && sp.links[i] < string(scope) {
					i++
				}
				if i == len(sp.links) {
					break
				}
				if sp.links[i] != string(scope) {
					key = append(append(key[:nb], sp.links[i]...), 0)
					ok = it.SeekGE(key)
					continue
				}
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if err := fn(u, scope, rest, v); err != nil {
				return err
			}
			ok = it.Next()
		}
		if err := it.Error(); err != nil {
			return err
		}
		// On to the next unit with keys: the iterator stands on the first
		// key past this unit's.
		u++
		if !it.Valid() {
			break
		}
		k := it.Key()
		if !bytes.HasPrefix(k, sp.prefix) || len(k) < len(sp.prefix)+4 {
			break
		}
		if next := binary.BigEndian.Uint32(k[len(sp.prefix):]); next > u {
			u = next
		}
	}
	return nil
}
