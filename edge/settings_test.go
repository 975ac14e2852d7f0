package edge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/h0p/h0p/shared/kv"
)

// A domain's redirect status applies to its links that set none, from the
// answer table as from a full decision, and follows the domain's changes;
// an indexable domain's answers carry no noindex and its robots.txt allows
// crawling, a custom domain's by default forbids it, the default domain's
// allows it as before; "/" on a custom domain without a root URL is a
// placeholder page.
func TestDomainSettings(t *testing.T) {
	te := mustEngine(t, 64,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example", OrgID: "org_1", Version: 1,
			RedirectStatus: 301, Indexable: true}},
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "quiet.example", OrgID: "org_1", Version: 1}},
		put(kv.Link{ID: "link_ga", Domain: "go.example", Slug: "a", URL: "https://example.com/a"}),
		put(kv.Link{ID: "link_gb", Domain: "go.example", Slug: "b", URL: "https://example.com/b", Status: 307}),
		put(kv.Link{ID: "link_gc", Domain: "go.example", Slug: "capped", URL: "https://example.com/c", MaxClicks: 5}),
		put(kv.Link{ID: "link_gr", Domain: "go.example", Slug: "rules", URL: "https://example.com/r",
			Rules: []kv.Rule{{URL: "https://ios.example/", Devices: []string{"ios"}}}}),
		put(kv.Link{ID: "link_qa", Domain: "quiet.example", Slug: "a", URL: "https://example.com/qa"}),
		put(kv.Link{ID: "link_qi", Domain: "quiet.example", Slug: "i", URL: "https://example.com/qi", Indexable: true}),
		put(kv.Link{Slug: "a", URL: "https://example.com/local"}),
	)
	type want struct {
		status   int
		location string
		cache    string
		noindex  bool
	}
	check := func(host, path string, w want) {
		t.Helper()
		for _, query := range []string{"", "?x=1"} { // the plain path and serve
			a := te.do(t, req{path: path + query, headers: map[string]string{"Host": host}})
			loc := w.location
			if query != "" && loc != "" {
				loc += query
			}
			if a.status != w.status || a.location != loc || a.header.Get("Cache-Control") != w.cache ||
				(a.header.Get("X-Robots-Tag") == "noindex") != w.noindex {
				t.Errorf("%s%s%s: %d %q cache %q robots %q, want %+v", host, path, query, a.status, a.location,
					a.header.Get("Cache-Control"), a.header.Get("X-Robots-Tag"), w)
			}
		}
	}
	check("go.example", "/a", want{301, "https://example.com/a", "public, max-age=3600", false})
	check("go.example", "/b", want{307, "https://example.com/b", "no-store", false})
	check("go.example", "/capped", want{301, "https://example.com/c", "no-store", false})
	check("go.example", "/rules", want{301, "https://example.com/r", "no-store", false})
	check("quiet.example", "/a", want{302, "https://example.com/qa", "no-store", true})
	check("quiet.example", "/i", want{302, "https://example.com/qi", "no-store", false})
	check("localhost", "/a", want{302, "https://example.com/local", "no-store", true})

	for _, tc := range []struct{ host, robots string }{
		{"go.example", "Allow: /"}, {"quiet.example", "Disallow: /"}, {"localhost", "Allow: /"},
	} {
		if a := te.do(t, req{path: "/robots.txt", headers: map[string]string{"Host": tc.host}}); a.status != 200 ||
			!strings.Contains(a.body, "User-agent: *\n"+tc.robots+"\n") {
			t.Errorf("%s/robots.txt: %d %q", tc.host, a.status, a.body)
		}
	}
	if a := te.do(t, req{path: "/", headers: map[string]string{"Host": "quiet.example"}}); a.status != 200 ||
		!strings.Contains(a.body, "<h1>quiet.example</h1>") || a.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("placeholder: %d %q", a.status, a.body)
	}
	if a := te.do(t, req{path: "/"}); a.status != 404 || !strings.Contains(a.body, "Link not found") {
		t.Errorf("default domain's root: %d %q", a.status, a.body)
	}

	// The domain changes: its links follow, the answer table's included.
	te.apply(t, kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example", OrgID: "org_1", Version: 2,
		RedirectStatus: 307}})
	check("go.example", "/a", want{307, "https://example.com/a", "no-store", true})
	check("go.example", "/rules", want{307, "https://example.com/r", "no-store", true})
	if a := te.do(t, req{path: "/robots.txt", headers: map[string]string{"Host": "go.example"}}); !strings.Contains(a.body, "Disallow: /") {
		t.Errorf("robots.txt, no longer indexable: %q", a.body)
	}
}

// Plain HTTP for a host with a certificate goes to HTTPS (308, path and
// query kept) unless the domain opts out, ACME HTTP-01 excepted; a host
// without a certificate stays on HTTP; HSTS is sent over HTTPS only, when
// the domain asks. The edge follows certificates and settings as they
// change.
func TestHTTPSRedirectAndHSTS(t *testing.T) {
	const (
		host   = "links.example.test"
		bare   = "bare.example.test" // no certificate
		token  = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
		hstsOn = "max-age=31536000"
	)
	keys, ca := newTLSFixture(t)
	te := startTLSEngine(t, keys,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: host, OrgID: "org_1", Version: 1, HSTS: true}},
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: bare, OrgID: "org_1", Version: 1, HSTS: true}},
		put(kv.Link{Domain: host, Slug: "promo", URL: "https://example.com/promo"}),
		put(kv.Link{ID: "link_bare", Domain: bare, Slug: "promo", URL: "https://example.com/bare"}),
		kv.Op{Type: kv.OpPutCertificate, Certificate: ptr(ca.leaf(t, host, 100, keys, 1))},
		kv.Op{Type: kv.OpPutChallenge, Challenge: &kv.Challenge{Token: token, KeyAuth: token + ".thumb"}})
	plain := func(h, path string) answer {
		t.Helper()
		return te.do(t, req{path: path, headers: map[string]string{"Host": h}})
	}
	overTLS := func(path string) *http.Response {
		t.Helper()
		resp, err := httpsClient(ca.pool, host, te.srv.TLSAddr()).Get("https://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	for _, path := range []string{"/promo", "/promo?utm_source=x&a=%20b", "/", "/robots.txt", "/missing/"} {
		a := plain(host+":8080", path)
		if a.status != 308 || a.location != "https://"+host+path || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("http://%s%s: %d %q %q", host, path, a.status, a.location, a.header.Get("Cache-Control"))
		}
		if a.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("http://%s%s: HSTS over plain HTTP", host, path)
		}
	}
	if a := plain(host, kv.ChallengePath+token); a.status != 200 || a.body != token+".thumb" {
		t.Errorf("ACME over HTTP: %d %q", a.status, a.body)
	}
	if a := plain(bare, "/promo"); a.status != 302 || a.location != "https://example.com/bare" {
		t.Errorf("no certificate: %d %q", a.status, a.location)
	}
	resp := overTLS("/promo")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/promo" ||
		resp.Header.Get("Strict-Transport-Security") != hstsOn {
		t.Errorf("HTTPS: %d %q HSTS %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Strict-Transport-Security"))
	}
	if resp := overTLS("/missing"); resp.StatusCode != 404 || resp.Header.Get("Strict-Transport-Security") != hstsOn {
		t.Errorf("HTTPS not found: %d HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}

	// The domain opts out of the redirect and of HSTS.
	te.apply(t, kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: host, OrgID: "org_1", Version: 2, NoHTTPSRedirect: true}})
	if a := plain(host, "/promo"); a.status != 302 || a.location != "https://example.com/promo" {
		t.Errorf("redirect off: %d %q", a.status, a.location)
	}
	if resp := overTLS("/promo"); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS off: %q", resp.Header.Get("Strict-Transport-Security"))
	}
	// Back on; then the certificate goes and plain HTTP stays.
	te.apply(t, kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: host, OrgID: "org_1", Version: 3}})
	if a := plain(host, "/promo"); a.status != 308 {
		t.Errorf("redirect on again: %d %q", a.status, a.location)
	}
	te.apply(t, kv.Op{Type: kv.OpDeleteCertificate, Certificate: &kv.Certificate{Host: host}})
	if a := plain(host, "/promo"); a.status != 302 {
		t.Errorf("certificate deleted: %d %q", a.status, a.location)
	}
	// A certificate arriving after its domain starts the redirect.
	te.apply(t, kv.Op{Type: kv.OpPutCertificate, Certificate: ptr(ca.leaf(t, bare, 200, keys, 1))})
	if a := plain(bare, "/promo?x=1"); a.status != 308 || a.location != "https://"+bare+"/promo?x=1" {
		t.Errorf("certificate added: %d %q", a.status, a.location)
	}
}
