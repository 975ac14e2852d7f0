package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/shared/kv"
)

// LinkReader finds a link by normalised host and slug.
type LinkReader interface {
	Link(host, slug []byte) (kv.Link, bool, error)
}

// Config of an edge server.
type Config struct {
	Addr              string // public listen address
	DefaultDomain     string
	FallbackToDefault bool // unknown hosts use DefaultDomain (dev)
	Logger            *slog.Logger
	Registerer        prometheus.Registerer // nil: no metrics
}

// Server is one edge process's HTTP side.
type Server struct {
	cfg           Config
	links         LinkReader
	defaultDomain []byte
	srv           *fasthttp.Server
	ln            net.Listener
	m             metrics
}

// outcome of one request, a label of h0p_edge_requests_total.
type outcome int

const (
	outcomeRedirect outcome = iota
	outcomeNotFound
	outcomeBadRequest
	outcomeError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"redirect", "not_found", "bad_request", "error"}

type metrics struct {
	requests [numOutcomes]prometheus.Counter
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) metrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "h0p_edge_requests_total",
		Help: "Edge requests by outcome.",
	}, []string{"outcome"})
	var m metrics
	for i, name := range outcomeNames {
		m.requests[i] = vec.WithLabelValues(name) // resolved once: no lookups per request
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "h0p_edge_request_duration_seconds",
		Help:    "Time to answer an edge request, from handler entry to response ready.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	})
	if reg != nil {
		reg.MustRegister(vec, m.latency)
	}
	return m
}

// New listens on cfg.Addr; Run serves.
func New(cfg Config, links LinkReader) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:           cfg,
		links:         links,
		defaultDomain: []byte(cfg.DefaultDomain),
		m:             newMetrics(cfg.Registerer),
	}
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "h0p",
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		MaxRequestBodySize:    4 << 10, // redirects take no body; the password form is small
		ReadBufferSize:        8 << 10,
		DisableKeepalive:      false,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		Logger:                fasthttpLogger{cfg.Logger.With("subsystem", "edge")},
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen edge on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the address the edge listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then lets in-flight requests finish (up to 10s).
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve edge: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.ShutdownWithContext(shutdownCtx); err != nil {
		return fmt.Errorf("drain edge: %w", err)
	}
	return nil
}

// Close releases the listener. Call after Run returned.
func (s *Server) Close() error {
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }

var (
	headerLocation    = []byte("Location")
	headerCache       = []byte("Cache-Control")
	headerRobots      = []byte("X-Robots-Tag")
	headerContentType = []byte("Content-Type")
	headerAllow       = []byte("Allow")
	valueNoStore      = []byte("no-store")
	valueNoIndex      = []byte("noindex")
	valueHTML         = []byte("text/html; charset=utf-8")
	valueGetHead      = []byte("GET, HEAD")
)

const notFoundPage = `<!doctype html><html><head><meta charset="utf-8"><title>Link not found</title>` +
	`<meta name="robots" content="noindex"></head><body><h1>Link not found</h1>` +
	`<p>This short link does not exist or is no longer active.</p></body></html>`

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	o := s.serve(ctx)
	s.m.requests[o].Inc()
	s.m.latency.Observe(time.Since(start).Seconds())
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) outcome {
	h := &ctx.Response.Header
	h.SetCanonical(headerRobots, valueNoIndex)
	if !ctx.IsGet() && !ctx.IsHead() {
		h.SetCanonical(headerAllow, valueGetHead)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return outcomeBadRequest
	}
	var hostBuf [256]byte
	host, ok := normalizeHost(hostBuf[:0], ctx.Host())
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return outcomeBadRequest
	}
	slug := slugOf(ctx.Path())
	if len(slug) == 0 {
		return s.notFound(ctx)
	}
	l, found, err := s.links.Link(host, slug)
	if err == nil && !found && s.cfg.FallbackToDefault && !bytes.Equal(host, s.defaultDomain) {
		l, found, err = s.links.Link(s.defaultDomain, slug)
	}
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return outcomeError
	}
	if !found {
		return s.notFound(ctx)
	}
	h.SetCanonical(headerCache, valueNoStore)
	h.SetCanonical(headerLocation, []byte(l.URL))
	ctx.SetStatusCode(fasthttp.StatusFound)
	return outcomeRedirect
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) outcome {
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.Response.Header.SetCanonical(headerContentType, valueHTML)
	ctx.Response.Header.SetCanonical(headerCache, valueNoStore)
	if !ctx.IsHead() {
		ctx.SetBodyString(notFoundPage)
	}
	return outcomeNotFound
}

// normalizeHost appends host lowercased, without port or trailing dot, to
// dst. It refuses empty hosts and bytes no hostname has; ':' and brackets only
// appear in a bracketed IPv6 literal.
func normalizeHost(dst, host []byte) ([]byte, bool) {
	ipv6 := len(host) > 0 && host[0] == '['
	if ipv6 {
		end := bytes.IndexByte(host, ']')
		if end < 0 {
			return nil, false
		}
		host = host[:end+1]
	} else if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if len(host) == 0 || len(host) > 253 {
		return nil, false
	}
	for _, c := range host {
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		case ipv6 && (c == '[' || c == ']' || c == ':'):
		default:
			return nil, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

// slugOf strips the leading '/' and one trailing '/' of a normalised path.
func slugOf(path []byte) []byte {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return path
}
