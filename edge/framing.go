package edge

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Limits of a request, on both servers: its headers (the request line and
// header fields) and its body, which only the password form has.
const (
	maxHeader = 8 << 10
	maxBody   = 4 << 10
)

// requestSize is the length of the first request in b once it is complete
// (0 while it is not), or an HTTP status refusing it. The first scanned
// bytes are known not to hold the end of the headers: a client sending a
// byte at a time costs a scan of the new bytes, not of all of them. While
// the request is not complete, searched is what the next call may take as
// scanned: all of b while the headers go on, their end once they are
// complete and the body is not (resuming past it, the body's arrival
// would never be noticed).
func requestSize(b []byte, scanned int) (size, status, searched int) {
	from := max(0, min(scanned, len(b))-3)
	end := bytes.Index(b[from:], []byte("\r\n\r\n"))
	if end >= 0 {
		end += from
	}
	if end < 0 {
		if len(b) > maxHeader {
			return 0, fasthttp.StatusRequestHeaderFieldsTooLarge, 0
		}
		return 0, 0, len(b)
	}
	if end > maxHeader {
		return 0, fasthttp.StatusRequestHeaderFieldsTooLarge, 0
	}
	body := -1
	for rest := b[:end]; len(rest) > 0; {
		line := rest
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, rest = rest[:i], rest[i+2:]
		} else {
			rest = nil
		}
		// Only Content-Length and Transfer-Encoding matter: skip the
		// lines that cannot be either without looking for the colon.
		if len(line) < len("Content-Length:") || (line[0]|0x20 != 'c' && line[0]|0x20 != 't') {
			continue
		}
		if body, status = framingHeader(line, body); status != 0 {
			return 0, status, 0
		}
	}
	body = max(body, 0)
	if len(b) < end+4+body {
		return 0, 0, end
	}
	return end + 4 + body, 0, 0
}

// expectsContinue reports whether b, a request whose headers end at end
// (requestSize's searched) and whose body has not all come, is HTTP/1.1
// with Expect: 100-continue: its client waits for a 100 Continue (or for
// its own timeout, a second for curl) before it sends the body.
func expectsContinue(b []byte, end int) bool {
	if !bytes.HasPrefix(b[end:], []byte("\r\n\r\n")) {
		return false // the headers have not all come
	}
	line, rest, _ := bytes.Cut(b[:end], []byte("\r\n"))
	if !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return false
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Expect")) && bytes.EqualFold(bytes.TrimSpace(value), []byte("100-continue")) {
			return true
		}
	}
	return false
}

// framingHeader reads one header line for the request's framing. body is
// the Content-Length seen so far (-1: none); it returns the new one, or a
// status refusing the request.
func framingHeader(line []byte, body int) (int, int) {
	name, value, ok := bytes.Cut(line, []byte(":"))
	switch {
	case !ok:
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
		if err != nil || n < 0 || body >= 0 { // two lengths: which would the next hop believe?
			return 0, fasthttp.StatusBadRequest
		}
		if n > maxBody {
			return 0, fasthttp.StatusRequestEntityTooLarge
		}
		return n, 0
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		return 0, fasthttp.StatusLengthRequired
	}
	return body, 0
}
