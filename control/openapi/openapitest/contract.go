// Package openapitest checks an API under test against its OpenAPI
// document (control/openapi): Contract wraps the handler a test serves,
// and every request and answer that passes through is validated with
// kin-openapi; a mismatch fails the test that started the server. The API's
// own tests (control/api) and its Go client's (control/apiclient) run
// through it.
package openapitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/h0p/h0p/control/openapi"
)

// Doc is the API's document as kin-openapi loads it, validated, its
// server "/" so that it matches any test server's requests.
var Doc = sync.OnceValues(func() (*openapi3.T, error) {
	d, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	r, err := d.Render(openapi.ProfileFull, "/")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.JSON)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
})

// Contract wraps a handler serving the API (the router, or a proxy to a
// running control node): every request and answer is checked
// against the document, and a mismatch fails the test that started the
// server.
//
//   - A request the document rejects must be answered 4xx or 5xx (a
//     bad-input test doing its job); answered 2xx or 3xx, the document is
//     too strict or the API too lax.
//   - An answer must match the document: a status it lists, its headers,
//     and its JSON body (other bodies, like CSV and images: status and
//     Content-Type only).
//   - A request to no operation of the document (unknown routes and
//     methods) must be answered 4xx or 5xx in the error envelope.
func Contract(t testing.TB, next http.Handler) http.Handler {
	doc, err := Doc()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapi router: %v", err)
	}
	var checks sync.WaitGroup
	t.Cleanup(checks.Wait)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		check := r.Clone(context.Background())
		check.Body = io.NopCloser(bytes.NewReader(body))
		answer := exchange{status: rec.status(), header: rec.Header().Clone(), body: rec.body.Bytes()}
		// Checked apart, so that tests timing the API do not time the
		// check; the test ends once every check has.
		checks.Go(func() {
			if msg := checkExchange(doc, router, check, answer); msg != "" {
				t.Errorf("contract: %s %s → %d: %s", check.Method, check.URL.RequestURI(), answer.status, msg)
			}
		})
	})
}

// exchange is an answer as the client got it.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

func checkExchange(doc *openapi3.T, router routers.Router, r *http.Request, ans exchange) string {
	status := ans.status
	route, params, err := router.FindRoute(r)
	if err != nil {
		if status < 400 {
			return "answered a request to no operation of the document: " + err.Error()
		}
		var v any
		if err := json.Unmarshal(ans.body, &v); err != nil {
			return "answer to no operation is not JSON: " + err.Error()
		}
		if err := doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return "answer to no operation is not the error envelope: " + err.Error()
		}
		return ""
	}
	// The API reads a body as its operation's one media type whatever
	// the Content-Type (curl -d sends a form's): check it as that.
	if rb := route.Operation.RequestBody; rb != nil && rb.Value != nil && len(rb.Value.Content) == 1 && r.Header.Get("Content-Type") == "" {
		for mt := range rb.Value.Content {
			r.Header.Set("Content-Type", mt)
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil && status < 400 {
		return "the document rejects the request the API accepted: " + err.Error()
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	mediaType, _, _ := mime.ParseMediaType(ans.header.Get("Content-Type"))
	if mediaType != "application/json" {
		opts.ExcludeResponseBody = true
		if len(ans.body) > 0 || mediaType != "" {
			resp := route.Operation.Responses.Status(status)
			if resp == nil {
				resp = route.Operation.Responses.Default()
			}
			if resp == nil || resp.Value == nil || resp.Value.Content.Get(mediaType) == nil {
				return "the document has no " + mediaType + " answer with this status"
			}
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: ans.header,
		Body: io.NopCloser(bytes.NewReader(ans.body)), Options: opts}
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		return "answer does not match the document: " + err.Error()
	}
	return ""
}

// recorder passes an answer through, keeping a copy.
type recorder struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("not a hijacker")
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
