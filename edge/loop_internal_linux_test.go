package edge

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// requestSize frames what clients send before fasthttp parses it: whatever
// the bytes, it reports a size within them that ends after the headers, a
// status refusing them, or that more is needed — never more than one.
func FuzzRequestSize(f *testing.F) {
	for _, s := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
		"POST /a HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n",
		"\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size, status := requestSize(b)
		switch {
		case status != 0 && size != 0:
			t.Fatalf("size %d and status %d", size, status)
		case status != 0 && (status < 400 || status > 499):
			t.Fatalf("status %d", status)
		case size < 0 || size > len(b):
			t.Fatalf("size %d of %d bytes", size, len(b))
		case size > 0 && !bytes.Contains(b[:size], []byte("\r\n\r\n")):
			t.Fatalf("size %d ends before the headers do", size)
		case size > loopMaxHeader+4+loopMaxBody:
			t.Fatalf("size %d over the limits", size)
		}
	})
}

// A connection that sends half a request, or nothing after its last answer,
// is closed once its timeout passes (checked every second).
func TestEventLoopsCloseSlowAndIdleConnections(t *testing.T) {
	e, err := listenLoops("127.0.0.1:0", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(204) }, nil, "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	e.readTimeout, e.idleTimeout = 200*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.serve(ctx, time.Second) }()
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
