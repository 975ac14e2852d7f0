package edge

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/edge/internal/framing"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
)

// FuzzPlainPath: wherever the plain path answers a request, fasthttp's
// parse and Server.serve give the same answer (status, Location,
// Cache-Control, X-Robots-Tag, whether the connection closes) and the same
// click, or none for a link or domain that is not tracked; an answer
// without a click is counted as untracked. The plain path's connection
// memo is kept across inputs, as a connection keeps it across requests.
func FuzzPlainPath(f *testing.F) {
	for _, s := range []string{
		"GET /abc HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n\r\n",
		"HEAD /abc/ HTTP/1.1\r\nhost: LOCALHOST\r\nuser-agent: curl/8.0\r\n\r\n",
		"GET /abc HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
		"GET /abc HTTP/1.0\r\nHost: localhost\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nConnection: Close\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, close\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 8.8.8.8, 10.0.0.1\r\nReferer: https://News.example:8/a?b\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nForwarded: for=\"[2001:db8::1]:80\";proto=https\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 8.8.8.8\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nForwarded: for=[\r\n\r\n", // crashed clientIP once
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nForwarded: for=\"[2001:db8::1\"\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: a\r\nHost: localhost\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost:localhost\r\nUser-Agent:\t Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots) \t\r\n\r\n",
		"GET /Perm HTTP/1.1\r\nHost: other.example\r\n\r\n",
		"GET /rules HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: other.example\r\n\r\n",
		"GET /dflt HTTP/1.1\r\nHost: other.example\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: secure.example\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: unknown.example\r\n\r\n",
		"GET /a.b HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /./abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET //abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /abc?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /%61bc HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /robots.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nX: caf\xc3\xa9\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\n folded\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nNo colon\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost : localhost\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: localhost\nX: y\r\n\r\n",
		"GET /abc HTTP/2.0\r\nHost: localhost\r\n\r\n",
		"GET http://localhost/abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"get /abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /abc  HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /abc HTTP/1.1\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: \r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET /quiet HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\n\r\n",
		"GET /abc HTTP/1.1\r\nHost: quiet.example\r\nReferer: https://a.example/\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	s := plainTestServer(f)
	var memo visitorMemo
	f.Fuzz(func(t *testing.T, b []byte, proxied bool) {
		size, status, _ := framing.RequestSize(b, framing.Scan{})
		if size == 0 || status != 0 {
			return
		}
		raw := b[:size]
		peer := netip.MustParseAddr("192.0.2.7")
		if proxied {
			peer = netip.MustParseAddr("127.0.0.1") // trusted: X-Forwarded-For counts
		}
		var r plainRequest
		if !parsePlainRequest(raw, &r) {
			return
		}
		var out plainRedirect
		untracked0 := untrackedCount(s)
		served := s.servePlain(&r, peer, &memo, &out)
		fast, fastClicked := takeClick(s)
		// An answer captures a click or counts as untracked, one of them;
		// no answer does neither.
		untracked := untrackedCount(s) - untracked0
		if n := untracked + map[bool]float64{true: 1}[fastClicked]; served && n != 1 || !served && n != 0 {
			t.Fatalf("%q: answered %v, clicked %v, untracked %v", raw, served, fastClicked, untracked)
		}

		// fasthttp and serve, as a loop gives them the request.
		var req fasthttp.Request
		br := bufio.NewReader(bytes.NewReader(raw))
		if err := req.ReadLimitBody(br, framing.MaxBody); err != nil || br.Buffered() != 0 {
			t.Fatalf("the plain path read %q, fasthttp refuses it (%v)", raw, err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: peer.AsSlice(), Port: 1234}, nil)
		s.handle(&ctx)
		h := &ctx.Response.Header
		if r.head != ctx.IsHead() || r.http10 == ctx.Request.Header.IsHTTP11() || r.close != ctx.Request.Header.ConnectionClose() {
			t.Fatalf("%q: plain path head %v HTTP/1.0 %v close %v, fasthttp %v %v %v", raw, r.head, r.http10, r.close,
				ctx.IsHead(), !ctx.Request.Header.IsHTTP11(), ctx.Request.Header.ConnectionClose())
		}
		slow, slowClicked := takeClick(s)
		if !served {
			return
		}
		if got := (plainRedirect{status: h.StatusCode(), location: string(h.Peek("Location")),
			cache: string(h.Peek("Cache-Control")), index: len(h.Peek("X-Robots-Tag")) == 0}); got != out {
			t.Fatalf("%q: plain path %+v, serve %+v", raw, out, got)
		}
		fast.ID, slow.ID = [16]byte{}, [16]byte{}
		if fastClicked != slowClicked || fast != slow {
			t.Fatalf("%q: plain path's click %v %+v, serve's %v %+v", raw, fastClicked, fast, slowClicked, slow)
		}
	})
}

// untrackedCount is how many redirects s answered without a click.
func untrackedCount(s *Server) float64 {
	n := 0.0
	for _, c := range s.m.untracked {
		if c != nil {
			n += testutil.ToFloat64(c)
		}
	}
	return n
}

// takeClick takes the one click s queued, if any.
func takeClick(s *Server) (clicks.Click, bool) {
	var e clicks.Encoder
	s.TakeClicks(&e)
	cs, err := e.Decode()
	if err != nil || len(cs) != 1 {
		return clicks.Click{}, false
	}
	return cs[0], true
}

// The plain path answers the ordinary request, through a real loop.
func TestPlainPathAnswers(t *testing.T) {
	s := plainTestServer(t)
	var r plainRequest
	req := "GET /abc HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\nReferer: https://a.example/x\r\n\r\n"
	if !parsePlainRequest([]byte(req), &r) || string(r.path) != "/abc" || string(r.userAgent) != "curl/8.0" {
		t.Fatalf("%+v", r)
	}
	var memo visitorMemo
	var out plainRedirect
	if !s.servePlain(&r, netip.MustParseAddr("192.0.2.7"), &memo, &out) || out.status != 302 || out.location != "https://example.com/abc" {
		t.Fatalf("%+v", out)
	}
	if c, _ := takeClick(s); c.LinkID != "link_abc" || c.RefererHost != "a.example" || !c.Bot {
		t.Fatalf("%+v", c)
	}
	// A link or domain not tracked: the same redirect, no click.
	for _, tc := range []struct{ req, location string }{
		{"GET /quiet HTTP/1.1\r\nHost: localhost\r\n\r\n", "https://example.com/quiet"},
		{"GET /abc HTTP/1.1\r\nHost: quiet.example\r\n\r\n", "https://example.com/quiet-domain"},
	} {
		if !parsePlainRequest([]byte(tc.req), &r) || !s.servePlain(&r, netip.MustParseAddr("192.0.2.7"), &memo, &out) ||
			out.status != 302 || out.location != tc.location {
			t.Fatalf("%q: %+v", tc.req, out)
		}
		if c, ok := takeClick(s); ok {
			t.Fatalf("%q: click %+v", tc.req, c)
		}
	}
}

func putLinkOp(l kv.Link) kv.Op { return kv.Op{Type: kv.OpPutLink, Link: &l} }

// plainTestServer is an edge over a real store with a plain link on the
// default domain, one permanent and one with rules on a known domain, one
// not tracked and one on a domain not tracked, and 127.0.0.1 as a trusted
// proxy; it is not listening.
func plainTestServer(tb testing.TB) *Server {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := replication.OpenStore(tb.TempDir(), quiet)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cmd := kv.Command{Ops: []kv.Op{
		{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "other.example", NotFoundURL: "https://other.example/404", Version: 1,
			RedirectStatus: 308, Indexable: true}},
		putLinkOp(kv.Link{ID: "link_dflt", Domain: "other.example", Slug: "dflt", URL: "https://example.com/d", Version: 1}),
		{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "secure.example", Version: 1}},
		{Type: kv.OpPutCertificate, Certificate: &kv.Certificate{Host: "secure.example", ChainPEM: []byte("chain"), SealedKey: []byte("key"), Version: 1}},
		putLinkOp(kv.Link{ID: "link_sec", Domain: "secure.example", Slug: "abc", URL: "https://example.com/s", Version: 1}),
		putLinkOp(kv.Link{ID: "link_abc", Domain: "localhost", Slug: "abc", URL: "https://example.com/abc", Version: 1}),
		putLinkOp(kv.Link{ID: "link_a.b", Domain: "localhost", Slug: "a.b", URL: "https://example.com/ab",
			UTM: []kv.QueryParam{{Name: "utm_source", Value: "x"}}, Indexable: true, Version: 1}),
		putLinkOp(kv.Link{ID: "link_perm", Domain: "other.example", Slug: "Perm", URL: "https://example.com/p", Status: 301, Version: 1}),
		putLinkOp(kv.Link{ID: "link_rules", Domain: "localhost", Slug: "rules", URL: "https://example.com/r",
			Rules: []kv.Rule{{URL: "https://fr.example/", Languages: []string{"fr"}}}, Version: 1}),
		putLinkOp(kv.Link{ID: "link_quiet", Domain: "localhost", Slug: "quiet", URL: "https://example.com/quiet",
			DoNotTrack: true, Version: 1}),
		{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "quiet.example", DoNotTrack: true, Version: 1}},
		putLinkOp(kv.Link{ID: "link_qd", Domain: "quiet.example", Slug: "abc", URL: "https://example.com/quiet-domain", Version: 1}),
	}}
	if res := replication.NewFSM(store, quiet).Apply(&raft.Log{Index: 1, Data: cmd.Encode()}); res != nil {
		tb.Fatal(res)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := New(Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, ClickSalt: []byte("salt"),
		Now: func() time.Time { return now }}, store)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPlainPath measures a loop's plain path on a plain redirect,
// without the network: the parse and the answer, 0 allocs/op.
func BenchmarkPlainPath(b *testing.B) {
	s := plainTestServer(b)
	req := []byte("GET /abc HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) " +
		"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\nAccept: */*\r\n\r\n")
	peer := netip.MustParseAddr("192.0.2.7")
	var memo visitorMemo
	var r plainRequest
	var out plainRedirect
	var taken clicks.Encoder
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !parsePlainRequest(req, &r) || !s.servePlain(&r, peer, &memo, &out) {
			b.Fatal("not served")
		}
		if i%1024 == 0 { // the shipper's side, so the queue never fills
			s.TakeClicks(&taken)
		}
	}
}
