package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/adminserver"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

// nodeFlags are the flags every cluster process has.
type nodeFlags struct {
	NodeID        string
	RaftAddr      string
	RaftAdvertise string
	AdminAddr     string
	DataDir       string
	CertsDir      string
	Join          string
	LogLevel      slog.Level
	DrainDelay    time.Duration
	Pprof         bool

	HeartbeatTimeout  time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

func (n *nodeFlags) register(fs *flag.FlagSet, defaultID string) {
	fs.StringVar(&n.NodeID, "node-id", defaultID, "this node's stable ID; must match its certificate")
	fs.StringVar(&n.RaftAddr, "raft-addr", "127.0.0.1:7001", "raft listen address (mutual TLS; never a public address)")
	fs.StringVar(&n.RaftAdvertise, "raft-advertise", "", "raft address other nodes dial (default: --raft-addr)")
	fs.StringVar(&n.AdminAddr, "admin-addr", "127.0.0.1:9091", "admin listen address (never public): "+adminserver.Endpoints)
	fs.BoolVar(&n.Pprof, "pprof", false, "serve Go's profiles on the admin address under /debug/pprof/")
	fs.StringVar(&n.DataDir, "data", "./data", "data directory")
	fs.StringVar(&n.CertsDir, "certs", "./certs", "directory with ca.pem, <node-id>.pem and <node-id>-key.pem (h0p admin certs)")
	fs.StringVar(&n.Join, "join", "", "comma-separated control API URLs to join through, e.g. https://127.0.0.1:8443")
	fs.TextVar(&n.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	fs.DurationVar(&n.DrainDelay, "drain-delay", 0, "on shutdown, how long /readyz fails before connections drain")
	fs.DurationVar(&n.HeartbeatTimeout, "raft-heartbeat-timeout", time.Second, "raft heartbeat and election timeout")
	fs.Uint64Var(&n.SnapshotThreshold, "raft-snapshot-threshold", 8192, "log entries between snapshots")
	fs.DurationVar(&n.SnapshotInterval, "raft-snapshot-interval", 2*time.Minute, "how often raft checks whether a snapshot is due")
	fs.Uint64Var(&n.TrailingLogs, "raft-trailing-logs", 10240, "log entries kept after a snapshot; a node further behind catches up by snapshot")
}

// nodeBase is what every cluster process opens first, in this order: its
// identity, metrics, the edge store and the raft node over it.
type nodeBase struct {
	logger *slog.Logger
	id     *clustercert.Bundle
	reg    *prometheus.Registry
	store  *replication.Store
	node   *replication.Node
}

// openNode opens a node's base; what it opened is added to c for closing.
// Control nodes are voters (and may bootstrap); edges are not.
func (n *nodeFlags) openNode(stderr io.Writer, role clustercert.Role, bootstrap bool, c *closers) (*nodeBase, error) {
	b := &nodeBase{
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: n.LogLevel})),
		reg:    newRegistry(),
	}
	var err error
	if b.id, err = n.loadIdentity(role); err != nil {
		return nil, err
	}
	if b.store, err = replication.OpenStore(filepath.Join(n.DataDir, "edge"), b.logger.With("node", n.NodeID)); err != nil {
		return nil, err
	}
	c.add(b.store.Close)
	b.node, err = replication.Open(replication.Config{
		NodeID: n.NodeID, RaftAddr: n.RaftAddr, Advertise: n.RaftAdvertise, Dir: filepath.Join(n.DataDir, "replication"),
		Voter: role == clustercert.Control, Bootstrap: bootstrap,
		Logger: b.logger, Registerer: b.reg, ServerTLS: b.id.ServerConfig(), ClientTLS: b.id.ClientConfig(),
		HeartbeatTimeout: n.HeartbeatTimeout, SnapshotThreshold: n.SnapshotThreshold,
		SnapshotInterval: n.SnapshotInterval, TrailingLogs: n.TrailingLogs,
	}, b.store)
	if err != nil {
		return nil, err
	}
	c.add(b.node.Close)
	b.logger = b.logger.With("node", n.NodeID) // raft's lines carry the node already
	return b, nil
}

func (n *nodeFlags) joinURLs() []string { return splitList(n.Join) }

// splitList reads a comma-separated flag value, blanks trimmed.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// loadIdentity loads the node certificate and checks its role.
func (n *nodeFlags) loadIdentity(want clustercert.Role) (*clustercert.Bundle, error) {
	b, err := clustercert.Load(n.CertsDir, n.NodeID)
	if err != nil {
		return nil, err
	}
	if b.Role != want {
		return nil, fmt.Errorf("the certificate of %s is for a %s node, not %s", n.NodeID, b.Role, want)
	}
	return b, nil
}

// mtlsClient is the HTTP client a node uses to call other nodes.
func mtlsClient(b *clustercert.Bundle) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		// The transport also forwards API writes to the leader, without the
		// client's Timeout: bound each stage so a frozen leader cannot hold
		// a request (or a graceful shutdown) forever.
		Transport: &http.Transport{
			TLSClientConfig:       b.ClientConfig(),
			ForceAttemptHTTP2:     true,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		},
	}
}

// slugFlags shape random slugs.
type slugFlags struct {
	Length      int
	NoLookalike bool
}

func (f *slugFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.Length, "slug-length", 7, "length of random slugs (4 to 32)")
	fs.BoolVar(&f.NoLookalike, "slug-no-lookalike", false, "random slugs without characters that are easy to misread (0 O 1 l I)")
}

func (f slugFlags) check() error {
	if f.Length < 4 || f.Length > 32 {
		return fmt.Errorf("--slug-length %d: must be 4 to 32", f.Length)
	}
	return nil
}

// parsePrefixes reads comma-separated CIDRs (or single addresses).
func parsePrefixes(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("--%s: %q is not an address or CIDR", flagName, part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not an address or CIDR", flagName, part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

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

// registerRateFlags adds the API rate-limit flags (the product's 5/s and
// 100/min by default; benchmarks and load tests raise them).
func registerRateFlags(fs *flag.FlagSet, l *ratelimit.Limits) {
	fs.IntVar(&l.PerSecond, "rate-per-second", ratelimit.DefaultLimits.PerSecond, "API requests per second per key, user or client IP")
	fs.IntVar(&l.PerMinute, "rate-per-minute", ratelimit.DefaultLimits.PerMinute, "API requests per minute per key, user or client IP")
}

// joinUntilDone asks the cluster to admit this node until it succeeds or ctx
// ends, backing off between rounds.
func joinUntilDone(ctx context.Context, logger *slog.Logger, client *http.Client, urls []string, req cluster.JoinRequest) (cluster.JoinResponse, error) {
	wait := 200 * time.Millisecond
	for {
		resp, err := cluster.Join(ctx, client, urls, req)
		if err == nil {
			logger.Info("joined the cluster", "leader", resp.LeaderID, "commitIndex", resp.CommitIndex)
			return resp, nil
		}
		if ctx.Err() != nil {
			return cluster.JoinResponse{}, ctx.Err()
		}
		logger.Warn("join failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return cluster.JoinResponse{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// runControl is `h0p control`: one voter of the raft group serving the API.
func runControl(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		nf                                    nodeFlags
		apiAddr, apiURL, databaseURL, pepper  string
		defaultDomain, shortScheme, shortPort string
		edgeAddrs                             string
		bootstrap                             bool
		limits                                ratelimit.Limits
		slugs                                 slugFlags
		smtpURL, publicURL                    string
	)
	fs := newFlags("control", "Runs a control node: the API and a raft voter. The first node starts with\n"+
		"--bootstrap; the others --join it. Several control nodes share one PostgreSQL\n"+
		"database (--database-url) and one key pepper (--pepper-file).", stderr)
	nf.register(fs, "c1")
	fs.StringVar(&apiAddr, "api-addr", "127.0.0.1:8443", "API listen address (HTTPS with the node certificate)")
	fs.StringVar(&apiURL, "api-url", "", "URL other nodes use to reach this API (default https://<api-addr>)")
	fs.BoolVar(&bootstrap, "bootstrap", false, "form a new cluster with this node as its first voter (first start only)")
	fs.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL shared by all control nodes (empty: SQLite in --data, one control node only)")
	fs.StringVar(&pepper, "pepper-file", "", "API-key pepper file shared by all control nodes (default <data>/control/pepper)")
	fs.StringVar(&defaultDomain, "default-domain", "localhost", "domain of links created without one")
	fs.StringVar(&shortScheme, "short-link-scheme", "https", "scheme of short links (a link's shortLink, exports, QR codes): <scheme>://<domain>[:<port>]/<key>")
	fs.StringVar(&shortPort, "short-link-port", "", "port of short links, when the edges answer on another port than the scheme's (empty: none)")
	fs.StringVar(&publicURL, "public-api-url", "", "the API's base URL as clients reach it (a proxy's, or a name): a link's qrCode and the links in emails start with it "+
		"(empty: --api-url, else https://<--api-addr>, a loopback or unspecified host named localhost)")
	fs.StringVar(&smtpURL, "smtp-url", "", "SMTP server for account emails: smtp[s]://[user:password@]host[:port][?from=address] (empty: none are sent)")
	fs.StringVar(&edgeAddrs, "edge-addrs", "", "comma-separated host:port addresses the edges answer on (their --edge-addr, "+
		"or the public addresses in front of them; 0.0.0.0 or [::] for every address of their host): link destinations there loop and are refused")
	registerRateFlags(fs, &limits)
	slugs.register(fs)
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
	if nf.Join != "" && databaseURL == "" {
		return errors.New("--join needs --database-url: the control nodes of a cluster share one PostgreSQL database")
	}
	var c closers
	defer func() { c.close() }()
	base, err := nf.openNode(stderr, clustercert.Control, bootstrap, &c)
	if err != nil {
		return err
	}
	logger, id, reg, node := base.logger, base.id, base.reg, base.node

	client := mtlsClient(id)
	apiTLS := id.ServerConfig()
	apiTLS.ClientAuth = tls.VerifyClientCertIfGiven // API clients use keys; nodes add certificates
	srv, err := control.Open(ctx, control.Config{
		APIAddr: apiAddr, DataDir: filepath.Join(nf.DataDir, "control"), DatabaseURL: databaseURL, PepperFile: pepper,
		DefaultDomain: defaultDomain, ShortLinkScheme: shortScheme, ShortLinkPort: shortPort,
		EdgeAddrs: splitList(edgeAddrs), Logger: logger, Registerer: reg, TLS: apiTLS, RateLimits: limits,
		PublicURL: publicURL, Mailer: mailer,
		SlugLength: slugs.Length, SlugNoLookalike: slugs.NoLookalike,
		Leader: node, ForwardTransport: client.Transport, NodeID: nf.NodeID,
		Cluster: &cluster.Handler{Node: node, Client: client, Logger: logger},
	}, node)
	if err != nil {
		return err
	}
	c.add(srv.Close)
	if apiURL == "" {
		apiURL = srv.URL()
	}
	self := kv.Node{ID: nf.NodeID, Role: string(clustercert.Control), APIAddr: apiURL}

	admin, err := adminserver.New(nf.AdminAddr, reg)
	if err != nil {
		return err
	}
	c.add(admin.Close)
	admin.Handle("GET /status", cluster.StatusHandler(node))
	if nf.Pprof {
		admin.ServePprof()
	}
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

// runEdge is `h0p edge`: a raft non-voter serving redirects from its local
// store.
func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		nf            nodeFlags
		edgeAddr      string
		defaultDomain string
		fallback      bool
		readyTimeout  time.Duration
		trusted       string
		reuse         bool
		maxConns      int
		answerMiB     int
		eventLoops    bool
	)
	fs := newFlags("edge", "Runs an edge node: a raft non-voter that serves redirects from its local store.\n"+
		"It joins through a control node (--join) and serves whatever it has even when\n"+
		"control is unreachable.", stderr)
	nf.register(fs, "e1")
	fs.StringVar(&edgeAddr, "edge-addr", "127.0.0.1:8081", "public listen address for redirects")
	fs.StringVar(&defaultDomain, "default-domain", "localhost", "the platform's default short domain")
	fs.BoolVar(&fallback, "fallback-to-default", false, "answer unknown hosts as if they were the default domain")
	fs.StringVar(&trusted, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For / Forwarded the edge believes")
	fs.BoolVar(&reuse, "reuseport", true, "bind --edge-addr with SO_REUSEPORT, so a new edge can start on it before the old one drains (the event loops always do)")
	fs.IntVar(&maxConns, "max-conns", 100_000, "concurrent public connections; beyond it new ones get 503")
	fs.BoolVar(&eventLoops, "event-loops", true, "serve from one epoll event loop per CPU (Linux); false: fasthttp's server, a goroutine per connection")
	fs.IntVar(&answerMiB, "answer-table-mib", 256, "memory for the in-memory answers of plain links (about 130 bytes a link; links beyond it are read from the store; 0: none)")
	fs.DurationVar(&readyTimeout, "ready-timeout", 30*time.Second,
		"if no control node answers the join within this time, report ready on the local state (static stability)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if nf.Join == "" {
		return errors.New("--join is required: edges join through a control node")
	}
	if answerMiB < 0 {
		return errors.New("--answer-table-mib must be 0 or more")
	}
	proxies, err := parsePrefixes("trusted-proxies", trusted)
	if err != nil {
		return err
	}
	var c closers
	defer func() { c.close() }()
	base, err := nf.openNode(stderr, clustercert.Edge, false, &c)
	if err != nil {
		return err
	}
	logger, id, reg, node, store := base.logger, base.id, base.reg, base.node, base.store
	loops := 0
	if eventLoops {
		loops = edgeLoops() // and the runtime gets one P more, for raft and the admin server
	}
	srv, err := edge.New(edge.Config{
		Addr: edgeAddr, DefaultDomain: defaultDomain, FallbackToDefault: fallback, Logger: logger, Registerer: reg,
		TrustedProxies: proxies, ReusePort: reuse, MaxConns: maxConns, AnswerTableBytes: answerTableBytes(answerMiB),
		FasthttpServer: !eventLoops, Loops: loops,
	}, store)
	if err != nil {
		return err
	}
	c.add(srv.Close)
	admin, err := adminserver.New(nf.AdminAddr, reg)
	if err != nil {
		return err
	}
	c.add(admin.Close)
	admin.Handle("GET /status", cluster.StatusHandler(node))
	if nf.Pprof {
		admin.ServePprof()
	}
	ready := &catchUp{applied: node.AppliedIndex, started: time.Now(), timeout: readyTimeout, logger: logger}
	admin.AddCheck("caught-up", ready.check)
	logger.Info("edge node up", "edge", "http://"+srv.Addr(), "raft", node.Addr(), "admin", "http://"+admin.Addr())

	joiner := func(ctx context.Context) error {
		resp, err := joinUntilDone(ctx, logger, mtlsClient(id), nf.joinURLs(),
			cluster.JoinRequest{ID: nf.NodeID, RaftAddr: node.Addr()})
		if err == nil {
			ready.setTarget(resp.CommitIndex)
		}
		return nil
	}
	return serve(ctx, logger, admin, nf.DrainDelay, runner{"edge", srv.Run}, runner{"join", joiner})
}

// catchUp is an edge's readiness: not ready until its store has applied the
// leader's commit index as of the join; after that ready for good, whatever
// happens to the leader (static stability). If no control node answers within
// timeout, the edge serves its local state and says so.
type catchUp struct {
	applied func() uint64
	started time.Time
	timeout time.Duration
	logger  *slog.Logger

	target    atomic.Uint64
	joined    atomic.Bool
	latched   atomic.Bool
	gaveUpLog atomic.Bool
}

func (c *catchUp) setTarget(commit uint64) {
	c.target.Store(commit)
	c.joined.Store(true)
}

func (c *catchUp) check() error {
	if c.latched.Load() {
		return nil
	}
	switch {
	case c.joined.Load() && c.applied() >= c.target.Load():
		c.latched.Store(true)
		return nil
	case !c.joined.Load() && time.Since(c.started) > c.timeout:
		if !c.gaveUpLog.Swap(true) {
			c.logger.Warn("no control node answered; serving the local state", "applied", c.applied())
		}
		return nil
	case !c.joined.Load():
		return errors.New("not joined yet")
	}
	return fmt.Errorf("catching up: applied %d of %d", c.applied(), c.target.Load())
}

// runAdmin is `h0p admin …`.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	usage := "Usage:\n  h0p admin certs --out DIR --nodes c1,c2,c3,e1,e2\n" +
		"  h0p admin create-org --name NAME --owner-email EMAIL [--data DIR | --database-url URL]\n" +
		"  h0p admin set-password --email EMAIL [--data DIR | --database-url URL]  (password from H0P_PASSWORD)\n" +
		"  h0p admin set-plan --org ORG_ID --plan free|pro|business|enterprise [--data DIR | --database-url URL]\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage+"\nRun \"h0p admin <command> --help\" for a command's flags.\n")
		return flag.ErrHelp
	case "certs":
		return adminCerts(args[1:], stdout, stderr, getenv)
	case "create-org":
		return adminCreateOrg(ctx, args[1:], stdout, stderr, getenv)
	case "set-password":
		return adminSetPassword(ctx, args[1:], stderr, getenv)
	case "set-plan":
		return adminSetPlan(ctx, args[1:], stderr, getenv)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown admin command %q", args[0])
}

func adminCerts(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var out, nodes, hosts string
	var overwrite bool
	fs := newFlags("admin certs", "Mints a development cluster CA and a certificate per node into --out.\n"+
		"Node entries are id or id:role; without a role, ids starting with \"e\" are edges\n"+
		"and all others control nodes.", stderr)
	fs.StringVar(&out, "out", "./certs", "output directory")
	fs.StringVar(&nodes, "nodes", "c1,c2,c3,e1,e2", "comma-separated node ids")
	fs.StringVar(&hosts, "hosts", "", "extra host names or IPs for every node certificate (loopback is always included)")
	fs.BoolVar(&overwrite, "overwrite", false, "replace an existing CA")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	specs, err := clustercert.ParseNodeList(nodes)
	if err != nil {
		return err
	}
	if hosts != "" {
		for i := range specs {
			specs[i].Hosts = append(specs[i].Hosts, strings.Split(hosts, ",")...)
		}
	}
	ca, err := clustercert.MintCA("h0p dev cluster CA", time.Now())
	if err != nil {
		return err
	}
	if err := clustercert.WriteDir(out, ca, specs, overwrite); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: ca.pem and certificates for %s\n", out, nodes)
	return nil
}

// adminCreateOrg creates an organization with an Owner and prints the
// Owner's key, for installs that start from nothing.
func adminCreateOrg(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var dataDir, databaseURL, pepper, name, email, pw, plan string
	fs := newFlags("admin create-org", "Creates an organization whose Owner is --owner-email (a new user unless the\n"+
		"email exists) and prints the Owner's API key as H0P_API_KEY=…. Point it at the\n"+
		"same store and pepper as the control nodes.", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store and pepper)")
	fs.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL of a cluster (instead of the SQLite store in --data)")
	fs.StringVar(&pepper, "pepper-file", "", "API-key pepper file (default <data>/control/pepper)")
	fs.StringVar(&name, "name", "", "organization name")
	fs.StringVar(&email, "owner-email", "", "email of the Owner")
	fs.StringVar(&pw, "owner-password", "", "password for a new Owner user (better through H0P_OWNER_PASSWORD)")
	fs.StringVar(&plan, "plan", "free", "plan: free, pro, business or enterprise")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if name == "" || email == "" {
		return errors.New("--name and --owner-email are required")
	}
	svc, st, err := control.OpenAccounts(ctx, control.Config{
		DataDir: filepath.Join(dataDir, "control"), DatabaseURL: databaseURL, PepperFile: pepper,
	})
	if err != nil {
		return err
	}
	defer st.Close()
	var key string
	o, err := svc.CreateOrgWithOwner(ctx, name, email, pw, plan, func(k string) error { key = k; return nil })
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created organization %s (%s) with Owner %s\n", o.Name, o.ID, email)
	fmt.Fprintf(stdout, "H0P_API_KEY=%s\n", key)
	return nil
}

// adminSetPassword sets a user's password, e.g. for the bootstrap Owner
// (owner@localhost), who starts with a key but no password.
func adminSetPassword(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var dataDir, databaseURL, email, pw string
	fs := newFlags("admin set-password", "Sets the password of the user with --email, so they can log in.", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store)")
	fs.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL of a cluster (instead of the SQLite store in --data)")
	fs.StringVar(&email, "email", "", "the user's email")
	fs.StringVar(&pw, "password", "", "the new password (better through H0P_PASSWORD)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if email == "" || pw == "" {
		return errors.New("--email and --password (or H0P_PASSWORD) are required")
	}
	svc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(dataDir, "control"), DatabaseURL: databaseURL})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := svc.SetPassword(ctx, email, pw); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "password set for %s\n", email)
	return nil
}

// adminSetPlan moves an organization to another plan.
func adminSetPlan(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var dataDir, databaseURL, org, plan string
	fs := newFlags("admin set-plan", "Moves an organization to another plan (limits and features: control/plans).", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store)")
	fs.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL of a cluster (instead of the SQLite store in --data)")
	fs.StringVar(&org, "org", "", "organization ID (org_…)")
	fs.StringVar(&plan, "plan", "", "free, pro, business or enterprise")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if org == "" || plan == "" {
		return errors.New("--org and --plan are required")
	}
	svc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(dataDir, "control"), DatabaseURL: databaseURL})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := svc.SetPlan(ctx, org, plan); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s is on the %s plan\n", org, plan)
	return nil
}

// answerTableBytes is --answer-table-mib as edge.Config wants it (0: none).
func answerTableBytes(mib int) int64 {
	if mib == 0 {
		return -1
	}
	return int64(mib) << 20
}
