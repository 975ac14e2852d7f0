// Package cluster is the HTTP face of the raft group (package
// replication): the node-to-node endpoints a control node serves on its API
// listener (join, status, an edge's clicks, and the operator's remove and
// backup), the clients a node joins, reports and an edge ships its clicks
// with, and the status endpoint of every node's admin address. Who calls
// is the verified client certificate of the cluster CA, never the body.
// Errors are the product's one envelope (shared/apierror).
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
	"time"

	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clustercert"
)

// JoinRequest is what a node sends to become a member. Who it is (id and
// role) is taken from its verified client certificate, never from the body;
// the body's ID must match the certificate.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	APIAddr  string `json:"apiAddr,omitempty"` // control nodes: their API base URL
}

// JoinResponse tells a joined node how far it must catch up before it is
// ready: the leader's commit index when it was added.
type JoinResponse struct {
	LeaderID    string `json:"leaderId"`
	CommitIndex uint64 `json:"commitIndex"`
}

// Handler serves the node-to-node endpoints a control node exposes on
// its API listener (which then must serve TLS with client certificates
// requested):
//
//	POST /cluster/v1/join    add the calling node (voter if its certificate
//	                         says control, non-voter if edge)
//	GET  /cluster/v1/status  this node's view of the cluster (ClusterStatus)
//	POST /cluster/v1/report  a node's applied index (Report), for the status
//	POST /cluster/v1/remove  take a member out of raft (RemoveRequest): 204;
//	                         404 not a member, 400 the last voter; a
//	                         follower forwards it to the leader
//	GET  /cluster/v1/backup  a backup archive of this node (Backup)
//	POST /cluster/v1/clicks  an edge's click batch (ClicksContentType, at
//	                         most MaxClicksBody), handed to Clicks: 204
//	                         once stored, 400 if refused for good, 503
//	                         to retry
//
// Every call needs a client certificate from the cluster CA. Join, report
// and clicks take node certificates only; remove and backup an admin
// certificate (h0p admin certs --nodes admin:admin) or a control node's;
// status any. A join that reaches a follower is forwarded to the leader
// with the follower's own certificate and the verified identity of the
// original caller in X-H0p-Join-For, which the leader believes only from
// a control node.
type Handler struct {
	Node   *replication.Node
	Client *http.Client // mTLS client used to forward joins to the leader
	Logger *slog.Logger
	// Clicks stores one encoded clicks.Batch (control's ingest), once per
	// edge and sequence: nil for a batch stored now or before. An error
	// wrapping clicks.ErrCorrupt or clicks.ErrRejected is a 400, any other
	// a 503. nil: every batch is a 503.
	Clicks func(ctx context.Context, batch []byte) error
	// Backup writes a backup archive of this node (h0p admin backup) to w;
	// nil: this node makes none.
	Backup func(ctx context.Context, w io.Writer) error
	Now    func() time.Time // nil: time.Now

	reports reports // each node's newest Report
}

const joinForHeader = "X-H0p-Join-For"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		writeError(w, apierror.Forbidden, "cluster endpoints need TLS with a client certificate")
		return
	}
	peerID, peerRole, err := clustercert.PeerIdentity(*r.TLS)
	if err != nil {
		writeError(w, apierror.Unauthorized, "a client certificate from the cluster CA is required")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/cluster/v1/join":
		h.join(w, r, peerID, peerRole)
	case r.Method == http.MethodPost && r.URL.Path == clicksPath:
		h.shipClicks(w, r, peerID, peerRole)
	case r.Method == http.MethodPost && r.URL.Path == reportPath:
		h.report(w, r, peerID, peerRole)
	case r.Method == http.MethodPost && r.URL.Path == removePath:
		h.remove(w, r, peerRole)
	case r.Method == http.MethodGet && r.URL.Path == backupPath:
		h.backup(w, r, peerRole)
	case r.Method == http.MethodGet && r.URL.Path == "/cluster/v1/status":
		st, err := h.clusterStatus()
		if err != nil {
			writeError(w, apierror.Internal, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	default:
		writeError(w, apierror.NotFound, "no cluster route for "+r.Method+" "+r.URL.Path)
	}
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request, peerID string, peerRole clustercert.Role) {
	if !peerRole.IsNode() {
		writeError(w, apierror.Forbidden, "only control and edge certificates may join")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, apierror.ValidationError, "cannot read body")
		return
	}
	var req JoinRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" || req.RaftAddr == "" {
		writeError(w, apierror.ValidationError, "body must be {id, raftAddr[, apiAddr]}")
		return
	}
	id, role := peerID, peerRole
	if fwd := r.Header.Get(joinForHeader); fwd != "" {
		if peerRole != clustercert.Control {
			writeError(w, apierror.Forbidden, "only a control node may forward a join")
			return
		}
		fid, frole, ok := strings.Cut(fwd, "/")
		parsedRole, roleErr := clustercert.ParseRole(frole)
		if !ok || roleErr != nil || !parsedRole.IsNode() || clustercert.ValidateID(fid) != nil {
			writeError(w, apierror.ValidationError, "bad "+joinForHeader)
			return
		}
		id, role = fid, parsedRole
	}
	if req.ID != id {
		writeError(w, apierror.Forbidden, fmt.Sprintf("certificate is for node %q, not %q", id, req.ID))
		return
	}
	if !h.Node.IsLeader() {
		h.forwardJoin(w, r.Context(), body, id, role)
		return
	}
	leaderID, commit, err := h.Node.Admit(req.ID, req.RaftAddr, req.APIAddr, role)
	if err != nil {
		h.Logger.Warn("join failed", "node", id, "err", err)
		writeError(w, apierror.Unavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, JoinResponse{LeaderID: leaderID, CommitIndex: commit})
}

func (h *Handler) forwardJoin(w http.ResponseWriter, ctx context.Context, body []byte, id string, role clustercert.Role) {
	leader := h.Node.LeaderAPI()
	if leader == "" {
		writeError(w, apierror.Unavailable, "no raft leader known; retry")
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(leader, "/")+"/cluster/v1/join", bytes.NewReader(body))
	req.Header.Set(joinForHeader, id+"/"+string(role))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		writeError(w, apierror.Unavailable, "forward join to leader: "+err.Error())
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// StatusHandler serves n's Status as JSON (with ?digest=1, the content
// digest too), for the admin address of every node.
func StatusHandler(n *replication.Node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := n.Status(r.URL.Query().Get("digest") == "1")
		if err != nil {
			writeError(w, apierror.Internal, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
}

// Join asks the cluster to admit this node, trying each control API URL in
// turn, once. Callers retry with backoff.
func Join(ctx context.Context, client *http.Client, urls []string, req JoinRequest) (JoinResponse, error) {
	body, _ := json.Marshal(req)
	var errs []error
	for _, u := range urls {
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u, "/")+"/cluster/v1/join", bytes.NewReader(body))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(hreq)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("%s: %d %s", u, resp.StatusCode, bytes.TrimSpace(b)))
			continue
		}
		var jr JoinResponse
		if err := json.Unmarshal(b, &jr); err != nil {
			errs = append(errs, fmt.Errorf("%s: bad join response: %w", u, err))
			continue
		}
		return jr, nil
	}
	return JoinResponse{}, fmt.Errorf("join: %w", errors.Join(errs...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in the envelope. Node-to-node and operator answers
// may say why (no client sees them).
func writeError(w http.ResponseWriter, code apierror.Code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(errorStatus(code))
	json.NewEncoder(w).Encode(apierror.NewEnvelope(apierror.New(code, "%s", msg), ""))
}

// errorStatus is the HTTP status of each code these endpoints answer with,
// the one the API gives it too; any other code is a 500.
func errorStatus(code apierror.Code) int {
	switch code {
	case apierror.Unauthorized:
		return http.StatusUnauthorized
	case apierror.Forbidden:
		return http.StatusForbidden
	case apierror.NotFound:
		return http.StatusNotFound
	case apierror.ValidationError:
		return http.StatusBadRequest
	case apierror.PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case apierror.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
