package edge

import (
	"bytes"
	"testing"
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
