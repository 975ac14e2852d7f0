package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Config describes one raft node.
type Config struct {
	NodeID   string // stable identity, e.g. "c1"; kept across restarts
	RaftAddr string // host:port the raft transport binds; never a public address
	// Advertise is the raft address other nodes dial; empty means RaftAddr
	// (which then must not be an unspecified address like 0.0.0.0).
	Advertise string
	Dir       string // holds raft/ (log) and snapshots/
	// Voter is true for control nodes. Edges are non-voters: they receive
	// the log but never vote, lead or bootstrap.
	Voter bool
	// Bootstrap forms a new cluster with this node as its only voter when the
	// node has no raft state yet. Only a voter may bootstrap.
	Bootstrap bool
	// ServerTLS and ClientTLS, when set, make the raft transport mutual TLS
	// (shared/clustercert builds them). Without them it is plain TCP, for
	// h0p dev on loopback only.
	ServerTLS, ClientTLS *tls.Config
	Logger               *slog.Logger
	// Registerer receives the node's metrics; nil registers nothing.
	Registerer prometheus.Registerer

	// Tuning; zero keeps raft's defaults, except CommitTimeout (see Open).
	HeartbeatTimeout  time.Duration
	CommitTimeout     time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration // how often raft checks the threshold
	TrailingLogs      uint64
}

// Node is one member of the raft group: its transport, log, snapshots and the
// FSM writing the edge Store.
type Node struct {
	id        string
	dir       string
	raft      *raft.Raft
	store     *Store
	logs      *LogStore
	transport *raft.NetworkTransport
	logger    *slog.Logger
}

// ErrNotLeader is returned by Apply and Join on a node that is not the
// leader.
var ErrNotLeader = raft.ErrNotLeader

// Open starts a raft node whose FSM writes store. The caller keeps ownership
// of store and closes it after the node.
func Open(cfg Config, store *Store) (*Node, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("subsystem", "raft", "node", cfg.NodeID)
	hlog := newHclog(logger)

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft dir: %w", err)
	}
	logs, err := OpenLogStore(filepath.Join(cfg.Dir, "raft"), pebbleOptions(logger))
	if err != nil {
		return nil, err
	}
	n := &Node{id: cfg.NodeID, dir: cfg.Dir, store: store, logs: logs, logger: logger}
	ok := false
	defer func() {
		if !ok {
			n.closeLower()
		}
	}()

	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft address %q: %w", cfg.RaftAddr, err)
	}
	if cfg.Bootstrap && !cfg.Voter {
		return nil, errors.New("only a voter can bootstrap a cluster")
	}
	if cfg.ServerTLS != nil && cfg.ClientTLS != nil {
		n.transport, err = NewTLSTransport(cfg.RaftAddr, cfg.Advertise, cfg.ServerTLS, cfg.ClientTLS, hlog)
	} else {
		var adv net.Addr
		if cfg.Advertise != "" {
			if adv, err = net.ResolveTCPAddr("tcp", cfg.Advertise); err != nil {
				return nil, fmt.Errorf("raft advertise address %q: %w", cfg.Advertise, err)
			}
		}
		n.transport, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, adv, 3, 10*time.Second, hlog)
	}
	if err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", addr, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.NoLegacyTelemetry = true
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
		rc.ElectionTimeout = cfg.HeartbeatTimeout
		rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	}
	// Followers learn that an entry committed from the leader's next
	// AppendEntries; when writes pause, that comes after CommitTimeout (up to
	// twice it, randomised). Raft's 50ms made a new link take ~85ms (p50) to
	// go live on the edges; 10ms costs an idle RPC per follower every 10-20ms.
	rc.CommitTimeout = 10 * time.Millisecond
	if cfg.CommitTimeout > 0 {
		rc.CommitTimeout = cfg.CommitTimeout
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	// The edge store is durable and records its applied index, so restoring the
	// newest snapshot on every start would only throw work away. Restore only
	// when the store is older than that snapshot (a fresh data dir, or Pebble
	// lost unsynced writes in a power cut): the log before it is gone.
	latest, err := snaps.List()
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	rc.NoSnapshotRestoreOnStart = len(latest) == 0 || latest[0].Index <= store.AppliedIndex()

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, logs, snaps)
		if err != nil {
			return nil, fmt.Errorf("raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				ID: rc.LocalID, Address: n.transport.LocalAddr(), Suffrage: raft.Voter,
			}}}
			if err := raft.BootstrapCluster(rc, logs, logs, snaps, n.transport, conf); err != nil {
				return nil, fmt.Errorf("bootstrap raft: %w", err)
			}
			logger.Info("bootstrapped a new cluster", "addr", n.transport.LocalAddr())
		}
	}

	fsm := &FSM{store: store, logger: logger.With("subsystem", "fsm")}
	if cfg.Registerer != nil {
		applyErrors := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_fsm_apply_errors_total",
			Help: "Raft entries the FSM could not apply and skipped.",
		})
		restores := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_fsm_snapshot_restores_total",
			Help: "Snapshots installed into the edge store (catch-up of a lagging or new node).",
		})
		fsm.onApplyError = applyErrors.Inc
		fsm.onRestore = restores.Inc
		cfg.Registerer.MustRegister(applyErrors, restores)
	}
	n.raft, err = raft.NewRaft(rc, fsm, logs, logs, snaps, n.transport)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	if cfg.Registerer != nil {
		n.registerMetrics(cfg.Registerer)
	}
	ok = true
	return n, nil
}

func (n *Node) registerMetrics(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_raft_applied_index",
			Help: "Last raft index this node has applied (commands, no-ops and configuration changes).",
		}, func() float64 { return float64(n.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_store_applied_index",
			Help: "Last raft index whose command changed the edge store.",
		}, func() float64 { return float64(n.store.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_records",
			Help: "Link records in the edge store.",
		}, func() float64 {
			c, _ := n.store.LinkCount()
			return float64(c)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_raft_commit_index",
			Help: "Last raft index known committed by this node.",
		}, func() float64 { return float64(n.raft.CommitIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_raft_is_leader",
			Help: "1 when this node is the raft leader.",
		}, func() float64 {
			if n.IsLeader() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_raft_last_contact_seconds",
			Help: "Seconds since this node last heard from the leader (0 on the leader).",
		}, func() float64 {
			if n.IsLeader() {
				return 0
			}
			t := n.raft.LastContact()
			if t.IsZero() {
				return -1
			}
			return time.Since(t).Seconds()
		}),
	)
}

// Addr is the address the raft transport listens on.
func (n *Node) Addr() string { return string(n.transport.LocalAddr()) }

// IsLeader reports whether this node is the leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Apply logs cmd and returns once a quorum committed it and this node's FSM
// applied it. ctx's deadline bounds the wait for the log to take the entry.
func (n *Node) Apply(ctx context.Context, cmd []byte) (uint64, error) {
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(cmd, timeout)
	if err := f.Error(); err != nil {
		return 0, fmt.Errorf("raft apply: %w", err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return 0, err
	}
	return f.Index(), nil
}

// WaitLeader blocks until the cluster has a leader (any node) or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if n.Leader() != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for raft leader: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Snapshot asks raft for a snapshot now (tests, operators).
func (n *Node) Snapshot() error {
	if err := n.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// Close stops raft, then its transport and log store. The edge store stays
// open: its owner closes it.
func (n *Node) Close() error {
	var err error
	if n.raft != nil {
		err = n.raft.Shutdown().Error()
	}
	return errors.Join(err, n.closeLower())
}

func (n *Node) closeLower() error {
	var errs []error
	if n.transport != nil {
		errs = append(errs, n.transport.Close())
	}
	errs = append(errs, n.logs.Close())
	return errors.Join(errs...)
}

// Leader is the raft address of the current leader, or "" when there is none
// known.
func (n *Node) Leader() string {
	addr, _ := n.raft.LeaderWithID()
	return string(addr)
}

// LeaderID is the node ID of the current leader, or "" when none is known.
func (n *Node) LeaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// ID is this node's ID.
func (n *Node) ID() string { return n.id }

// AppliedIndex is the last raft index this node has applied, counting the
// entries the FSM never sees (leader no-ops, configuration changes), so it
// can be compared with a commit index. After a restart it starts at the
// newest snapshot and climbs as the log replays.
func (n *Node) AppliedIndex() uint64 {
	return max(n.raft.AppliedIndex(), n.store.AppliedIndex())
}

// CommitIndex is the last index this node knows committed.
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// LastContact is when this node last heard from the leader (zero if never;
// the leader itself reports the time it last heard from a quorum).
func (n *Node) LastContact() time.Time { return n.raft.LastContact() }

// Server is one member of the raft configuration.
type Server struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Servers is the current raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// AddMember adds node id at raft address addr, as a voter or not. A node
// re-joining with the same id or the same address replaces its old entry; an
// identical entry is left alone. Leader only.
func (n *Node) AddMember(id, addr string, voter bool) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.ID == id && s.Address == addr && s.Voter == voter {
			return nil
		}
		if s.ID != id && s.Address != addr {
			continue
		}
		if s.ID == n.id {
			return fmt.Errorf("node %s at %s would replace the leader's own entry", id, addr)
		}
		if err := n.raft.RemoveServer(raft.ServerID(s.ID), 0, 10*time.Second).Error(); err != nil {
			return fmt.Errorf("remove old entry of %s: %w", s.ID, err)
		}
		n.logger.Info("removed old cluster entry", "id", s.ID, "address", s.Address)
	}
	var f raft.IndexFuture
	if voter {
		f = n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second)
	} else {
		f = n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("add %s: %w", id, err)
	}
	n.logger.Info("added cluster member", "id", id, "address", addr, "voter", voter)
	return nil
}

// ErrUnknownMember and ErrLastVoter are RemoveMember's refusals.
var (
	ErrUnknownMember = errors.New("no such cluster member")
	ErrLastVoter     = errors.New("refusing to remove the last voter: the cluster could never commit again")
)

// RemoveMember removes node id from the configuration, voter or not. It
// refuses an id that is not a member and the last voter. Removing the
// leader itself is allowed while other voters remain: it steps down and
// they elect another. Leader only.
func (n *Node) RemoveMember(id string) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	found := false
	for _, s := range servers {
		if s.ID == id {
			found = true
			if s.Voter && countVoters(servers) == 1 {
				return fmt.Errorf("remove %s: %w", id, ErrLastVoter)
			}
		}
	}
	if !found {
		return fmt.Errorf("remove %s: %w", id, ErrUnknownMember)
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

func countVoters(servers []Server) int {
	v := 0
	for _, s := range servers {
		if s.Voter {
			v++
		}
	}
	return v
}
