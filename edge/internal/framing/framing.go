// Package framing says where each HTTP/1.1 request a client sends ends,
// the same way for both of the edge's servers: the event loops call
// RequestSize on what they buffered, and fasthttp's server reads through
// Listener's connections, since its own parser takes some of what these
// rules refuse. A proxy in front, the loops and fasthttp thus agree on
// where every request ends.
//
// A request's head is lines ending in CRLF. Empty lines before its request
// line, a bare LF among them too, are ignored (EmptyLines; RFC 9112 2.2).
// A request is refused with a status as soon as a line of its head cannot
// be taken, and the connection closes after the refusal (AppendRefusal):
//   - a bare LF (400): fasthttp's parser takes one as a line end but ends a
//     head only at CRLFCRLF, so a client ending its lines in LF alone would
//     wait for the read timeout;
//   - a request line without an HTTP/x.y version at its end (400), such as
//     HTTP/0.9's "GET /x", whose client sends nothing more;
//   - a header line beginning with a space or tab (obs-fold, 400; RFC 9112
//     5.2): fasthttp joins it to the line before, a proxy in front may not,
//     and the two would frame the bytes after it differently;
//   - a Content-Length that is not one number (400) or over MaxBody (413),
//     a Transfer-Encoding (411: bodies come with a length), a head over
//     MaxHeader (431).
//
// Framing reads only what it needs (line ends, Content-Length,
// Transfer-Encoding); parsing the rest is the servers' business.
package framing

import (
	"bytes"
	"io"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Limits of a request, on both servers: its head (the request line and
// header fields, each with its CRLF, and the empty line ending them) and
// its body, which only the password form has.
const (
	MaxHeader = 8 << 10
	MaxBody   = 4 << 10
)

// Scan is how far readHead read a request's head, for the call that
// goes on when more bytes come; the zero value starts a request. A client
// sending a byte at a time costs a look at the new bytes, not at all of
// them.
type Scan struct {
	read     int  // bytes read: whole lines, the request line and header fields
	searched int  // bytes searched for the end of the line after them
	length   int  // the Content-Length among them
	sized    bool // there was one
	end      int  // the head's length once its empty line has come; 0 before
}

// HeadLen is the length of the head once it has all come (its empty line
// read), 0 before.
func (s Scan) HeadLen() int { return s.end }

// RequestSize is the length of the request at the start of b once it has
// all come (its head and its Content-Length of body; 0 while it has not),
// or a status refusing it. b begins with the request line (EmptyLines
// skips what comes before). s is where the call on a prefix of b left the
// head (next, returned while the request has not all come).
func RequestSize(b []byte, s Scan) (size, status int, next Scan) {
	if s.end == 0 {
		if status = readHead(b, &s); status != 0 || s.end == 0 {
			return 0, status, s
		}
	}
	if len(b) < s.end+s.length {
		return 0, 0, s // the body has not all come
	}
	return s.end + s.length, 0, s
}

// readHead reads the head at the start of b, a line at a time, on from
// where s stands, and moves s on (end set once the head has all come). It
// returns a status refusing the request at its first line that cannot be
// taken, or 0. Only lines that may be Content-Length or Transfer-Encoding
// are looked into.
func readHead(b []byte, s *Scan) int {
	for i, from := s.read, max(s.read, s.searched); ; i, from = s.read, s.read {
		lf := bytes.IndexByte(b[from:], '\n')
		if lf < 0 {
			if len(b) >= MaxHeader { // the line's end would be past it
				return fasthttp.StatusRequestHeaderFieldsTooLarge
			}
			s.searched = len(b)
			return 0
		}
		lf += from
		switch line := b[i:max(i, lf-1)]; {
		case lf >= MaxHeader:
			return fasthttp.StatusRequestHeaderFieldsTooLarge
		case lf == 0 || b[lf-1] != '\r':
			return fasthttp.StatusBadRequest // a bare LF
		case i == 0:
			if !hasVersion(line) {
				return fasthttp.StatusBadRequest
			}
		case len(line) == 0:
			s.end = lf + 1
			return 0
		case line[0] == ' ' || line[0] == '\t':
			return fasthttp.StatusBadRequest // obs-fold
		case len(line) >= len("Content-Length:") && (line[0]|0x20 == 'c' || line[0]|0x20 == 't'):
			if status := framingHeader(line, s); status != 0 {
				return status
			}
		}
		s.read = lf + 1
	}
}

// hasVersion reports whether a request line ends in " HTTP/x.y".
func hasVersion(line []byte) bool {
	n := len(line)
	return n > len(" HTTP/1.1") && string(line[n-9:n-3]) == " HTTP/" &&
		'0' <= line[n-3] && line[n-3] <= '9' && line[n-2] == '.' && '0' <= line[n-1] && line[n-1] <= '9'
}

// EmptyLines is how many bytes of empty lines (CRLF or a bare LF) b begins
// with while no line of the request in it was read (s), and s as it stands
// after them: a client may send some between requests, and they are
// ignored. A CR at the end of b may begin one and is not counted.
func EmptyLines(b []byte, s Scan) (int, Scan) {
	if s.read != 0 {
		return 0, s
	}
	n := 0
	for {
		switch {
		case n < len(b) && b[n] == '\n':
			n++
		case n+1 < len(b) && b[n] == '\r' && b[n+1] == '\n':
			n += 2
		case n > 0:
			return n, Scan{} // what was searched was these lines
		default:
			return 0, s
		}
	}
}

// ExpectsContinue reports whether head, a request's whole head (readHead
// read it; the body has not all come), is HTTP/1.1 with Expect:
// 100-continue: its client waits for a 100 Continue (or for its own
// timeout, a second for curl) before it sends the body.
func ExpectsContinue(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
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

// framingHeader reads one header line for the request's framing into s,
// and returns a status refusing the request, or 0.
func framingHeader(line []byte, s *Scan) int {
	name, value, ok := bytes.Cut(line, []byte(":"))
	switch {
	case !ok:
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
		if err != nil || n < 0 || s.sized { // two lengths: which would the next hop believe?
			return fasthttp.StatusBadRequest
		}
		if n > MaxBody {
			return fasthttp.StatusRequestEntityTooLarge
		}
		s.length, s.sized = n, true
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		return fasthttp.StatusLengthRequired
	}
	return 0
}

// AppendRefusal appends the answer to a request refused with status, after
// which the connection closes.
func AppendRefusal(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, fasthttp.StatusMessage(status)...)
	return append(b, "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"...)
}

// Listener gives fasthttp's server the connections of ln framed
// (framedConn): it reads what the event loops take and gets the loops'
// refusal of what they refuse.
func Listener(ln net.Listener) net.Listener { return framedListener{ln} }

// framedListener gives fasthttp's server its connections as framedConns.
type framedListener struct{ net.Listener }

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c}, nil
}

// framedConn is a connection of fasthttp's server as its reader sees it.
// Bytes go on to fasthttp as they arrive, so its timeouts and its view of
// an active connection are its own, and on the way readHead reads each
// request's head and its Content-Length of body is counted through: both
// servers take and refuse the same requests. Of a request readHead
// refuses, fasthttp gets only what came in earlier reads, never a whole
// head. It answers the requests before it and reads on; that read writes
// the refusal the loops write (fasthttp flushes its answers before it
// waits for a request's bytes) and ends the stream: fasthttp closes the
// connection, and what it writes to it meanwhile (its own error for a head
// cut short) is dropped.
type framedConn struct {
	net.Conn
	head    []byte // the start of a head that has not all come
	scan    Scan   // how far it was read
	body    int    // bytes of the last request's body still to come
	refused int    // the status refusing the request cut off; 0: none
	done    bool   // the refusal is written: reads end, writes go nowhere
}

func (c *framedConn) Read(p []byte) (int, error) {
	if c.refused != 0 {
		return 0, c.refuse()
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if k, status := c.frame(p[:n]); status != 0 {
			c.refused = status
			if k == 0 {
				return 0, c.refuse()
			}
			return k, nil
		}
	}
	return n, err
}

func (c *framedConn) Write(p []byte) (int, error) {
	if c.done {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// refuse writes the refusal once and ends the stream.
func (c *framedConn) refuse() error {
	if !c.done {
		c.done = true
		c.Conn.Write(AppendRefusal(nil, c.refused))
	}
	return io.EOF
}

// frame reads b, the bytes just received, and returns how many of them go
// on to fasthttp: all of them, or those before a request it refuses with
// status.
func (c *framedConn) frame(b []byte) (int, int) {
	for i := 0; i < len(b); {
		if c.body > 0 {
			n := min(c.body, len(b)-i)
			c.body -= n
			i += n
			continue
		}
		rest, at := b[i:], i // the head from here on, and where in b it begins
		if len(c.head) > 0 {
			at -= len(c.head)
			c.head = append(c.head, rest...)
			rest = c.head
		}
		k, scan := EmptyLines(rest, c.scan)
		rest, at = rest[k:], at+k
		status := readHead(rest, &scan)
		switch {
		case status != 0:
			return max(at, 0), status
		case scan.end == 0: // the head goes on in bytes to come
			if len(rest) != len(c.head) { // rest is in fasthttp's buffer, or after skipped lines
				c.head = append(c.head[:0], rest...)
			}
			c.scan = scan
			return len(b), 0
		}
		if cap(c.head) > 4<<10 {
			c.head = nil // a connection keeps a usual head's worth
		}
		c.head, c.scan, c.body = c.head[:0], Scan{}, scan.length
		i = at + scan.end
	}
	return len(b), 0
}
