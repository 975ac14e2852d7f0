package domains

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// ChallengeLabel is the label of the TXT record that holds a domain's token.
const ChallengeLabel = "_h0p-challenge"

// NewResolver resolves through the DNS server at addr (host:port) over UDP
// and TCP with Go's own resolver; addr "" is the system's resolver.
func NewResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Checker looks a domain's records up.
type Checker struct {
	Resolver *net.Resolver
	// EdgeHost is the name a domain's CNAME points at; EdgeIPs the
	// addresses its A/AAAA records may hold.
	EdgeHost string
	EdgeIPs  []netip.Addr
}

// check is the outcome of one lookup of a domain.
type check struct {
	found          []Record
	txtOK, pointed bool
}

func (c check) ok() bool { return c.txtOK && c.pointed }

// expected lists the records a domain needs: the TXT, and a CNAME or the
// A/AAAA records.
func (c *Checker) expected(name, token string) []Record {
	out := []Record{{"TXT", ChallengeLabel + "." + name, token}}
	if c.EdgeHost != "" {
		out = append(out, Record{"CNAME", name, c.EdgeHost})
	}
	for _, ip := range c.EdgeIPs {
		typ := "A"
		if ip.Is6() {
			typ = "AAAA"
		}
		out = append(out, Record{typ, name, ip.String()})
	}
	return out
}

// notFound reports whether err says the name or record does not exist,
// which is an answer, unlike a timeout or a server failure.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// check looks name up. An error means the lookup failed and says nothing
// of the records.
func (c *Checker) check(ctx context.Context, name, token string) (check, error) {
	var out check
	fqdn := name + "." // rooted: no search domains
	txts, err := c.Resolver.LookupTXT(ctx, ChallengeLabel+"."+fqdn)
	if err != nil && !notFound(err) {
		return check{}, fmt.Errorf("look up TXT %s.%s: %w", ChallengeLabel, name, err)
	}
	for _, t := range txts {
		out.found = append(out.found, Record{"TXT", ChallengeLabel + "." + name, t})
		if strings.TrimSpace(t) == token {
			out.txtOK = true
		}
	}
	cname, err := c.Resolver.LookupCNAME(ctx, fqdn)
	if err != nil && !notFound(err) {
		return check{}, fmt.Errorf("look up CNAME %s: %w", name, err)
	}
	cname = strings.ToLower(strings.TrimSuffix(cname, "."))
	if cname != "" && cname != name {
		out.found = append(out.found, Record{"CNAME", name, cname})
		if c.EdgeHost != "" && cname == strings.ToLower(strings.TrimSuffix(c.EdgeHost, ".")) {
			out.pointed = true
		}
	}
	ips, err := c.Resolver.LookupNetIP(ctx, "ip", fqdn)
	if err != nil && !notFound(err) {
		return check{}, fmt.Errorf("look up A/AAAA %s: %w", name, err)
	}
	allEdge := len(ips) > 0
	for _, ip := range ips {
		ip = ip.Unmap()
		typ := "A"
		if ip.Is6() {
			typ = "AAAA"
		}
		out.found = append(out.found, Record{typ, name, ip.String()})
		allEdge = allEdge && slices.Contains(c.EdgeIPs, ip)
	}
	if cname == "" || cname == name {
		out.pointed = out.pointed || allEdge
	}
	return out, nil
}
