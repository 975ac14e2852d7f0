// Package urlhost reads the host of an http or https URL the way browsers
// do: the host parser of the WHATWG URL Standard. A browser following a
// redirect to http://0x7f.1/ connects to 127.0.0.1, and to
// http://[::ffff:7f00:1]/ over IPv6 to the same address mapped; comparing
// host strings misses both. Parse gives the address a browser would
// connect to, or the domain it would look up, in one canonical form.
//
// IPv4 hosts follow the standard's IPv4 parser: one to four dot-separated
// numbers, each decimal, octal (leading 0) or hexadecimal (0x), the last
// filling the remaining bytes (127.1, 2130706433, 0x7f.1, 0177.0.0.1), one
// trailing dot allowed. A host whose last label is a number but is not a
// valid IPv4 address (1.2.3.256, foo.0x7f) is no host at all: browsers
// refuse the URL, and so does Parse. IPv6 hosts are in brackets, without a
// zone. Other hosts are domains, mapped to ASCII as UTS #46 says (ToASCII:
// case, full-width forms, ideographic full stops, punycode), and refused
// if they hold a code point the standard forbids in a domain.
//
// The package is what control and the edge agree on about a URL's host:
// control refuses a destination whose host Parse refuses, and the edge
// writes a destination's host into a Location header with ToASCII, the
// mapping Parse gives domains, so every host control accepted is one the
// edge can send in ASCII.
//
// The package does no DNS: a domain that resolves to an address is still
// a domain.
package urlhost

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Host is a parsed host: an IP address, or else a domain.
type Host struct {
	// Addr is the address of an IP host (IPv4-mapped IPv6 addresses stay
	// IPv6, as in a browser); the zero Addr for a domain.
	Addr netip.Addr
	// Domain is a domain in ASCII and lowercase, its dots as given (a
	// trailing dot names the same host in DNS); "" for an IP host.
	Domain string
}

// IsIP reports whether h is an IP address.
func (h Host) IsIP() bool { return h.Addr.IsValid() }

// String is h as a URL writes it: a domain, an IPv4 address in dotted
// decimal, an IPv6 address in brackets.
func (h Host) String() string {
	switch {
	case h.Addr.Is4In6():
		// The standard writes every IPv6 address in hex; netip writes a
		// mapped one with its IPv4 address in dotted decimal.
		b := h.Addr.As16()
		return fmt.Sprintf("[::ffff:%x:%x]", uint16(b[12])<<8|uint16(b[13]), uint16(b[14])<<8|uint16(b[15]))
	case h.Addr.Is6():
		return "[" + h.Addr.String() + "]"
	case h.Addr.IsValid():
		return h.Addr.String()
	}
	return h.Domain
}

var (
	errEmpty     = errors.New("empty host")
	errIPv6      = errors.New("invalid IPv6 address")
	errIPv4      = errors.New("ends in a number but is not an IPv4 address")
	errForbidden = errors.New("holds a character not allowed in a host")
	errDomain    = errors.New("invalid international domain name")
)

// Parse parses the host of an http or https URL: percent-decoded already,
// as net/url holds it in URL.Host, without the port, an IPv6 address in
// brackets.
func Parse(host string) (Host, error) {
	if host == "" {
		return Host{}, errEmpty
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") || strings.Contains(host, "%") {
			return Host{}, errIPv6
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() {
			return Host{}, errIPv6
		}
		return Host{Addr: a}, nil
	}
	domain, err := ToASCII(host)
	if err != nil {
		return Host{}, err
	}
	if endsInNumber(domain) {
		a, ok := ParseIPv4(domain)
		if !ok {
			return Host{}, errIPv4
		}
		return Host{Addr: a}, nil
	}
	return Host{Domain: domain}, nil
}

// OfURL parses the host of u (see Parse).
func OfURL(u *url.URL) (Host, error) {
	h := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		h = "[" + h + "]"
	}
	return Parse(h)
}

// uts46 is domain to ASCII as the URL Standard asks (beStrict false):
// CheckHyphens, UseSTD3ASCIIRules, Transitional_Processing and
// VerifyDnsLength off, CheckJoiners on. CheckBidi, which the standard also
// asks for, is off as in browsers, which take mixed-direction labels: Parse
// is for comparing hosts, not for refusing what browsers follow.
var uts46 = idna.New(idna.MapForLookup(), idna.CheckJoiners(true),
	idna.Transitional(false), idna.StrictDomainName(false), idna.CheckHyphens(false), idna.VerifyDNSLength(false))

// ToASCII is a domain as a browser sends it: mapped by UTS #46 with the URL
// Standard's profile (uts46: case folded, full-width forms and ideographic
// full stops mapped, Unicode labels as punycode; underscores and leading or
// trailing hyphens kept, as browsers keep them), then refused if it holds
// a forbidden domain code point. s is percent-decoded already, as for
// Parse, which maps domains with it. It reads no IP address: 0x7f.1 stays
// 0x7f.1 (Parse makes it 127.0.0.1), and a bracketed IPv6 address is
// refused.
func ToASCII(s string) (string, error) {
	if !utf8.ValidString(s) {
		// Decoding gives U+FFFD, which UTS #46 disallows.
		return "", errDomain
	}
	ascii := true
	for i := range len(s) {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	var out string
	if ascii && !hasPunycodeLabel(s) {
		out = strings.ToLower(s) // what UTS #46 does to such a name
	} else {
		var err error
		if out, err = uts46.ToASCII(s); err != nil || emptyLabels(out) > emptyLabels(fullStops.Replace(s)) {
			// The second is a label "xn--" with nothing after it, which
			// UTS #46 refuses and x/net/idna turns into an empty label.
			return "", errDomain
		}
	}
	if out == "" {
		return "", errEmpty
	}
	if strings.ContainsFunc(out, forbiddenInDomain) {
		return "", errForbidden
	}
	return out, nil
}

// fullStops are the characters UTS #46 maps to a label separator.
var fullStops = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".")

func emptyLabels(s string) int {
	n := 0
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			n++
		}
	}
	return n
}

func hasPunycodeLabel(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") {
			return true
		}
	}
	return false
}

// forbiddenInDomain is the standard's forbidden domain code point.
func forbiddenInDomain(r rune) bool {
	return r <= 0x20 || r == 0x7f || strings.ContainsRune("#%/:<>?@[\\]^|", r)
}

// endsInNumber is the standard's "ends in a number" checker: whether the
// last label (before a trailing dot) is decimal digits or a 0x number.
func endsInNumber(s string) bool {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// ParseIPv4 is the standard's IPv4 parser: one to four numbers separated by
// dots (a trailing dot allowed), each decimal, octal with a leading 0 or
// hexadecimal with 0x; all but the last at most 255, the last filling the
// bytes left.
func ParseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number is the standard's IPv4 number parser; numbers past 2^32 come
// back as 2^32 (too big for any part).
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	var n uint64
	for i := range len(s) {
		d := digit(s[i])
		if d >= base {
			return 0, false
		}
		n = min(n*base+d, 1<<32)
	}
	return n, true
}

func digit(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 99
}
