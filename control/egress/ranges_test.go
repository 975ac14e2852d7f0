package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// refusedAddrs hold addresses of every refused range, edges included, and
// the IPv6 forms of refused IPv4 addresses, with the kind each must get.
var refusedAddrs = []struct{ addr, kind, via string }{
	{"0.0.0.0", "unspecified (this network)", ""},
	{"0.255.255.255", "unspecified (this network)", ""},
	{"10.0.0.1", "private (RFC 1918)", ""},
	{"10.255.255.255", "private (RFC 1918)", ""},
	{"100.64.0.1", "shared address space (CGNAT)", ""},
	{"100.127.255.255", "shared address space (CGNAT)", ""},
	{"127.0.0.1", "loopback", ""},
	{"127.255.255.254", "loopback", ""},
	{"169.254.169.254", "cloud metadata", ""},
	{"169.254.0.1", "link-local", ""},
	{"169.254.255.255", "link-local", ""},
	{"172.16.0.1", "private (RFC 1918)", ""},
	{"172.31.255.255", "private (RFC 1918)", ""},
	{"192.0.0.1", "IETF protocol assignments", ""},
	{"192.0.0.255", "IETF protocol assignments", ""},
	{"192.168.0.1", "private (RFC 1918)", ""},
	{"192.168.255.255", "private (RFC 1918)", ""},
	{"198.18.0.1", "benchmarking", ""},
	{"198.19.255.255", "benchmarking", ""},
	{"224.0.0.1", "multicast", ""},
	{"239.255.255.250", "multicast", ""},
	{"240.0.0.1", "reserved", ""},
	{"255.255.255.254", "reserved", ""},
	{"255.255.255.255", "broadcast", ""},
	{"::", "unspecified", ""},
	{"::1", "loopback", ""},
	{"fd00:ec2::254", "cloud metadata", ""},
	{"fc00::1", "private (unique local)", ""},
	{"fdff:ffff::1", "private (unique local)", ""},
	{"fe80::1", "link-local", ""},
	{"febf:ffff::1", "link-local", ""},
	{"fec0::1", "site-local (private)", ""},
	{"ff02::1", "multicast", ""},
	{"ff0e::101", "multicast", ""},
	{"64:ff9b:1::7f00:1", "local-use NAT64", ""},
	{"64:ff9b:1:5db8:d8:2200::", "local-use NAT64", ""}, // even a public IPv4 address
	// IPv6 forms of refused IPv4 addresses.
	{"::ffff:127.0.0.1", "loopback", "IPv4-mapped"},
	{"::ffff:10.0.0.1", "private (RFC 1918)", "IPv4-mapped"},
	{"::ffff:169.254.169.254", "cloud metadata", "IPv4-mapped"},
	{"::ffff:0.0.0.0", "unspecified (this network)", "IPv4-mapped"},
	{"::127.0.0.1", "loopback", "IPv4-compatible"},
	{"::10.0.0.1", "private (RFC 1918)", "IPv4-compatible"},
	{"::169.254.169.254", "cloud metadata", "IPv4-compatible"},
	{"::0.0.0.2", "unspecified (this network)", "IPv4-compatible"},
	{"64:ff9b::127.0.0.1", "loopback", "NAT64"},
	{"64:ff9b::10.0.0.1", "private (RFC 1918)", "NAT64"},
	{"64:ff9b::169.254.169.254", "cloud metadata", "NAT64"},
	{"2002:7f00:1::", "loopback", "6to4"},
	{"2002:7f00:1:1::1", "loopback", "6to4"},
	{"2002:a00:1::", "private (RFC 1918)", "6to4"},
	{"2002:a9fe:a9fe::1", "cloud metadata", "6to4"},
	{"2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback", "Teredo"}, // client 127.0.0.1
	{"2001:0:4136:e378:8000:63bf:f5ff:fffe", "private (RFC 1918)", "Teredo"},
}

var publicAddrs = []string{
	"93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1", "2001:4860:4860::8888",
	// Next to refused ranges.
	"1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
	"128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
	"191.255.255.255", "192.0.1.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
	"198.20.0.0", "223.255.255.255", "::2:0:0", "fbff:ffff::1", "2000::1",
	// IPv6 forms of a public IPv4 address.
	"::ffff:93.184.216.34", "::93.184.216.34", "64:ff9b::93.184.216.34", "2002:5db8:d822::1",
	"2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo, client 93.184.216.34
}

func TestCheckAddrRefuses(t *testing.T) {
	var p Policy
	for _, tc := range refusedAddrs {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			for name, err := range map[string]error{
				"CheckAddr": p.CheckAddr(a),
				"Control":   p.Control("tcp", netip.AddrPortFrom(a, 443).String(), nil),
			} {
				var ae *AddrError
				if !errors.As(err, &ae) {
					t.Fatalf("%s(%v) = %v, want an *AddrError", name, a, err)
				}
				if ae.Kind != tc.kind || ae.Via != tc.via {
					t.Errorf("%s(%v): kind %q via %q, want %q via %q", name, a, ae.Kind, ae.Via, tc.kind, tc.via)
				}
			}
			host := tc.addr
			if a.Is6() {
				host = "[" + host + "]"
			}
			_, err := p.CheckURL(context.Background(), "https://"+host+"/hook")
			var ue *URLError
			var ae *AddrError
			if !errors.As(err, &ue) || !errors.As(err, &ae) || ae.Kind != tc.kind {
				t.Fatalf("CheckURL(https://%s/hook) = %v, want a *URLError for a %s address", host, err, tc.kind)
			}
			if strings.Contains(ue.Reason, "<nil>") || !strings.Contains(ue.Reason, tc.kind) {
				t.Errorf("reason %q does not name %q", ue.Reason, tc.kind)
			}
		})
	}
}

func TestCheckAddrPasses(t *testing.T) {
	var p Policy
	for _, s := range publicAddrs {
		a := netip.MustParseAddr(s)
		if err := p.CheckAddr(a); err != nil {
			t.Errorf("CheckAddr(%v) = %v, want nil", a, err)
		}
		if err := p.Control("tcp", netip.AddrPortFrom(a, 443).String(), nil); err != nil {
			t.Errorf("Control(%v) = %v, want nil", a, err)
		}
		host := s
		if a.Is6() {
			host = "[" + s + "]"
		}
		if _, err := p.CheckURL(context.Background(), "https://"+host+"/"); err != nil {
			t.Errorf("CheckURL(https://%s/) = %v, want nil", host, err)
		}
	}
}

func TestControlRefusesWhatIsNotAnAddress(t *testing.T) {
	var p Policy
	for _, addr := range []string{"", "localhost:80", "127.0.0.1", "/tmp/sock", "[::1]"} {
		if err := p.Control("tcp", addr, nil); err == nil {
			t.Errorf("Control(%q) = nil, want an error", addr)
		}
	}
}

func TestAllowNetworks(t *testing.T) {
	p := Policy{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::ffff:127.0.0.1", true}, // the same address, as a dual-stack socket sees it
		{"::1", false},
		{"10.0.0.1", false},
		{"169.254.169.254", false},
		{"0.0.0.0", false},
		{"64:ff9b::127.0.0.1", false}, // another address, which a NAT64 gateway dials
		{"2002:7f00:1::", false},
		{"93.184.216.34", true},
	} {
		err := p.CheckAddr(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%s) = %v, want allowed %v", tc.addr, err, tc.ok)
		}
	}
}

// A real loopback listener: the dial is refused, and nothing connects.
func TestDialerRefusesLoopback(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			host := map[string]string{"tcp4": "127.0.0.1", "tcp6": "[::1]"}[network]
			l, err := net.Listen(network, host+":0")
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer l.Close()
			accepted := make(chan struct{})
			go func() {
				if c, err := l.Accept(); err == nil {
					c.Close()
					close(accepted)
				}
			}()
			_, err = Policy{}.Dialer().DialContext(context.Background(), "tcp", l.Addr().String())
			var ae *AddrError
			if !errors.As(err, &ae) || ae.Kind != "loopback" {
				t.Fatalf("dial %s = %v, want an *AddrError for loopback", l.Addr(), err)
			}
			allowed := Policy{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
			c, err := allowed.Dialer().DialContext(context.Background(), "tcp", l.Addr().String())
			if err != nil {
				t.Fatalf("dial %s with the allow list: %v", l.Addr(), err)
			}
			c.Close()
			<-accepted // the only connection was the allowed one
		})
	}
}

func TestParseNetworks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // prefixes joined by ","; "error" for an error
	}{
		{"", ""},
		{"127.0.0.0/8,::1/128", "127.0.0.0/8,::1/128"},
		{" 10.0.0.0/8 , ,fd00::/8 ", "10.0.0.0/8,fd00::/8"},
		{"127.0.0.1/8", "error"},
		{"127.0.0.1", "error"},
		{"localhost", "error"},
	} {
		got, err := ParseNetworks(tc.in)
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if gotS := strings.Join(s, ","); err != nil && tc.want != "error" || err == nil && gotS != tc.want {
			t.Errorf("ParseNetworks(%q) = %q, %v; want %q", tc.in, gotS, err, tc.want)
		}
	}
}
