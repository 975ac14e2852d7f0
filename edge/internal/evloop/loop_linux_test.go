package evloop

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// A connection that sends half a request, or nothing after its last answer,
// is closed once its timeout passes (checked every second).
func TestEventLoopsCloseSlowAndIdleConnections(t *testing.T) {
	e, err := Listen(Config{Addr: "127.0.0.1:0", Loops: 2, Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(204) },
		Name: "test", MaxConns: 100})
	if err != nil {
		t.Fatal(err)
	}
	e.readTimeout, e.idleTimeout = 200*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, time.Second) }()
	defer func() {
		cancel()
		<-done
	}()
	for _, send := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n",     // never finished
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // answered, then idle
	} {
		c, err := net.Dial("tcp", e.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, send)
		start := time.Now()
		rest, err := io.ReadAll(c) // until the edge closes it
		if err != nil {
			t.Fatalf("%q: %v", send, err)
		}
		if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
			t.Fatalf("%q: closed after %v", send, took)
		}
		if strings.HasSuffix(send, "\r\n\r\n") != strings.HasPrefix(string(rest), "HTTP/1.1 204") {
			t.Fatalf("%q: got %q", send, rest)
		}
	}
}

// startLoops serves h from n loops until the test ends or stop is called
// (which returns serve's error).
func startLoops(t *testing.T, n int, h fasthttp.RequestHandler) (e *Server, stop func() error) {
	t.Helper()
	e, err := Listen(Config{Addr: "127.0.0.1:0", Loops: n, Handler: h, Name: "test", MaxConns: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, 2*time.Second) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return e, stop
}

// sendThenReset writes req to addr, waits, and closes the connection with
// an RST.
func sendThenReset(t *testing.T, addr, req string, wait time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, req)
	time.Sleep(wait)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// A client that pipelines requests and resets: once a write fails the loop
// never touches that fd number again, which the process may have given to
// something else meanwhile (here: files the handler opens).
func TestEventLoopsForgetAResetConnection(t *testing.T) {
	var mu sync.Mutex
	var files []*os.File
	e, _ := startLoops(t, 2, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/slow":
			time.Sleep(300 * time.Millisecond) // the client resets meanwhile
		case "/open":
			for range 4 {
				f, err := os.CreateTemp(t.TempDir(), "other")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				files = append(files, f)
				mu.Unlock()
			}
		}
		ctx.SetBodyString("response for " + string(ctx.Path()))
	})
	sendThenReset(t, e.addr.String(),
		"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /open HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n", 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, f := range files {
		if b, _ := os.ReadFile(f.Name()); len(b) > 0 {
			t.Errorf("a response went into another file (%s): %q", f.Name(), b)
		}
		if _, err := f.Stat(); err != nil {
			t.Errorf("another file was closed: %v", err)
		}
		f.Close()
	}
}

// A POST answered off the loop whose client went away, while the server
// stops: serve waits for its goroutine, which never writes to a closed
// eventfd (run with -race).
func TestEventLoopsStopWithAnswerOffTheLoop(t *testing.T) {
	e, stop := startLoops(t, 2, func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			time.Sleep(300 * time.Millisecond)
		}
	})
	sendThenReset(t, e.addr.String(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 50*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.Close()
}

// The framed bytes are exactly one request for fasthttp: a body announced
// with Expect: 100-continue reaches the handler, and a request hidden behind
// a bare-LF header block is refused rather than dropped unanswered.
func TestEventLoopsFraming(t *testing.T) {
	e, _ := startLoops(t, 2, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(string(ctx.Method()) + " " + string(ctx.Path()) + " body=" + string(ctx.PostBody()))
	})
	for _, tc := range []struct{ req, want string }{
		{"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\npassword=s3cret", "POST /a body=password=s3cret"},
		{"GET /a HTTP/1.1\nHost: x\n\nGET /hidden HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request"},
		{"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST /a body=hello"},
	} {
		c, err := net.Dial("tcp", e.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, tc.req+"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%q: got %q, want %q in it", tc.req, b, tc.want)
		}
	}
}

// The kernel spreads connections over the loops' sockets by a hash; the
// loops move them so each serves as many (within one), which is what
// keeps one loop's clients from waiting longer than the other's.
func TestEventLoopsBalanceConnections(t *testing.T) {
	e, _ := startLoops(t, 4, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(204) })
	if len(e.loops) != 4 {
		t.Fatalf("%d loops", len(e.loops))
	}
	for range 64 {
		c, err := net.Dial("tcp", e.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(b, "HTTP/1.1 204") {
			t.Fatalf("%q %v", b, err)
		}
	}
	for i, l := range e.loops {
		if n := l.open.Load(); n != 16 {
			t.Errorf("loop %d serves %d connections, want 16 of 64", i, n)
		}
	}
}
