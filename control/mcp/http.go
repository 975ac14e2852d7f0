package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// HTTPConfig shapes the Streamable HTTP endpoint.
type HTTPConfig struct {
	// API serves the tools' API calls in process: the API's own router,
	// so they pass its guard, rate limits and checks.
	API http.Handler
	// PublicURL is the API's base URL as clients reach it: its origin is
	// allowed, and the URLs tools answer start with it.
	PublicURL string
	// AllowedOrigins are the other origins (scheme://host[:port]) whose
	// pages may call the endpoint.
	AllowedOrigins []string
	// SessionTimeout closes a session idle this long (0: 30 minutes).
	SessionTimeout time.Duration
	// MaxSessionsPerKey bounds the sessions one API key holds open
	// (0: DefaultMaxSessionsPerKey).
	MaxSessionsPerKey int
	Version           string
	Logger            *slog.Logger
}

// DefaultSessionTimeout closes idle sessions.
const DefaultSessionTimeout = 30 * time.Minute

// DefaultMaxSessionsPerKey is how many sessions one key may hold open:
// a few clients (a desktop app, an editor, a script) with room to spare.
const DefaultMaxSessionsPerKey = 10

// Handler is the Streamable HTTP endpoint (/mcp). Close ends its sessions.
type Handler struct {
	server      *mcpsdk.Server
	serve       http.Handler // the SDK's handler, sessions bound to keys
	origins     map[string]bool
	maxSessions int
	timeout     time.Duration
	logger      *slog.Logger

	mu      sync.Mutex
	closed  bool
	byKey   map[string][]string // a key's digest → the sessions it opened
	opening map[string]int      // a key's digest → its initializes in flight
}

// NewHandler is the Streamable HTTP endpoint (/mcp): a caller the API
// has authenticated (it mounts the handler behind its guard) opens a
// session bound to its key, whose tools call the API in process with that
// key.
func NewHandler(cfg HTTPConfig) (*Handler, error) {
	origins := map[string]bool{}
	for _, o := range append([]string{cfg.PublicURL}, cfg.AllowedOrigins...) {
		if o == "" {
			continue
		}
		n, err := origin(o)
		if err != nil {
			return nil, fmt.Errorf("mcp: allowed origin %q: %w", o, err)
		}
		origins[n] = true
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSessionsPerKey == 0 {
		cfg.MaxSessionsPerKey = DefaultMaxSessionsPerKey
	}
	server := newServer(func(extra *mcpsdk.RequestExtra) (*apiclient.Client, error) {
		return sessionClient(cfg.API, extra)
	}, Options{Version: cfg.Version, Logger: warnings(cfg.Logger), APIURL: cfg.PublicURL})
	sdk := mcpsdk.NewStreamableHTTPHandler(func(*http.Request) *mcpsdk.Server { return server }, &mcpsdk.StreamableHTTPOptions{
		SessionTimeout: cfg.SessionTimeout,
		Logger:         warnings(cfg.Logger),
		// Our Origin allowlist is the DNS-rebinding guard; the SDK's
		// loopback-Host check would refuse every request a proxy on the
		// same host forwards with the public Host.
		DisableLocalhostProtection: true,
	})
	// The SDK binds a session to TokenInfo.UserID: the digest of the key
	// that opened it, which later requests of the session must present.
	bind := auth.RequireBearerToken(func(_ context.Context, key string, r *http.Request) (*auth.TokenInfo, error) {
		return &auth.TokenInfo{UserID: digest(key),
			Extra: map[string]any{extraKey: key, extraRemote: r.RemoteAddr}}, nil
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(sdk)
	return &Handler{server: server, serve: bind, origins: origins, maxSessions: cfg.MaxSessionsPerKey,
		timeout: cfg.SessionTimeout, logger: logger, byKey: map[string][]string{}, opening: map[string]int{}}, nil
}

func digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.AdmitOrigin(w, r) {
		return
	}
	if r.Method == http.MethodGet {
		// No server-initiated messages: no standalone SSE stream, which
		// the API's request and write timeouts would end anyway.
		w.Header().Set("Allow", "POST, DELETE")
		h.refuse(w, http.StatusMethodNotAllowed, apierror.New(apierror.MethodNotAllowed,
			"GET is not allowed on /mcp: this server sends no messages of its own; POST requests"))
		return
	}
	key := credential(r)
	if key == "" {
		h.refuse(w, http.StatusUnauthorized, apierror.New(apierror.Unauthorized, "missing API key: send it in the x-api-key header"))
		return
	}
	opens := r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == ""
	d := digest(key)
	if opens {
		if err := h.reserve(d); err != nil {
			h.refuse(w, apiStatus(err.Code), err)
			return
		}
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+key)
	ew := &envelopeWriter{ResponseWriter: w}
	h.serve.ServeHTTP(ew, r)
	if err := ew.finish(); err != nil {
		h.logger.Debug("answering a refusal of the SDK", "err", err)
	}
	if opens {
		h.opened(d, w.Header().Get("Mcp-Session-Id"))
	}
}

// reserve holds a place for a session key d opens, or refuses it: the
// server is closing, or d holds its most sessions already.
func (h *Handler) reserve(d string) *apierror.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return apierror.New(apierror.Unavailable, "the MCP endpoint is shutting down: retry on another control node or in a moment")
	}
	live := map[string]bool{}
	for ss := range h.server.Sessions() {
		live[ss.ID()] = true
	}
	// Forget the sessions that ended (closed, timed out, deleted), every
	// key's: a key that opens no more sessions leaves nothing behind.
	for k, ids := range h.byKey {
		ids = slices.DeleteFunc(ids, func(id string) bool { return !live[id] })
		if len(ids) == 0 {
			delete(h.byKey, k)
		} else {
			h.byKey[k] = ids
		}
	}
	if n := len(h.byKey[d]) + h.opening[d]; n >= h.maxSessions {
		return apierror.New(apierror.RateLimited, "this API key holds %d open MCP sessions, the most one key may: "+
			"reuse an open session (its Mcp-Session-Id), or close those you no longer use (DELETE /mcp with their "+
			"Mcp-Session-Id); idle sessions close after %s", n, h.timeout)
	}
	h.opening[d]++
	return nil
}

// opened records session id of key d ("" when none was made), whose
// place reserve held.
func (h *Handler) opened(d, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opening[d]--; h.opening[d] <= 0 {
		delete(h.opening, d)
	}
	if id != "" {
		h.byKey[d] = append(h.byKey[d], id)
	}
}

// Close ends every session, stopping their timers and goroutines, and
// refuses new ones: the SDK keeps sessions in memory until they time out.
// Requests of an ended session are 404, on which MCP clients start anew.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	h.byKey = map[string][]string{}
	h.mu.Unlock()
	var errs []error
	for ss := range h.server.Sessions() {
		if err := ss.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mcp: close session: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Headers of the endpoint's cross-origin answers.
const (
	corsMethods = "POST, DELETE"
	corsHeaders = "x-api-key, authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id"
	corsExpose  = "Mcp-Session-Id, Retry-After, X-Request-Id"
	corsMaxAge  = "600"
)

// AdmitOrigin applies the endpoint's origin policy to r, before any
// authentication (a browser's preflight carries no key), and reports
// whether it answered r. A request with an Origin that is neither the
// API's nor one of AllowedOrigins is 403 in the envelope. An allowed
// origin's OPTIONS (a CORS preflight) is 204 with what it may send; its
// other requests go on, their answers carrying Access-Control-Allow-Origin.
// OPTIONS without Origin is 204 with Allow.
func (h *Handler) AdmitOrigin(w http.ResponseWriter, r *http.Request) bool {
	hdr := w.Header()
	if !slices.Contains(hdr.Values("Vary"), "Origin") {
		hdr.Add("Vary", "Origin")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		if r.Method == http.MethodOptions {
			hdr.Set("Allow", "OPTIONS, "+corsMethods)
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		return false
	}
	if n, err := origin(o); err != nil || !h.origins[n] {
		h.refuse(w, http.StatusForbidden, apierror.New(apierror.Forbidden,
			"origin %s may not call the MCP endpoint (allowed: the API's own, and --mcp-allowed-origins)", o))
		return true
	}
	hdr.Set("Access-Control-Allow-Origin", o)
	hdr.Set("Access-Control-Expose-Headers", corsExpose)
	if r.Method != http.MethodOptions {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", corsMethods)
	hdr.Set("Access-Control-Allow-Headers", corsHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// envelopeWriter answers the SDK's refusals, which it writes as plain text
// (http.Error), in the API's error envelope, with the SDK's status.
// Everything else passes through, SSE streams flushed as they go.
type envelopeWriter struct {
	http.ResponseWriter
	status int // a refusal's, held until finish
	text   strings.Builder
}

func (w *envelopeWriter) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *envelopeWriter) Write(p []byte) (int, error) {
	if w.status != 0 {
		return w.text.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *envelopeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.status == 0 {
		f.Flush()
	}
}

func (w *envelopeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// refusals say what the SDK's terse refusals mean to a client.
var refusals = map[string]string{
	"session not found":     "MCP session not found: it was closed, timed out, or is held by another control node; initialize a new session",
	"session user mismatch": "this MCP session belongs to another API key: open a session with this key",
}

func (w *envelopeWriter) finish() error {
	if w.status == 0 {
		return nil
	}
	msg := strings.TrimSpace(w.text.String())
	if m, ok := refusals[msg]; ok {
		msg = m
	}
	w.Header().Del("X-Content-Type-Options")
	return writeError(w.ResponseWriter, w.status, apierror.New(sdkCode(w.status), "%s", msg))
}

// sdkCode is the product's code of a refusal status of the SDK's.
func sdkCode(status int) apierror.Code {
	switch status {
	case http.StatusForbidden:
		return apierror.Forbidden
	case http.StatusNotFound:
		return apierror.NotFound
	case http.StatusMethodNotAllowed:
		return apierror.MethodNotAllowed
	case http.StatusConflict:
		// A stream ID already in use: no code says "busy" but the
		// Idempotency-Key's, which this endpoint does not take; the
		// stream exists already.
		return apierror.AlreadyExist
	case http.StatusRequestEntityTooLarge:
		return apierror.PayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return apierror.UnsupportedMediaType
	}
	if status >= 400 && status < 500 {
		// 400 and the rest: the request was malformed.
		return apierror.ValidationError
	}
	return apierror.Internal
}

// apiStatus is the API's status of a code this endpoint answers itself.
func apiStatus(c apierror.Code) int {
	switch c {
	case apierror.RateLimited:
		return http.StatusTooManyRequests
	case apierror.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

const (
	extraKey    = "h0p.key"
	extraRemote = "h0p.remoteAddr"
)

// sessionClient is the API client of a request's session: its key, and
// the API's handler as its transport.
func sessionClient(api http.Handler, extra *mcpsdk.RequestExtra) (*apiclient.Client, error) {
	if extra == nil || extra.TokenInfo == nil {
		return nil, errors.New("mcp: a request without the session's key")
	}
	key, _ := extra.TokenInfo.Extra[extraKey].(string)
	remote, _ := extra.TokenInfo.Extra[extraRemote].(string)
	c, err := apiclient.New(apiclient.InProcessURL, key)
	if err != nil {
		return nil, err
	}
	// The tools' calls pass the API's middleware from the MCP caller's
	// address, as direct calls would.
	c.HTTPClient = &http.Client{Transport: apiclient.InProcess(api, remote)}
	c.UserAgent = "h0p-mcp"
	return c, nil
}

// credential reads x-api-key or a bearer token, as the API does.
func credential(r *http.Request) string {
	if key := r.Header.Get("x-api-key"); key != "" {
		return key
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// origin is s's scheme://host[:port], lowercase, without a default port.
func origin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want http(s)://host[:port]")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}

// refuse answers err in the envelope. A failure to write it is the
// client's connection's, past helping: logged at debug.
func (h *Handler) refuse(w http.ResponseWriter, status int, err *apierror.Error) {
	if e := writeError(w, status, err); e != nil {
		h.logger.Debug("answering a refusal", "err", e)
	}
}

// writeError answers err in the API's envelope, with the request ID the
// API's router gave the request.
func writeError(w http.ResponseWriter, status int, err *apierror.Error) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if e := json.NewEncoder(w).Encode(apierror.NewEnvelope(err, w.Header().Get("X-Request-Id"))); e != nil {
		return fmt.Errorf("mcp: write the error answer: %w", e)
	}
	return nil
}

// warnings is l for warnings and errors only: the SDK logs each session's
// start and end at info, which a control node's log does without.
func warnings(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	return slog.New(minLevel{l.Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
