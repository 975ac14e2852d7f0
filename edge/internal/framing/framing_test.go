package framing

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"testing"

	"github.com/valyala/fasthttp"
)

// RequestSize frames what clients send before fasthttp parses it: whatever
// the bytes, it reports a size within them that ends after a head of CRLF
// lines, a status refusing them, or that more is needed — never more than
// one. The bytes may come in any pieces: going on from where the call on a
// prefix left off (as the loop does when more arrives) gives the answer a
// call on all of them gives, and so does a plain reading of every line
// (requestSizeEveryLine).
func FuzzRequestSize(f *testing.F) {
	for _, s := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
		"POST /a HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n",
		"\r\n\r\n",
		"POST /a HTTP/1.1\r\nTran\u017ffer-Encoding: chunked\r\n\r\n", // a long s folds to s
		"POST /a HTTP/1.1\r\nX: 1\r\ncontent-length:2\r\nCONTENT-LENGTH: 2\r\n\r\nab",
		"POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\npassword=\r\n\r\nb", // the body holds a blank line
		"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
		"GET /a HTTP/1.1\nHost: x\n\n",                  // bare LF
		"GET /a HTTP/1.1\r\nHost: x\n\r\n",              // a bare LF ends a header line
		"GET /a HTTP/1.1\r\nHost: x\r\n\n",              // and the head
		"GET /a\r\n",                                    // HTTP/0.9
		"GET /a HTTP/1.1 \r\nHost: x\r\n\r\n",           // no version at the end
		"GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", // obs-fold
		"GET /a HTTP/1.1\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\rY: z\r\n\r\n", // a bare CR
		"\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", // empty lines first (EmptyLines skips them)
		"\n\r\n\r",
		"GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, _ := EmptyLines(b, Scan{}); len(bytes.ReplaceAll(bytes.ReplaceAll(b[:k], []byte("\r\n"), nil), []byte("\n"), nil)) != 0 ||
			bytes.HasPrefix(b[k:], []byte("\n")) || bytes.HasPrefix(b[k:], []byte("\r\n")) {
			t.Fatalf("EmptyLines(%q) = %d", b, k)
		}
		size, status, head := RequestSize(b, Scan{})
		if size == 0 && status == 0 && head.end > 0 {
			ExpectsContinue(b[:head.end]) // reads the head RequestSize framed, without panicking
		}
		if s2, st2 := requestSizeEveryLine(b); s2 != size || st2 != status {
			t.Fatalf("%q: every line read: %d %d, RequestSize: %d %d", b, s2, st2, size, status)
		}
		for part := range len(b) { // the first part bytes came first
			s1, st1, scan := RequestSize(b[:part], Scan{})
			if s1 != 0 || st1 != 0 {
				continue // the loop answers or refuses the prefix
			}
			if s2, st2, _ := RequestSize(b, scan); s2 != size || st2 != status {
				t.Fatalf("%q: %d bytes, then the rest: %d %d, all at once: %d %d", b, part, s2, st2, size, status)
			}
		}
		var scan Scan // a byte at a time, each call going on from the last
		for part := range len(b) + 1 {
			s1, st1, next := RequestSize(b[:part], scan)
			if s1 != 0 || st1 != 0 || part == len(b) {
				if s1 != size || st1 != status {
					t.Fatalf("%q: a byte at a time: %d %d after %d bytes, all at once: %d %d", b, s1, st1, part, size, status)
				}
				break
			}
			scan = next
		}
		switch {
		case status != 0 && size != 0:
			t.Fatalf("size %d and status %d", size, status)
		case status != 0 && (status < 400 || status > 499):
			t.Fatalf("status %d", status)
		case size < 0 || size > len(b):
			t.Fatalf("size %d of %d bytes", size, len(b))
		case size > 0 && (head.end > MaxHeader || !bytes.HasSuffix(b[:head.end], []byte("\r\n\r\n"))):
			t.Fatalf("size %d, head %q", size, b[:head.end])
		case size > 0 && size != head.end+head.length:
			t.Fatalf("size %d, head %d, body %d", size, head.end, head.length)
		case size > 0 && bytes.Count(b[:head.end], []byte("\n")) != bytes.Count(b[:head.end], []byte("\r\n")):
			t.Fatalf("a bare LF in the head %q", b[:head.end])
		case size > 0 && (bytes.Contains(b[:head.end], []byte("\n ")) || bytes.Contains(b[:head.end], []byte("\n\t"))):
			t.Fatalf("obs-fold in the head %q", b[:head.end])
		}
	})
}

// requestSizeEveryLine is RequestSize without its shortcuts (going on from
// where a prefix left off, skipping lines by their first byte): what it
// must agree with. Both read a framing header with framingHeader.
func requestSizeEveryLine(b []byte) (size, status int) {
	var s Scan
	at := 0 // where the line begins
	for n, line := range bytes.SplitAfter(b, []byte("\n")) {
		at += len(line)
		switch content, crlf := bytes.CutSuffix(line, []byte("\r\n")); {
		case !bytes.HasSuffix(line, []byte("\n")): // unfinished: it ends at len(b) or later
			if len(b) >= MaxHeader {
				return 0, fasthttp.StatusRequestHeaderFieldsTooLarge
			}
			return 0, 0
		case at > MaxHeader:
			return 0, fasthttp.StatusRequestHeaderFieldsTooLarge
		case !crlf:
			return 0, fasthttp.StatusBadRequest
		case n == 0:
			if !requestLine.Match(content) {
				return 0, fasthttp.StatusBadRequest
			}
		case len(content) == 0:
			if len(b) < at+s.length {
				return 0, 0
			}
			return at + s.length, 0
		case content[0] == ' ' || content[0] == '\t':
			return 0, fasthttp.StatusBadRequest
		default:
			if status := framingHeader(content, &s); status != 0 {
				return 0, status
			}
		}
	}
	return 0, 0 // b is empty
}

var requestLine = regexp.MustCompile(`(?s)^.+ HTTP/[0-9]\.[0-9]$`)

// ExpectsContinue: only an HTTP/1.1 request whose headers are all in and ask
// for it.
func TestExpectsContinue(t *testing.T) {
	for _, tc := range []struct {
		b    string
		want bool
	}{
		{"POST /pw HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", true},
		{"POST /pw HTTP/1.1\r\nexpect:100-Continue \r\nContent-Length: 5\r\n\r\nab", true},
		{"POST /pw HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", false},
		{"POST /pw HTTP/1.1\r\nContent-Length: 5\r\n\r\n", false},
		{"POST /pw HTTP/1.1\r\nExpect: 100-continue-later\r\nContent-Length: 5\r\n\r\n", false},
	} {
		b := []byte(tc.b)
		size, status, head := RequestSize(b, Scan{})
		if size != 0 || status != 0 || head.end == 0 {
			t.Fatalf("%q: size %d status %d head %+v", tc.b, size, status, head)
		}
		if got := ExpectsContinue(b[:head.end]); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.b, got, tc.want)
		}
	}
}

// BenchmarkRequestSize frames a browser's request read whole, as a loop
// does before every answer: 0 allocs/op.
func BenchmarkRequestSize(b *testing.B) {
	req := []byte("GET /abc HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) " +
		"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if size, _, _ := RequestSize(req, Scan{}); size != len(req) {
			b.Fatal(size)
		}
	}
}

// framedConn frames what fasthttp's server reads as the loops frame it:
// whatever the bytes and however they come, fasthttp gets all of them, or,
// when the loops refuse a request among them (loopFraming), the bytes
// before it and at most a part of it that came earlier, never its whole
// head; then the stream ends, the loops' refusal written, and what
// fasthttp writes after that goes nowhere.
func FuzzFramedConn(f *testing.F) {
	for _, s := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nab\ncdGET /b HTTP/1.1\r\n\r\n", // a bare LF in a body is the body's
		"\r\n\r\nGET /a HTTP/1.1\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\nHost: x\n\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"GET /a\r\n",
		"\r\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
	} {
		f.Add([]byte(s), []byte{1, 7, 3})
		f.Add([]byte(s), []byte{64})
	}
	f.Fuzz(func(t *testing.T, b, pieces []byte) {
		if len(pieces) == 0 {
			pieces = []byte{0}
		}
		conn := &piecesConn{b: b, pieces: pieces}
		c := &framedConn{Conn: conn}
		var got []byte
		p := make([]byte, 5+int(pieces[0]%64)) // fasthttp's buffer, smaller
		for {
			n, err := c.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		c.Write([]byte("fasthttp's answer"))
		refusedAt, status := loopFraming(b)
		wrote, ok := []byte("fasthttp's answer"), bytes.Equal(got, b)
		if status != 0 {
			wrote = AppendRefusal(nil, status)
			ok = len(got) >= refusedAt && bytes.HasPrefix(b, got) && !bytes.Contains(got[refusedAt:], []byte("\r\n\r\n"))
		}
		if !ok || !bytes.Equal(conn.wrote, wrote) {
			t.Fatalf("%q in pieces %v: fasthttp read %q and the client got %q; the loops take %q and refuse with %d",
				b, pieces, got, conn.wrote, b[:refusedAt], status)
		}
	})
}

// loopFraming is how an event loop frames b: the requests it takes, then
// where the one it refuses begins (len(b): none) and the status.
func loopFraming(b []byte) (refusedAt, status int) {
	for off := 0; ; {
		skip, _ := EmptyLines(b[off:], Scan{})
		off += skip
		size, status, _ := RequestSize(b[off:], Scan{})
		switch {
		case status != 0:
			return off, status
		case size == 0:
			return len(b), 0
		}
		off += size
	}
}

// piecesConn is a connection whose client sends b in pieces of the given
// sizes, in turn (0: 1 byte), then closes.
type piecesConn struct {
	net.Conn
	b, pieces []byte
	next      int
	wrote     []byte
}

func (c *piecesConn) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), max(1, int(c.pieces[c.next%len(c.pieces)])))
	c.next++
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func (c *piecesConn) Write(p []byte) (int, error) {
	c.wrote = append(c.wrote, p...)
	return len(p), nil
}
