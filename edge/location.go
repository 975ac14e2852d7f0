package edge

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/urlhost"
)

// A Location header is ASCII. A destination keeps what its owner typed
// (the API shows it so); the edge sends its host as punycode, mapped by
// urlhost.ToASCII (the mapping control checked the host with, so every
// host control accepted converts), and every other byte outside ASCII
// percent-encoded, as a browser does with a URL typed into it. It converts
// once, when it prepares a link's answer (compile, which converts the
// record it is given), and a domain's URL once while it does not change
// (domainURLs): a request only copies what was prepared.

// asciiURL is u as a Location header carries it: u itself when it is ASCII
// already (no copy).
func asciiURL(u string) string {
	if isASCII(u) {
		return u
	}
	if from, to := hostOf(u); from < to && !isASCII(u[from:to]) {
		// A host ToASCII refuses was not checked by control (a record
		// older than the check, or written otherwise). It goes
		// percent-encoded with the rest rather than as stored: HTTP
		// gives bytes outside ASCII in a header no meaning (RFC 9110
		// 5.5), so clients read them as they please, whereas a browser
		// percent-decodes a host before mapping it (the URL Standard's
		// host parser): the encoded host is the one it would have read,
		// and one it refuses it refuses in either form.
		if host, ok := asciiHost(u[from:to]); ok {
			u = u[:from] + host + u[to:]
		}
	}
	return percentEncode(u)
}

// asciiHost is host (as a URL holds it) by urlhost.ToASCII, after
// percent-decoding it as net/url does before control checks a host, and
// a browser before it maps one.
func asciiHost(host string) (string, bool) {
	if strings.IndexByte(host, '%') >= 0 {
		var err error
		if host, err = url.PathUnescape(host); err != nil {
			return "", false
		}
	}
	ascii, err := urlhost.ToASCII(host)
	return ascii, err == nil
}

// percentEncode is s with every byte outside ASCII percent-encoded.
func percentEncode(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// hostOf is where the host of u is (RFC 3986: after "scheme://" or "//"
// and any "userinfo@", before any ":port", "/", "?" or "#"); from == to
// when u has none.
func hostOf(u string) (from, to int) {
	i := 0
	for i < len(u) && (isAlpha(u[i]) || i > 0 && (isDigit(u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.')) {
		i++
	}
	if i > 0 && i < len(u) && u[i] == ':' {
		i++ // a scheme
	} else {
		i = 0
	}
	if !strings.HasPrefix(u[i:], "//") {
		return 0, 0
	}
	from = i + 2
	to = from + strings.IndexAny(u[from:], "/?#")
	if to < from {
		to = len(u)
	}
	if at := strings.LastIndexByte(u[from:to], '@'); at >= 0 {
		from += at + 1
	}
	if colon := strings.LastIndexByte(u[from:to], ':'); colon >= 0 && !strings.HasPrefix(u[from:], "[") {
		to = from + colon
	}
	return from, to
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLink sets every destination l may send (url, expiredUrl, rules',
// variants') to what asciiURL gives. A slice holding a destination that
// changes is replaced by a copy, never written: it may be shared.
func asciiLink(l *kv.Link) {
	l.URL, l.ExpiredURL = asciiURL(l.URL), asciiURL(l.ExpiredURL)
	if slices.ContainsFunc(l.Rules, func(r kv.Rule) bool { return !isASCII(r.URL) }) {
		l.Rules = slices.Clone(l.Rules)
		for i := range l.Rules {
			l.Rules[i].URL = asciiURL(l.Rules[i].URL)
		}
	}
	if slices.ContainsFunc(l.Variants, func(v kv.Variant) bool { return !isASCII(v.URL) }) {
		l.Variants = slices.Clone(l.Variants)
		for i := range l.Variants {
			l.Variants[i].URL = asciiURL(l.Variants[i].URL)
		}
	}
}

// domainURLs keeps asciiURL of the domain URLs (root, not found, expired)
// that are not ASCII: the edge reads a domain's record on every request
// (from the store's mirror), and converting would cost an IDNA mapping and
// allocations each time. It holds at most maxDomainURLs: domains are few,
// and a full map is emptied rather than grown.
type domainURLs struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxDomainURLs = 1024

// get is u as a Location carries it.
func (d *domainURLs) get(u string) string {
	if isASCII(u) {
		return u
	}
	d.mu.RLock()
	a, ok := d.m[u]
	d.mu.RUnlock()
	if ok {
		return a
	}
	a = asciiURL(u)
	d.mu.Lock()
	if d.m == nil || len(d.m) >= maxDomainURLs {
		d.m = make(map[string]string)
	}
	d.m[u] = a
	d.mu.Unlock()
	return a
}
