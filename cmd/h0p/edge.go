package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/edge/clickspool"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/sealed"
)

// certificateKeys is the key that opens certificates' private keys, from
// the cluster secret.
func certificateKeys(secret []byte, err error) (*sealed.Key, error) {
	if err != nil {
		return nil, err
	}
	return sealed.NewKey(secret, kv.CertificateKeyPurpose)
}

// runEdge is `h0p edge`: a raft non-voter serving redirects from its local
// store.
func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		nf            nodeFlags
		edgeAddr      string
		tlsAddr       string
		defaultDomain string
		fallback      bool
		readyTimeout  time.Duration
		trusted       string
		reuse         bool
		maxConns      int
		answerMiB     int
		spoolMiB      int
		eventLoops    bool
	)
	fs := newFlags("edge", "Runs an edge node: a raft non-voter that serves redirects from its local store.\n"+
		"It joins through a control node (--join) and serves whatever it has even when\n"+
		"control is unreachable.", stderr)
	nf.register(fs, "e1")
	fs.StringVar(&edgeAddr, "edge-addr", "127.0.0.1:8081", "public listen address for redirects")
	fs.StringVar(&tlsAddr, "edge-tls-addr", "", "public HTTPS listen address: custom domains' certificates, chosen by SNI (empty: none; needs the cluster secret in --certs)")
	fs.StringVar(&defaultDomain, "default-domain", "localhost", "the platform's default short domain")
	fs.BoolVar(&fallback, "fallback-to-default", false, "answer unknown hosts as if they were the default domain")
	fs.StringVar(&trusted, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For / Forwarded the edge believes")
	fs.BoolVar(&reuse, "reuseport", true, "bind --edge-addr with SO_REUSEPORT, so a new edge can start on it before the old one drains (the event loops always do)")
	fs.IntVar(&maxConns, "max-conns", 100_000, "concurrent public connections; beyond it new ones get 503")
	fs.BoolVar(&eventLoops, "event-loops", true, "serve from one epoll event loop per CPU (Linux); false: fasthttp's server, a goroutine per connection")
	fs.IntVar(&answerMiB, "answer-table-mib", 256, "memory for the in-memory answers of plain links (about 130 bytes a link; links beyond it are read from the store; 0: none)")
	registerClickSpoolFlag(fs, &spoolMiB)
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
	if spoolMiB < 1 {
		return errors.New("--click-spool-mib must be 1 or more")
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
	var certKeys edge.KeyOpener
	if tlsAddr != "" {
		if certKeys, err = certificateKeys(clustercert.LoadSecret(nf.CertsDir)); err != nil {
			return err
		}
	}
	srv, err := edge.New(edge.Config{
		Addr: edgeAddr, DefaultDomain: defaultDomain, FallbackToDefault: fallback, Logger: logger, Registerer: reg,
		TrustedProxies: proxies, ReusePort: reuse, MaxConns: maxConns, AnswerTableBytes: answerTableBytes(answerMiB),
		FasthttpServer: !eventLoops, Loops: loops, TLSAddr: tlsAddr, CertificateKeys: certKeys,
	}, store)
	if err != nil {
		return err
	}
	c.add(srv.Close)
	// The edge's clicks go to a spool in the data directory and from there
	// to control's ingest over mutual TLS, through the join URLs.
	spool, err := openClickSpool(nf.DataDir, nf.NodeID, spoolMiB, logger, reg)
	if err != nil {
		return err
	}
	shipper := &clickspool.Shipper{Spool: spool, Queue: srv, Logger: logger,
		Sink: &cluster.ClickSender{Client: id.Client(), URLs: nf.joinURLs()}}
	admin, err := openAdmin(nf.AdminAddr, reg, node, nf.Pprof)
	if err != nil {
		return err
	}
	c.add(admin.Close)
	ready := &catchUp{applied: node.AppliedIndex, started: time.Now(), timeout: readyTimeout, logger: logger}
	admin.AddCheck("caught-up", ready.check)
	logger.Info("edge node up", "edge", "http://"+srv.Addr(), "raft", node.Addr(), "admin", "http://"+admin.Addr())

	joiner := func(ctx context.Context) error {
		resp, err := joinUntilDone(ctx, logger, id.Client(), nf.joinURLs(),
			cluster.JoinRequest{ID: nf.NodeID, RaftAddr: node.Addr()})
		if err == nil {
			ready.setTarget(resp.CommitIndex)
		}
		return nil
	}
	return serve(ctx, logger, admin, nf.DrainDelay, runner{"edge", func(ctx context.Context) error { return shipper.RunBeside(ctx, srv.Run) }}, runner{"join", joiner})
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

// answerTableBytes is --answer-table-mib as edge.Config wants it (0: none).
func answerTableBytes(mib int) int64 {
	if mib == 0 {
		return -1
	}
	return int64(mib) << 20
}

// registerClickSpoolFlag adds --click-spool-mib, the disk budget of the
// edge's click spool.
func registerClickSpoolFlag(fs *flag.FlagSet, mib *int) {
	fs.IntVar(mib, "click-spool-mib", 1024, "disk for clicks not yet shipped to control, in <data>/clicks (about 130 bytes a click, at least 4 KiB for 100 ms of them); "+
		"beyond it the oldest are dropped, counted in h0p_edge_clicks_spool_dropped_total")
}

// openClickSpool opens the click spool in dataDir/clicks, its segments no
// larger than the body control takes.
func openClickSpool(dataDir, nodeID string, mib int, logger *slog.Logger, reg prometheus.Registerer) (*clickspool.Spool, error) {
	return clickspool.Open(filepath.Join(dataDir, "clicks"), clickspool.Options{
		NodeID: nodeID, MaxBytes: int64(mib) << 20, SegmentBytes: cluster.MaxClicksBody, Logger: logger, Registerer: reg,
	})
}
