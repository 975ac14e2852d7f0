package apiclient

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// InProcessStream is InProcess for answers too large to hold in memory
// (exports): the response comes back as soon as h has written its status,
// and its body is read while h writes it, through a pipe, so h's writes
// wait for the reader. Closing the body before its end makes h's next
// write fail, which ends the export; so does the request's context. A
// handler that panics (http.ErrAbortHandler: the API cut a download that
// failed) ends the body with an error, never with io.EOF, so a broken
// export never reads as a whole one.
func InProcessStream(h http.Handler, remoteAddr string) http.RoundTripper {
	return inProcessStream{api: h, remoteAddr: remoteAddr}
}

type inProcessStream struct {
	api        http.Handler
	remoteAddr string
}

func (t inProcessStream) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = t.remoteAddr
	req.RequestURI = req.URL.RequestURI()
	if req.Body == nil {
		req.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.commit(http.StatusInternalServerError)
				if p == http.ErrAbortHandler {
					pw.CloseWithError(fmt.Errorf("apiclient: the API cut its answer short: %w", io.ErrUnexpectedEOF))
					return
				}
				pw.CloseWithError(fmt.Errorf("apiclient: the API's handler panicked: %v", p))
				return
			}
			w.commit(http.StatusOK)
			pw.Close()
		}()
		t.api.ServeHTTP(w, req)
	}()
	<-w.ready
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, ContentLength: -1, Body: pr, Request: req,
	}, nil
}

// pipeWriter is the ResponseWriter of InProcessStream: its status and
// header are committed once (ready), its body goes down the pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	// status and sent (the header as committed) are read once ready is
	// closed.
	status int
	sent   http.Header
}

func (w *pipeWriter) commit(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 200 {
		w.commit(code)
	}
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.commit(http.StatusOK)
	return w.pw.Write(p)
}

// Flush commits the status: the body is the reader's as it is written.
func (w *pipeWriter) Flush() { w.commit(http.StatusOK) }
