package edge

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/h0p/h0p/shared/kv"
)

// linkCache keeps decoded links, so a hot link costs a map lookup instead of
// a Pebble read and a decode, and a plain link's whole answer is computed
// once. It is bounded (a random entry goes when a shard is full: cheap, and
// good enough for a popularity-skewed workload) and sharded so requests on
// different cores rarely share a lock.
//
// Correctness against the store: the FSM tells the cache which keys each
// apply changed (invalidate), and a reader inserts what it read only if the
// store's generation did not move since before the read — checked under the
// shard lock that invalidation also takes, so a stale value can never stay.
type linkCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	max    int // per shard
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*cached
}

// cached is one link as the edge answers it. A plain link (no password,
// rules, variants, preview, expiry or validity window) keeps only its
// precomputed answer and what a click records — a few hundred bytes, so the
// cache holds several times more of them than of decoded records; any other
// link keeps its whole record.
type cached struct {
	link *kv.Link // nil when plain
	// plain: nothing about a request without a query string can change the
	// answer, which is exactly location and status.
	plain          bool
	id, domain     string
	indexable      bool
	noForwardQuery bool
	noTrack        bool   // the link's doNotTrack: its redirects capture no click
	location       string // the destination with the link's UTM parameters
	// status 0: the link set none and its domain's applies (withDomain);
	// cache is then decided with it.
	status int
	cache  string
	capped bool // a click limit: clients never keep the redirect
}

func newLinkCache(entries int) *linkCache {
	c := &linkCache{seed: maphash.MakeSeed(), max: max(1, entries/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cached)
	}
	return c
}

func (c *linkCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

func (c *linkCache) get(key []byte) *cached {
	sh := c.shard(key)
	sh.mu.RLock()
	e := sh.m[string(key)]
	sh.mu.RUnlock()
	return e
}

// put stores e under key if the store has not changed since gen0.
func (c *linkCache) put(key []byte, e *cached, gen0 uint64, gen func() uint64) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if gen() != gen0 {
		return
	}
	if len(sh.m) >= c.max {
		for k := range sh.m { // map order is random: evict one
			delete(sh.m, k)
			break
		}
	}
	sh.m[string(key)] = e
}

// invalidate drops keys (nil: everything).
func (c *linkCache) invalidate(keys [][]byte) {
	if keys == nil {
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			clear(sh.m)
			sh.mu.Unlock()
		}
		return
	}
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		delete(sh.m, string(k))
		sh.mu.Unlock()
	}
}

// compile decides once what a link's plain answer is. It is where a record
// read from the store becomes what a Location carries: it converts l's
// destinations in place (asciiLink), so a caller that goes on with l (a
// plain link asked with a query) has them converted too, and never
// converts them again. What e keeps is its own copy.
func compile(l *kv.Link) *cached {
	asciiLink(l)
	e := &cached{id: l.ID, domain: l.Domain, indexable: l.Indexable, noForwardQuery: l.NoForwardQuery, noTrack: l.DoNotTrack}
	e.plain = l.PasswordHash == "" && len(l.Rules) == 0 && len(l.Variants) == 0 && l.Preview == (kv.Preview{}) &&
		l.ExpiresAt == 0 && l.ValidSince == 0 && !l.Disabled && !l.ClicksExhausted
	if e.plain {
		e.location = destination(l.URL, l, nil)
		// A destination with a line break (the API refuses them; a record
		// written otherwise may hold one) takes the full path, whose header
		// code replaces it, so the plain path writes a plain one verbatim.
		e.plain = !strings.ContainsAny(e.location, "\r\n")
	}
	if !e.plain {
		c := *l
		e.location, e.link = "", &c
		return e
	}
	e.status, e.capped = int(l.Status), l.MaxClicks > 0
	e.cache = cacheFor(e.status, e.capped) // status 0: cacheNone until withDomain
	return e
}

// cacheFor is the Cache-Control of a plain link's redirect with status:
// clients may keep a permanent one without a click limit for an hour.
func cacheFor(status int, capped bool) string {
	if (status == 301 || status == 308) && !capped {
		return cachePermanent
	}
	return cacheNone
}

// statusOf is the redirect status of a link whose own is status (0:
// none): its own, else its domain's (dom nil: none), else 302.
func statusOf(status int, dom *kv.Domain) int {
	switch {
	case status != 0:
		return status
	case dom != nil && dom.RedirectStatus != 0:
		return int(dom.RedirectStatus)
	}
	return 302
}
