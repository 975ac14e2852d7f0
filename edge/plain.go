package edge

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/edge/internal/evloop"
	"github.com/h0p/h0p/shared/kv"
)

// The plain path, the event loops' fast path: most requests an edge
// answers are a GET of a plain link (see compile) with a handful of
// ordinary headers. The plain path reads such a request itself
// (parsePlainRequest), without fasthttp's parse of the request and its URI
// (≈8% of the edge's CPU under load), and writes the redirect itself
// (appendRedirect). What it answers is not its own: resolve and
// redirectPlain decide it, for serve as for it. Whatever it does not read
// for certain, and every answer but a plain link's redirect, it leaves to
// fasthttp and Server.handle. FuzzPlainPath checks that both paths give
// the same answer and the same click wherever the plain path answers.

// plainRequest is what the plain path reads of a request.
type plainRequest struct {
	head, http10, close bool
	path                []byte // raw and already normal (plainPath)
	host, userAgent     []byte
	referer             []byte
	forwardedFor        []byte // X-Forwarded-For
	forwarded           []byte // Forwarded
}

// plainRedirect is a plain link's redirect (redirectPlain). The plain path
// writes it itself (appendRedirect): the bytes fasthttp's Response.Write
// sends for it (Date aside: TestPlainRedirectBytesAsFasthttpServer),
// without setting and serializing a fasthttp header, ≈4% of the edge's
// CPU.
type plainRedirect struct {
	status          int // 0: none
	location, cache string
	index           bool
}

// Headers the plain path reads, as bits of a set.
const (
	seenHost = 1 << iota
	seenUserAgent
	seenReferer
	seenConnection
	seenForwardedFor
	seenForwarded
)

// parsePlainRequest reads req, one whole request as framing.RequestSize
// framed it, into r. It reports false for anything but a GET or HEAD of a
// plain path (plainPath) over HTTP/1.0 or 1.1 with a plain Host
// (plainHost), no body, header lines that are all "token: printable
// ASCII", none of the headers the plain path reads twice, and Connection,
// if sent, close or keep-alive.
func parsePlainRequest(req []byte, r *plainRequest) bool {
	*r = plainRequest{}
	var rest []byte
	switch {
	case bytes.HasPrefix(req, []byte("GET /")):
		rest = req[len("GET "):]
	case bytes.HasPrefix(req, []byte("HEAD /")):
		rest, r.head = req[len("HEAD "):], true
	default:
		return false
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 || !plainPath(rest[:sp]) {
		return false
	}
	r.path, rest = rest[:sp], rest[sp+1:]
	switch {
	case bytes.HasPrefix(rest, []byte("HTTP/1.1\r\n")):
	case bytes.HasPrefix(rest, []byte("HTTP/1.0\r\n")):
		r.http10 = true
	default:
		return false
	}
	rest = rest[len("HTTP/1.1\r\n"):]
	var seen int
	keepAlive := false
	for {
		end := bytes.Index(rest, []byte("\r\n"))
		if end < 0 {
			return false
		}
		line := rest[:end]
		rest = rest[end+2:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return false
		}
		name, value := line[:colon], trimSpaceTab(line[colon+1:])
		if !isPrintable(value) {
			return false
		}
		var bit int
		var dst *[]byte
		switch len(name) {
		case len("Host"):
			if bytes.EqualFold(name, []byte("Host")) {
				bit, dst = seenHost, &r.host
			}
		case len("Referer"):
			if bytes.EqualFold(name, []byte("Referer")) {
				bit, dst = seenReferer, &r.referer
			}
		case len("Forwarded"):
			if bytes.EqualFold(name, []byte("Forwarded")) {
				bit, dst = seenForwarded, &r.forwarded
			}
		case len("User-Agent"): // and Connection
			switch {
			case bytes.EqualFold(name, []byte("User-Agent")):
				bit, dst = seenUserAgent, &r.userAgent
			case bytes.EqualFold(name, []byte("Connection")):
				switch {
				case bytes.EqualFold(value, []byte("close")):
					r.close = true
				case bytes.EqualFold(value, []byte("keep-alive")):
					keepAlive = true
				default:
					return false
				}
				bit = seenConnection
			}
		case len("X-Forwarded-For"):
			if bytes.EqualFold(name, []byte("X-Forwarded-For")) {
				bit, dst = seenForwardedFor, &r.forwardedFor
			}
		case len("Content-Length"), len("Transfer-Encoding"), len("Expect"):
			if bytes.EqualFold(name, []byte("Content-Length")) || bytes.EqualFold(name, []byte("Transfer-Encoding")) ||
				bytes.EqualFold(name, []byte("Expect")) {
				return false
			}
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if dst != nil {
			*dst = value
		}
	}
	if len(rest) != 0 || !plainHost(r.host) {
		return false
	}
	if r.http10 && !keepAlive {
		r.close = true
	}
	return true
}

// plainPath reports whether p is a path whose slug a plain lookup can take
// as it is: '/' then unreserved characters (RFC 3986) and slashes, no empty
// or dot segment, nothing to decode, no query, at most maxPath bytes.
func plainPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' || len(p) > maxPath {
		return false
	}
	for i, c := range p {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~':
		case c == '.':
			if p[i-1] == '/' {
				return false
			}
		case c == '/':
			if i > 0 && p[i-1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// plainHost reports whether h is a host name, letters, digits, '.', '-'
// and '_', with an optional port: what fasthttp's URI parse takes as it is
// (an IPv6 literal, a percent or an '@' it reads its own way).
func plainHost(h []byte) bool {
	name, port, _ := bytes.Cut(h, []byte(":"))
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether b is a header name (RFC 9110 token).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// isPrintable reports whether a header value holds only visible ASCII,
// spaces and tabs.
func isPrintable(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

func trimSpaceTab(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// serveFast is the event loops' fast path: a plain link's redirect for the
// usual request, parsed and written here without fasthttp; anything else
// is left to fasthttp and Server.handle.
func (s *Server) serveFast(dst, req []byte, c *evloop.Conn) (out []byte, answered, closeAfter bool) {
	var r plainRequest
	if !parsePlainRequest(req, &r) {
		return dst, false, false
	}
	m, _ := c.State.(*visitorMemo)
	if m == nil {
		m = new(visitorMemo)
		c.State = m
	}
	var redirect plainRedirect
	if !s.servePlain(&r, c.Peer(), m, &redirect) {
		return dst, false, false
	}
	closeAfter = r.close || c.Stopping()
	return appendRedirect(dst, &redirect, r.head, r.http10, closeAfter, c.Date()), true, closeAfter
}

// serverName is the edge's Server header.
const serverName = "h0p"

// appendRedirect appends the response for r with the Server, Date and
// Connection headers fasthttp's server would send (date: Date's value).
func appendRedirect(b []byte, r *plainRedirect, head, http10, closeAfter bool, date []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, ' ')
	b = append(b, fasthttp.StatusMessage(r.status)...)
	b = append(b, "\r\nServer: "+serverName...)
	b = append(b, "\r\nDate: "...)
	b = append(b, date...)
	if !head {
		b = append(b, "\r\nContent-Length: 0"...)
	}
	if !r.index {
		b = append(b, "\r\nX-Robots-Tag: noindex"...)
	}
	b = append(b, "\r\nCache-Control: "...)
	b = append(b, r.cache...)
	b = append(b, "\r\nLocation: "...)
	b = append(b, r.location...)
	switch {
	case closeAfter:
		b = append(b, "\r\nConnection: close"...)
	case http10:
		b = append(b, "\r\nConnection: keep-alive"...)
	}
	return append(b, "\r\n\r\n"...)
}

// servePlain answers r, which came from peer on a connection with memo m,
// when its answer is a plain link's redirect: it captures the click, counts
// the request and fills out. It reports false, having done nothing, for
// every other answer; Server.serve gives those, and it answers a request
// whose answer here panicked.
func (s *Server) servePlain(r *plainRequest, peer netip.Addr, m *visitorMemo, out *plainRedirect) (answered bool) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil { // serve answers it (see handle)
			s.panicked(p)
			answered = false
		}
	}()
	hostBuf := s.hostBuf()
	defer s.hosts.Put(hostBuf)
	var rec kv.Link
	res := s.resolve(hostBuf[:0], r.host, r.path, &rec, false) // the event loops serve plain HTTP only
	if !res.plain(false) {
		return false
	}
	s.countLookup(res.found)
	now := start // the click's time: one clock read a request less
	if !s.wallClock {
		now = s.cfg.Now()
	}
	*out = s.redirectPlain(&res.link, res.untracked(), m, r.userAgent, r.referer, s.clientIPFrom(peer, r.forwardedFor, r.forwarded), false, now)
	s.m.requests[outcomeRedirect].Inc()
	s.m.latency.Observe(time.Since(start).Seconds())
	return true
}
