// Package control is the control plane process: the API, its store, and the
// outbox relay that pushes changes to the edges through raft. Server wires
// them; cmd/h0p decides where raft runs.
//
// On first start with an empty store, Bootstrap creates an organization, its
// Owner (owner@localhost, no password yet) and the Owner's user key with every
// permission the Owner role allows, and hands the key to the caller exactly
// once.
//
// The key pepper is 32 random bytes in <data>/pepper (mode 0600), created on
// first start, while the store has no organization yet; later a missing
// pepper is an error, never a new one. Every control node of a cluster, and
// every h0p admin command against its store, must share it.
package control

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/chstore"
	"github.com/h0p/h0p/control/analytics/pebblestore"
	"github.com/h0p/h0p/control/analytics/pgstore"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/certs"
	"github.com/h0p/h0p/control/dashboard"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/egress"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/mcp"
	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/ratelimit/redislimit"
	"github.com/h0p/h0p/control/stats"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/control/visitorsalt"
	"github.com/h0p/h0p/control/webhooks"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
	"github.com/h0p/h0p/shared/sealed"
)

// Config of a control server.
type Config struct {
	APIAddr       string // listen address of the API
	DataDir       string // holds control.db, the click store (analytics) and pepper
	DefaultDomain string // domain of links created without one
	// Files is where uploaded files' bytes live (control/files); nil: the
	// files endpoints answer 404. FilesMaxBytes bounds a file (0:
	// files.DefaultMaxBytes).
	Files         files.Store
	FilesMaxBytes int64
	// ShortLinkScheme and ShortLinkPort shape every short link H0p writes
	// (a link's shortLink, exports, QR codes): scheme://domain[:port]/key.
	// Production: "https" and "" (empty scheme: https).
	ShortLinkScheme string
	ShortLinkPort   string
	Logger          *slog.Logger
	Registerer      prometheus.Registerer // nil: no metrics
	Now             func() time.Time      // nil: time.Now
	RelayInterval   time.Duration         // zero: 2s
	RelayGrace      time.Duration         // zero: 10s

	// DatabaseURL selects PostgreSQL (postgres://…), which every control node
	// of a cluster shares, for the control store and the click store.
	// Empty: SQLite and Pebble in DataDir, for one control node.
	DatabaseURL string
	// AnalyticsClickHouseURL, when set, puts the click store on ClickHouse
	// (chstore, its HTTP interface: http://host:8123/?database=name),
	// which every control node shares, whatever holds the control store.
	AnalyticsClickHouseURL string
	// PepperFile is where the API-key pepper lives; empty: DataDir/pepper.
	// Control nodes of a cluster must share it.
	PepperFile string
	// TLS, when set, makes the API listener serve HTTPS (h0p control sets it
	// from the node certificate, asking for but not requiring a client
	// certificate, which only /cluster/ endpoints need).
	TLS *tls.Config

	// EdgeAddrs are the host:port addresses the edges answer on (their
	// listen addresses, or the public ones in front of them): link
	// destinations there would loop and are refused (control/links).
	EdgeAddrs []string

	// SharedDomains are short domains every org may create links on,
	// besides DefaultDomain. No org may add them, or DefaultDomain, as a
	// custom domain.
	SharedDomains []string
	// EdgeHostName is the name custom domains point at with a CNAME;
	// EdgeIPs the addresses their A/AAAA records may hold instead.
	EdgeHostName string
	EdgeIPs      []string
	// DNSResolver is the host:port of the DNS server domain checks ask
	// (empty: the system's resolver).
	DNSResolver string
	// EdgeDomains reads the replicated store's domain records (the custom
	// domains the edges serve): link destinations on them loop. nil: none
	// are known.
	EdgeDomains EdgeDomains
	// LocalSuffixes are top-level names custom domains may be under
	// besides the Public Suffix List's (control/domains), e.g. "test".
	LocalSuffixes []string
	// DomainCheckPeriod is how often every custom domain's DNS is checked
	// again (zero: 1h); DomainGrace how long a verified domain whose check
	// fails is still served (zero: 72h, control/domains).
	DomainCheckPeriod time.Duration
	DomainGrace       time.Duration

	// WebhookAllowHTTP and WebhookAllowNetworks loosen the guard on the
	// URLs webhooks are sent to (control/egress): plain http, and networks
	// let through whatever the refused ranges say. For tests and private
	// deployments only. Webhook hosts are looked up through DNSResolver.
	WebhookAllowHTTP     bool
	WebhookAllowNetworks []netip.Prefix
	// Version names the build in the User-Agent of webhook deliveries
	// (empty: none).
	Version string

	// SlugLength and SlugNoLookalike shape random slugs (0: 7 characters).
	SlugLength      int
	SlugNoLookalike bool

	// PublicURL is the API's base URL as clients reach it (a proxy's, or a
	// name): a link's qrCode, and every other link to an API resource
	// (the instructions in emails), starts with it. An http or https URL,
	// with a host, perhaps a path, no query. Empty: the listener's address,
	// a loopback or unspecified host named localhost (see Server.PublicURL).
	PublicURL string

	// Mailer sends the emails of accounts (verification, password reset,
	// invitations); nil: none are sent (see control/accounts).
	Mailer accounts.Mailer

	// RateLimits per key, user or client IP; zero: the product's 5/s and
	// 100/min.
	RateLimits ratelimit.Limits
	// RateLimitRedisURL, when set, keeps the rate limits in that Redis
	// (redis://[[user]:password@]host[:port][/db], rediss:// for TLS),
	// shared by every control node that names it
	// (control/ratelimit/redislimit); empty: each node limits on its own,
	// in memory, and a cluster of N nodes gives a key N times its limits.
	RateLimitRedisURL string
	// RateLimitFailClosed refuses API requests with 503 UNAVAILABLE while
	// that Redis does not answer; false lets them through unlimited. Either
	// way each one counts in h0p_ratelimit_redis_errors_total.
	RateLimitFailClosed bool
	// PasswordParams are argon2id's costs; zero: password.Default (tests
	// lower them).
	PasswordParams password.Params

	// Salts reads the replicated store's visitor salts; set, control
	// publishes each day's while it leads (control/visitorsalt).
	Salts visitorsalt.Salts

	// ACMEDirectory, when set, is the ACME server from which this node,
	// while it leads, obtains and renews the certificates of the custom
	// domains the edges serve (control/certs), with ACMEEmail as the
	// account's contact and ACMECARoot (PEM) trusted for its HTTPS besides
	// the system's roots. Records reads the replicated store (domains,
	// certificates, the account); Secret is the cluster secret that seals
	// the private keys; ACMEInterval how often certificates are looked at
	// (zero: 10 minutes). Every node, leader or not, then exports
	// h0p_certificate_expiry_timestamp_seconds{host} to Registerer.
	ACMEDirectory string
	ACMEEmail     string
	ACMECARoot    []byte
	ACMEInterval  time.Duration
	Records       ACMERecords
	Secret        []byte

	// MCPAllowedOrigins are the origins (scheme://host[:port]), besides
	// PublicURL's, whose pages may call the MCP endpoint, /mcp
	// (control/mcp).
	MCPAllowedOrigins []string

	// Dashboard serves the web dashboard (control/dashboard) at / on the
	// API address, for the organizations' members.
	Dashboard bool

	// Cluster mode; see api.Config.
	Leader           api.Leadership
	ForwardTransport http.RoundTripper
	NodeID           string
	Cluster          http.Handler
}

// EdgeDomains is the replicated store's domain mirror:
// replication.Store satisfies it.
type EdgeDomains interface {
	Domain(host []byte) (kv.Domain, bool, error)
}

// ACMERecords is what the certificate manager reads of the replicated
// store: replication.Store satisfies it.
type ACMERecords interface {
	certs.Records
	DomainHosts() []string
}

// An API answer must be written within writeTimeout of its request's
// headers. A request's work stops at requestTimeout (api.Config), leaving
// the answer time to go out: no change commits whose answer would be lost.
// The longest write is a bulk of links with passwords (control/links bounds
// its hashing to seconds) or an import of the largest file linkcsv reads.
const (
	writeTimeout   = 30 * time.Second
	requestTimeout = writeTimeout - 5*time.Second
)

// usageFlush is how often API usage counts (control/usage) reach the
// store: a crash loses at most this much of them.
const usageFlush = 10 * time.Second

// Server is one control plane process.
type Server struct {
	cfg       Config
	store     store.Store
	clicks    analytics.Store
	links     *links.Service
	domains   *domains.Service
	webhooks  *webhooks.Service
	files     *files.Service          // nil without Config.Files
	clickSubs *webhooks.Subscriptions // which clicks make link.clicked events
	hooks     *webhooks.Dispatcher
	pepper    []byte
	publisher *outbox.Publisher
	accounts  *accounts.Service
	http      *http.Server
	ln        net.Listener
	publicURL string
	acme      *certs.Manager // nil: no ACMEDirectory
	redis     *redis.Client  // nil: no RateLimitRedisURL
	usage     *usage.Recorder
	mcp       *mcp.Handler
}

// Open opens the store, loads or creates the pepper and listens on the API
// address. applier is the raft node changes go through.
func Open(ctx context.Context, cfg Config, applier outbox.Applier) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RelayInterval == 0 {
		cfg.RelayInterval = 2 * time.Second
	}
	if cfg.RelayGrace == 0 {
		cfg.RelayGrace = 10 * time.Second
	}
	logger := cfg.Logger.With("subsystem", "control")
	edges, err := links.ParseEdgeAddrs(cfg.EdgeAddrs)
	if err != nil {
		return nil, err
	}
	publicURL, err := CheckPublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("control data dir: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pepper, err := storePepper(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	clickStore, err := openClickStore(ctx, cfg, logger)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open the click store: %w", err)
	}
	s := &Server{cfg: cfg, store: st, clicks: clickStore, pepper: pepper, publicURL: publicURL}
	s.publisher = &outbox.Publisher{
		Applier: applier, Store: st, Logger: logger.With("subsystem", "outbox"),
		Now: cfg.Now, Grace: cfg.RelayGrace, Interval: cfg.RelayInterval,
	}
	s.ln, err = net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		s.closeStores()
		return nil, fmt.Errorf("listen api on %s: %w", cfg.APIAddr, err)
	}
	if cfg.TLS != nil {
		s.ln = tls.NewListener(s.ln, cfg.TLS)
	}
	if s.publicURL == "" {
		s.publicURL = s.listenerURL()
	}
	// One bound on the password hashes running at once, users' and links'
	// alike: each holds tens of MiB while it runs.
	turns := password.NewTurns(0)
	s.accounts = &accounts.Service{Store: st, Pepper: pepper, Now: cfg.Now, PasswordParams: cfg.PasswordParams, Turns: turns,
		Mailer: cfg.Mailer, APIURL: s.publicURL, Logger: logger.With("subsystem", "accounts")}
	if cfg.Dashboard {
		// The dashboard is served at / on the API's address: the
		// invitation email links to its accept page.
		s.accounts.DashboardURL = s.publicURL
	}
	limits := cfg.RateLimits
	if limits == (ratelimit.Limits{}) {
		limits = ratelimit.DefaultLimits
	}
	if err := limits.Validate(); err != nil {
		s.ln.Close()
		s.closeStores()
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	limiter, err := s.openLimiter(cfg, logger)
	if err != nil {
		s.ln.Close()
		s.closeStores()
		return nil, err
	}
	s.links = &links.Service{
		Store: st, Publisher: s.publisher, DefaultDomain: cfg.DefaultDomain, SharedDomains: cfg.SharedDomains, Now: cfg.Now,
		SlugLength: cfg.SlugLength, SlugNoLookalike: cfg.SlugNoLookalike, Edges: edges, Turns: turns, Served: served(cfg.EdgeDomains),
		Logger: logger.With("subsystem", "links"),
	}
	if cfg.DomainCheckPeriod == 0 {
		cfg.DomainCheckPeriod = time.Hour
	}
	s.cfg.DomainCheckPeriod = cfg.DomainCheckPeriod
	var edgeIPs []netip.Addr
	for _, a := range cfg.EdgeIPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			s.ln.Close()
			s.closeStores()
			return nil, fmt.Errorf("edge IPs: %w", err)
		}
		edgeIPs = append(edgeIPs, ip.Unmap())
	}
	s.domains = &domains.Service{
		Store: st, Publisher: s.publisher, Links: s.links, Now: cfg.Now, Grace: cfg.DomainGrace,
		Platform: append([]string{cfg.DefaultDomain}, cfg.SharedDomains...), LocalSuffixes: cfg.LocalSuffixes,
		Checker: &domains.Checker{Resolver: domains.NewResolver(cfg.DNSResolver), EdgeHost: cfg.EdgeHostName,
			EdgeIPs: edgeIPs},
		Logger: logger.With("subsystem", "domains"),
	}
	if s.webhooks, err = newWebhooks(cfg, st, pepper, logger); err != nil {
		s.ln.Close()
		s.closeStores()
		return nil, err
	}
	// link.clicked: click ingestion asks an in-memory index of the enabled
	// endpoints that want clicks; the webhooks service tells it of changes.
	s.clickSubs = webhooks.NewSubscriptions(st, logger.With("subsystem", "webhooks"))
	if err := s.clickSubs.Refresh(ctx); err != nil {
		s.ln.Close()
		s.closeStores()
		return nil, err
	}
	s.webhooks.Subscriptions = s.clickSubs
	s.links.ClickWebhooks, s.links.ShortLink, s.links.APIURL = s.clickSubs, s.shortLink, s.publicURL
	s.hooks = &webhooks.Dispatcher{Service: s.webhooks, Leader: s.publisher.Applier.IsLeader, Registerer: cfg.Registerer}
	s.webhooks.Wake = s.hooks.Wake
	s.links.Committed = s.hooks.Wake // events go out as they are committed
	if cfg.ACMEDirectory != "" {
		if s.acme, err = newACME(cfg, s.publisher.Applier, logger); err != nil {
			s.ln.Close()
			s.closeStores()
			return nil, err
		}
		if cfg.Registerer != nil {
			// Every control node reports the replicated certificates, leader or not.
			cfg.Registerer.MustRegister(certs.ExpiryCollector{Store: s.acme.Store, Hosts: s.customHosts})
		}
		s.domains.Certificates = s.acme // a domain's view tells its certificate
	}
	s.usage = &usage.Recorder{Store: st, Now: cfg.Now, Logger: logger.With("subsystem", "usage")}
	if cfg.Files != nil {
		s.files = &files.Service{Store: st, Blobs: cfg.Files, MaxBytes: cfg.FilesMaxBytes, Now: cfg.Now,
			Logger: logger.With("subsystem", "files")}
		if err := wireFileURLs(s.files, s.links, s.publicURL, pepper); err != nil {
			s.ln.Close()
			s.closeStores()
			return nil, err
		}
	}
	var logos api.LogoSource // a nil *files.Service must not be a LogoSource
	if s.files != nil {
		logos = s.files
	}
	// The MCP endpoint's tools call the API in process, through the router
	// the endpoint is mounted in.
	var router http.Handler
	s.mcp, err = mcp.NewHandler(mcp.HTTPConfig{
		API:       http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { router.ServeHTTP(w, r) }),
		PublicURL: s.publicURL, AllowedOrigins: cfg.MCPAllowedOrigins, Version: cfg.Version,
		Logger: logger.With("subsystem", "mcp"),
	})
	if err != nil {
		s.ln.Close()
		s.closeStores()
		return nil, err
	}
	// The dashboard too calls the API in process, as the signed-in person.
	var dash http.Handler
	if cfg.Dashboard {
		d, err := dashboard.New(dashboard.Config{
			API:    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { router.ServeHTTP(w, r) }),
			Pepper: pepper, PublicURL: s.publicURL, Logger: logger.With("subsystem", "dashboard"), Now: cfg.Now,
		})
		if err != nil {
			s.ln.Close()
			s.closeStores()
			return nil, err
		}
		dash = d
	}
	router = api.NewRouter(api.Config{
		Store:            st,
		Pepper:           pepper,
		Accounts:         s.accounts,
		Limiter:          limiter,
		LimitFailClosed:  cfg.RateLimitFailClosed,
		Limits:           limits,
		Links:            s.links,
		Domains:          s.domains,
		Webhooks:         s.webhooks,
		Files:            s.files,
		Logos:            logos,
		Stats:            &stats.Service{Store: st, Clicks: clickStore, Now: cfg.Now},
		Usage:            s.usage,
		ShortLink:        s.shortLink,
		APIURL:           s.publicURL,
		Logger:           logger.With("subsystem", "api"),
		Now:              cfg.Now,
		Registerer:       cfg.Registerer,
		RequestTimeout:   requestTimeout,
		Leader:           cfg.Leader,
		ForwardTransport: cfg.ForwardTransport,
		NodeID:           cfg.NodeID,
		Cluster:          cfg.Cluster,
		MCP:              s.mcp,
		Dashboard:        dash,
	})
	s.http = &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return sqlstore.OpenPostgres(ctx, cfg.DatabaseURL)
	}
	return sqlstore.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "control.db"))
}

// openClickStore opens the click store: on ClickHouse when configured
// (chstore); else beside the control store: on PostgreSQL, in the same
// database, where every control node of a cluster reads the same clicks
// (pgstore); otherwise in DataDir (pebblestore).
func openClickStore(ctx context.Context, cfg Config, logger *slog.Logger) (analytics.Store, error) {
	if cfg.AnalyticsClickHouseURL != "" {
		return chstore.Open(ctx, cfg.AnalyticsClickHouseURL, chstore.Options{Node: cfg.NodeID})
	}
	if cfg.DatabaseURL != "" {
		return pgstore.Open(ctx, cfg.DatabaseURL)
	}
	return pebblestore.Open(filepath.Join(cfg.DataDir, "analytics"), pebblestore.Options{Logger: logger.With("subsystem", "analytics")})
}

// OpenAccounts opens the store and the accounts service for operator
// commands (h0p admin), without serving anything. Close the store when done.
func OpenAccounts(ctx context.Context, cfg Config) (*accounts.Service, store.Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("control data dir: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	pepper, err := storePepper(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return &accounts.Service{Store: st, Pepper: pepper, Now: cfg.Now, PasswordParams: cfg.PasswordParams}, st, nil
}

// URL is the API's base URL.
func (s *Server) URL() string {
	if s.cfg.TLS != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// PublicURL is the API's base URL as clients reach it, without a trailing
// slash: Config.PublicURL, or else the listener's (listenerURL). Every link
// to an API resource in an answer or an email is built on it, here alone.
func (s *Server) PublicURL() string { return s.publicURL }

// listenerURL is the URL of the listener as a client on this machine reaches
// it: a loopback or unspecified host (127.0.0.1, [::], 0.0.0.0) is named
// localhost, the name short links on the default domain use.
func (s *Server) listenerURL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip, err := netip.ParseAddr(host); err == nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		host = "localhost"
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// CheckPublicURL checks a configured public API URL (Config.PublicURL) and
// drops its trailing slash; commands call it before opening anything.
func CheckPublicURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("public API URL %q: want http(s)://host[:port][/path], no user, query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// shortLink is the public URL of a short link, built here alone (responses,
// exports, QR codes): scheme://domain[:port]/key, from Config's
// ShortLinkScheme and ShortLinkPort.
func (s *Server) shortLink(domain, key string) string {
	host := domain
	if s.cfg.ShortLinkPort != "" {
		host = net.JoinHostPort(domain, s.cfg.ShortLinkPort)
	}
	scheme := s.cfg.ShortLinkScheme
	if scheme == "" {
		scheme = "https"
	}
	return scheme + "://" + host + "/" + key
}

// storePepper loads the pepper of cfg for store st. A missing pepper is
// created only for a store without organizations: once keys exist, a new
// pepper would digest every key, session and invitation differently, so a
// node or an operator's command pointed at the wrong (or no) pepper file
// refuses to run rather than print keys nobody accepts.
func storePepper(ctx context.Context, cfg Config, st store.Store) ([]byte, error) {
	path := cfg.PepperFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "pepper")
	}
	used, err := st.HasOrgs(ctx)
	if err != nil {
		return nil, err
	}
	return loadPepper(path, !used)
}

// loadPepper reads the pepper, creating it when mayCreate.
func loadPepper(path string, mayCreate bool) ([]byte, error) {
	p, err := os.ReadFile(path)
	if err == nil {
		if len(p) < 32 {
			return nil, fmt.Errorf("pepper %s: %d bytes, want at least 32", path, len(p))
		}
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read pepper: %w", err)
	}
	if !mayCreate {
		return nil, fmt.Errorf("pepper %s does not exist, and the store already has organizations: "+
			"point --pepper-file at the pepper the store's keys were made with", path)
	}
	p = make([]byte, 32)
	rand.Read(p)
	if err := writeFileAtomic(path, p); err != nil {
		return nil, fmt.Errorf("create pepper: %w", err)
	}
	return p, nil
}

// writeFileAtomic writes a 0600 file by rename, so a crash leaves the old
// content or the new, never half.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Bootstrap creates the first organization, its Owner (owner@localhost, no
// password yet) and the Owner's user key with every permission the role
// allows, when the store has no organization. save receives the key before
// the store commits, so a crash can lose a key only together with the data
// it belongs to; a later start then bootstraps again. It reports whether it
// created anything.
func (s *Server) Bootstrap(ctx context.Context, save func(key string) error) (bool, error) {
	has, err := s.store.HasOrgs(ctx)
	if err != nil || has {
		return false, err
	}
	// The first org of an install is on the top plan: nothing is billed here.
	o, err := s.accounts.CreateOrgWithOwner(ctx, "Default organization", "owner@localhost", "", "enterprise", save)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	s.cfg.Logger.Info("bootstrapped the first organization", "org", o.ID, "owner", "owner@localhost")
	return true, nil
}

// WriteKeyFile writes a key to path with mode 0600.
func WriteKeyFile(path, key string) error { return writeFileAtomic(path, []byte(key+"\n")) }

// Run serves the API and runs the outbox relay, the click store's
// retention, the visitor salts' publisher, the webhook dispatcher (while
// this node leads) and the API usage flushes until
// ctx ends, then stops taking requests, lets in-flight ones finish (up to
// 10s) and flushes their usage.
func (s *Server) Run(ctx context.Context) error {
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { s.publisher.Run(relayCtx) })
	// Every control node runs the retention job, against its own click
	// store or the shared one: DeleteBefore is idempotent, and pgstore's
	// leaves an org another node is deleting to that node.
	retention := &analytics.Retention{Store: s.clicks, Now: s.cfg.Now, Logger: s.cfg.Logger,
		Keep: func(ctx context.Context, org string) (time.Duration, error) {
			o, err := s.store.Org(ctx, org)
			return plans.Get(o.Plan).Retention, err
		}}
	wg.Go(func() { retention.Run(relayCtx) })
	wg.Go(func() { s.domains.Run(relayCtx, s.cfg.DomainCheckPeriod) })
	// API usage is counted in memory and flushed every usageFlush; the
	// last flush runs once the API has drained (relayCtx ends after it).
	wg.Go(func() { s.usage.Run(relayCtx, usageFlush) })
	wg.Go(func() { s.clickSubs.Run(relayCtx) })
	if s.cfg.Salts != nil {
		salts := &visitorsalt.Publisher{Applier: s.publisher.Applier, Salts: s.cfg.Salts, Logger: s.cfg.Logger, Now: s.cfg.Now}
		wg.Go(func() { salts.Run(relayCtx) })
	}
	if s.acme != nil {
		wg.Go(func() { s.acme.Run(relayCtx, s.acmeHosts) })
	}
	// Webhooks are fanned out and delivered by the leader only, so one
	// node sends a message at a time; a change of leader mid-attempt may
	// send it twice (at least once: receivers dedupe by webhook-id).
	wg.Go(func() { s.hooks.Run(relayCtx) })
	// Every node sweeps unreferenced file bytes: each removal is one
	// transaction over its blob's row, so two nodes never disagree.
	if s.files != nil {
		wg.Go(func() { s.files.RunSweeper(relayCtx, 0) })
	}
	defer func() {
		stopRelay()
		wg.Wait()
	}()

	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve api: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain api: %w", err)
	}
	return nil
}

// served says whether the edges serve host, from d (nil: none).
func served(d EdgeDomains) func(string) bool {
	if d == nil {
		return nil
	}
	return func(host string) bool {
		_, ok, _ := d.Domain([]byte(host))
		return ok
	}
}

// wireFileURLs gives files public URLs, under a key derived from the
// pepper (which every control node holds), and lets links show them to
// the edges and clear a file deleted by force.
func wireFileURLs(fs *files.Service, ls *links.Service, publicURL string, pepper []byte) error {
	urls, err := files.NewURLs(publicURL, pepper)
	if err != nil {
		return err
	}
	fs.URLs, fs.Links, ls.FileURL = urls, ls, urls.URL
	return nil
}

// newWebhooks is the webhooks service of cfg: one egress policy, which
// checks URLs when they are saved, and the one guarded client built from
// it, which every delivery shares. Endpoint secrets are sealed under a key
// derived from the pepper, which every control node holds and which never
// enters the store.
func newWebhooks(cfg Config, st store.Store, pepper []byte, logger *slog.Logger) (*webhooks.Service, error) {
	key, err := sealed.NewKey(pepper, webhooks.SecretPurpose)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	policy := egress.Policy{AllowHTTP: cfg.WebhookAllowHTTP, AllowNetworks: cfg.WebhookAllowNetworks,
		Resolver: domains.NewResolver(cfg.DNSResolver)}
	ua := "H0p-Webhooks"
	if cfg.Version != "" {
		ua += "/" + cfg.Version
	}
	return &webhooks.Service{Store: st, Policy: policy, Client: policy.Client(), Sealer: key, UserAgent: ua,
		Now: cfg.Now, Logger: logger.With("subsystem", "webhooks")}, nil
}

// newACME is the certificate manager of cfg: challenges and certificates
// through raft into the replicated store, keys sealed with the cluster
// secret.
func newACME(cfg Config, applier outbox.Applier, logger *slog.Logger) (*certs.Manager, error) {
	if cfg.Records == nil {
		return nil, errors.New("acme: no replicated store to keep certificates in")
	}
	certKeys, err := sealed.NewKey(cfg.Secret, kv.CertificateKeyPurpose)
	if err != nil {
		return nil, fmt.Errorf("acme: cluster secret: %w", err)
	}
	return &certs.Manager{
		DirectoryURL: cfg.ACMEDirectory, Email: cfg.ACMEEmail, CARoot: cfg.ACMECARoot,
		Challenges: certs.ReplicatedChallenges{Applier: applier},
		Store:      certs.ReplicatedStore{Applier: applier, Records: cfg.Records},
		Sealer:     certKeys, Interval: cfg.ACMEInterval, Now: cfg.Now, Logger: logger.With("subsystem", "certs"),
	}, nil
}

var _ domains.Certificates = (*certs.Manager)(nil)

// acmeHosts are the hosts to hold certificates for: while this node leads,
// the custom domains the edges serve (those with a domain record), not the
// platform's own, whose certificates are the operator's.
func (s *Server) acmeHosts() []string {
	if !s.publisher.Applier.IsLeader() {
		return nil
	}
	return s.customHosts()
}

// customHosts are the custom domains the edges serve.
func (s *Server) customHosts() []string {
	var hosts []string
	for _, h := range s.cfg.Records.DomainHosts() {
		if !s.platformDomain(h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func (s *Server) platformDomain(host string) bool {
	return strings.EqualFold(host, s.cfg.DefaultDomain) || slices.ContainsFunc(s.cfg.SharedDomains, func(d string) bool {
		return strings.EqualFold(host, d)
	})
}

// Close releases the listener and the stores. Call after Run returned.
func (s *Server) Close() error {
	s.http.Close()
	s.ln.Close() // Serve may never have taken it
	// MCP sessions call the API, and so the stores, until they end.
	err := s.mcp.Close()
	return errors.Join(err, s.closeStores())
}

func (s *Server) closeStores() error {
	err := errors.Join(s.clicks.Close(), s.store.Close())
	if s.redis != nil {
		err = errors.Join(err, s.redis.Close())
	}
	return err
}

// openLimiter is the API's rate limiter: in memory, or in the Redis of
// cfg.RateLimitRedisURL, whose client s.redis closeStores closes. It does
// not contact Redis: one that is down at start is an outage like any
// other, and the API fails open or closed per cfg.RateLimitFailClosed.
func (s *Server) openLimiter(cfg Config, logger *slog.Logger) (ratelimit.Limiter, error) {
	if cfg.RateLimitRedisURL == "" {
		return ratelimit.NewMemory(cfg.Now), nil
	}
	opts, err := redis.ParseURL(cfg.RateLimitRedisURL)
	if err != nil {
		// url.Parse's errors quote the URL, and so its password.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("rate-limit redis URL: %w", err)
	}
	// Every API request waits for Redis: while it is unreachable, answer
	// (open or closed) within about a second, not go-redis's 5 s defaults.
	// The URL's dial_timeout and read_timeout win.
	if opts.DialTimeout == 0 {
		opts.DialTimeout = time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = time.Second
	}
	// Dial once per try, not five times; retry a command once (a
	// connection Redis closed while idle). While Redis is down, go-redis's
	// pool then fails at once until a redial in the background succeeds.
	opts.DialerRetries = 1
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	opts.DisableIdentity = true // no CLIENT SETINFO, which Redis before 7.2 refuses
	s.redis = redis.NewClient(opts)
	l, err := redislimit.New(redislimit.Config{Client: s.redis, Logger: logger.With("subsystem", "ratelimit", "redis", opts.Addr),
		Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// CheckpointClicks writes a consistent copy of the click store to dir
// (which must not exist) when it is the embedded one (pebblestore, in
// DataDir/analytics), and reports whether it did. A click store on
// ClickHouse or PostgreSQL is backed up with its server: it writes
// nothing.
func (s *Server) CheckpointClicks(dir string) (bool, error) {
	ps, ok := s.clicks.(*pebblestore.Store)
	if !ok {
		return false, nil
	}
	return true, ps.Checkpoint(dir)
}

// IngestClicks stores one batch of an edge's clicks (shared/clicks), once:
// the links service counts it against its edge's checkpoint in the
// control store (link clicks, the org's usage, maxClicks), then the click
// store keeps what it admitted, against its own checkpoint. A batch shipped
// again, because an acknowledgement was lost or either step failed, is
// counted and stored once. A batch that does not decode wraps
// clicks.ErrCorrupt: the edge sets it aside rather than ship it again.
func (s *Server) IngestClicks(ctx context.Context, data []byte) error {
	var b clicks.Batch
	if err := b.UnmarshalBinary(data); err != nil {
		return err
	}
	adm, err := s.links.RecordClicks(ctx, &b)
	if err != nil {
		return err
	}
	kept := clicks.Batch{Edge: b.Edge, Seq: b.Seq, Clicks: adm.Clicks}
	_, err = s.clicks.Ingest(ctx, &kept, analytics.KnownOrgs(adm.Clicks, adm.Orgs))
	return err
}
