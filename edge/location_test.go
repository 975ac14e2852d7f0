package edge_test

import (
	"net/netip"
	"testing"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/kv"
)

// Every Location the edge sends is ASCII: a destination's Unicode host as
// punycode, other bytes outside ASCII percent-encoded, on every path that
// builds one (a plain link's answer, the query merged into it, UTM
// parameters, rules, variants, expiredUrl, a domain's URLs) and on both
// servers. Hosts are mapped as control checks them (urlhost.ToASCII), so
// those browsers take and IDNA's lookup profile refuses (an underscore, a
// leading hyphen) go as punycode too; a host the mapping refuses (a record
// not checked by control: written here into the store directly) goes
// percent-encoded, never as raw UTF-8.
func TestLocationIsASCII(t *testing.T) {
	const ü = "https://xn--tda.example"
	links := []kv.Op{
		{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example", RootURL: "https://ü.example/wurzel",
			NotFoundURL: "https://ü.example/fehlt", ExpiredURL: "https://ü.example/vorbei", Version: 1}},
		put(kv.Link{Slug: "idn", URL: "https://bücher.example/straße?q=ü"}),
		put(kv.Link{Slug: "utm", URL: "https://BÜCHER.example/a#ü", UTM: []kv.QueryParam{{Name: "utm_source", Value: "nüws"}}}),
		put(kv.Link{Slug: "geo", URL: "https://example.com/", Rules: []kv.Rule{{URL: "https://例え.jp/パス", Countries: []string{"US"}}}}),
		put(kv.Link{Slug: "ab", URL: "https://example.com/", Variants: []kv.Variant{{URL: "https://ü.example/v", Weight: 100}}}),
		put(kv.Link{Slug: "exp", URL: "https://example.com/", ExpiresAt: 1, ExpiredURL: "https://ü.example/abgelaufen"}),
		put(kv.Link{ID: "link_goexp", Domain: "go.example", Slug: "exp", URL: "https://example.com/", ExpiresAt: 1}),
		put(kv.Link{Slug: "underscore", URL: "https://a_ü.example/ä"}),
		put(kv.Link{Slug: "hyphen", URL: "https://-ü.example/ä"}),
		put(kv.Link{Slug: "bad", URL: "https://a\u200db.example/ü"}),
		put(kv.Link{Slug: "notutf8", URL: "https://\xffü.example/ä"}),
	}
	for _, server := range []struct {
		name     string
		fasthttp bool
	}{{"event loops", false}, {"fasthttp", true}} {
		t.Run(server.name, func(t *testing.T) {
			te := startEngine(t, func(*testEdge) edge.Config {
				return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
					TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, FasthttpServer: server.fasthttp}
			}, links...)
			for _, tc := range []struct{ method, path, host, want string }{
				{"GET", "/idn", "localhost", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"},
				{"HEAD", "/idn", "localhost", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"},
				{"GET", "/idn?x=%C3%A9", "localhost", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC&x=%C3%A9"},
				{"GET", "/utm", "localhost", "https://xn--bcher-kva.example/a?utm_source=n%C3%BCws#%C3%BC"},
				{"GET", "/utm?a=1", "localhost", "https://xn--bcher-kva.example/a?a=1&utm_source=n%C3%BCws#%C3%BC"},
				{"GET", "/geo", "localhost", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"},
				{"GET", "/ab", "localhost", ü + "/v"},
				{"GET", "/exp", "localhost", ü + "/abgelaufen"},
				{"GET", "/exp", "go.example", ü + "/vorbei"},
				{"GET", "/", "go.example", ü + "/wurzel"},
				{"GET", "/missing", "go.example", ü + "/fehlt"},
				{"GET", "/underscore", "localhost", "https://xn--a_-yka.example/%C3%A4"},
				{"GET", "/underscore?x=%C3%A9", "localhost", "https://xn--a_-yka.example/%C3%A4?x=%C3%A9"},
				{"GET", "/hyphen", "localhost", "https://xn----eha.example/%C3%A4"},
				{"GET", "/bad", "localhost", "https://a%E2%80%8Db.example/%C3%BC"},
				{"GET", "/bad?x=1", "localhost", "https://a%E2%80%8Db.example/%C3%BC?x=1"},
				{"GET", "/notutf8", "localhost", "https://%FF%C3%BC.example/%C3%A4"},
				{"GET", "/notutf8?x=1", "localhost", "https://%FF%C3%BC.example/%C3%A4?x=1"},
			} {
				for range 2 { // the second from what the edge keeps in memory
					got := exchange(t, te.srv.Addr(), tc.method+" "+tc.path+" HTTP/1.1\r\nHost: "+tc.host+
						"\r\nX-Forwarded-For: 8.8.8.8\r\nConnection: close\r\n\r\n")
					if want := "302 " + tc.want; got != want {
						t.Errorf("%s %s%s: %s, want %s", tc.method, tc.host, tc.path, got, want)
					}
				}
			}
		})
	}
}
