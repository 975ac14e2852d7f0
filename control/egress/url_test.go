package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/dnstest"
)

// mustDNS starts a DNS server holding public.example.test (public
// addresses only), private.example.test (10.0.0.1), mixed.example.test
// (a public A, a loopback AAAA) and metadata.example.test (the metadata
// address), and a policy resolving through it.
func mustDNS(t testing.TB) (*dnstest.Server, Policy) {
	t.Helper()
	dns := dnstest.Start(t)
	dns.Set(t, "public.example.test", "A", "93.184.216.34")
	dns.Set(t, "public.example.test", "AAAA", "2606:4700::1")
	dns.Set(t, "private.example.test", "A", "10.0.0.1")
	dns.Set(t, "mixed.example.test", "A", "93.184.216.34")
	dns.Set(t, "mixed.example.test", "AAAA", "::1")
	dns.Set(t, "metadata.example.test", "A", "169.254.169.254")
	return dns, Policy{Resolver: resolverAt(dns.Addr())}
}

// resolverAt resolves through the DNS server at addr, as cmd/h0p builds
// the resolver of --dns-resolver.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func TestCheckURL(t *testing.T) {
	_, p := mustDNS(t)
	long := "https://public.example.test/" + strings.Repeat("a", MaxURLLen)
	for _, tc := range []struct {
		name, in  string
		allowHTTP bool
		want      string // the normalised URL, or "" for a *URLError
		reason    string // a part of the URL error's reason
	}{
		{"https", "https://public.example.test/hook?a=1", false, "https://public.example.test/hook?a=1", ""},
		{"case", "HTTPS://Public.Example.TEST/Hook", false, "https://public.example.test/Hook", ""},
		{"port", "https://public.example.test:8443/", false, "https://public.example.test:8443/", ""},
		{"port zeros", "https://public.example.test:08443/", false, "https://public.example.test:8443/", ""},
		{"empty port", "https://public.example.test:/", false, "https://public.example.test/", ""},
		{"trailing dot", "https://public.example.test./", false, "https://public.example.test./", ""},
		{"ipv4 literal", "https://93.184.216.34/", false, "https://93.184.216.34/", ""},
		{"ipv4 shorthand", "https://0x5d.184.0xd822/", false, "https://93.184.216.34/", ""},
		{"ipv6 literal", "https://[2606:4700:0::1]:443/", false, "https://[2606:4700::1]:443/", ""},
		{"http allowed", "http://public.example.test/", true, "http://public.example.test/", ""},

		{"http", "http://public.example.test/", false, "", "must use https"},
		{"ftp", "ftp://public.example.test/", true, "", "absolute https URL"},
		{"no scheme", "//public.example.test/", false, "", "absolute https URL"},
		{"relative", "/hook", false, "", "absolute https URL"},
		{"opaque", "https:public.example.test", false, "", "absolute https URL"},
		{"empty", "", false, "", "absolute https URL"},
		{"user", "https://user@public.example.test/", false, "", "credentials"},
		{"user password", "https://user:pw@public.example.test/", false, "", "credentials"},
		{"empty user", "https://@public.example.test/", false, "", "credentials"},
		{"no host", "https:///hook", false, "", "must have a host"},
		{"port only", "https://:443/", false, "", "must have a host"},
		{"space", "https://public.example.test/a b", false, "", "whitespace"},
		{"newline", "https://public.example.test/\nx", false, "", "whitespace"},
		{"bad escape", "https://public.example.test/%zz", false, "", "not a valid URL"},
		{"bad host", "https://1.2.3.256/", false, "", "invalid host"},
		{"zone", "https://[fe80::1%25eth0]/", false, "", "invalid host"},
		{"port zero", "https://public.example.test:0/", false, "", "invalid port"},
		{"port too big", "https://public.example.test:65536/", false, "", "invalid port"},
		{"too long", long, false, "", "at most 2048 bytes"},
		{"loopback shorthand", "https://127.1/", false, "", "loopback"},
		{"loopback hex", "https://0x7f.1/", false, "", "loopback"},
		{"loopback decimal", "https://2130706433/", false, "", "loopback"},
		{"escaped host", "https://%31%32%37.0.0.1/", false, "", "not a valid URL"},
		{"loopback full-width", "https://１２７．０．０．１/", false, "", "loopback"},
		{"loopback mapped", "https://[::ffff:127.0.0.1]/", false, "", "IPv4-mapped form of a loopback"},
		{"localhost", "https://localhost/", false, "", ""},
		{"private name", "https://private.example.test/", false, "", "resolves to a private (RFC 1918) address"},
		{"one private address", "https://mixed.example.test/", false, "", "resolves to a loopback address"},
		{"metadata name", "https://metadata.example.test/", false, "", "resolves to a cloud metadata address"},
		{"no such name", "https://nx.example.test/", false, "", "does not resolve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := p
			p.AllowHTTP = tc.allowHTTP
			got, err := p.CheckURL(context.Background(), tc.in)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("CheckURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				if again, err := p.CheckURL(context.Background(), got); err != nil || again != got {
					t.Fatalf("CheckURL(%q) = %q, %v; want it unchanged", got, again, err)
				}
				return
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckURL(%q) = %q, %v; want a *URLError", tc.in, got, err)
			}
			if !strings.Contains(ue.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", ue.Reason, tc.reason)
			}
			if strings.Contains(ue.Reason, "10.0.0.1") || strings.Contains(ue.Reason, "169.254") {
				t.Errorf("reason %q shows an address a name resolved to", ue.Reason)
			}
		})
	}
}

// A lookup that fails says nothing of the URL: not a *URLError.
func TestCheckURLLookupFails(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nothing answers there
	p := Policy{Resolver: resolverAt(addr), DialTimeout: 2 * time.Second}
	_, err = p.CheckURL(context.Background(), "https://public.example.test/")
	var ue *URLError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("CheckURL with a dead resolver = %v, want a lookup error", err)
	}
}

// The allow list lets a name through to an allowed address.
func TestCheckURLAllowNetworks(t *testing.T) {
	dns, p := mustDNS(t)
	dns.Set(t, "receiver.example.test", "A", "127.0.0.1")
	p.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for in, ok := range map[string]bool{
		"https://receiver.example.test/": true,
		"https://127.0.0.1:8443/":        true,
		"https://[::1]/":                 false,
		"https://private.example.test/":  false,
	} {
		if _, err := p.CheckURL(context.Background(), in); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want allowed %v", in, err, ok)
		}
	}
}
