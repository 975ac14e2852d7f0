package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clustercert"
)

// Operator endpoints. Raft (hashicorp/raft) does not tell the leader how
// far each follower has applied: its replication state per peer is
// internal. So every node that is not the leader reports its own applied
// index to the leader (Reporter, POST /cluster/v1/report) every few
// seconds, and the leader's status shows the newest report of each member
// and how old it is. A report older than StaleAfter marks the member
// "silent": down, cut off, or not reporting; its lag is then a lower bound.

const (
	reportPath = "/cluster/v1/report"
	removePath = "/cluster/v1/remove"
	backupPath = "/cluster/v1/backup"

	// ReportInterval is how often a node reports its applied index.
	ReportInterval = 2 * time.Second
	// StaleAfter is the age beyond which a member's report no longer
	// says it is following.
	StaleAfter = 3 * ReportInterval
)

// Report is what a node tells the leader about itself; who it is comes
// from its certificate.
type Report struct {
	AppliedIndex uint64 `json:"appliedIndex"`
}

// Member states in ClusterStatus.
const (
	StateLeader   = "leader"
	StateFollower = "follower" // reported within StaleAfter
	StateSilent   = "silent"   // no report within StaleAfter
)

// Member is one server of the raft configuration as the answering node
// sees it.
type Member struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Role    string `json:"role,omitempty"` // from the node table: control or edge
	State   string `json:"state"`
	// AppliedIndex is the member's last applied raft index: its own for
	// the answering node, else its newest report (0 and no ReportedAt:
	// none yet).
	AppliedIndex uint64 `json:"appliedIndex"`
	// Lag is the answering node's commit index minus AppliedIndex.
	Lag        uint64     `json:"lag"`
	ReportedAt *time.Time `json:"reportedAt,omitempty"`
}

// ClusterStatus is GET /cluster/v1/status: the answering node's Status
// and every member. Only the leader's answer has everyone's reports; a
// follower's shows its own applied index and the leader's LeaderAPI.
type ClusterStatus struct {
	replication.Status
	Members []Member `json:"members"`
}

type memberReport struct {
	applied uint64
	at      time.Time
}

// reports holds the newest report of each node.
type reports struct {
	mu sync.Mutex
	m  map[string]memberReport
}

func (r *reports) put(id string, rep memberReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]memberReport{}
	}
	r.m[id] = rep
}

func (r *reports) get(id string) (memberReport, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.m[id]
	return rep, ok
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// clusterStatus builds this node's ClusterStatus.
func (h *Handler) clusterStatus() (ClusterStatus, error) {
	st, err := h.Node.Status(false)
	if err != nil {
		return ClusterStatus{}, err
	}
	roles := map[string]string{}
	for _, n := range st.Nodes {
		roles[n.ID] = n.Role
	}
	out := ClusterStatus{Status: st, Members: []Member{}}
	for _, s := range st.Servers {
		out.Members = append(out.Members, h.member(Member{ID: s.ID, Address: s.Address, Voter: s.Voter, Role: roles[s.ID]}, st))
	}
	return out, nil
}

// member fills m's state, applied index and lag from st (this node's
// status) and the newest report.
func (h *Handler) member(m Member, st replication.Status) Member {
	m.State = StateSilent
	switch rep, ok := h.reports.get(m.ID); {
	case m.ID == st.ID:
		m.AppliedIndex, m.State = st.AppliedIndex, StateFollower
	case ok:
		at := rep.at
		m.AppliedIndex, m.ReportedAt = rep.applied, &at
		if h.now().Sub(rep.at) <= StaleAfter {
			m.State = StateFollower
		}
	}
	if m.ID == st.LeaderID {
		m.State = StateLeader
	}
	if st.CommitIndex > m.AppliedIndex {
		m.Lag = st.CommitIndex - m.AppliedIndex
	}
	return m
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request, peerID string, peerRole clustercert.Role) {
	if !peerRole.IsNode() {
		writeError(w, apierror.Forbidden, "only cluster nodes report")
		return
	}
	var rep Report
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&rep); err != nil {
		writeError(w, apierror.ValidationError, "body must be {appliedIndex}")
		return
	}
	h.reports.put(peerID, memberReport{applied: rep.AppliedIndex, at: h.now()})
	w.WriteHeader(http.StatusNoContent)
}

// RemoveRequest is POST /cluster/v1/remove.
type RemoveRequest struct {
	ID string `json:"id"`
}

// remove takes a member out of the raft configuration, on the leader; a
// follower forwards the call there with its own certificate.
func (h *Handler) remove(w http.ResponseWriter, r *http.Request, peerRole clustercert.Role) {
	if peerRole != clustercert.Admin && peerRole != clustercert.Control {
		writeError(w, apierror.Forbidden, "removing a node needs an admin or control certificate")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	var req RemoveRequest
	if err != nil || json.Unmarshal(body, &req) != nil || req.ID == "" {
		writeError(w, apierror.ValidationError, "body must be {id}")
		return
	}
	if !h.Node.IsLeader() {
		leader := h.Node.LeaderAPI()
		if leader == "" {
			writeError(w, apierror.Unavailable, "no raft leader known; retry")
			return
		}
		h.forward(w, r.Context(), strings.TrimSuffix(leader, "/")+removePath, body)
		return
	}
	switch err := h.Node.RemoveMember(req.ID); {
	case err == nil:
		h.Logger.Info("removed cluster member", "id", req.ID)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, replication.ErrUnknownMember):
		writeError(w, apierror.NotFound, err.Error())
	case errors.Is(err, replication.ErrLastVoter):
		writeError(w, apierror.ValidationError, err.Error())
	default:
		writeError(w, apierror.Unavailable, err.Error())
	}
}

func (h *Handler) forward(w http.ResponseWriter, ctx context.Context, url string, body []byte) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		writeError(w, apierror.Unavailable, "forward to the leader: "+err.Error())
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// backup streams Backup's archive. A failure after the first byte can
// only cut the stream short: the archive's manifest comes last, so a
// reader tells a cut archive from a whole one.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request, peerRole clustercert.Role) {
	if peerRole != clustercert.Admin && peerRole != clustercert.Control {
		writeError(w, apierror.Forbidden, "a backup needs an admin or control certificate")
		return
	}
	if h.Backup == nil {
		writeError(w, apierror.NotFound, "this node makes no backups")
		return
	}
	// An archive takes as long as the stores are large: neither the API's
	// request deadline nor its write timeout applies. A client that goes
	// away fails the next write.
	ctx := context.WithoutCancel(r.Context())
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
		h.Logger.Warn("backup keeps the server's write timeout", "err", err)
	}
	w.Header().Set("Content-Type", "application/gzip")
	if err := h.Backup(ctx, w); err != nil {
		h.Logger.Error("backup failed", "err", err)
		if errors.Is(err, ErrNoBackup) {
			writeError(w, apierror.ValidationError, err.Error())
			return
		}
		panic(http.ErrAbortHandler) // cut the stream: the client must not take it for whole
	}
}

// ErrNoBackup wraps a Backup's refusal made before it wrote anything
// (e.g. a PostgreSQL control store, which is pg_dump's job).
var ErrNoBackup = errors.New("no backup")

// Reporter reports this node's applied index to the leader every
// Interval (ReportInterval if zero), through the leader's API address in
// the node table, or the first of URLs that answers while that is unknown.
// The leader itself reports nothing.
type Reporter struct {
	Node     *replication.Node
	Client   *http.Client
	URLs     []string
	Interval time.Duration
	Logger   *slog.Logger
}

// Run reports until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = ReportInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if !r.Node.IsLeader() {
			if err := r.report(ctx); err != nil && ctx.Err() == nil {
				r.Logger.Debug("report to the leader failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reporter) report(ctx context.Context) error {
	body, _ := json.Marshal(Report{AppliedIndex: r.Node.AppliedIndex()})
	urls := r.URLs
	if leader := r.Node.LeaderAPI(); leader != "" {
		urls = []string{leader}
	}
	var errs []error
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(ctx, interval(r.Interval))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u, "/")+reportPath, bytes.NewReader(body))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.Client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				cancel()
				return nil
			}
			err = fmt.Errorf("%s: %s", u, resp.Status)
		}
		cancel()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func interval(d time.Duration) time.Duration {
	if d <= 0 {
		return ReportInterval
	}
	return d
}
