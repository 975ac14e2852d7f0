package links

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/h0p/h0p/shared/urlhost"
)

// Destinations that loop. A link whose destination is an H0p edge
// redirects to itself, or to whatever the edge serves there: the short
// domains (default, shared, and the custom domains the edges serve at the
// time), on any port, and the edges' own addresses are refused as
// destinations. A link whose destination was fine becomes a loop if that
// host is added as a custom domain later; the domain's owner proved the
// host is theirs. Hosts are compared the way a browser reads them
// (shared/urlhost), so http://0x7f000001:8081/ is 127.0.0.1:8081, and
// IPv4-mapped IPv6 addresses are their IPv4 address.
//
// An address is a loop on the edge's port only (a destination's port is
// the scheme's default when it names none). An edge listening on every
// address (0.0.0.0, ::, or no host) answers on the loopback and on every
// address of its host's interfaces; 127.0.0.0/8, ::1, 0.0.0.0 and :: are
// all this host. Names are compared as names: no DNS, so a name that
// resolves to an edge is not caught (nor could it be for good: DNS
// answers change).

// EdgeAddr is where an edge answers, from its host:port.
type EdgeAddr struct {
	name string     // a host name, or
	addr netip.Addr // an address; invalid when the edge is on every address
	port uint16
}

// ParseEdgeAddrs reads host:port addresses (an IP address, a name, or an
// empty host, 0.0.0.0 or [::] for every address of the edge's host).
func ParseEdgeAddrs(addrs []string) ([]EdgeAddr, error) {
	var out []EdgeAddr
	for _, s := range addrs {
		host, port, err := net.SplitHostPort(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("edge address %q: want host:port", s)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("edge address %q: bad port", s)
		}
		e := EdgeAddr{port: uint16(p)}
		if a, err := netip.ParseAddr(host); err == nil {
			if a.Zone() != "" {
				return nil, fmt.Errorf("edge address %q: no zones", s)
			}
			if !a.IsUnspecified() {
				e.addr = a.Unmap()
			}
		} else if host != "" {
			h, err := urlhost.Parse(host)
			if err != nil || h.IsIP() {
				return nil, fmt.Errorf("edge address %q: bad host", s)
			}
			e.name = strings.TrimSuffix(h.Domain, ".")
		}
		out = append(out, e)
	}
	return out, nil
}

// ownHosts are where H0p answers: what a destination must not be.
type ownHosts struct {
	domains []string               // short domains, lowercase, no trailing dot
	served  func(host string) bool // custom domains the edges serve; nil: none
	edges   []EdgeAddr
	// local lists the host's interface addresses, for edges on every
	// address; called only when such an edge's port matches.
	local func() []netip.Addr
}

func interfaceAddrs() []netip.Addr {
	addrs, _ := net.InterfaceAddrs() // none known: only the loopback counts
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// urlPort is u's port, or its scheme's default; ok is false for a port
// browsers refuse.
func urlPort(u *url.URL, scheme string) (port uint16, ok bool) {
	if u.Port() == "" {
		if scheme == "https" {
			return 443, true
		}
		return 80, true
	}
	p, err := strconv.ParseUint(u.Port(), 10, 16)
	return uint16(p), err == nil
}

// loop says why a destination on host h and port loops, or "".
func (o *ownHosts) loop(h urlhost.Host, port uint16) string {
	if o == nil {
		return ""
	}
	const edge = "points at an H0p edge, which would loop"
	if !h.IsIP() {
		name := strings.TrimSuffix(h.Domain, ".")
		if slices.Contains(o.domains, name) || o.served != nil && o.served(name) {
			return "points at a short domain H0p serves, which would loop"
		}
		for _, e := range o.edges {
			if e.name != "" && e.name == name && e.port == port {
				return edge
			}
		}
		return ""
	}
	a := h.Addr.Unmap()
	thisHost := a.IsLoopback() || a.IsUnspecified()
	for _, e := range o.edges {
		if e.name != "" || e.port != port {
			continue
		}
		switch {
		case e.addr.IsValid() && (a == e.addr || thisHost && e.addr.IsLoopback()):
			return edge
		case !e.addr.IsValid() && (thisHost || slices.Contains(o.localAddrs(), a)):
			return edge
		}
	}
	return ""
}

func (o *ownHosts) localAddrs() []netip.Addr {
	if o.local == nil {
		return interfaceAddrs()
	}
	return o.local()
}
