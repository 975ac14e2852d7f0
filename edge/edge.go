package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/phuslu/iploc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/edge/internal/evloop"
	"github.com/h0p/h0p/edge/internal/framing"
	"github.com/h0p/h0p/shared/kv"
)

// LinkReader finds links and domain settings by normalised host.
// Generation changes whenever a link may have changed (see linkCache).
type LinkReader interface {
	Link(host, slug []byte) (kv.Link, bool, error)
	Domain(host []byte) (kv.Domain, bool, error)
	Generation() uint64
}

// Config of an edge server.
type Config struct {
	Addr              string // public listen address
	DefaultDomain     string
	FallbackToDefault bool // unknown hosts use DefaultDomain (dev)
	Logger            *slog.Logger
	Registerer        prometheus.Registerer // nil: no metrics
	// TrustedProxies may set X-Forwarded-For / Forwarded; others may not.
	TrustedProxies []netip.Prefix
	// ClickQueue bounds the clicks waiting to be taken (0: 65536).
	ClickQueue int
	// ClickSalt, when set, salts the IP hash of every click (tests,
	// benchmarks). Empty: each UTC day's salt from the replicated store
	// (kv.Salt), the same on every edge; see daySalt.
	ClickSalt []byte
	// PasswordAttempts per client IP (an IPv6 client's /64) and link per
	// minute (0: 10).
	PasswordAttempts int
	// PasswordChecks bounds the password checks running at once (0: twice
	// GOMAXPROCS): each takes the link's argon2id memory (19 MiB) and CPU
	// for milliseconds. A form post beyond it gets a 503 and counts no
	// attempt.
	PasswordChecks int
	// CacheEntries bounds the decoded-link cache (0: 100,000).
	CacheEntries int
	// AnswerTableBytes bounds the memory of the answer table, which keeps
	// every plain link's answer (answers.go): about 130 bytes a link
	// (0: 256 MiB; negative: no table).
	AnswerTableBytes int64
	// MaxConns bounds concurrent connections; beyond it new ones get a 503
	// instead of memory growth (0: 100,000).
	MaxConns int
	// ReusePort binds with SO_REUSEPORT (Linux), so a new edge can start on
	// the address before the old one drains. The event loops always do.
	ReusePort bool
	// FasthttpServer serves with fasthttp.Server (a goroutine per
	// connection) instead of the event loops (internal/evloop); always so
	// outside Linux.
	FasthttpServer bool
	// Loops is how many event loops serve (0: GOMAXPROCS). The edge never
	// changes GOMAXPROCS: a process whose main work is the edge chooses
	// both (h0p edge runs a loop per P and gives the runtime one P more).
	Loops int
	// TLSAddr is the public HTTPS address ("": none): TLS 1.2 and 1.3, the
	// certificate chosen by SNI among the custom domains' (kv.Certificate,
	// from a store that has them), its key opened with CertificateKeys.
	TLSAddr         string
	CertificateKeys KeyOpener
	Now             func() time.Time // nil: time.Now
}

// EventLoopsSupported reports whether the edge can serve from its event
// loops on this system (Linux); elsewhere it serves with fasthttp's server
// whatever Config says.
const EventLoopsSupported = evloop.Supported

// Server is one edge process's HTTP side.
type Server struct {
	cfg           Config
	links         LinkReader
	salt          atomic.Pointer[daySalt] // salt.go
	saltMu        sync.Mutex
	defaultDomain []byte
	srv           *fasthttp.Server // with ln, when cfg.FasthttpServer
	ln            net.Listener
	loops         *evloop.Server // otherwise
	tls           *tlsSide       // nil: no TLSAddr
	m             metrics
	agents        *agentCache
	clicks        clickQueue
	wallClock     bool // cfg.Now is time.Now: a time read for a request is its click's time too
	attempts      *attemptLimiter
	checks        chan struct{} // one per password check running (PasswordChecks)
	cache         *linkCache
	answers       *answerTable  // nil: none
	loads         chan struct{} // a (re)load of the answer table is due
	hosts         sync.Pool     // *[256]byte: the normalized host outlives the stack once LinkReader sees it
	domainURLs    domainURLs    // the domains' URLs that are not ASCII, converted (location.go)
}

// outcome of one request, a label of h0p_edge_requests_total.
type outcome int

const (
	outcomeRedirect outcome = iota
	outcomeNotFound
	outcomeExpired
	outcomePassword
	outcomePreview
	outcomeBadRequest
	outcomeError
	outcomeChallenge // an ACME HTTP-01 answer
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"redirect", "not_found", "expired", "password", "preview", "bad_request", "error", "acme_challenge"}

type metrics struct {
	requests   [numOutcomes]prometheus.Counter
	latency    prometheus.Histogram
	clickDrops prometheus.Counter
	untracked  [numUntracked]prometheus.Counter // by reason; [tracked] is nil
	cacheHits  prometheus.Counter
	cacheMiss  prometheus.Counter
	tableHits  prometheus.Counter
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
		Help:    "Time to answer an edge request, from the request read to the response ready.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	})
	m.clickDrops = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "h0p_edge_clicks_dropped_total",
		Help: "Click events dropped because the queue was full.",
	})
	untracked := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "h0p_edge_clicks_untracked_total",
		Help: "Redirects that captured no click, by reason (link, domain: its doNotTrack; query: h0p-no-track=1).",
	}, []string{"reason"})
	for i := untrackedLink; i < numUntracked; i++ {
		m.untracked[i] = untracked.WithLabelValues(untrackedNames[i])
	}
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "h0p_edge_link_cache_lookups_total",
		Help: "Link lookups by where the link was found (table: the answer table of plain links, hit: the decoded-link cache, miss: read from the store).",
	}, []string{"result"})
	m.cacheHits, m.cacheMiss, m.tableHits = cache.WithLabelValues("hit"), cache.WithLabelValues("miss"), cache.WithLabelValues("table")
	if reg != nil {
		reg.MustRegister(vec, m.latency, m.clickDrops, untracked, cache)
	}
	return m
}

func (s *Server) registerQueueGauges(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "h0p_edge_click_queue_depth",
		Help: "Click events waiting to be shipped.",
	}, func() float64 { return float64(s.clicks.len()) }))
	if s.answers == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "h0p_edge_answer_table_links",
		Help: "Plain links whose answer the edge holds in memory.",
	}, func() float64 { return float64(s.answers.count.Load()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "h0p_edge_answer_table_bytes",
		Help: "Memory held by the answer table's entries (its hash slots not included).",
	}, func() float64 { return float64(s.answers.bytes.Load()) }))
}

// New listens on cfg.Addr; Run serves.
func New(cfg Config, links LinkReader) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	wallClock := cfg.Now == nil
	if wallClock {
		cfg.Now = time.Now
	}
	if cfg.ClickQueue == 0 {
		cfg.ClickQueue = 65536
	}
	if cfg.PasswordAttempts == 0 {
		cfg.PasswordAttempts = 10
	}
	if cfg.PasswordChecks <= 0 {
		cfg.PasswordChecks = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = 100_000
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 100_000
	}
	if !evloop.Supported {
		cfg.FasthttpServer = true
	}
	if cfg.AnswerTableBytes == 0 {
		cfg.AnswerTableBytes = 256 << 20
	}
	s := &Server{
		cfg:           cfg,
		links:         links,
		defaultDomain: []byte(cfg.DefaultDomain),
		m:             newMetrics(cfg.Registerer),
		agents:        newAgentCache(16_384),
		clicks:        clickQueue{max: cfg.ClickQueue},
		wallClock:     wallClock,
		attempts:      newAttemptLimiter(cfg.PasswordAttempts, cfg.Now),
		checks:        make(chan struct{}, cfg.PasswordChecks),
		cache:         newLinkCache(cfg.CacheEntries),
		loads:         make(chan struct{}, 1),
	}
	if len(cfg.ClickSalt) > 0 {
		s.salt.Store(&daySalt{day: -1, value: cfg.ClickSalt}) // fixed: day -1 never expires
	}
	// A store that says which links changed keeps what the edge holds in
	// memory exact; one that can also list them fills the answer table.
	if w, ok := links.(changeNotifier); ok {
		if _, ok := links.(linkLister); ok && cfg.AnswerTableBytes > 0 {
			s.answers = newAnswerTable(cfg.AnswerTableBytes)
			s.loads <- struct{}{}
		}
		w.OnLinksChanged(s.linksChanged)
	}
	s.registerQueueGauges(cfg.Registerer)
	logger := fasthttpLogger{cfg.Logger.With("subsystem", "edge")}
	if cfg.TLSAddr != "" {
		if err := s.listenTLS(logger); err != nil {
			return nil, err
		}
	}
	if !cfg.FasthttpServer {
		loops, err := evloop.Listen(evloop.Config{Addr: cfg.Addr, Loops: cfg.Loops, MaxConns: cfg.MaxConns, Name: serverName,
			Handler: s.handle, Fast: s.serveFast, Logger: logger})
		if err != nil {
			s.closeTLS()
			return nil, err
		}
		s.loops = loops
		return s, nil
	}
	s.srv = s.newFasthttpServer(logger)
	var lc net.ListenConfig
	if cfg.ReusePort {
		lc.Control = evloop.ReusePort
	}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		s.closeTLS()
		return nil, fmt.Errorf("listen edge on %s: %w", cfg.Addr, err)
	}
	s.ln = framing.Listener(ln)
	return s, nil
}

// newFasthttpServer is the fasthttp server of the plain listener (with
// Config.FasthttpServer) and of the TLS one.
func (s *Server) newFasthttpServer(logger fasthttpLogger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               s.handle,
		Name:                  serverName,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		Concurrency:           s.cfg.MaxConns,
		MaxRequestBodySize:    framing.MaxBody, // redirects take no body; the password form is small
		ReadBufferSize:        framing.MaxHeader,
		DisableKeepalive:      false,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		Logger:                logger,
	}
}

// changeNotifier and linkLister are what replication.Store offers beyond
// LinkReader.
// challengeReader is a store that holds ACME HTTP-01 answers (kv.Challenge).
type challengeReader interface {
	Challenge(token string) (string, bool, error)
}

type changeNotifier interface {
	OnLinksChanged(func(keys, values [][]byte))
}

type linkLister interface {
	EachLink(ctx context.Context, fn func(key, value []byte) bool) error
}

// linksChanged runs on the FSM's goroutine after each apply.
func (s *Server) linksChanged(keys, values [][]byte) {
	s.cache.invalidate(keys)
	if s.answers == nil {
		return
	}
	s.answers.update(keys, values)
	if keys == nil { // restored from a snapshot: load it all again
		select {
		case s.loads <- struct{}{}:
		default:
		}
	}
}

// loadAnswers fills the answer table when due, until ctx ends.
func (s *Server) loadAnswers(ctx context.Context) {
	lister := s.links.(linkLister)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.loads:
		}
		start := time.Now()
		full, err := s.answers.load(ctx, lister.EachLink)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.cfg.Logger.Warn("loading the answer table failed; links are read from the store", "err", err)
		case full:
			s.cfg.Logger.Warn("answer table full: the links beyond it are read from the store",
				"links", s.answers.count.Load(), "bytes", s.answers.bytes.Load())
		default:
			s.cfg.Logger.Debug("answer table loaded", "links", s.answers.count.Load(),
				"bytes", s.answers.bytes.Load(), "took", time.Since(start))
		}
		// Decoding every record left about twice the table in garbage;
		// without this the heap (and RSS) would stay at that peak.
		debug.FreeOSMemory()
	}
}

// Addr is the address the edge listens on.
func (s *Server) Addr() string {
	if s.loops != nil {
		return s.loops.Addr().String()
	}
	return s.ln.Addr().String()
}

// drainTimeout bounds how long in-flight requests may take once Run's
// context ends.
const drainTimeout = 10 * time.Second

// Run serves until ctx ends, then lets in-flight requests finish (up to 10s).
// It loads the answer table meanwhile, and returns only once that stopped:
// the store may be closed then.
func (s *Server) Run(ctx context.Context) (err error) {
	if s.answers != nil {
		loadCtx, stopLoading := context.WithCancel(ctx)
		loading := make(chan struct{})
		go func() {
			defer close(loading)
			s.loadAnswers(loadCtx)
		}()
		defer func() {
			stopLoading()
			<-loading
		}()
	}
	if s.tls != nil {
		tlsCtx, stopTLS := context.WithCancel(ctx)
		tlsDone := make(chan error, 1)
		go func() { tlsDone <- s.tls.serve(tlsCtx) }()
		defer func() {
			if terr := <-tlsDone; terr != nil && err == nil {
				err = terr
			}
		}()
		defer stopTLS() // before the wait above: the plain side may stop first
	}
	if s.loops != nil {
		return s.loops.Serve(ctx, drainTimeout)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve edge: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := s.srv.ShutdownWithContext(shutdownCtx); err != nil {
		return fmt.Errorf("drain edge: %w", err)
	}
	return nil
}

// Close releases the listeners. Call after Run returned.
func (s *Server) Close() error {
	s.closeTLS()
	if s.loops != nil {
		s.loops.Close()
		return nil
	}
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
	headerHSTS        = []byte("Strict-Transport-Security")
	valueHSTS         = []byte("max-age=31536000")
	valueNoStore      = []byte("no-store")
	valueNoIndex      = []byte("noindex")
	valueHTML         = []byte("text/html; charset=utf-8")
	valueGetHead      = []byte("GET, HEAD")
)

// maxPath bounds the request path; longer ones are refused.
const maxPath = 2 << 10

// handle answers ctx. A panic while answering becomes a 500 for this
// request alone, closing its connection, and an error log: on an event
// loop it would otherwise stop the process and every connection in it.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := ctx.Time() // taken by fasthttp once the request is read: one clock read less
	o := outcomeError
	defer func() {
		if r := recover(); r != nil {
			s.panicked(r)
			ctx.Response.Reset()
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetConnectionClose()
		}
		s.m.requests[o].Inc()
		s.m.latency.Observe(time.Since(start).Seconds())
	}()
	o = s.serve(ctx)
}

func (s *Server) panicked(r any) {
	s.cfg.Logger.Error("edge: answering a request panicked", "panic", r, "stack", string(debug.Stack()))
}

// challenge answers an ACME HTTP-01 request for token from the store (a
// rare request: no cache), whatever the host the edge serves.
func (s *Server) challenge(ctx *fasthttp.RequestCtx, token []byte, dom *kv.Domain) outcome {
	cr, ok := s.links.(challengeReader)
	if !ok || !kv.ValidChallengeToken(string(token)) {
		return s.notFound(ctx, dom)
	}
	keyAuth, found, err := cr.Challenge(string(token))
	switch {
	case err != nil:
		return s.fail(ctx)
	case !found:
		return s.notFound(ctx, dom)
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/plain")
	ctx.SetBodyString(keyAuth)
	return outcomeChallenge
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) outcome {
	h := &ctx.Response.Header
	post := ctx.IsPost()
	if !ctx.IsGet() && !ctx.IsHead() && !post {
		h.SetCanonical(headerAllow, valueGetHead)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return outcomeBadRequest
	}
	raw := ctx.URI().PathOriginal()
	if len(raw) > maxPath || bytes.IndexByte(raw, 0) >= 0 || bytes.Contains(raw, []byte("%00")) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return outcomeBadRequest
	}
	path := ctx.Path()
	if !utf8.Valid(path) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return outcomeBadRequest
	}
	hostBuf := s.hostBuf()
	defer s.hosts.Put(hostBuf)
	var rec kv.Link // the record, when resolve read it
	secure := ctx.IsTLS()
	r := s.resolve(hostBuf[:0], ctx.Host(), path, &rec, secure)
	if r.looked {
		s.countLookup(r.found)
	}
	dom := r.dom()
	if secure && dom != nil && dom.HSTS {
		h.SetCanonical(headerHSTS, valueHSTS)
	}
	switch r.route {
	case routeBadHost:
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return outcomeBadRequest
	case routeError:
		return s.fail(ctx)
	case routeNoDomain:
		return s.notFound(ctx, nil)
	case routeHTTPS:
		return s.toHTTPS(ctx, r.host, dom.Indexable)
	case routeRoot:
		switch {
		case dom != nil && dom.RootURL != "":
			return s.redirect(ctx, 302, s.domainURLs.get(dom.RootURL), cacheNone, false)
		case s.custom(&r):
			s.page(ctx, fasthttp.StatusOK, placeholderPage(dom.Host), false)
			return outcomeNotFound
		}
		return s.notFound(ctx, nil)
	case routeRobots:
		ctx.SetContentType("text/plain; charset=utf-8")
		if s.custom(&r) && !dom.Indexable {
			ctx.SetBodyString("User-agent: *\nDisallow: /\n")
		} else {
			ctx.SetBodyString("User-agent: *\nAllow: /\n")
		}
		return outcomeNotFound
	case routeFavicon:
		h.Set("Cache-Control", "public, max-age=86400")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return outcomeNotFound
	case routeNoLink:
		return s.notFound(ctx, dom)
	case routeChallenge:
		return s.challenge(ctx, r.slug[len(kv.ChallengePath)-1:], dom)
	}
	query := len(ctx.URI().QueryString()) > 0
	if !post && r.plain(query) {
		// No other fact of the request can change the answer; the query
		// may only ask not to count it.
		why := r.untracked()
		if why == tracked && query && string(ctx.QueryArgs().Peek(noTrackParam)) == "1" {
			why = untrackedQuery
		}
		qr := query && string(ctx.QueryArgs().Peek("qr")) == "1"
		a := s.redirectPlain(&r.link, why, nil, ctx.UserAgent(), ctx.Referer(), s.clientIP(ctx), qr, s.cfg.Now())
		return s.redirectOutcome(ctx, a.status, a.location, a.cache, a.index, outcomeRedirect)
	}
	l := r.link.link
	if l == nil { // a plain link asked with a query (or POSTed): the whole record
		if rec.ID == "" {
			stored, found, err := s.links.Link(r.host, r.slug)
			if err != nil {
				return s.fail(ctx)
			}
			if !found {
				return s.notFound(ctx, dom)
			}
			// Its destination as prepared (compile: ASCII, with the UTM
			// parameters, which destination sets again after merging the
			// query) rather than converted again for each request.
			rec = stored
			rec.URL = r.link.location
		}
		l = &rec
	}
	v := s.visit(ctx)
	d := s.decide(l, &v, dom)
	if d.outcome == outcomePassword && post {
		d = s.checkPassword(ctx, l, &v, dom)
	} else if post {
		h.SetCanonical(headerAllow, valueGetHead)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return outcomeBadRequest
	}
	return s.answer(ctx, l, &v, d, dom)
}

// custom reports whether r is on a custom domain: a host with its own
// record, not the default domain.
func (s *Server) custom(r *resolution) bool {
	return r.known && !bytes.Equal(r.host, s.defaultDomain)
}

// toHTTPS answers a plain HTTP request for host with a 308 to the same
// path and query over HTTPS (routeHTTPS). 308 keeps the method: a password
// form posted over HTTP is posted again over HTTPS.
func (s *Server) toHTTPS(ctx *fasthttp.RequestCtx, host []byte, index bool) outcome {
	u := ctx.URI()
	loc := make([]byte, 0, len("https://")+len(host)+len(u.PathOriginal())+1+len(u.QueryString()))
	loc = append(append(append(loc, "https://"...), host...), u.PathOriginal()...)
	if q := u.QueryString(); len(q) > 0 {
		loc = append(append(loc, '?'), q...)
	}
	h := &ctx.Response.Header
	if !index {
		h.SetCanonical(headerRobots, valueNoIndex)
	}
	// Not kept by clients: turning the redirect off takes effect at once.
	h.SetCanonical(headerCache, valueNoStore)
	h.SetCanonical(headerLocation, loc)
	ctx.SetStatusCode(fasthttp.StatusPermanentRedirect)
	return outcomeRedirect
}

// visit gathers what rules and analytics need from the request.
func (s *Server) visit(ctx *fasthttp.RequestCtx) visit {
	v := visit{now: s.cfg.Now(), agent: s.agents.classify(ctx.UserAgent()), query: url.Values{}}
	ip := s.clientIP(ctx)
	v.ip = ip
	if ip.IsValid() {
		v.country = iploc.IPCountry(ip)
	}
	v.langs = languages(ctx.Request.Header.Peek("Accept-Language"))
	for k, val := range ctx.QueryArgs().All() {
		v.query.Add(string(k), string(val))
	}
	v.cookies = func(name string) string { return string(ctx.Request.Header.Cookie(name)) }
	return v
}

// answer writes a decision and, for a redirect, captures the click unless
// the link, its domain or the request says not to (untrackedBy).
func (s *Server) answer(ctx *fasthttp.RequestCtx, l *kv.Link, v *visit, d decision, dom *kv.Domain) outcome {
	if d.cookie != "" {
		ctx.Response.Header.Add("Set-Cookie", d.cookie)
	}
	switch {
	case d.outcome == outcomeNotFound:
		return s.notFound(ctx, dom)
	case d.location != "":
		if d.outcome == outcomeRedirect {
			if why := untrackedBy(l, dom, v.query); why != tracked {
				s.m.untracked[why].Inc()
			} else {
				c := s.newClick(ctx.Referer(), l.ID, l.Domain, &v.agent, v.country, s.ipHash(v.ip, v.now), v.query.Get("qr") == "1", v.now)
				s.capture(&c)
			}
		}
		return s.redirectOutcome(ctx, d.status, d.location, d.cache, d.index, d.outcome)
	}
	s.page(ctx, d.status, d.page, d.index)
	return d.outcome
}

func (s *Server) redirect(ctx *fasthttp.RequestCtx, status int, location, cache string, index bool) outcome {
	return s.redirectOutcome(ctx, status, location, cache, index, outcomeRedirect)
}

func (s *Server) redirectOutcome(ctx *fasthttp.RequestCtx, status int, location, cache string, index bool, o outcome) outcome {
	h := &ctx.Response.Header
	if !index {
		h.SetCanonical(headerRobots, valueNoIndex)
	}
	h.SetCanonical(headerCache, readOnlyBytes(cache)) // fasthttp copies both
	h.SetCanonical(headerLocation, readOnlyBytes(location))
	ctx.SetStatusCode(status)
	return o
}

// readOnlyBytes is s as a byte slice without a copy, for callees that only
// read it.
func readOnlyBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (s *Server) page(ctx *fasthttp.RequestCtx, status int, body string, index bool) {
	h := &ctx.Response.Header
	if !index {
		h.SetCanonical(headerRobots, valueNoIndex)
	}
	h.SetCanonical(headerCache, valueNoStore)
	h.SetCanonical(headerContentType, valueHTML)
	ctx.SetStatusCode(status)
	ctx.SetBodyString(body)
}

func (s *Server) fail(ctx *fasthttp.RequestCtx) outcome {
	ctx.SetStatusCode(fasthttp.StatusInternalServerError)
	return outcomeError
}

// notFound answers an unknown slug: the domain's not-found URL, or a page.
func (s *Server) notFound(ctx *fasthttp.RequestCtx, dom *kv.Domain) outcome {
	if dom != nil && dom.NotFoundURL != "" {
		s.redirectOutcome(ctx, 302, s.domainURLs.get(dom.NotFoundURL), cacheNone, false, outcomeNotFound)
		return outcomeNotFound
	}
	s.page(ctx, fasthttp.StatusNotFound, notFoundPage, false)
	return outcomeNotFound
}
