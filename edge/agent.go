package edge

import (
	"hash/maphash"
	"sync"

	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// agent is what the edge takes from a User-Agent header: the analytics
// fields, what device/os/browser rules match, and the bot flags.
type agent struct {
	device  agents.Device
	os      agents.OS
	browser agents.Browser
	bot     bool // any crawler or bot (flagged in analytics)
	social  bool // a social or chat preview bot
}

// agentCache remembers classified User-Agents. Traffic repeats a few
// thousand distinct headers, and parsing one plus the bot scan costs
// several times the rest of a redirect; a hit is one hash and a map read.
// Bounded like linkCache: a full shard drops a random entry, so a stream
// of unique (hostile) headers costs a parse each, as without the cache.
type agentCache struct {
	parser *useragent.Parser
	seed   maphash.Seed
	shards [agentShards]agentShard
	max    int // per shard
}

const (
	agentShards = 32
	maxAgentLen = 512 // longer headers are classified but not kept
)

type agentShard struct {
	mu sync.RWMutex
	m  map[string]agent
}

func newAgentCache(entries int) *agentCache {
	c := &agentCache{parser: uaParser(), seed: maphash.MakeSeed(), max: max(1, entries/agentShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]agent)
	}
	return c
}

func (c *agentCache) classify(ua []byte) agent {
	sh := &c.shards[maphash.Bytes(c.seed, ua)%agentShards]
	sh.mu.RLock()
	a, ok := sh.m[string(ua)]
	sh.mu.RUnlock()
	if ok {
		return a
	}
	p := c.parser.Parse(string(ua))
	a = agent{device: p.Device(), os: p.OS(), browser: p.Browser()}
	a.bot, a.social = botKind(ua, p.IsBot())
	if len(ua) > maxAgentLen {
		return a
	}
	sh.mu.Lock()
	if len(sh.m) >= c.max {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[string(ua)] = a
	sh.mu.Unlock()
	return a
}
