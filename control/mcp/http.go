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
	"net/http/httptest"
	"net/url"
	"strings"
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
	Version        string
	Logger         *slog.Logger
}

// DefaultSessionTimeout closes idle sessions.
const DefaultSessionTimeout = 30 * time.Minute

// inProcessURL is the base URL of the tools' API calls, which never leave
// the process: .invalid never resolves.
const inProcessURL = "http://api.h0p.invalid"

// NewHandler is the Streamable HTTP endpoint (/mcp): a caller the API
// has authenticated (it mounts the handler behind its guard) opens a
// session bound to its key, whose tools call the API in process with that
// key.
func NewHandler(cfg HTTPConfig) (http.Handler, error) {
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
		sum := sha256.Sum256([]byte(key))
		return &auth.TokenInfo{UserID: hex.EncodeToString(sum[:]),
			Extra: map[string]any{extraKey: key, extraRemote: r.RemoteAddr}}, nil
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(sdk)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			if n, err := origin(o); err != nil || !origins[n] {
				writeError(w, http.StatusForbidden, apierror.New(apierror.Forbidden,
					"origin %s may not call the MCP endpoint (allowed: the API's own, and --mcp-allowed-origins)", o))
				return
			}
		}
		if r.Method == http.MethodGet {
			// No server-initiated messages: no standalone SSE stream, which
			// the API's request and write timeouts would end anyway.
			w.Header().Set("Allow", "POST, DELETE")
			writeError(w, http.StatusMethodNotAllowed, apierror.New(apierror.MethodNotAllowed,
				"GET is not allowed on /mcp: this server sends no messages of its own; POST requests"))
			return
		}
		key := credential(r)
		if key == "" {
			writeError(w, http.StatusUnauthorized, apierror.New(apierror.Unauthorized, "missing API key: send it in the x-api-key header"))
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+key)
		ew := &envelopeWriter{ResponseWriter: w}
		bind.ServeHTTP(ew, r)
		ew.finish()
	}), nil
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

func (w *envelopeWriter) finish() {
	if w.status == 0 {
		return
	}
	msg := strings.TrimSpace(w.text.String())
	if m, ok := refusals[msg]; ok {
		msg = m
	}
	code := map[int]apierror.Code{
		http.StatusBadRequest: apierror.ValidationError, http.StatusForbidden: apierror.Forbidden,
		http.StatusNotFound: apierror.NotFound, http.StatusMethodNotAllowed: apierror.MethodNotAllowed,
		http.StatusRequestEntityTooLarge: apierror.PayloadTooLarge, http.StatusUnsupportedMediaType: apierror.UnsupportedMediaType,
	}[w.status]
	if code == "" {
		code = apierror.Internal
	}
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, w.status, apierror.New(code, "%s", msg))
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
	c, err := apiclient.New(inProcessURL, key)
	if err != nil {
		return nil, err
	}
	c.HTTPClient = &http.Client{Transport: inProcess{api: api, remoteAddr: remote}}
	c.UserAgent = "h0p-mcp"
	return c, nil
}

// inProcess answers a request with the API's handler, in this process:
// the request passes the API's middleware as one from the network would,
// from the MCP caller's address.
type inProcess struct {
	api        http.Handler
	remoteAddr string
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = t.remoteAddr
	req.RequestURI = req.URL.RequestURI()
	// A ResponseRecorder is the whole of an in-memory ResponseWriter and its
	// *http.Response; API answers are small JSON bodies or one file.
	rec := httptest.NewRecorder()
	t.api.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
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

// writeError answers err in the API's envelope, with the request ID the
// API's router gave the request.
func writeError(w http.ResponseWriter, status int, err *apierror.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apierror.NewEnvelope(err, w.Header().Get("X-Request-Id")))
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
