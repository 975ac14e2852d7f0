package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/edge/clickspool"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/adminserver"
	"github.com/h0p/h0p/shared/clustercert"
)

type devConfig struct {
	APIAddr       string
	PublicAPIURL  string
	EdgeAddr      string
	EdgeTLSAddr   string
	AdminAddr     string
	RaftAddr      string
	DataDir       string
	DatabaseURL   string
	ClickHouseURL string // the click store on ClickHouse (empty: beside the control store)
	DefaultDomain string
	LogLevel      slog.Level
	DrainDelay    time.Duration
	RateLimits    ratelimit.Limits
	Redis         redisFlags
	MCPOrigins    string
	Dashboard     bool
	Slugs         slugFlags
	Trusted       string
	SMTPURL       string
	Pprof         bool
	ClickSpoolMiB int
	Domains       domainFlags
	ACME          acmeFlags
	Webhooks      webhookFlags
	Files         fileFlags
	// IngestClicks takes the edge's click batches in process; nil:
	// control's ingest (tests hold batches back with a func that fails).
	IngestClicks func(ctx context.Context, batch []byte) error
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg devConfig
	fs := newFlags("dev", "Runs the control API, the edge and a single-voter raft node in one process.\n"+
		"On first start with an empty data directory it creates an organization and\n"+
		"prints its Owner's API key as H0P_API_KEY=… (also saved to <data>/bootstrap.key).\n\n"+
		"Short links (a link's shortLink, exports, QR codes) are http://<domain>:<port of --edge-addr>/<key>;\n"+
		"links to the API (a link's qrCode, the instructions in emails) start with --public-api-url.", stderr)
	fs.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:8080", "control API listen address")
	fs.StringVar(&cfg.PublicAPIURL, "public-api-url", "", "the API's base URL as clients reach it (a proxy's, or a name): a link's qrCode and the links in emails start with it "+
		"(empty: http://<--api-addr>, a loopback or unspecified host named localhost, e.g. http://localhost:8080)")
	fs.StringVar(&cfg.EdgeAddr, "edge-addr", "127.0.0.1:8081", "edge (redirect) listen address; its port is the port of short links")
	fs.StringVar(&cfg.EdgeTLSAddr, "edge-tls-addr", "", "edge HTTPS listen address: custom domains' certificates, chosen by SNI (empty: none)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "127.0.0.1:9090", "admin listen address (never public): "+adminserver.Endpoints)
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go's profiles on the admin address under /debug/pprof/")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:7000", "raft listen address (keep it off public interfaces)")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL of the control store (empty: SQLite in --data)")
	fs.StringVar(&cfg.DefaultDomain, "default-domain", "localhost", "domain of links created without one; unknown hosts fall back to it")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", 0, "on shutdown, how long /readyz fails before connections drain")
	registerRateFlags(fs, &cfg.RateLimits)
	cfg.Redis.register(fs)
	registerMCPFlag(fs, &cfg.MCPOrigins)
	registerDashboardFlag(fs, &cfg.Dashboard)
	registerAnalyticsFlag(fs, &cfg.ClickHouseURL)
	cfg.Slugs.register(fs)
	fs.StringVar(&cfg.Trusted, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For / Forwarded the edge believes")
	registerClickSpoolFlag(fs, &cfg.ClickSpoolMiB)
	// dev's edge answers on the loopback: custom domains point there, and
	// may be under .test, which a local DNS server answers.
	cfg.Domains.register(fs, "edge.localhost", "127.0.0.1,::1", "test")
	cfg.ACME.register(fs)
	cfg.Webhooks.register(fs)
	cfg.Files.register(fs)
	fs.StringVar(&cfg.SMTPURL, "smtp-url", "", "SMTP server for account emails: smtp[s]://[user:password@]host[:port][?from=address] (empty: emails are written to the log)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := cfg.Slugs.check(); err != nil {
		return err
	}
	if cfg.ClickSpoolMiB < 1 {
		return errors.New("--click-spool-mib must be 1 or more")
	}
	if _, err := control.CheckPublicURL(cfg.PublicAPIURL); err != nil {
		return fmt.Errorf("--public-api-url: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	d, err := openDev(ctx, cfg, logger, stdout)
	if err != nil && ctx.Err() != nil {
		logger.Info("interrupted while starting", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	return errors.Join(d.run(ctx), d.close())
}

// dev is control and edge in one process around one single-voter raft node.
type dev struct {
	cfg     devConfig
	logger  *slog.Logger
	store   *replication.Store
	node    *replication.Node
	control *control.Server
	edge    *edge.Server
	shipper *clickspool.Shipper
	admin   *adminserver.Server
}

// openDev opens every part in dependency order. On error it closes what it
// opened.
func openDev(ctx context.Context, cfg devConfig, logger *slog.Logger, stdout io.Writer) (_ *dev, err error) {
	d := &dev{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	reg := newRegistry()

	// 1. The edge database, which the FSM writes and the edge reads.
	if d.store, err = replication.OpenStore(filepath.Join(cfg.DataDir, "edge"), logger); err != nil {
		return nil, err
	}
	// 2. Raft: one voter that bootstraps itself on first start.
	d.node, err = replication.Open(replication.Config{
		NodeID: "dev", RaftAddr: cfg.RaftAddr, Dir: filepath.Join(cfg.DataDir, "replication"),
		Voter: true, Bootstrap: true, Logger: logger, Registerer: reg,
		HeartbeatTimeout: 500 * time.Millisecond, // one node: elect quickly at start
	}, d.store)
	if err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.node.WaitLeader(waitCtx); err != nil {
		return nil, err
	}
	proxies, err := parsePrefixes("trusted-proxies", cfg.Trusted)
	if err != nil {
		return nil, err
	}
	// 3. The edge, reading the local store. It listens now (serving starts in
	// run) so control can put its real port into shortLinks. It runs an
	// event loop per P, and the runtime gets one P more, for control and
	// raft (edgeLoops).
	// The cluster secret, which seals certificates' keys, is dev's own:
	// <data>/cluster-secret.
	secret := func() ([]byte, error) {
		if err := clustercert.EnsureSecret(cfg.DataDir); err != nil {
			return nil, err
		}
		return clustercert.LoadSecret(cfg.DataDir)
	}
	var certKeys edge.KeyOpener
	if cfg.EdgeTLSAddr != "" {
		if certKeys, err = certificateKeys(secret()); err != nil {
			return nil, err
		}
	}
	d.edge, err = edge.New(edge.Config{
		Addr: cfg.EdgeAddr, DefaultDomain: cfg.DefaultDomain, FallbackToDefault: true,
		Logger: logger, Registerer: reg, TrustedProxies: proxies, Loops: edgeLoops(),
		TLSAddr: cfg.EdgeTLSAddr, CertificateKeys: certKeys,
	}, d.store)
	if err != nil {
		return nil, err
	}
	// Its clicks are spooled in <data>/clicks (the shipper, step 5).
	spool, err := openClickSpool(cfg.DataDir, "dev", cfg.ClickSpoolMiB, logger, reg)
	if err != nil {
		return nil, err
	}
	// 4. Control: store, API, outbox relay. Links it creates go through the
	// node and land on the edge store. It refuses destinations on the edge's
	// real address, which would loop.
	_, edgePort, err := net.SplitHostPort(d.edge.Addr())
	if err != nil {
		return nil, fmt.Errorf("edge address: %w", err)
	}
	mailer, err := openMailer(cfg.SMTPURL, mail.Log{Logger: logger.With("subsystem", "mail")})
	if err != nil {
		return nil, err
	}
	ccfg := control.Config{
		APIAddr: cfg.APIAddr, PublicURL: cfg.PublicAPIURL, DataDir: filepath.Join(cfg.DataDir, "control"), DatabaseURL: cfg.DatabaseURL,
		DefaultDomain: cfg.DefaultDomain, ShortLinkScheme: "http", ShortLinkPort: edgePort,
		Logger: logger, Registerer: reg, RateLimits: cfg.RateLimits, Mailer: mailer,
		SlugLength: cfg.Slugs.Length, SlugNoLookalike: cfg.Slugs.NoLookalike,
		EdgeAddrs: []string{d.edge.Addr()}, Salts: d.store, EdgeDomains: d.store,
		MCPAllowedOrigins: splitList(cfg.MCPOrigins), Dashboard: cfg.Dashboard, AnalyticsClickHouseURL: cfg.ClickHouseURL,
	}
	cfg.Domains.apply(&ccfg)
	if err := cfg.Redis.apply(&ccfg); err != nil {
		return nil, err
	}
	if err := cfg.Webhooks.apply(&ccfg); err != nil {
		return nil, err
	}
	if err := cfg.Files.apply(ctx, &ccfg, false); err != nil {
		return nil, err
	}
	if err := cfg.ACME.apply(&ccfg, d.store, secret); err != nil {
		return nil, err
	}
	d.control, err = control.Open(ctx, ccfg, d.node)
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(cfg.DataDir, "bootstrap.key")
	var key string
	created, err := d.control.Bootstrap(ctx, func(k string) error {
		key = k
		return control.WriteKeyFile(keyPath, k)
	})
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stdout, "H0P_API_KEY=%s\n", key)
		logger.Info("bootstrap key printed above and saved", "path", keyPath)
	}
	// 5. The click shipper: the edge's clicks into the spool, and from it
	// to IngestClicks in process, the way an edge ships them to control.
	ingest := cfg.IngestClicks
	if ingest == nil {
		ingest = d.control.IngestClicks
	}
	d.shipper = &clickspool.Shipper{Spool: spool, Queue: d.edge, Logger: logger, Sink: clickspool.SinkFunc(ingest)}
	// 6. Admin: metrics, health, readiness.
	if d.admin, err = openAdmin(cfg.AdminAddr, reg, d.node, cfg.Pprof); err != nil {
		return nil, err
	}
	d.admin.AddCheck("raft", func() error {
		if d.node.Leader() == "" {
			return errors.New("no raft leader")
		}
		return nil
	})
	logger.Info("h0p dev is up", "api", "http://"+d.control.Addr(), "publicApi", d.control.PublicURL(), "edge", "http://"+d.edge.Addr(),
		"admin", "http://"+d.admin.Addr(), "data", cfg.DataDir)
	return d, nil
}

// run serves until ctx ends; see serve for the shutdown order.
func (d *dev) run(ctx context.Context) error {
	return serve(ctx, d.logger, d.admin, d.cfg.DrainDelay,
		runner{"control", d.control.Run}, runner{"edge", func(ctx context.Context) error { return d.shipper.RunBeside(ctx, d.edge.Run) }})
}

// close releases everything in reverse order of opening: servers first, then
// raft (which stops writing the edge store), then the edge store.
func (d *dev) close() error {
	var errs []error
	if d.admin != nil {
		errs = append(errs, d.admin.Close())
	}
	if d.edge != nil {
		errs = append(errs, d.edge.Close())
	}
	if d.control != nil {
		errs = append(errs, d.control.Close())
	}
	if d.node != nil {
		errs = append(errs, d.node.Close())
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}
