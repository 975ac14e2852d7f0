package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// KeyStore is what authentication needs of the control store.
type KeyStore interface {
	APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error
}

// Config wires the router.
type Config struct {
	Keys   KeyStore
	Pepper []byte
	Links  *links.Service
	// ShortLink renders the public URL of a domain+slug.
	ShortLink func(domain, key string) string
	Logger    *slog.Logger
	Now       func() time.Time
	// Registerer receives the API's metrics; nil registers nothing.
	Registerer prometheus.Registerer

	// Cluster mode (all nil/empty for a single control node): writes that
	// reach a follower go to the leader through ForwardTransport (mutual
	// TLS), and Cluster serves the node-to-node /cluster/ endpoints.
	Leader           Leadership
	ForwardTransport http.RoundTripper
	NodeID           string
	Cluster          http.Handler
}

type handler struct{ Config }

// NewRouter builds the HTTP handler of the API.
func NewRouter(cfg Config) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	h := &handler{cfg}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false

	r.Use(requestID, h.recoverPanic, h.observe(cfg.Registerer), h.limitBody)
	r.NoRoute(func(c *gin.Context) {
		h.fail(c, apierror.New(apierror.NotFound, "no route for %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		h.fail(c, apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	if cfg.Cluster != nil {
		r.Any("/cluster/*path", gin.WrapH(cfg.Cluster))
	}
	v1 := r.Group("/v1", h.forwardWrites, h.authenticate)
	v1.POST("/links", h.createLink)
	v1.GET("/links/:id", h.getLink)
	v1.DELETE("/links/:id", h.deleteLink)
	return r
}

const (
	ctxRequestID = "h0p.requestID"
	ctxPrincipal = "h0p.principal"
)

func requestID(c *gin.Context) {
	id := ids.New("req", time.Now())
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

// fail writes err in the envelope and aborts the chain. Only INTERNAL errors
// are logged, with the cause the client does not see.
func (h *handler) fail(c *gin.Context, err error) {
	e := apierror.From(err)
	if e.Code == apierror.Internal {
		h.Logger.Error("internal error", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path,
			"requestId", c.GetString(ctxRequestID))
	}
	body := gin.H{"code": e.Code, "message": e.Message, "requestId": c.GetString(ctxRequestID)}
	if len(e.Details) > 0 {
		body["details"] = e.Details
	}
	c.AbortWithStatusJSON(e.Code.Status(), gin.H{"error": body})
}

func (h *handler) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.Logger.Error("panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
				"requestId", c.GetString(ctxRequestID))
			h.fail(c, apierror.New(apierror.Internal, "internal error"))
		}
	}()
	c.Next()
}

func (h *handler) observe(reg prometheus.Registerer) gin.HandlerFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "h0p_api_requests_total",
		Help: "API requests by route, method and status.",
	}, []string{"route", "method", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "h0p_api_request_duration_seconds",
		Help:    "API request latency by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	if reg != nil {
		reg.MustRegister(requests, duration)
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
		duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		h.Logger.Debug("request", "method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"duration", time.Since(start), "requestId", c.GetString(ctxRequestID))
	}
}

func (h *handler) limitBody(c *gin.Context) {
	if c.Request.ContentLength > MaxBodyBytes {
		h.fail(c, apierror.New(apierror.PayloadTooLarge, "request body is larger than 1 MiB"))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	c.Next()
}

// decodeJSON reads the body into v: exactly one JSON value, no unknown
// fields. Errors name the field when there is one.
func decodeJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return apierror.Invalid("body", "must hold exactly one JSON object")
		}
		return nil
	}
	var (
		tooBig  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return apierror.New(apierror.PayloadTooLarge, "request body is larger than 1 MiB")
	case errors.Is(err, io.EOF):
		return apierror.Invalid("body", "is empty; send a JSON object")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return apierror.Invalid(field, "must be a "+jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierror.Invalid(field, "is not a known field")
	}
	return apierror.Invalid("body", "is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "struct", "map":
		return "JSON object"
	case "slice", "array":
		return "JSON array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// principal is who is calling: the key's org, the key and its user.
type principal struct {
	OrgID  string
	KeyID  string
	UserID string
}

// authenticate resolves the API key (x-api-key, or Authorization: Bearer).
// Malformed keys are refused before any lookup.
func (h *handler) authenticate(c *gin.Context) {
	key := c.GetHeader("x-api-key")
	if key == "" {
		if auth := c.GetHeader("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			key = strings.TrimSpace(auth[7:])
		}
	}
	if key == "" {
		h.fail(c, apierror.New(apierror.Unauthorized, "missing API key: send it in the x-api-key header"))
		return
	}
	if _, err := apikey.Parse(key); err != nil {
		h.fail(c, apierror.New(apierror.Unauthorized, "invalid API key"))
		return
	}
	k, err := h.Keys.APIKeyByDigest(c.Request.Context(), apikey.Digest(h.Pepper, key))
	if errors.Is(err, store.ErrNotFound) {
		h.fail(c, apierror.New(apierror.Unauthorized, "invalid API key"))
		return
	}
	if err != nil {
		h.fail(c, fmt.Errorf("authenticate: %w", err))
		return
	}
	now := h.Now()
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		h.fail(c, apierror.New(apierror.Unauthorized, "API key expired"))
		return
	}
	if now.Sub(k.LastUsedAt) >= time.Minute {
		if err := h.Keys.TouchAPIKey(c.Request.Context(), k.ID, now, time.Minute); err != nil {
			h.Logger.Warn("could not record key use", "keyId", k.ID, "err", err)
		}
	}
	c.Set(ctxPrincipal, principal{OrgID: k.OrgID, KeyID: k.ID, UserID: k.UserID})
	c.Next()
}

func actor(c *gin.Context) links.Actor {
	p := c.MustGet(ctxPrincipal).(principal)
	return links.Actor{OrgID: p.OrgID, ID: p.KeyID}
}
