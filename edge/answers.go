package edge

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/h0p/h0p/shared/kv"
)

// answerTable holds the answer of every plain link (see compile) in memory,
// so a redirect never waits for the store, however many links there are and
// however evenly traffic spreads over them. The decoded-link cache
// (cache.go) cannot do that: at about 260 bytes per link plus the garbage
// collector's headroom, a million links do not fit an edge's memory budget,
// and with uniformly random keys most requests missed it and read Pebble
// (about 15 µs each, 70% of the handler's time).
//
// Layout, per shard: entries are appended to 64 KiB byte chunks, found
// through an open-addressing hash table of uint64 slots (a 16-bit hash tag
// and the entry's chunk and offset). Neither holds a pointer, so the garbage
// collector never scans them, and an entry costs its bytes (key, location,
// id, a few more) plus two slots: about 130 bytes for a typical link.
//
// Reads take the shard's read lock. What they return are strings pointing
// into a chunk: a chunk's bytes are never written again once an entry in
// them is visible, and a chunk that compaction abandons stays alive while
// such a string does. An entry replaced or deleted becomes garbage in its
// chunk; a shard whose chunks are more than half garbage is compacted into
// new chunks.
//
// Staying exact: the FSM hands every changed link record to update, which
// writes the new answer (or removes it) before the next apply. A reader that
// read the store itself inserts what it read only if the store's generation
// did not move meanwhile (putIfCurrent), under the shard lock that update
// also takes. load fills the table from the store in the background; keys
// the store changes while it runs are marked dirty and load leaves them to
// update. A snapshot restore empties the table and loads it again.
//
// A miss is not an answer: links that are not plain, links beyond the
// table's byte limit, and every link until load reaches it are read from the
// cache or the store as before.
type answerTable struct {
	seed  maphash.Seed
	limit int64        // chunk bytes allowed across all shards
	bytes atomic.Int64 // chunk bytes held across all shards
	count atomic.Int64 // entries across all shards
	epoch atomic.Uint64

	shards [answerShards]answerShard
}

const (
	answerShards = 64
	chunkBits    = 16
	chunkSize    = 1 << chunkBits

	slotEmpty = 0
	slotTomb  = 1
	refBits   = 48
)

type answerShard struct {
	mu     sync.RWMutex
	slots  []uint64 // 0 empty, 1 deleted, else tag<<48 | ref+2
	count  int      // live entries
	tombs  int
	chunks [][]byte // ref = chunk index<<chunkBits | offset
	live   int      // bytes of live entries
	used   int      // bytes written into chunks (live and garbage)
	// dirty, while a load runs, holds the keys the store changed since it
	// began: the load's older view of them must not be inserted.
	dirty map[string]struct{}
}

// Entry flags.
const (
	flagIndexable = 1 << iota
	flagNoForwardQuery
	flagPermanent // Cache-Control: cachePermanent, else cacheNone
	flagNoTrack
	flagCapped
)

func newAnswerTable(limit int64) *answerTable {
	return &answerTable{seed: maphash.MakeSeed(), limit: limit}
}

func (t *answerTable) hash(key []byte) (uint64, *answerShard) {
	h := maphash.Bytes(t.seed, key)
	return h, &t.shards[h%answerShards]
}

// get fills e with key's plain answer, if the table has it.
func (t *answerTable) get(key []byte, e *cached) bool {
	h, sh := t.hash(key)
	sh.mu.RLock()
	i := sh.find(h, key)
	if i >= 0 {
		sh.decode(sh.slots[i], e)
	}
	sh.mu.RUnlock()
	return i >= 0
}

// putIfCurrent stores a plain answer read from the store if the store has
// not changed since gen0 (see linkCache.put). It reports whether it did.
func (t *answerTable) putIfCurrent(key []byte, e *cached, gen0 uint64, gen func() uint64) bool {
	h, sh := t.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if gen() != gen0 {
		return false
	}
	return t.putLocked(sh, h, key, e)
}

// update applies the store's changes: values[i] is key[i]'s new record, nil
// when deleted. keys nil (a restore) empties the table; the caller loads it
// again.
func (t *answerTable) update(keys, values [][]byte) {
	if keys == nil {
		t.reset()
		return
	}
	for i, key := range keys {
		var e *cached
		if values[i] != nil {
			if l, err := kv.DecodeLink(values[i]); err == nil {
				if c := compile(&l); c.plain {
					e = c
				}
			}
		}
		h, sh := t.hash(key)
		sh.mu.Lock()
		if sh.dirty != nil {
			sh.dirty[string(key)] = struct{}{}
		}
		if e == nil || !t.putLocked(sh, h, key, e) {
			t.deleteLocked(sh, h, key)
		}
		sh.mu.Unlock()
	}
}

// reset empties the table and stops a load in progress.
func (t *answerTable) reset() {
	t.epoch.Add(1)
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		t.bytes.Add(-int64(sh.chunkBytes()))
		t.count.Add(-int64(sh.count))
		sh.slots, sh.chunks = nil, nil
		sh.count, sh.tombs, sh.live, sh.used = 0, 0, 0, 0
		sh.mu.Unlock()
	}
}

// load inserts every plain link of each into the table, leaving alone the
// keys the store changes meanwhile. It stops early when the table is reset,
// when ctx ends or when the table is full (full reports that). Loads must
// not overlap.
func (t *answerTable) load(ctx context.Context, each func(context.Context, func(key, value []byte) bool) error) (full bool, err error) {
	epoch := t.epoch.Load()
	t.trackChanges(true)
	defer t.trackChanges(false)
	err = each(ctx, func(key, value []byte) bool {
		l, err := kv.DecodeLink(value)
		if err != nil {
			return true // read from the store on request, where the error shows
		}
		e := compile(&l)
		if !e.plain || !fits(key, e) {
			return true // read from the store on request
		}
		h, sh := t.hash(key)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if t.epoch.Load() != epoch {
			return false
		}
		if _, changed := sh.dirty[string(key)]; changed || sh.find(h, key) >= 0 {
			return true
		}
		full = !t.putLocked(sh, h, key, e)
		return !full
	})
	return full, err
}

func (t *answerTable) trackChanges(on bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.dirty = nil
		if on {
			sh.dirty = map[string]struct{}{}
		}
		sh.mu.Unlock()
	}
}

// find returns the slot index holding key, or -1.
func (sh *answerShard) find(h uint64, key []byte) int {
	if sh.count == 0 {
		return -1
	}
	mask := uint64(len(sh.slots) - 1)
	tag := h >> refBits
	for i := (h / answerShards) & mask; ; i = (i + 1) & mask {
		s := sh.slots[i]
		switch {
		case s == slotEmpty:
			return -1
		case s != slotTomb && s>>refBits == tag && string(sh.entryKey(s)) == string(key):
			return int(i)
		}
	}
}

// fits reports whether an answer can have an entry at all (one chunk at
// most; the API's limits keep every link well within it).
func fits(key []byte, e *cached) bool {
	return entryHeader+len(key)+len(e.location)+len(e.id) <= chunkSize && len(e.id) <= 0xff
}

// putLocked writes key's answer, replacing any older one. It reports false,
// writing nothing, when the entry does not fit or the table's byte limit
// would be passed. The limit is checked per shard without a common lock: the
// table may pass it by a chunk per shard at most.
func (t *answerTable) putLocked(sh *answerShard, h uint64, key []byte, e *cached) bool {
	var flags byte
	if e.indexable {
		flags |= flagIndexable
	}
	if e.noForwardQuery {
		flags |= flagNoForwardQuery
	}
	if e.cache == cachePermanent {
		flags |= flagPermanent
	}
	if e.noTrack {
		flags |= flagNoTrack
	}
	if e.capped {
		flags |= flagCapped
	}
	if !fits(key, e) {
		return false
	}
	n := entryHeader + len(key) + len(e.location) + len(e.id)
	last := len(sh.chunks) - 1
	if last < 0 || len(sh.chunks[last])+n > chunkSize {
		if t.bytes.Load()+chunkSize > t.limit {
			return false
		}
		t.bytes.Add(chunkSize)
		sh.chunks = append(sh.chunks, make([]byte, 0, chunkSize))
		last++
	}
	c := sh.chunks[last]
	ref := uint64(last)<<chunkBits | uint64(len(c))
	c = binary.LittleEndian.AppendUint16(c, uint16(len(key)))
	c = binary.LittleEndian.AppendUint16(c, uint16(len(e.location)))
	c = append(c, byte(len(e.id)), flags)
	c = binary.LittleEndian.AppendUint16(c, uint16(e.status))
	c = append(c, key...)
	c = append(c, e.location...)
	c = append(c, e.id...)
	sh.chunks[last] = c
	sh.used += n
	sh.live += n
	slot := h>>refBits<<refBits | (ref + 2)

	if i := sh.find(h, key); i >= 0 {
		sh.live -= sh.entryLen(sh.slots[i])
		sh.slots[i] = slot
		sh.compactIfSparse(t)
		return true
	}
	if (sh.count+sh.tombs+1)*4 > len(sh.slots)*3 {
		sh.rehash(t, sh.count+1)
	}
	mask := uint64(len(sh.slots) - 1)
	for i := (h / answerShards) & mask; ; i = (i + 1) & mask {
		if s := sh.slots[i]; s == slotEmpty || s == slotTomb {
			if s == slotTomb {
				sh.tombs--
			}
			sh.slots[i] = slot
			break
		}
	}
	sh.count++
	t.count.Add(1)
	return true
}

func (t *answerTable) deleteLocked(sh *answerShard, h uint64, key []byte) {
	i := sh.find(h, key)
	if i < 0 {
		return
	}
	sh.live -= sh.entryLen(sh.slots[i])
	sh.slots[i] = slotTomb
	sh.count--
	sh.tombs++
	t.count.Add(-1)
	sh.compactIfSparse(t)
}

// rehash rebuilds the slots with room for n entries at most half full,
// dropping tombstones.
func (sh *answerShard) rehash(t *answerTable, n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	old := sh.slots
	sh.slots = make([]uint64, size)
	sh.tombs = 0
	mask := uint64(size - 1)
	for _, s := range old {
		if s == slotEmpty || s == slotTomb {
			continue
		}
		h := maphash.Bytes(t.seed, sh.entryKey(s))
		for i := (h / answerShards) & mask; ; i = (i + 1) & mask {
			if sh.slots[i] == slotEmpty {
				sh.slots[i] = s
				break
			}
		}
	}
}

// compactIfSparse moves the live entries to new chunks once more than half
// of the written bytes (and more than a chunk) are garbage.
func (sh *answerShard) compactIfSparse(t *answerTable) {
	if garbage := sh.used - sh.live; garbage <= chunkSize || garbage <= sh.live {
		return
	}
	before := sh.chunkBytes()
	var chunks [][]byte
	for i, s := range sh.slots {
		if s == slotEmpty || s == slotTomb {
			continue
		}
		entry := sh.entry(s)
		last := len(chunks) - 1
		if last < 0 || len(chunks[last])+len(entry) > chunkSize {
			chunks = append(chunks, make([]byte, 0, chunkSize))
			last++
		}
		ref := uint64(last)<<chunkBits | uint64(len(chunks[last]))
		chunks[last] = append(chunks[last], entry...)
		sh.slots[i] = s>>refBits<<refBits | (ref + 2)
	}
	sh.chunks = chunks
	sh.used = sh.live
	t.bytes.Add(int64(sh.chunkBytes() - before))
}

func (sh *answerShard) chunkBytes() int { return len(sh.chunks) * chunkSize }

// An entry: key length, location length (uint16), id length, flags
// (byte), status (uint16), then key, location and id.
const entryHeader = 8

// at returns the chunk from the entry in slot s on.
func (sh *answerShard) at(s uint64) []byte {
	ref := s&(1<<refBits-1) - 2
	return sh.chunks[ref>>chunkBits][ref&(chunkSize-1):]
}

// entry returns the bytes of the entry in slot s.
func (sh *answerShard) entry(s uint64) []byte {
	b := sh.at(s)
	return b[:entryHeader+int(binary.LittleEndian.Uint16(b))+int(binary.LittleEndian.Uint16(b[2:]))+int(b[4])]
}

func (sh *answerShard) entryLen(s uint64) int { return len(sh.entry(s)) }

func (sh *answerShard) entryKey(s uint64) []byte {
	b := sh.at(s)
	return b[entryHeader : entryHeader+int(binary.LittleEndian.Uint16(b))]
}

// decode fills e from the entry in slot s. Its strings point into the chunk.
func (sh *answerShard) decode(s uint64, e *cached) {
	b := sh.at(s)
	k, l, i := int(binary.LittleEndian.Uint16(b)), int(binary.LittleEndian.Uint16(b[2:])), int(b[4])
	flags, status := b[5], binary.LittleEndian.Uint16(b[6:])
	key := b[entryHeader : entryHeader+k]
	location := b[entryHeader+k : entryHeader+k+l]
	id := b[entryHeader+k+l : entryHeader+k+l+i]
	host := key[len(kv.LinkKeyLowerBound):]
	if j := bytes.IndexByte(host, 0); j >= 0 {
		host = host[:j]
	}
	*e = cached{plain: true, id: bytesString(id), domain: bytesString(host), location: bytesString(location),
		status: int(status), indexable: flags&flagIndexable != 0, noForwardQuery: flags&flagNoForwardQuery != 0,
		noTrack: flags&flagNoTrack != 0, capped: flags&flagCapped != 0, cache: cacheNone}
	if flags&flagPermanent != 0 {
		e.cache = cachePermanent
	}
}

// bytesString is b as a string without a copy. Sound here because a chunk's
// bytes are never written again once an entry in them is visible.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
