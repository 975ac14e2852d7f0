package egress

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/h0p/h0p/shared/urlhost"
)

// FuzzCheckURL: CheckURL never panics, and what it accepts is an absolute
// http(s) URL (http only when allowed) with a host, no credentials, at
// most MaxURLLen bytes, a host whose address (when an IP) passes
// CheckAddr, and which CheckURL accepts again unchanged.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://public.example.test/hook", "http://public.example.test/", "HTTPS://PUBLIC.example.test:8443/a?b#c",
		"https://0x7f.1/", "https://127.1/", "https://2130706433/", "https://0177.0.0.1/", "https://[::ffff:127.0.0.1]/",
		"https://[::ffff:7f00:1]/", "https://[64:ff9b::7f00:1]/", "https://[2002:7f00:1::]/", "https://[fe80::1%25eth0]/",
		"https://user@public.example.test/", "https://user:pw@93.184.216.34/", "https://@93.184.216.34/",
		"https://bücher.example/", "https://xn--bcher-kva.example/", "https://１２７．０．０．１/", "https://93.184.216.34./",
		"https://%31%32%37.0.0.1/", "https:93.184.216.34", "https:///x", "//93.184.216.34/", "https://:443/",
		"https://93.184.216.34:0/", "https://93.184.216.34:65536/", "https://93.184.216.34:/",
		"https://public.example.test/" + strings.Repeat("a", MaxURLLen), "javascript:alert(1)", "",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	_, p := mustDNS(f)
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		p := p
		p.AllowHTTP = allowHTTP
		got, err := p.CheckURL(context.Background(), raw)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("CheckURL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
			t.Fatalf("CheckURL(%q) = %q: scheme %q", raw, got, u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil || u.Opaque != "" || len(got) > MaxURLLen {
			t.Fatalf("CheckURL(%q) = %q: no host, credentials, opaque or too long", raw, got)
		}
		h, err := urlhost.OfURL(u)
		if err != nil {
			t.Fatalf("CheckURL(%q) = %q, whose host urlhost refuses: %v", raw, got, err)
		}
		if h.IsIP() && p.CheckAddr(h.Addr) != nil {
			t.Fatalf("CheckURL(%q) = %q, at a refused address", raw, got)
		}
		if again, err := p.CheckURL(context.Background(), got); err != nil || again != got {
			t.Fatalf("CheckURL(%q) = %q, then %q, %v", raw, got, again, err)
		}
	})
}
