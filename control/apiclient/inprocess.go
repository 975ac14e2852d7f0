package apiclient

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// InProcessURL is a base URL for clients whose transport is InProcess:
// their requests never leave the process, and .invalid never resolves.
const InProcessURL = "http://api.h0p.invalid"

// InProcess is a transport that answers every request with h, the API's
// handler, in this process: the request passes the API's middleware
// (authentication, rate limits, checks) as one from the network would,
// from remoteAddr (the caller's address, which the API's per-IP limits
// and audit log see). Answers are held in memory: the API's are small
// JSON bodies or one file.
func InProcess(h http.Handler, remoteAddr string) http.RoundTripper {
	return inProcess{api: h, remoteAddr: remoteAddr}
}

type inProcess struct {
	api        http.Handler
	remoteAddr string
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = t.remoteAddr
	req.RequestURI = req.URL.RequestURI()
	if req.Body == nil {
		req.Body = http.NoBody
	}
	w := &memoryWriter{header: http.Header{}}
	t.api.ServeHTTP(w, req)
	return w.response(req), nil
}

// memoryWriter holds an answer of the API in memory, for inProcess.
type memoryWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *memoryWriter) Header() http.Header { return w.header }

func (w *memoryWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *memoryWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: the whole answer is read at once.
func (w *memoryWriter) Flush() {}

func (w *memoryWriter) response(req *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK)
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header.Clone(), ContentLength: int64(w.body.Len()),
		Body: io.NopCloser(bytes.NewReader(w.body.Bytes())), Request: req,
	}
}
