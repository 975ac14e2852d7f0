package links

import (
	"net/netip"
	"net/url"
	"testing"

	"github.com/h0p/h0p/shared/urlhost"
)

func TestLoops(t *testing.T) {
	edges, err := ParseEdgeAddrs([]string{"127.0.0.1:8081", "[::]:8082", ":8083", "10.0.0.5:80", "Edge.Example.NET.:443"})
	if err != nil {
		t.Fatal(err)
	}
	own := &ownHosts{domains: []string{"h0p.example"}, edges: edges,
		local: func() []netip.Addr {
			return []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("2001:db8::10")}
		}}
	for raw, loops := range map[string]bool{
		"http://127.0.0.1:8081/x":         true,
		"http://[::1]:8081/x":             true, // the loopback is one
		"http://0x7f000001:8081/":         true,
		"http://127.1:8081/":              true,
		"http://[::ffff:127.0.0.1]:8081/": true,
		"http://0.0.0.0:8081/":            true,
		"http://127.0.0.1:8084/":          false,
		"http://127.0.0.1/":               false,
		"http://192.168.1.10:8081/":       false, // that edge is on the loopback only
		"http://192.168.1.10:8082/":       true,  // every address
		"http://[2001:db8::10]:8082/":     true,
		"http://[::ffff:c0a8:10a]:8082/":  true,
		"http://192.168.1.11:8082/":       false,
		"http://127.0.0.2:8082/":          true,
		"http://0300.0250.1.10:8083/":     true,
		"http://10.0.0.5/":                true, // http's default port
		"http://10.0.0.5:80/":             true,
		"http://012.0.0.5/":               true,
		"https://10.0.0.5/":               false,
		"http://127.0.0.1:80/":            false, // 10.0.0.5:80 is not on the loopback
		"https://edge.example.net/":       true,
		"https://EDGE.example.net./x":     true,
		"http://edge.example.net/":        false,
		"http://h0p.example:1234/":        true, // a short domain, on any port
		"https://H0P.example./":           true,
		"https://sub.h0p.example/":        false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		h, err := urlhost.OfURL(u)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		port, _ := urlPort(u, u.Scheme)
		if got := own.loop(h, port) != ""; got != loops {
			t.Errorf("%s loops: %v, want %v", raw, got, loops)
		}
	}
}

func TestParseEdgeAddrs(t *testing.T) {
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "[fe80::1%eth0]:80", "127.1:80", "a b:80", "localhost:http"} {
		if _, err := ParseEdgeAddrs([]string{bad}); err == nil {
			t.Errorf("ParseEdgeAddrs(%q) took it", bad)
		}
	}
}

// The short domain is compared in ASCII, as destinations are.
func TestLoopsOntoAnInternationalShortDomain(t *testing.T) {
	s := &Service{DefaultDomain: "Bücher.example"}
	for _, raw := range []string{"https://bücher.example/x", "https://xn--bcher-kva.example/", "https://BÜCHER.example./"} {
		u, _ := url.Parse(raw)
		h, err := urlhost.OfURL(u)
		if err != nil || s.own().loop(h, 443) == "" {
			t.Errorf("%s: %v, want a loop", raw, err)
		}
	}
}
