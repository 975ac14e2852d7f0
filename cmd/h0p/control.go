package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/egress"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

// openMailer is the SMTP server of smtpURL; without one, fallback (h0p dev
// logs emails; h0p control sends none).
func openMailer(smtpURL string, fallback accounts.Mailer) (accounts.Mailer, error) {
	if smtpURL == "" {
		return fallback, nil
	}
	m, err := mail.ParseURL(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("--smtp-url: %w", err)
	}
	return m, nil
}

// domainFlags configure custom domains: the platform's shared domains,
// where custom domains point, and how their DNS is checked.
type domainFlags struct {
	shared, edgeHost, edgeIPs, resolver string
	period, grace                       time.Duration
	localSuffixes                       string
}

// register adds the flags; edgeHost, edgeIPs and local are their
// defaults.
func (d *domainFlags) register(fs *flag.FlagSet, edgeHost, edgeIPs, local string) {
	fs.StringVar(&d.localSuffixes, "domain-local-suffixes", local, "comma-separated top-level names custom domains may be under besides the Public Suffix List's (e.g. test, for a DNS server of your own)")
	fs.StringVar(&d.shared, "shared-domains", "", "comma-separated short domains every organization may create links on, besides --default-domain")
	fs.StringVar(&d.edgeHost, "edge-host-name", edgeHost, "host name custom domains point at with a CNAME")
	fs.StringVar(&d.edgeIPs, "edge-ips", edgeIPs, "comma-separated edge addresses custom domains may point at with A/AAAA records")
	fs.StringVar(&d.resolver, "dns-resolver", "", "host:port of the DNS server custom domains are checked with (empty: the system's resolver)")
	fs.DurationVar(&d.period, "domain-check-period", time.Hour, "how often every custom domain's DNS is checked again")
	fs.DurationVar(&d.grace, "domain-grace", 72*time.Hour, "how long a verified domain whose DNS check fails is still served")
}

// apply sets the domain fields of cfg.
func (d *domainFlags) apply(cfg *control.Config) {
	cfg.SharedDomains, cfg.EdgeHostName, cfg.EdgeIPs = splitList(d.shared), d.edgeHost, splitList(d.edgeIPs)
	cfg.DNSResolver, cfg.DomainCheckPeriod, cfg.DomainGrace = d.resolver, d.period, d.grace
	cfg.LocalSuffixes = splitList(d.localSuffixes)
}

// webhookFlags loosen the guard on webhook URLs, for tests and private
// deployments.
type webhookFlags struct {
	allowHTTP     bool
	allowNetworks string
}

func (w *webhookFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&w.allowHTTP, "webhook-allow-http", false, "let webhooks go to plain http URLs (unsafe outside tests: deliveries and their signatures travel in the clear)")
	fs.StringVar(&w.allowNetworks, "webhook-allow-networks", "", "comma-separated CIDRs webhooks may go to whatever the SSRF guard refuses, e.g. 127.0.0.0/8,::1/128 "+
		"(unsafe outside tests: it opens those networks to whoever can register a webhook)")
}

// apply sets the webhook fields of cfg.
func (w *webhookFlags) apply(cfg *control.Config) error {
	nets, err := egress.ParseNetworks(w.allowNetworks)
	if err != nil {
		return fmt.Errorf("--webhook-allow-networks: %w", err)
	}
	cfg.WebhookAllowHTTP, cfg.WebhookAllowNetworks, cfg.Version = w.allowHTTP, nets, version
	return nil
}

// acmeFlags are the certificate flags of control and dev.
type acmeFlags struct {
	directory, email, caRoot string
	interval                 time.Duration
}

func (a *acmeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.directory, "acme-directory", "", "ACME directory URL the leader obtains custom domains' certificates from, e.g. https://acme-v02.api.letsencrypt.org/directory (empty: none)")
	fs.StringVar(&a.email, "acme-email", "", "contact email of the ACME account")
	fs.StringVar(&a.caRoot, "acme-ca-root", "", "PEM file of an extra root to trust for the ACME server's HTTPS (a private CA or a test server)")
	fs.DurationVar(&a.interval, "acme-interval", 10*time.Minute, "how often the leader looks for certificates to obtain or renew")
}

// apply sets the ACME fields of cfg; secret is the cluster secret.
func (a *acmeFlags) apply(cfg *control.Config, records control.ACMERecords, secret func() ([]byte, error)) error {
	if a.directory == "" {
		return nil
	}
	var err error
	if a.caRoot != "" {
		if cfg.ACMECARoot, err = os.ReadFile(a.caRoot); err != nil {
			return fmt.Errorf("--acme-ca-root: %w", err)
		}
	}
	if cfg.Secret, err = secret(); err != nil {
		return err
	}
	cfg.ACMEDirectory, cfg.ACMEEmail, cfg.ACMEInterval, cfg.Records = a.directory, a.email, a.interval, records
	return nil
}

// runControl is `h0p control`: one voter of the raft group serving the API.
func runControl(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		nf                                    nodeFlags
		apiAddr, apiURL                       string
		sf                                    storeFlags
		defaultDomain, shortScheme, shortPort string
		edgeAddrs                             string
		bootstrap                             bool
		limits                                ratelimit.Limits
		redisf                                redisFlags
		slugs                                 slugFlags
		smtpURL, publicURL                    string
		mcpOrigins, clickhouseURL             string
		dashboard                             bool
		df                                    domainFlags
		af                                    acmeFlags
		wf                                    webhookFlags
		ff                                    fileFlags
	)
	fs := newFlags("control", "Runs a control node: the API and a raft voter. The first node starts with\n"+
		"--bootstrap; the others --join it. Several control nodes share one PostgreSQL\n"+
		"database (--database-url) and one key pepper (--pepper-file).", stderr)
	nf.register(fs, "c1")
	fs.StringVar(&apiAddr, "api-addr", "127.0.0.1:8443", "API listen address (HTTPS with the node certificate)")
	fs.StringVar(&apiURL, "api-url", "", "URL other nodes use to reach this API (default https://<api-addr>)")
	fs.BoolVar(&bootstrap, "bootstrap", false, "form a new cluster with this node as its first voter (first start only)")
	sf.register(fs)
	fs.StringVar(&defaultDomain, "default-domain", "localhost", "domain of links created without one")
	fs.StringVar(&shortScheme, "short-link-scheme", "https", "scheme of short links (a link's shortLink, exports, QR codes): <scheme>://<domain>[:<port>]/<key>")
	fs.StringVar(&shortPort, "short-link-port", "", "port of short links, when the edges answer on another port than the scheme's (empty: none)")
	fs.StringVar(&publicURL, "public-api-url", "", "the API's base URL as clients reach it (a proxy's, or a name): a link's qrCode and the links in emails start with it "+
		"(empty: --api-url, else https://<--api-addr>, a loopback or unspecified host named localhost)")
	fs.StringVar(&smtpURL, "smtp-url", "", "SMTP server for account emails: smtp[s]://[user:password@]host[:port][?from=address] (empty: none are sent)")
	fs.StringVar(&edgeAddrs, "edge-addrs", "", "comma-separated host:port addresses the edges answer on (their --edge-addr, "+
		"or the public addresses in front of them; 0.0.0.0 or [::] for every address of their host): link destinations there loop and are refused")
	registerRateFlags(fs, &limits)
	redisf.register(fs)
	registerMCPFlag(fs, &mcpOrigins)
	registerDashboardFlag(fs, &dashboard)
	registerAnalyticsFlag(fs, &clickhouseURL)
	slugs.register(fs)
	df.register(fs, "", "", "")
	af.register(fs)
	wf.register(fs)
	ff.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := slugs.check(); err != nil {
		return err
	}
	mailer, err := openMailer(smtpURL, nil)
	if err != nil {
		return err
	}
	publicFlag := "--public-api-url"
	if publicURL == "" {
		publicURL, publicFlag = apiURL, "--api-url (the default of --public-api-url)"
	}
	if _, err := control.CheckPublicURL(publicURL); err != nil {
		return fmt.Errorf("%s: %w", publicFlag, err)
	}
	if bootstrap == (nf.Join != "") {
		return errors.New("give exactly one of --bootstrap and --join")
	}
	if nf.Join != "" && sf.DatabaseURL == "" {
		return errors.New("--join needs --database-url: the control nodes of a cluster share one PostgreSQL database")
	}
	var c closers
	defer func() { c.close() }()
	base, err := nf.openNode(stderr, clustercert.Control, bootstrap, &c)
	if err != nil {
		return err
	}
	logger, id, reg, node := base.logger, base.id, base.reg, base.node

	client := id.Client()
	apiTLS := id.ServerConfig()
	apiTLS.ClientAuth = tls.VerifyClientCertIfGiven // API clients use keys; nodes add certificates
	// Control publishes through gate; a backup holds it.
	gate := &applyGate{Applier: node}
	backup := &nodeBackup{node: node, gate: gate, dataDir: nf.DataDir, databaseURL: sf.DatabaseURL, pepperFile: sf.PepperFile}
	clusterHandler := &cluster.Handler{Node: node, Client: client, Logger: logger, Backup: backup.Backup}
	ccfg := control.Config{
		APIAddr: apiAddr, DataDir: filepath.Join(nf.DataDir, "control"), DatabaseURL: sf.DatabaseURL, PepperFile: sf.PepperFile,
		DefaultDomain: defaultDomain, ShortLinkScheme: shortScheme, ShortLinkPort: shortPort,
		EdgeAddrs: splitList(edgeAddrs), Logger: logger, Registerer: reg, TLS: apiTLS, RateLimits: limits,
		PublicURL: publicURL, Mailer: mailer, Salts: base.store, EdgeDomains: base.store,
		SlugLength: slugs.Length, SlugNoLookalike: slugs.NoLookalike, MCPAllowedOrigins: splitList(mcpOrigins),
		Leader: node, ForwardTransport: client.Transport, NodeID: nf.NodeID,
		Cluster: clusterHandler, Dashboard: dashboard, AnalyticsClickHouseURL: clickhouseURL,
	}
	df.apply(&ccfg)
	if err := redisf.apply(&ccfg); err != nil {
		return err
	}
	if err := wf.apply(&ccfg); err != nil {
		return err
	}
	if err := ff.apply(ctx, &ccfg, sf.DatabaseURL != ""); err != nil {
		return err
	}
	if err := af.apply(&ccfg, base.store, func() ([]byte, error) { return clustercert.LoadSecret(nf.CertsDir) }); err != nil {
		return err
	}
	srv, err := control.Open(ctx, ccfg, gate)
	if err != nil {
		return err
	}
	c.add(srv.Close)
	clusterHandler.Clicks = srv.IngestClicks
	backup.clicks = srv // control serves backups only from Run on
	if apiURL == "" {
		apiURL = srv.URL()
	}
	self := kv.Node{ID: nf.NodeID, Role: string(clustercert.Control), APIAddr: apiURL}

	admin, err := openAdmin(nf.AdminAddr, reg, node, nf.Pprof)
	if err != nil {
		return err
	}
	c.add(admin.Close)
	var member atomic.Bool
	member.Store(bootstrap)
	admin.AddCheck("raft", func() error {
		switch {
		case !member.Load():
			return errors.New("not joined yet")
		case node.Leader() == "":
			return errors.New("no raft leader")
		}
		return nil
	})

	logger.Info("control node up", "api", apiURL, "raft", node.Addr(), "admin", "http://"+admin.Addr())

	// Membership runs beside the API: join (unless bootstrapping), then keep
	// this node's API address published whenever it leads, so followers can
	// forward writes to it after every election. The bootstrap node also
	// creates the first organization the first time it leads an empty store.
	membership := func(ctx context.Context) error {
		if !bootstrap {
			_, err := joinUntilDone(ctx, logger, client, nf.joinURLs(),
				cluster.JoinRequest{ID: nf.NodeID, RaftAddr: node.Addr(), APIAddr: apiURL})
			if err != nil {
				return nil // shutting down
			}
			member.Store(true)
		}
		orgChecked := !bootstrap
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if node.IsLeader() {
				if err := node.PublishNode(self); err != nil {
					logger.Warn("publish own address", "err", err)
				} else if !orgChecked {
					created, err := srv.Bootstrap(ctx, func(k string) error {
						if err := control.WriteKeyFile(filepath.Join(nf.DataDir, "bootstrap.key"), k); err != nil {
							return err
						}
						fmt.Fprintf(stdout, "H0P_API_KEY=%s\n", k)
						return nil
					})
					if err != nil {
						logger.Error("bootstrap the first organization", "err", err)
					} else {
						orgChecked = true
						if created {
							logger.Info("created the first organization; its Owner key is printed on stdout")
						}
					}
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
	return serve(ctx, logger, admin, nf.DrainDelay, runner{"control", srv.Run}, runner{"membership", membership})
}
