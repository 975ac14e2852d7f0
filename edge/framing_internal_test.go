package edge

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// requestSize frames what clients send before fasthttp parses it: whatever
// the bytes, it reports a size within them that ends after the headers, a
// status refusing them, or that more is needed — never more than one. The
// bytes may come in any pieces: resuming where the call on a prefix left
// off (as the loop does when more arrives) gives the answer a call on all
// of them gives.
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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size, status, searched := requestSize(b, 0)
		if size == 0 && status == 0 {
			expectsContinue(b, searched) // reads what requestSize searched, without panicking
		}
		end := bytes.Index(b, []byte("\r\n\r\n"))
		for cut := range len(b) + 1 { // what a partly received request was already searched for
			if end >= 0 && end < cut-3 {
				break // the loop never resumes past a found end
			}
			if s2, st2, _ := requestSize(b, cut); s2 != size || st2 != status {
				t.Fatalf("resumed at %d: %d %d, from the start: %d %d", cut, s2, st2, size, status)
			}
		}
		for part := range len(b) { // the first part bytes came first
			s1, st1, searched := requestSize(b[:part], 0)
			if s1 != 0 || st1 != 0 {
				continue // the loop answers or refuses the prefix
			}
			if s2, st2, _ := requestSize(b, searched); s2 != size || st2 != status {
				t.Fatalf("%d bytes, then the rest: %d %d, all at once: %d %d", part, s2, st2, size, status)
			}
		}
		switch {
		case status != 0 && size != 0:
			t.Fatalf("size %d and status %d", size, status)
		case status != 0 && (status < 400 || status > 499):
			t.Fatalf("status %d", status)
		case size < 0 || size > len(b):
			t.Fatalf("size %d of %d bytes", size, len(b))
		case size > 0 && !bytes.Contains(b[:size], []byte("\r\n\r\n")):
			t.Fatalf("size %d ends before the headers do", size)
		case size > maxHeader+4+maxBody:
			t.Fatalf("size %d over the limits", size)
		}
		if s2, st2 := requestSizeEveryLine(b); s2 != size || st2 != status {
			t.Fatalf("every line read: %d %d, skipping lines: %d %d", s2, st2, size, status)
		}
	})
}

// requestSizeEveryLine is requestSize without its shortcuts (resuming a
// scan, skipping lines by their first byte): what it must agree with. Both
// read a header line with framingHeader.
func requestSizeEveryLine(b []byte) (size, status int) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 && len(b) > maxHeader || end > maxHeader {
		return 0, fasthttp.StatusRequestHeaderFieldsTooLarge
	}
	if end < 0 {
		return 0, 0
	}
	body := -1
	for line := range bytes.SplitSeq(b[:end], []byte("\r\n")) {
		if body, status = framingHeader(line, body); status != 0 {
			return 0, status
		}
	}
	body = max(body, 0)
	if len(b) < end+4+body {
		return 0, 0
	}
	return end + 4 + body, 0
}

// expectsContinue: only an HTTP/1.1 request whose headers are all in and ask
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
		{"POST /pw HTTP/1.1\r\nExpect: 100-continue\r\nContent-Le", false}, // headers not all in
	} {
		b := []byte(tc.b)
		size, status, searched := requestSize(b, 0)
		if size != 0 || status != 0 {
			t.Fatalf("%q: size %d status %d", tc.b, size, status)
		}
		if got := expectsContinue(b, searched); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.b, got, tc.want)
		}
	}
}
