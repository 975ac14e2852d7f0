package edge

import (
	"bytes"
	"net/netip"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/h0p/h0p/shared/kv"
)

// A request's host and path decide most of its answer before anything
// else in it is read. resolve is that decision, and both of the edge's
// paths start from it: the event loops' fast path (plain.go), which
// answers only when it leads to a plain link's redirect, and serve, which
// answers every request. Both give that redirect through redirectPlain.
// One function for both is what keeps them from drifting apart;
// FuzzPlainPath still checks that they agree wherever the fast path
// answers.

// challengeSlug starts the slug of an ACME HTTP-01 request.
var challengeSlug = []byte(kv.ChallengePath[1:])

// route is where a request's host and path lead (resolve).
type route int

const (
	routeBadHost   route = iota // the Host header names no host: 400
	routeError                  // the store failed: 500
	routeNoDomain               // a host the edge does not serve: 404
	routeRoot                   // "/": the domain's root URL, else 404
	routeRobots                 // /robots.txt
	routeFavicon                // /favicon.ico
	routeNoLink                 // no such link: the domain's not-found URL, else 404
	routeLink                   // a link (resolution.link)
	routeChallenge              // an ACME HTTP-01 answer (kv.ChallengePath)
	routeHTTPS                  // plain HTTP for a host that redirects to HTTPS (kv.Domain.RedirectsToHTTPS): 308
)

// resolution is what resolve decided.
type resolution struct {
	route  route
	host   []byte    // the host the links are under: the request's, or the default domain
	slug   []byte    // the link's, from the path
	domain kv.Domain // host's record, when known
	known  bool
	link   cached // routeLink: the link as the edge answers it
	looked bool   // a link was looked up: count it (countLookup) once answered
	found  int    // where
}

// dom is the domain's record, nil when its host has none.
func (r *resolution) dom() *kv.Domain {
	if r.known {
		return &r.domain
	}
	return nil
}

// plain reports whether the answer is the link's plain redirect
// (redirectPlain) for a GET or HEAD with a query string (query) or
// without: a plain link, unless it forwards a query the request has.
func (r *resolution) plain(query bool) bool {
	return r.route == routeLink && r.link.plain && (r.link.noForwardQuery || !query)
}

// resolve decides where rawHost (a request's Host header) and path (its
// path, decoded and normalised) lead, over HTTPS when secure. hostBuf is
// where the normalised host goes (s.hostBuf); r.host may point into it. A record resolve reads from
// the store goes into rec: a plain link's r.link holds none, and serve,
// which needs it for a query, then need not read it again. r is returned
// by value, and holds no pointer to the caller's stack, so nothing in it
// escapes to the heap.
func (s *Server) resolve(hostBuf, rawHost, path []byte, rec *kv.Link, secure bool) (r resolution) {
	host, ok := normalizeHost(hostBuf, rawHost)
	if !ok {
		r.route = routeBadHost
		return r
	}
	host, domain, known, err := s.domainOf(host)
	switch {
	case err != nil:
		r.route = routeError
		return r
	case host == nil:
		r.route = routeNoDomain
		return r
	}
	slug := slugOf(path)
	r.host, r.slug, r.domain, r.known = host, slug, domain, known
	// ACME HTTP-01 stays on plain HTTP: a certificate's renewal must not
	// depend on the certificate it replaces.
	if len(slug) > 0 && slug[0] == '.' && bytes.HasPrefix(slug, challengeSlug) {
		r.route = routeChallenge
		return r
	}
	if !secure && known && domain.RedirectsToHTTPS() {
		r.route = routeHTTPS
		return r
	}
	switch string(slug) {
	case "":
		r.route = routeRoot
		return r
	case "robots.txt":
		r.route = routeRobots
		return r
	case "favicon.ico":
		r.route = routeFavicon
		return r
	}
	var keyBuf [512]byte
	key := kv.AppendLinkKey(keyBuf[:0], host, slug)
	var answer cached
	e, found, err := s.lookup(host, slug, key, &answer, rec)
	r.looked, r.found = true, found
	switch {
	case err != nil:
		r.route = routeError
	case e == nil:
		r.route = routeNoLink
	default:
		r.route, r.link = routeLink, *e
		r.withDomain()
	}
	return r
}

// withDomain gives r.link what its domain decides: the redirect status of
// a link that set none, and indexable answers on an indexable domain.
// r.link is resolve's copy: what the table and the cache hold is not
// changed.
func (r *resolution) withDomain() {
	e := &r.link
	if e.status == 0 {
		e.status = statusOf(0, r.dom())
		if e.plain {
			e.cache = cacheFor(e.status, e.capped)
		}
	}
	if r.known && r.domain.Indexable {
		e.indexable = true
	}
}

// untracked is why the link's redirects capture no click (its doNotTrack
// or its domain's), or tracked; the request may say so too (serve).
func (r *resolution) untracked() untracked {
	switch {
	case r.link.noTrack:
		return untrackedLink
	case r.known && r.domain.DoNotTrack:
		return untrackedDomain
	}
	return tracked
}

// redirectPlain is a plain link's redirect, the answer both paths give
// it, and captures its click unless why says not to: m is the connection's
// memo (nil: none), userAgent and referer the request's headers, ip the
// client's address, qr whether the request came from a QR code (?qr=1),
// now the click's time.
func (s *Server) redirectPlain(e *cached, why untracked, m *visitorMemo, userAgent, referer []byte, ip netip.Addr,
	qr bool, now time.Time) plainRedirect {
	if why == tracked {
		a := s.agentOf(m, userAgent)
		country, hash := s.ipFacts(m, ip, now)
		c := s.newClick(referer, e.id, e.domain, &a, country, hash, qr, now)
		s.capture(&c)
	} else {
		s.m.untracked[why].Inc()
	}
	return plainRedirect{status: e.status, location: e.location, cache: e.cache, index: e.indexable}
}

// hostBuf is a buffer for a request's normalised host, from s.hosts (the
// host outlives the stack once LinkReader sees it); put it back once the
// request is answered.
func (s *Server) hostBuf() *[256]byte {
	b, _ := s.hosts.Get().(*[256]byte)
	if b == nil {
		b = new([256]byte)
	}
	return b
}

// domainOf is the host a request's links are under and its domain record:
// host itself when known, else the default domain when unknown hosts fall
// back to it. host is nil when neither applies (not found).
func (s *Server) domainOf(host []byte) ([]byte, kv.Domain, bool, error) {
	domain, known, err := s.links.Domain(host)
	if err != nil || known || bytes.Equal(host, s.defaultDomain) {
		return host, domain, known, err
	}
	if !s.cfg.FallbackToDefault {
		return nil, domain, false, nil
	}
	domain, known, err = s.links.Domain(s.defaultDomain)
	return s.defaultDomain, domain, known, err
}

// Where lookup found a link, for h0p_edge_link_cache_lookups_total.
const (
	foundNowhere = iota // not in memory: read from the store
	foundInTable
	foundInCache
)

// lookup finds the link key (host, slug): in the answer table (filling
// answer), in the decoded-link cache, or in the store (filling rec, and
// remembering its answer in the table or cache). e is nil when the link
// does not exist. The caller counts the lookup (countLookup) once it
// answers with it.
func (s *Server) lookup(host, slug, key []byte, answer *cached, rec *kv.Link) (*cached, int, error) {
	if s.answers != nil && s.answers.get(key, answer) {
		return answer, foundInTable, nil
	}
	if e := s.cache.get(key); e != nil {
		return e, foundInCache, nil
	}
	gen0 := s.links.Generation()
	l, ok, err := s.links.Link(host, slug)
	if err != nil || !ok {
		return nil, foundNowhere, err
	}
	e := compile(&l) // not answer: what the cache keeps must not be the caller's
	*rec = l         // converted by compile
	if !e.plain || s.answers == nil || !s.answers.putIfCurrent(key, e, gen0, s.links.Generation) {
		s.cache.put(key, e, gen0, s.links.Generation)
	}
	return e, foundNowhere, nil
}

func (s *Server) countLookup(found int) {
	switch found {
	case foundInTable:
		s.m.tableHits.Inc()
	case foundInCache:
		s.m.cacheHits.Inc()
	default:
		s.m.cacheMiss.Inc()
	}
}

// normalizeHost appends host lowercased, without port or trailing dot, to
// dst; an internationalised name becomes punycode. It refuses empty hosts
// and bytes no hostname has; ':' and brackets only appear in a bracketed
// IPv6 literal.
func normalizeHost(dst, host []byte) ([]byte, bool) {
	ipv6 := len(host) > 0 && host[0] == '['
	if ipv6 {
		end := bytes.IndexByte(host, ']')
		if end < 0 {
			return nil, false
		}
		host = host[:end+1]
	} else if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if len(host) == 0 || len(host) > 253 {
		return nil, false
	}
	for _, c := range host {
		if c >= utf8.RuneSelf {
			if ipv6 || !utf8.Valid(host) {
				return nil, false
			}
			ascii, err := idna.Lookup.ToASCII(string(host))
			if err != nil || ascii == "" {
				return nil, false
			}
			return normalizeHost(dst, []byte(ascii))
		}
	}
	for _, c := range host {
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		case ipv6 && (c == '[' || c == ']' || c == ':'):
		default:
			return nil, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

// slugOf strips the leading '/' and one trailing '/' of a normalised path.
func slugOf(path []byte) []byte {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return path
}
