package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/stats"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/control/webhooks"
	"github.com/h0p/h0p/shared/apierror"
)

// MaxBodyBytes bounds every request body but imports, which get
// MaxImportBytes.
const (
	MaxBodyBytes   = 1 << 20
	MaxImportBytes = 20 << 20
)

// Config wires the router.
type Config struct {
	Store    store.Queries // authentication reads keys, sessions and memberships
	Pepper   []byte
	Links    *links.Service
	Domains  *domains.Service
	Accounts *accounts.Service
	Stats    *stats.Service
	// Usage counts every request of a caller of an org and answers the
	// usage reads; nil counts nothing (and the usage routes answer 404).
	Usage    *usage.Recorder
	Webhooks *webhooks.Service
	Files    *files.Service
	// Logos loads the image file a QR code asks for as its logo; nil
	// answers such a request 400 on logo.
	Logos LogoSource
	// Limiter and Limits rate-limit every request: per key, per signed-in
	// user (Limits.ForSessions when the request's context is
	// ratelimit.Interactive: the dashboard's), per client IP without
	// credentials.
	Limiter ratelimit.Limiter
	Limits  ratelimit.Limits
	// LimitFailClosed answers 503 UNAVAILABLE when the Limiter errs
	// (its store does not answer); false lets the request through. The
	// Limiter reports its own failures (logs, metrics).
	LimitFailClosed bool
	// ShortLink renders the public URL of a domain+slug.
	ShortLink func(domain, key string) string
	// APIURL is the API's public base URL (for links to API resources,
	// like a link's qrCode).
	APIURL string
	Logger *slog.Logger
	Now    func() time.Time
	// Registerer receives the API's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// RequestTimeout ends each request's context this long after the
	// request reaches the router (0: never). Set below the server's write
	// timeout, it stops work that could not be answered in time (hashing,
	// waiting for the store's writer, a raft apply) before it commits, or
	// answers that it did not replicate.
	RequestTimeout time.Duration

	// Cluster mode (all nil/empty for a single control node): writes that
	// reach a follower go to the leader through ForwardTransport (mutual
	// TLS), and Cluster serves the node-to-node /cluster/ endpoints.
	Leader           Leadership
	ForwardTransport http.RoundTripper
	NodeID           string
	Cluster          http.Handler

	// MCP serves the MCP endpoint, /mcp, to callers with an API key
	// (control/mcp); nil: no such route.
	MCP http.Handler
	// Dashboard serves the web dashboard (control/dashboard) at / and
	// every path that is not the API's (IsAPIPath); nil: those are 404 in
	// the envelope, as every unknown route.
	Dashboard http.Handler
}

// LogoSource loads an image file of the principal's org for a QR code's
// logo: NOT_FOUND when there is no such file, VALIDATION_ERROR on logo
// when it is not an image.
type LogoSource interface {
	LogoImage(ctx context.Context, p access.Principal, id string) (image.Image, error)
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
	// The client IP (rate limits, audit log) is the TCP peer: a client must
	// not choose its own with X-Forwarded-For.
	r.SetTrustedProxies(nil)

	// observe is outside recoverPanic: it counts a panic's 500 too.
	r.Use(requestID, h.observe(cfg.Registerer), h.recoverPanic, h.limitBody)
	if cfg.RequestTimeout > 0 {
		r.Use(h.deadline)
	}
	r.NoRoute(func(c *gin.Context) {
		if cfg.Dashboard != nil && !IsAPIPath(c.Request.URL.Path) {
			c.Status(http.StatusOK) // gin's no-route status is 404 until a handler says otherwise
			cfg.Dashboard.ServeHTTP(c.Writer, c.Request)
			return
		}
		if h.identify(c) {
			h.fail(c, apierror.New(apierror.NotFound, "no route for %s %s", c.Request.Method, c.Request.URL.Path))
		}
	})
	r.NoMethod(func(c *gin.Context) {
		if h.identify(c) {
			h.fail(c, apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
		}
	})

	if cfg.Cluster != nil {
		r.Any("/cluster/*path", gin.WrapH(cfg.Cluster))
	}
	if cfg.MCP != nil {
		r.Any("/mcp", h.mcpGuard, gin.WrapH(cfg.MCP))
	}
	v1 := r.Group("", h.forwardWrites)
	for _, rt := range h.routes() {
		v1.Handle(rt.method, rt.path, h.guard(rt.need), h.idempotent(rt), rt.handle)
	}
	return r
}

// route is one endpoint and what it needs; every endpoint of the API is one.
type route struct {
	method, path string
	need         access.Need
	handle       gin.HandlerFunc
}

// RouteNeed is a route's declared permission, for the route table and tests.
type RouteNeed struct {
	Method, Path string
	Need         access.Need
}

// Routes lists every endpoint with what it needs.
func Routes() []RouteNeed {
	var out []RouteNeed
	for _, rt := range (&handler{}).routes() {
		out = append(out, RouteNeed{rt.method, rt.path, rt.need})
	}
	return out
}

func (h *handler) routes() []route {
	var (
		public  = access.Need{Public: true}
		session = access.Need{SessionOnly: true}
		member  = access.Need{Member: true}
		person  = access.Need{Person: true}
		admin   = access.Need{MinRole: identity.RoleAdmin}
	)
	links := func(a access.Action) access.Need { return access.Need{Resource: access.ShortLinks, Action: a} }
	doms := func(a access.Action) access.Need { return access.Need{Resource: access.Domains, Action: a} }
	hooks := func(a access.Action) access.Need { return access.Need{Resource: access.Webhooks, Action: a} }
	fileNeed := func(a access.Action) access.Need { return access.Need{Resource: access.Files, Action: a} }
	statsRead := access.Need{Resource: access.Stats, Action: access.Read}
	keys := func(a access.Action) access.Need {
		return access.Need{Resource: access.APIKeys, Action: a, OwnUserKey: true}
	}
	return []route{
		{"POST", "/v1/auth/login", public, h.login},
		{"POST", "/v1/auth/logout", session, h.logout},
		{"POST", "/v1/auth/password", session, h.changePassword},
		{"POST", "/v1/auth/password-reset", public, h.requestPasswordReset},
		{"POST", "/v1/auth/password-reset/confirm", public, h.resetPassword},
		{"POST", "/v1/auth/verify-email", session, h.verifyEmail},
		{"POST", "/v1/auth/verify-email/resend", session, h.resendVerification},
		{"GET", "/v1/me", person, h.me},
		{"POST", "/v1/orgs", session, h.createOrg},
		{"GET", "/v1/org", member, h.getOrg},
		{"PATCH", "/v1/org", admin, h.patchOrg},
		{"GET", "/v1/members", member, h.listMembers},
		{"PATCH", "/v1/members/:userId", admin, h.patchMember},
		{"DELETE", "/v1/members/me", person, h.leave},
		{"DELETE", "/v1/members/:userId", admin, h.removeMember},
		{"POST", "/v1/invitations", admin, h.invite},
		{"POST", "/v1/invitations/:token/accept", access.Need{Public: true, OptionalSession: true}, h.acceptInvitation},
		{"POST", "/v1/api-keys", keys(access.Create), h.createKey},
		{"GET", "/v1/api-keys", keys(access.Read), h.listKeys},
		{"GET", "/v1/api-keys/:id", keys(access.Read), h.getKey},
		{"PATCH", "/v1/api-keys/:id", keys(access.Update), h.patchKey},
		{"POST", "/v1/api-keys/:id/rotate", keys(access.Update), h.rotateKey},
		{"DELETE", "/v1/api-keys/:id", keys(access.Delete), h.deleteKey},
		{"GET", "/v1/api-keys/:id/usage", keys(access.Read), h.keyUsage},
		{"GET", "/v1/usage", access.Need{Resource: access.APIKeys, Action: access.Read}, h.orgUsage},
		{"GET", "/v1/audit-logs", admin, h.auditLogs},
		{"POST", "/v1/links", links(access.Create), h.createLink},
		{"GET", "/v1/links", links(access.Read), h.listLinks},
		{"GET", "/v1/links/count", links(access.Read), h.countLinks},
		{"GET", "/v1/links/info", links(access.Read), h.linkInfo},
		{"GET", "/v1/links/export", links(access.Read), h.exportLinks},
		{"POST", "/v1/links/import", links(access.Create), h.importLinks},
		{"PUT", "/v1/links/upsert", access.Need{Resource: access.ShortLinks, Action: access.Create, Also: access.Update}, h.upsertLink},
		{"POST", "/v1/links/bulk", links(access.Create), h.bulkCreate},
		{"PATCH", "/v1/links/bulk", links(access.Update), h.bulkUpdate},
		{"DELETE", "/v1/links/bulk", links(access.Delete), h.bulkDelete},
		{"GET", "/v1/links/:id", links(access.Read), h.getLink},
		{"GET", "/v1/links/:id/qr", links(access.Read), h.linkQR},
		{"PATCH", "/v1/links/:id", links(access.Update), h.patchLink},
		{"DELETE", "/v1/links/:id", links(access.Delete), h.deleteLink},
		{"GET", "/v1/tags", links(access.Read), h.listTags},
		{"POST", "/v1/tags", links(access.Create), h.createTag},
		{"PATCH", "/v1/tags/:id", links(access.Update), h.patchTag},
		{"DELETE", "/v1/tags/:id", links(access.Delete), h.deleteTag},
		{"POST", "/v1/domains", doms(access.Create), h.createDomain},
		{"GET", "/v1/domains", doms(access.Read), h.listDomains},
		{"GET", "/v1/domains/:id", doms(access.Read), h.getDomain},
		{"PATCH", "/v1/domains/:id", doms(access.Update), h.patchDomain},
		{"DELETE", "/v1/domains/:id", doms(access.Delete), h.deleteDomain},
		{"POST", "/v1/domains/:id/verify", doms(access.Update), h.verifyDomain},
		{"POST", "/v1/webhooks", hooks(access.Create), h.createWebhook},
		{"GET", "/v1/webhooks", hooks(access.Read), h.listWebhooks},
		{"GET", "/v1/webhooks/:id", hooks(access.Read), h.getWebhook},
		{"PATCH", "/v1/webhooks/:id", hooks(access.Update), h.patchWebhook},
		{"DELETE", "/v1/webhooks/:id", hooks(access.Delete), h.deleteWebhook},
		{"POST", "/v1/webhooks/:id/rotate-secret", hooks(access.Update), h.rotateWebhookSecret},
		{"POST", "/v1/webhooks/:id/enable", hooks(access.Update), h.enableWebhook},
		{"POST", "/v1/webhooks/:id/test", hooks(access.Update), h.testWebhook},
		{"GET", "/v1/webhooks/:id/deliveries", hooks(access.Read), h.listDeliveries},
		{"GET", "/v1/webhooks/:id/deliveries/:msgId", hooks(access.Read), h.getDelivery},
		{"POST", "/v1/webhooks/:id/deliveries/:msgId/retry", hooks(access.Update), h.retryDelivery},
		{"POST", "/v1/webhooks/:id/replay", hooks(access.Update), h.replayWebhook},
		{"POST", "/v1/files", fileNeed(access.Create), h.filesOn(h.uploadFile)},
		{"POST", "/v1/files/qr", fileNeed(access.Create), h.filesOn(h.saveQR)},
		{"GET", "/v1/files", fileNeed(access.Read), h.filesOn(h.listFiles)},
		{"GET", "/v1/files/:id", fileNeed(access.Read), h.filesOn(h.getFile)},
		{"GET", "/v1/files/:id/content", fileNeed(access.Read), h.filesOn(h.fileContent)},
		{"PATCH", "/v1/files/:id", fileNeed(access.Update), h.filesOn(h.patchFile)},
		{"DELETE", "/v1/files/:id", fileNeed(access.Delete), h.filesOn(h.deleteFile)},
		{"GET", "/f/:id/:sig", public, h.filesOn(h.publicFile)},
		{"GET", "/v1/stats", statsRead, h.getStats},
		{"GET", "/v1/stats/export", statsRead, h.exportStats},
		{"GET", "/v1/events", statsRead, h.listEvents},
		{"GET", "/v1/openapi.json", public, h.openAPI},
		{"GET", "/docs", public, h.docs},
		{"GET", "/docs/:asset", public, h.docs},
	}
}

const ctxRequestID = "h0p.requestID"

func requestID(c *gin.Context) {
	id := ids.New("req", time.Now())
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

// fail writes err in the envelope and aborts the chain. Only INTERNAL errors
// are logged, with the cause the client does not see.
func (h *handler) fail(c *gin.Context, err error) {
	if errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() != nil {
		err = apierror.New(apierror.Unavailable, "the request ran out of time and was stopped; retry")
	}
	if errors.Is(err, apierror.ErrNothingWritten) {
		c.Set(ctxNothingWritten, true)
	}
	e := apierror.From(err)
	if e.RetryAfter > 0 && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Code == apierror.Internal {
		h.Logger.Error("internal error", "err", err, "method", c.Request.Method, "path", c.Request.URL.Path,
			"requestId", c.GetString(ctxRequestID))
	}
	c.AbortWithStatusJSON(httpStatus(e.Code), apierror.NewEnvelope(e, c.GetString(ctxRequestID)))
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

// DashboardRoute is the route, in h0p_api_requests_total and its
// latency, of every request served by Config.Dashboard: its pages and
// assets, which are no API usage of anyone's.
const DashboardRoute = "* dashboard"

// observe is the one place a request is counted, once it is answered:
// h0p_api_requests_total by route and status code, its latency, and its
// caller's usage (control/usage) when guard identified one. Routes are
// templates with their method ("POST /v1/links"), the dashboard's one
// (DashboardRoute), every other unknown route one (usage.Unmatched), so
// neither metric grows with what clients send; no metric is per key or
// per org (the usage store is).
func (h *handler) observe(reg prometheus.Registerer) gin.HandlerFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "h0p_api_requests_total",
		Help: "API requests by route (method and template) and status code.",
	}, []string{"route", "status"})
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
		route := usage.Unmatched
		if p := c.FullPath(); p != "" {
			route = c.Request.Method + " " + p
		} else if h.Dashboard != nil && !IsAPIPath(c.Request.URL.Path) {
			route = DashboardRoute
		}
		status := c.Writer.Status()
		requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if caller, ok := c.Get(ctxCaller); ok && h.Usage != nil && route != DashboardRoute {
			h.Usage.Record(caller.(usage.Caller), route, status)
		}
		h.Logger.Debug("request", "route", route, "status", status,
			"duration", time.Since(start), "requestId", c.GetString(ctxRequestID))
	}
}

func (h *handler) limitBody(c *gin.Context) {
	if h.Dashboard != nil && !IsAPIPath(c.Request.URL.Path) {
		c.Next() // the dashboard bounds its own forms and uploads
		return
	}
	limit, what := int64(MaxBodyBytes), "1 MiB"
	switch {
	case c.Request.URL.Path == "/v1/links/import":
		limit, what = MaxImportBytes, "20 MiB"
	case c.Request.URL.Path == "/v1/files" && c.Request.Method == http.MethodPost && h.Files != nil:
		limit, what = h.Files.Max()+uploadOverhead, "a file may be"
	}
	if c.Request.ContentLength > limit {
		h.fail(c, apierror.New(apierror.PayloadTooLarge, "request body is larger than %s", what))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

// deadline gives the request's context RequestTimeout.
func (h *handler) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// readBody reads the (size-limited) body.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request.Body)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, apierror.New(apierror.PayloadTooLarge, "request body is larger than 1 MiB")
	}
	if err != nil {
		return nil, apierror.Invalid("body", "is not valid JSON")
	}
	if len(b) == 0 {
		return nil, apierror.Invalid("body", "is empty; send a JSON object")
	}
	return b, nil
}

// decodeJSON reads the body into v by jsonbody's rules: exactly one JSON
// value, field names exactly as v's json tags spell them, no name twice in
// an object. Errors name the field when there is one.
func decodeJSON(c *gin.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return jsonbody.Decode(b, v)
}
