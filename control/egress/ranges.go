package egress

import (
	"fmt"
	"net/netip"
	"strings"
)

// refusedRanges is the one table of addresses control never dials. The
// first entry that holds an address names it, so a specific entry comes
// before a wider one that covers it (cloud metadata before link-local,
// broadcast before reserved).
var refusedRanges = []struct {
	prefix netip.Prefix
	kind   string
}{
	{pfx("0.0.0.0/8"), "unspecified (this network)"},
	{pfx("10.0.0.0/8"), "private (RFC 1918)"},
	{pfx("100.64.0.0/10"), "shared address space (CGNAT)"},
	{pfx("127.0.0.0/8"), "loopback"},
	{pfx("169.254.169.254/32"), "cloud metadata"},
	{pfx("169.254.0.0/16"), "link-local"},
	{pfx("172.16.0.0/12"), "private (RFC 1918)"},
	{pfx("192.0.0.0/24"), "IETF protocol assignments"},
	{pfx("192.168.0.0/16"), "private (RFC 1918)"},
	{pfx("198.18.0.0/15"), "benchmarking"},
	{pfx("224.0.0.0/4"), "multicast"},
	{pfx("255.255.255.255/32"), "broadcast"},
	{pfx("240.0.0.0/4"), "reserved"},
	{pfx("::/128"), "unspecified"},
	{pfx("::1/128"), "loopback"},
	// A local-use NAT64 prefix (RFC 8215) has a length only its operator
	// knows, so where its IPv4 address sits cannot be read: refused whole
	// (DESIGN.md).
	{pfx("64:ff9b:1::/48"), "local-use NAT64"},
	{pfx("fd00:ec2::254/128"), "cloud metadata"},
	{pfx("fc00::/7"), "private (unique local)"},
	{pfx("fe80::/10"), "link-local"},
	{pfx("fec0::/10"), "site-local (private)"},
	{pfx("ff00::/8"), "multicast"},
}

// embeddings are the IPv6 forms that carry an IPv4 address, with where it
// sits: an address in one is refused when the IPv4 address it carries is.
// IPv4-compatible (::/96) comes after :: and ::1 in refusedRanges, which
// it holds and which name them better.
var embeddings = []struct {
	prefix netip.Prefix
	form   string
	v4     func(b [16]byte) [4]byte
}{
	{pfx("::ffff:0:0/96"), "IPv4-mapped", last4},
	{pfx("::/96"), "IPv4-compatible", last4},
	{pfx("64:ff9b::/96"), "NAT64", last4},
	{pfx("2002::/16"), "6to4", func(b [16]byte) [4]byte { return [4]byte(b[2:6]) }},
	// Teredo: the client's address is the last 32 bits, inverted.
	{pfx("2001::/32"), "Teredo", func(b [16]byte) [4]byte {
		return [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
	}},
}

func last4(b [16]byte) [4]byte { return [4]byte(b[12:16]) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// AddrError is an address the policy refuses to dial.
type AddrError struct {
	Addr netip.Addr
	// Kind names the range ("loopback"); Prefix is the range's entry in
	// the table; Via, for an IPv6 form carrying an IPv4 address, the form
	// ("NAT64") and Embedded that address.
	Kind     string
	Prefix   netip.Prefix
	Via      string
	Embedded netip.Addr
}

func (e *AddrError) Error() string {
	if e.Via != "" {
		return fmt.Sprintf("egress refused %v: %s form of %v, %s (%v)", e.Addr, e.Via, e.Embedded, e.Kind, e.Prefix)
	}
	if !e.Prefix.IsValid() {
		return fmt.Sprintf("egress refused %v: %s", e.Addr, e.Kind)
	}
	return fmt.Sprintf("egress refused %v: %s (%v)", e.Addr, e.Kind, e.Prefix)
}

// describe is e as a URL error's reason says it, without the address.
func (e *AddrError) describe() string {
	if e.Via != "" {
		return fmt.Sprintf("%s form of %s address", article(e.Via), article(e.Kind))
	}
	return article(e.Kind) + " address"
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// CheckAddr returns nil if a may be dialled: it is in AllowNetworks (as
// given, or unmapped from ::ffff:a.b.c.d), or in no refused range and,
// for an IPv6 form carrying an IPv4 address, carrying one in none. It
// returns an *AddrError otherwise.
func (p Policy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return &AddrError{Addr: a, Kind: "invalid"}
	}
	a = a.WithZone("")
	for _, n := range p.AllowNetworks {
		if n.Contains(a) || n.Contains(a.Unmap()) {
			return nil
		}
	}
	if kind, prefix, ok := refusedRange(a); ok {
		return &AddrError{Addr: a, Kind: kind, Prefix: prefix}
	}
	if a.Is6() {
		for _, e := range embeddings {
			if !e.prefix.Contains(a) {
				continue
			}
			v4 := netip.AddrFrom4(e.v4(a.As16()))
			if kind, prefix, ok := refusedRange(v4); ok {
				return &AddrError{Addr: a, Kind: kind, Prefix: prefix, Via: e.form, Embedded: v4}
			}
		}
	}
	return nil
}

func refusedRange(a netip.Addr) (kind string, prefix netip.Prefix, ok bool) {
	for _, r := range refusedRanges {
		if r.prefix.Contains(a) {
			return r.kind, r.prefix, true
		}
	}
	return "", netip.Prefix{}, false
}

// ParseNetworks reads a comma-separated list of CIDR prefixes, as
// --webhook-allow-networks takes them ("127.0.0.0/8,::1/128"); "" is none.
// A prefix with host bits set is refused rather than widened silently.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("parse network %q: %w", f, err)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("parse network %q: host bits set (did you mean %v?)", f, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}
