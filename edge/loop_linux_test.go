package edge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
)

// rawEdge runs an edge (event loops, Linux's default) holding /a → a.example
// and answers raw HTTP written to it.
func rawEdge(t *testing.T, maxConns int) string {
	t.Helper()
	te := startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet, MaxConns: maxConns}
	}, put(kv.Link{Slug: "a", URL: "https://a.example/"}), put(kv.Link{Slug: "b", URL: "https://b.example/"}))
	return strings.TrimPrefix(te.url, "http://")
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Pipelined requests, a request sent a byte at a time, HEAD and
// Connection: close on one connection, as fasthttp's server answered them.
func TestEventLoopsKeepHTTPSemantics(t *testing.T) {
	addr := rawEdge(t, 0)
	c, br := dial(t, addr)
	fmt.Fprint(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []struct {
		status   int
		location string
	}{{302, "https://a.example/"}, {302, "https://b.example/"}, {404, ""}} {
		resp := readResponse(t, br, "GET")
		if resp.StatusCode != want.status || resp.Header.Get("Location") != want.location {
			t.Fatalf("pipelined: %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), want.status, want.location)
		}
		if resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "h0p" {
			t.Fatalf("headers %v", resp.Header)
		}
	}
	for _, b := range []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n") {
		c.Write([]byte{b})
		time.Sleep(time.Millisecond)
	}
	if resp := readResponse(t, br, "GET"); resp.StatusCode != 302 {
		t.Fatalf("byte by byte: %d", resp.StatusCode)
	}
	fmt.Fprint(c, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp := readResponse(t, br, "HEAD"); resp.StatusCode != 302 || resp.Header.Get("Location") != "https://a.example/" {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	fmt.Fprint(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.StatusCode != 302 || !resp.Close {
		t.Fatalf("Connection: close: %d close=%v", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after Connection: close: %v", err)
	}

	// HTTP/1.0 asking for keep-alive gets it.
	c, br = dial(t, addr)
	fmt.Fprint(c, "GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.StatusCode != 302 || resp.Close {
		t.Fatalf("HTTP/1.0 keep-alive: %d close=%v", resp.StatusCode, resp.Close)
	}
	fmt.Fprint(c, "GET /b HTTP/1.0\r\nHost: x\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.StatusCode != 302 || resp.Header.Get("Location") != "https://b.example/" {
		t.Fatalf("second HTTP/1.0 request: %d", resp.StatusCode)
	}
}

// Requests the loop cannot take get a status and a closed connection;
// nothing reaches the handler.
func TestEventLoopsRefuseBadRequests(t *testing.T) {
	addr := rawEdge(t, 0)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"headers too large", "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("x", 9<<10) + "\r\n\r\n", 431},
		{"no end of headers within the limit", "GET /a HTTP/1.1\r\nX: " + strings.Repeat("x", 9<<10), 431},
		{"body too large", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413},
		{"chunked body", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
		{"bad content length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"two content lengths", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"not HTTP", "HELLO\r\n\r\n", 400},
	} {
		c, br := dial(t, addr)
		fmt.Fprint(c, tc.req)
		resp := readResponse(t, br, "GET")
		if resp.StatusCode != tc.status || !resp.Close {
			t.Errorf("%s: %d close=%v, want %d and close", tc.name, resp.StatusCode, resp.Close, tc.status)
		}
	}
}

// Beyond MaxConns a new connection gets a 503 at once; the ones open keep
// working.
func TestEventLoopsLimitConnections(t *testing.T) {
	addr := rawEdge(t, 2) // one per loop on 2 CPUs, or 2 on one
	var open []net.Conn
	refused := 0
	for range 6 {
		c, br := dial(t, addr)
		fmt.Fprint(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		resp := readResponse(t, br, "GET")
		switch resp.StatusCode {
		case 302:
			open = append(open, c)
		case 503:
			refused++
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if len(open) > 2 || refused == 0 {
		t.Fatalf("%d connections served, %d refused, limit 2", len(open), refused)
	}
}

// Slow requests (a POSTed password form) are answered off the loop: while
// one waits, other connections are served.
func TestEventLoopsAnswerPostsOffTheLoop(t *testing.T) {
	hash := password.Hash("s3cret", password.Params{Memory: 1024, Time: 1, Threads: 1})
	te := startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet}
	}, put(kv.Link{Slug: "pw", URL: "https://secret.example/", PasswordHash: hash}), put(kv.Link{Slug: "a", URL: "https://a.example/"}))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			a := te.do(t, req{method: "POST", path: "/pw", body: "password=s3cret"})
			if a.status != 303 || a.location != "/pw" { // the cookie is set; GET it again
				t.Errorf("POST: %d %q", a.status, a.location)
			}
		})
	}
	for range 20 {
		if a := te.do(t, req{path: "/a"}); a.status != 302 {
			t.Errorf("GET during POSTs: %d", a.status)
		}
	}
	wg.Wait()
}

// dialPasswordLink connects to an edge (event loops) holding /pw, a link
// whose password is s3cret.
func dialPasswordLink(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	hash := password.Hash("s3cret", password.Params{Memory: 1024, Time: 1, Threads: 1})
	te := startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet}
	}, put(kv.Link{Slug: "pw", URL: "https://secret.example/", PasswordHash: hash}))
	return dial(t, strings.TrimPrefix(te.url, "http://"))
}

// A form whose body arrives after its headers, in pieces, is answered once
// it is whole, even when the body holds a blank line.
func TestEventLoopsReadBodiesThatArriveLater(t *testing.T) {
	c, br := dialPasswordLink(t)
	for _, tc := range []struct {
		body   string
		status int
	}{{"password=s3cret", 303}, {"password=\r\n\r\nx", 401}} {
		fmt.Fprintf(c, "POST /pw HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(tc.body))
		for _, piece := range []string{tc.body[:10], tc.body[10:]} {
			time.Sleep(20 * time.Millisecond) // so the loop reads the pieces apart
			fmt.Fprint(c, piece)
		}
		if resp := readResponse(t, br, "POST"); resp.StatusCode != tc.status {
			t.Fatalf("body %q in pieces: %d, want %d", tc.body, resp.StatusCode, tc.status)
		}
	}
}

// A client that sends Expect: 100-continue gets 100 Continue before it
// sends the body, then the answer; one whose body is over the limit gets
// 413 instead.
func TestEventLoopsAnswer100Continue(t *testing.T) {
	c, br := dialPasswordLink(t)
	head := "POST /pw HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
	for range 2 { // once per request on a connection
		fmt.Fprintf(c, head, len("password=s3cret"))
		if resp := readResponse(t, br, "POST"); resp.StatusCode != 100 {
			t.Fatalf("headers with Expect: %d, want 100", resp.StatusCode)
		}
		fmt.Fprint(c, "password=s3cret")
		if resp := readResponse(t, br, "POST"); resp.StatusCode != 303 {
			t.Fatalf("body after 100 Continue: %d, want 303", resp.StatusCode)
		}
	}
	fmt.Fprintf(c, head, 1<<20)
	if resp := readResponse(t, br, "POST"); resp.StatusCode != 413 {
		t.Fatalf("a body over the limit: %d, want 413", resp.StatusCode)
	}
}

// The same engine behind fasthttp's own server (FasthttpServer, the only
// server outside Linux) still answers.
func TestFasthttpServerStillServes(t *testing.T) {
	te := startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet, FasthttpServer: true}
	}, put(kv.Link{Slug: "a", URL: "https://a.example/"}))
	if a := te.do(t, req{path: "/a"}); a.status != 302 || a.location != "https://a.example/" {
		t.Fatalf("%d %q", a.status, a.location)
	}
}

// Stopping answers what is in flight and queued, and the first request of a
// connection accepted but still silent; it closes a connection that stays
// silent, then everything (Run returns), within the drain time.
func TestEventLoopsDrainOnStop(t *testing.T) {
	store, err := replication.OpenStore(t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet}, store)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	idle, ibr := dial(t, srv.Addr())
	fmt.Fprint(idle, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, ibr, "GET")
	partial, _ := dial(t, srv.Addr())
	fmt.Fprint(partial, "GET /x HTTP/1.1\r\n")
	fresh, fbr := dial(t, srv.Addr())  // its first request is on its way
	silent, sbr := dial(t, srv.Addr()) // opened ahead of need: never sends
	time.Sleep(50 * time.Millisecond)
	cancel()
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want it closed", err)
	}
	fmt.Fprint(partial, "Host: x\r\n\r\n") // completes its request
	resp := readResponse(t, bufio.NewReader(partial), "GET")
	if resp.StatusCode != 404 || !resp.Close {
		t.Fatalf("request finished during the drain: %d close=%v", resp.StatusCode, resp.Close)
	}
	fmt.Fprint(fresh, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp := readResponse(t, fbr, "GET"); resp.StatusCode != 404 || !resp.Close {
		t.Fatalf("first request on a new connection during the drain: %d close=%v", resp.StatusCode, resp.Close)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := sbr.ReadByte(); err != io.EOF {
		t.Fatalf("connection that never sent a request: %v, want it closed within seconds", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// The event loops write a plain redirect themselves (not through fasthttp's
// Response): the bytes must be those fasthttp's server sends, Date aside.
func TestPlainRedirectBytesAsFasthttpServer(t *testing.T) {
	links := []kv.Op{
		put(kv.Link{Slug: "a", URL: "https://a.example/x?y=1"}),
		put(kv.Link{Slug: "p", URL: "https://p.example/", Status: 301, Indexable: true}),
		put(kv.Link{Slug: "t", URL: "https://t.example/", Status: 307}),
		put(kv.Link{Slug: "q", URL: "https://q.example/", Status: 308, NoForwardQuery: true}),
		put(kv.Link{Slug: "n", URL: "https://n.example/\r\nSet-Cookie: a=b"}), // never from the API
	}
	engine := func(fast bool) *testEdge {
		return startEngine(t, func(*testEdge) edge.Config {
			return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true,
				Logger: quiet, FasthttpServer: fast}
		}, links...)
	}
	loops, fast := engine(false), engine(true)
	requests := []string{
		"GET /a HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
		"HEAD /a HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
		"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n",
		"GET /t HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
		"GET /q?utm=1 HTTP/1.1\r\nHost: localhost\r\nReferer: https://r.example/\r\n\r\n",
		"GET /a/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /n HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
	}
	for _, r := range requests {
		got, want := responseHead(t, loops.url, r), responseHead(t, fast.url, r)
		if got != want {
			t.Errorf("%q:\nevent loops:\n%s\nfasthttp's server:\n%s", r, got, want)
		}
		if strings.Contains(got, "\r\nSet-Cookie") {
			t.Errorf("%q: a line break in the location made a header:\n%s", r, got)
		}
	}
}

// responseHead sends one raw request and returns the response's head, its
// Date (checked) replaced by "-".
func responseHead(t *testing.T, base, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	var head []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(head), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%q: %v after %q", request, err, head)
		}
		head = append(head, buf[:n]...)
	}
	var lines []string
	for line := range strings.SplitSeq(string(head), "\r\n") {
		if date, ok := strings.CutPrefix(line, "Date: "); ok {
			if d, err := http.ParseTime(date); err != nil || time.Since(d).Abs() > time.Minute {
				t.Errorf("%q: Date: %q (%v)", request, date, err)
			}
			line = "Date: -"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\r\n")
}
