// Package apiclient is a Go client of H0p's HTTP API: the one the h0p
// command's CLI and its stdio MCP server use, and the one a Go program
// calling the API can import.
//
// Contract:
//
//   - A Client holds the API's base URL and a key, sent as x-api-key on
//     every request; or, made by NewSession, a signed-in person's session
//     token (Authorization: Bearer) and the organization it acts in
//     (x-org-id). Its HTTP client is the caller's choice (HTTPClient), so
//     a server can route calls in-process through its own handler
//     (InProcess). Without one, redirects are refused (RefuseRedirect):
//     the key never follows one to another host.
//   - Do is the one place a request is made: JSON in, JSON out. Every answer
//     that is not 2xx comes back as *Error, the API's envelope (code,
//     message, details, request ID) with the HTTP status; an answer that is
//     not the envelope is an *Error with code INTERNAL and the status.
//   - Typed methods (CreateLink, ListLinks, GetStats, AddDomain, …) are
//     thin: a path, a query and the object types, whose fields are the
//     API's JSON names. Queries turn into parameters with Values, which the
//     caller can also hand to Do or Stream (exports take the stats query).
//   - Inputs (LinkInput, DomainInput) send only the fields set, so an
//     update touches nothing else; their Clear sends null for the fields
//     it names, which clears them.
//   - Lists answer one Page (data and nextCursor, "" on the last page);
//     AllLinks, AllDomains, … are iter.Seq2 iterators that follow the
//     cursor page by page and yield the first error as their last pair.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

// DefaultURL is where h0p dev and h0p control answer by default.
const DefaultURL = "http://127.0.0.1:8080"

// Client calls the API with one key.
type Client struct {
	base *url.URL
	key  string
	// session and org: a session token sent as a bearer token, and the
	// organization it acts in (NewSession).
	session, org string
	// HTTPClient makes the requests (nil: http.DefaultClient's transport,
	// refusing redirects, as RefuseRedirect does).
	HTTPClient *http.Client
	// UserAgent is sent with every request ("" : h0p-go).
	UserAgent string
}

// New is a client of the API at baseURL (DefaultURL when empty) with key.
func New(baseURL, key string) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("apiclient: API URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apiclient: API URL %q: want http(s)://host[:port]", baseURL)
	}
	return &Client{base: u, key: key}, nil
}

// NewSession is a client of the API at baseURL acting as the person
// signed in with session token (Authorization: Bearer), in organization
// orgID (x-org-id; "" names none, which the API accepts from a person in
// one organization). token "" calls the API without credentials: the
// public routes (Login, AcceptInvitation).
func NewSession(baseURL, token, orgID string) (*Client, error) {
	c, err := New(baseURL, "")
	if err != nil {
		return nil, err
	}
	c.session, c.org = token, orgID
	return c, nil
}

// defaultHTTPClient makes the requests of a Client without HTTPClient.
var defaultHTTPClient = &http.Client{CheckRedirect: RefuseRedirect}

// RefuseRedirect is an http.Client's CheckRedirect that follows no
// redirect: the API never answers one, and following it would send the
// key (x-api-key, which net/http copies to any host) wherever it points.
// The error names the Location.
func RefuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the API answered a redirect to %s, which it never does: not followed, so the API key "+
		"is not sent there (check the API URL)", req.URL.Redacted())
}

// Error is an answer of the API that is not a success.
type Error struct {
	Status    int
	Code      apierror.Code
	Message   string
	Details   []apierror.Detail
	RequestID string
	// RetryAfter is how long a RATE_LIMITED (or UNAVAILABLE) answer asked
	// the client to wait (its Retry-After header; 0: it did not say).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// IsCode reports whether err is an *Error with code.
func IsCode(err error, code apierror.Code) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Code == code
}

// Raw is a request body sent as it is, not as JSON (a CSV import, an
// upload).
type Raw struct {
	ContentType string
	Body        io.Reader
}

// Do sends method path?query with in as its JSON body (nil: none; a Raw
// as it is) and
// decodes a 2xx answer's JSON body into out (nil: discarded). path starts
// with /v1/ and is as sent: a segment that holds an id is escaped
// (url.PathEscape, once: the client's methods do it), so an id with '?'
// or '%' names that id and nothing else. The API routes on the unescaped
// path, where an escaped '/' would split the id into segments: a path
// with one is answered 404 NOT_FOUND here, without a call (no id has a
// '/').
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("apiclient: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// Stream sends like Do and hands a 2xx answer's body to the caller, who
// closes it (exports: CSV, NDJSON).
func (c *Client) Stream(ctx context.Context, method, path string, query url.Values, in any) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	u := *c.base
	if strings.Contains(strings.ToUpper(path), "%2F") {
		return nil, &Error{Status: http.StatusNotFound, Code: apierror.NotFound,
			Message: "no resource has an id with '/'"}
	}
	p, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	u.Path, u.RawPath = c.base.Path+p, c.base.EscapedPath()+path
	u.RawQuery = query.Encode()
	var body io.Reader
	contentType := "application/json"
	switch in := in.(type) {
	case nil:
	case Raw:
		body, contentType = in.Body, in.ContentType
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("apiclient: %s %s: encoding the body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("x-api-key", c.key)
	}
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	if c.org != "" {
		req.Header.Set("x-org-id", c.org)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "h0p-go"
	}
	req.Header.Set("User-Agent", ua)
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

func readError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env apierror.Envelope
	var retry time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retry = time.Duration(secs) * time.Second
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Error.Code == "" {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: apierror.Internal, Message: msg, RetryAfter: retry}
	}
	e := env.Error
	return &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Message, Details: e.Details, RequestID: e.RequestID,
		RetryAfter: retry}
}
