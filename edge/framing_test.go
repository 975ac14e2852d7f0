package edge_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/kv"
)

// bothServers runs test against an edge holding /a → a.example and /b →
// b.example served by each server: the event loops (on Linux) and
// fasthttp's (Config.FasthttpServer, the only one elsewhere).
func bothServers(t *testing.T, test func(t *testing.T, addr string)) {
	t.Helper()
	for _, server := range []struct {
		name     string
		fasthttp bool
	}{{"event loops", false}, {"fasthttp", true}} {
		t.Run(server.name, func(t *testing.T) {
			te := startEngine(t, func(*testEdge) edge.Config {
				return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
					FasthttpServer: server.fasthttp}
			}, put(kv.Link{Slug: "a", URL: "https://a.example/"}), put(kv.Link{Slug: "b", URL: "https://b.example/"}))
			test(t, te.srv.Addr())
		})
	}
}

// exchange writes each of writes to a new connection to addr, 50 ms
// apart (so the edge reads them apart), and reads the responses until the
// edge closes the connection. It returns their statuses and locations, as
// "302 https://a.example/, 400", and "silent" when the edge neither
// answered nor closed for 3 s: its read timeout is 10 s, and a request it
// cannot take is answered at once.
func exchange(t *testing.T, addr string, writes ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, w := range writes {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := io.WriteString(c, w); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	var got []string
	for {
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				got = append(got, "silent")
			}
			return strings.Join(got, ", ")
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%q: response %d: %v", writes, len(got)+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if l := resp.Header.Get("Location"); l != "" {
			got = append(got, resp.Status[:3]+" "+l)
		} else {
			got = append(got, resp.Status[:3])
		}
	}
}

// A request line or header line ending in a bare LF, and a request line
// without an HTTP version (HTTP/0.9), get a 400 at once and the connection
// closes: the edge frames requests by CRLF alone, and a client that sends
// either would otherwise wait for the read timeout.
func TestBareLFAndHTTP09AreRefusedAtOnce(t *testing.T) {
	bothServers(t, func(t *testing.T, addr string) {
		const good = "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
		for _, writes := range [][]string{
			{"GET /a HTTP/1.1\nHost: localhost\n\n"},
			{"GET /a HTTP/1.1\nHost: localhost\r\n\r\n"},
			{"GET /a HTTP/1.1\r\nHost: localhost\n\r\n"},
			{"GET /a HTTP/1.1\r\nHost: localhost\r\n\n"},
			{"GET /a\r\n"},
			{"GET /a\r\nHost: localhost\r\n\r\n"},
			{"GET /a HTTP/1.1\r\nHost: localhost\r\n", "X: y\nZ: w\n\n"}, // after the request began
			{good + "GET /b\r\n"},                          // a kept-alive connection's next request
			{good, "GET /b HTTP/1.1\nHost: localhost\n\n"}, // the same, read apart
		} {
			want := "400"
			if strings.HasPrefix(writes[0], good) {
				want = "302 https://a.example/, 400"
			}
			if got := exchange(t, addr, writes...); got != want {
				t.Errorf("%q: %s, want %s and close", writes, got, want)
			}
		}
	})
}

// A header line that begins with a space or tab (obs-fold) gets one 400
// and the connection closes: nothing after it is answered, whatever a
// proxy in front made of the fold.
func TestObsFoldIsRefused(t *testing.T) {
	bothServers(t, func(t *testing.T, addr string) {
		const next = "GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n"
		for _, writes := range [][]string{
			{"GET /a HTTP/1.1\r\nHost: localhost\r\n Transfer-Encoding: chunked\r\n\r\n" + next},
			{"GET /a HTTP/1.1\r\nHost: localhost\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n" + next},
			{"GET /a HTTP/1.1\r\nX: y\r\n Transfer-Encoding: chunked\r\nHost: localhost\r\n\r\n" + next},
			{"GET /a HTTP/1.1\r\nHost: localhost\r\n", " Transfer-Encoding: chunked\r\n\r\n" + next}, // the fold comes later
			{"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n", "GET /a HTTP/1.1\r\nHost: localhost\r\n X: y\r\n\r\n" + next},
		} {
			want := "400"
			if len(writes) > 1 && strings.HasSuffix(writes[0], "\r\n\r\n") {
				want = "302 https://a.example/, 400"
			}
			if got := exchange(t, addr, writes...); got != want {
				t.Errorf("%q: %s, want %s and close", writes, got, want)
			}
		}
	})
}

// Empty lines (CRLF, or a bare LF) before a request line are ignored, at
// the start of a connection and between requests on a kept-alive one.
func TestEmptyLinesBeforeARequestAreIgnored(t *testing.T) {
	bothServers(t, func(t *testing.T, addr string) {
		const (
			a    = "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
			last = "GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
		)
		for _, writes := range [][]string{
			{"\r\n\r\n" + a + last},
			{"\n\n" + a + last},
			{"\r\n\n\r\n" + a + "\r\n" + last},
			{a + "\r\n\r\n" + last},
			{a, "\r\n\r\n", last},
			{"\r", "\n", a, "\r\n\r", "\n" + last},
		} {
			const want = "302 https://a.example/, 302 https://b.example/"
			if got := exchange(t, addr, writes...); got != want {
				t.Errorf("%q: %s, want %s", writes, got, want)
			}
		}
	})
}
