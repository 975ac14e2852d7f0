package edge

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
)

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":      "example.com",
		"example.com:8081": "example.com",
		"example.com.":     "example.com",
		"[::1]:8081":       "[::1]",
		"127.0.0.1:80":     "127.0.0.1",
		"":                 "!",
		"a b":              "!",
		"[::1":             "!",
		"ex\x00ample":      "!",
		"a:b:c":            "!",
	} {
		got, ok := normalizeHost(nil, []byte(in))
		if !ok {
			got = []byte("!")
		}
		if string(got) != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNormalizeHost: the Host header is attacker-controlled.
func FuzzNormalizeHost(f *testing.F) {
	f.Add([]byte("Example.com:443"))
	f.Add([]byte("[2001:db8::1]:80"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := normalizeHost(nil, in)
		if !ok {
			return
		}
		if len(got) == 0 || !bytes.Equal(got, bytes.ToLower(got)) {
			t.Fatalf("normalizeHost(%q) = %q", in, got)
		}
		again, ok := normalizeHost(nil, got)
		if !ok || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q → %q → %q", in, got, again)
		}
	})
}

// FuzzServe: any request line and Host header gets an answer, never a panic.
func FuzzServe(f *testing.F) {
	f.Add("/abc", "localhost")
	f.Add("/%00", "a:b:c")
	f.Add("/../../etc/passwd", "[::1]:80")
	s, _ := benchServer(f)
	f.Fuzz(func(t *testing.T, path, host string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost(host)
		s.serve(&ctx)
		if code := ctx.Response.StatusCode(); code >= 500 {
			t.Fatalf("%q %q → %d", path, host, code)
		}
	})
}

func benchServer(tb testing.TB) (*Server, *replication.Store) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := replication.OpenStore(tb.TempDir(), quiet)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	fsm := replication.NewFSM(store, quiet)
	fsm.Apply(&raft.Log{Index: 1, Data: kv.PutLink(kv.Link{ID: "link_1", Domain: "localhost", Slug: "abc", URL: "https://example.com/a?b=1", Version: 1}).Encode()})
	s, err := New(Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", ClickSalt: []byte("salt"), Logger: quiet}, store)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, store
}

// BenchmarkResolve measures the handler on a plain redirect, without the
// network. The plain redirect must stay at 0 allocs/op.
func BenchmarkResolve(b *testing.B) {
	s, _ := benchServer(b)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/abc")
	ctx.Request.Header.SetHost("localhost")
	ctx.Request.Header.SetUserAgent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
	var taken clicks.Encoder
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ctx.Response.Reset()
		s.handle(&ctx)
		if ctx.Response.StatusCode() != 302 {
			b.Fatal(ctx.Response.StatusCode())
		}
		if i%1024 == 0 { // the shipper's side, so the queue never fills
			s.TakeClicks(&taken)
		}
	}
}

// The User-Agent cache answers like a fresh parse and stays bounded under
// a stream of unique headers.
func TestAgentCache(t *testing.T) {
	c := newAgentCache(64)
	for _, ua := range []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"curl/8.5.0",
		"",
	} {
		first, second := c.classify([]byte(ua)), c.classify([]byte(ua))
		p := uaParser().Parse(ua)
		want := agent{device: p.Device(), os: p.OS(), browser: p.Browser()}
		want.bot, want.social = botKind([]byte(ua), p.IsBot())
		if first != want || second != want {
			t.Errorf("%q: got %+v then %+v, want %+v", ua, first, second, want)
		}
	}
	for i := range 10_000 {
		c.classify(fmt.Appendf(nil, "agent/%d", i))
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > 64 {
		t.Fatalf("%d entries kept, bound 64", n)
	}
}
