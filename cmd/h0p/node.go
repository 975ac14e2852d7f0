package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/adminserver"
	"github.com/h0p/h0p/shared/clustercert"
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
	// Report the applied index to the leader for h0p admin status; stopped
	// before the node closes.
	reporter := &cluster.Reporter{Node: b.node, Client: b.id.Client(), URLs: n.joinURLs(), Logger: b.logger}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); reporter.Run(ctx) }()
	c.add(func() error { cancel(); <-done; return nil })
	return b, nil
}

func (n *nodeFlags) joinURLs() []string { return splitList(n.Join) }

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

// openAdmin listens on the admin address of a process around node: metrics,
// health, readiness, the node's /status, and Go's profiles with pprof.
func openAdmin(addr string, reg *prometheus.Registry, node *replication.Node, pprof bool) (*adminserver.Server, error) {
	admin, err := adminserver.New(addr, reg)
	if err != nil {
		return nil, err
	}
	admin.Handle("GET /status", cluster.StatusHandler(node))
	if pprof {
		admin.ServePprof()
	}
	return admin, nil
}
