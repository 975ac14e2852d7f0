package edge

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/phuslu/iploc"

	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
)

// clickQueue holds the clicks captured and not yet taken, encoded in the
// batch format as they are captured: the event loop does the encoding a
// click at a time, spread over its requests like the rest of a redirect's
// work, and whoever drains the queue takes them all in one swap of
// buffers, with no work a click. At max clicks a capture drops the click
// and counts it (h0p_edge_clicks_dropped_total). A redirect that must not
// count (untracked) captures none and is counted in
// h0p_edge_clicks_untracked_total.
//
// Building a click allocates nothing on a plain redirect: the link's
// strings are shared with the answer table or the cache, device/browser/OS
// are the parser's constants, the country is the IP database's, the ID and
// IP hash are arrays. Only a Referer costs an allocation (its host).
type clickQueue struct {
	mu  sync.Mutex
	enc clicks.Encoder
	max int
}

// add encodes c into the queue, or says false when it is full.
func (q *clickQueue) add(c *clicks.Click) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.enc.Clicks() >= q.max {
		return false
	}
	q.enc.Add(c)
	return true
}

func (q *clickQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enc.Clicks()
}

// TakeClicks hands over the clicks captured since the last take: e is
// emptied and swapped with the queue's encoder, so that e then holds them
// (in capture order) and the queue goes on in e's old buffer. The process
// running the edge drains the queue with it, on a ticker (edge/clickspool
// spools the clicks on disk and ships them to control).
func (s *Server) TakeClicks(e *clicks.Encoder) {
	e.Reset()
	q := &s.clicks
	q.mu.Lock()
	q.enc, *e = *e, q.enc
	q.mu.Unlock()
}

// untracked is why a redirect captures no click
// (h0p_edge_clicks_untracked_total's reason): its link's doNotTrack, its
// domain's, or the request's h0p-no-track=1, which lets a link's owner try
// it without counting.
type untracked int

const (
	tracked untracked = iota
	untrackedLink
	untrackedDomain
	untrackedQuery
	numUntracked
)

var untrackedNames = [numUntracked]string{"", "link", "domain", "query"}

// noTrackParam, given as noTrackParam=1, keeps a redirect from counting.
// The edge consumes it (trackingParams): the destination never sees it.
const noTrackParam = "h0p-no-track"

// untrackedBy is why a redirect of l, on dom (nil: no record), asked with
// query, captures no click, or tracked.
func untrackedBy(l *kv.Link, dom *kv.Domain, query url.Values) untracked {
	switch {
	case l.DoNotTrack:
		return untrackedLink
	case dom != nil && dom.DoNotTrack:
		return untrackedDomain
	case query.Get(noTrackParam) == "1":
		return untrackedQuery
	}
	return tracked
}

func (s *Server) capture(c *clicks.Click) {
	if !s.clicks.add(c) {
		s.m.clickDrops.Inc()
	}
}

// unknownCountry is what the IP database answers for an address it does
// not place (private, loopback, unassigned).
const unknownCountry = "ZZ"

// newClick fills a click for a redirect of link id on domain; ipHash is
// s.ipHash of the client's address, referer the request's Referer.
func (s *Server) newClick(referer []byte, id, domain string, a *agent, country string,
	ipHash [16]byte, qr bool, now time.Time) clicks.Click {
	if country == unknownCountry {
		country = "" // clicks say "unknown" with no country
	}
	c := clicks.Click{Time: now, LinkID: id, Domain: domain, Country: country,
		Device: string(a.device), Browser: string(a.browser), OS: string(a.os), Bot: a.bot, QR: qr, IPHash: ipHash}
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		c.ID[i], c.ID[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	if len(referer) > 0 {
		c.RefererHost = refererHost(referer)
	}
	return c
}

// ipHash is the click's IPHash for a client address at now: SHA-256 of
// the salt and the address, truncated.
func (s *Server) ipHash(ip netip.Addr, now time.Time) [16]byte {
	return s.saltAt(now).hash(ip)
}

// visitorMemo keeps what a connection's last plain redirect derived from
// its request: the User-Agent's class, and the client address's country
// and hash. A connection's next request nearly always comes from the same
// client (the same peer, the same browser), and then reuses them instead
// of a User-Agent lookup (≈190 ns), a country lookup and a SHA-256
// (≈300 ns together). Behind a proxy the client address changes from
// request to request, and so does what the memo holds.
type visitorMemo struct {
	ua      []byte
	agent   agent
	ip      netip.Addr
	country string
	ipHash  [16]byte
	salt    *daySalt // what ipHash was salted with
	uaSet   bool
	ipSet   bool
}

// maxMemoAgent bounds the User-Agent a memo copies; longer ones are
// classified on every request (the agent cache holds them).
const maxMemoAgent = 512

// agentOf classifies ua, through m unless it is nil.
func (s *Server) agentOf(m *visitorMemo, ua []byte) agent {
	if m != nil && m.uaSet && bytes.Equal(m.ua, ua) {
		return m.agent
	}
	a := s.agents.classify(ua)
	if m != nil && len(ua) <= maxMemoAgent {
		m.ua, m.agent, m.uaSet = append(m.ua[:0], ua...), a, true
	}
	return a
}

// ipFacts is ip's country and hash at now, through m unless it is nil.
func (s *Server) ipFacts(m *visitorMemo, ip netip.Addr, now time.Time) (country string, hash [16]byte) {
	if m == nil {
		m = &visitorMemo{}
	}
	salt := s.saltAt(now)
	if !m.ipSet || m.ip != ip {
		m.ip, m.ipSet, m.country, m.salt = ip, true, "", nil
		if ip.IsValid() {
			m.country = iploc.IPCountry(ip)
		}
	}
	if m.salt != salt {
		m.ipHash, m.salt = salt.hash(ip), salt
	}
	return m.country, m.ipHash
}

// refererHost is the host of a Referer value, or "".
func refererHost(ref []byte) string {
	_, rest, ok := bytes.Cut(ref, []byte("://"))
	if !ok {
		return ""
	}
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := bytes.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if len(rest) > 0 && rest[0] != '[' {
		if i := bytes.IndexByte(rest, ':'); i >= 0 {
			rest = rest[:i]
		}
	}
	return string(bytes.ToLower(rest))
}
