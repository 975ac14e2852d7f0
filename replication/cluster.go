package replication

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

	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
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

// Status is a node's view of the cluster, for operators and tests.
type Status struct {
	ID           string    `json:"id"`
	LeaderID     string    `json:"leaderId"`
	LeaderAPI    string    `json:"leaderApi"`
	CommitIndex  uint64    `json:"commitIndex"`
	AppliedIndex uint64    `json:"appliedIndex"`
	Links        uint64    `json:"links"`
	Servers      []Server  `json:"servers"`
	Nodes        []kv.Node `json:"nodes"`
	// Digest is the SHA-256 of every key and value of the edge store except
	// the applied index, set when asked for (it reads the whole store): two
	// nodes with equal digests hold the same content.
	Digest string `json:"digest,omitempty"`
}

// StatusHandler serves Status as JSON (with ?digest=1, the content digest
// too), for the admin address of every node.
func (n *Node) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := n.Status()
		if err == nil && r.URL.Query().Get("digest") == "1" {
			st.Digest, err = n.store.Digest()
		}
		if err != nil {
			writeClusterError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
}

// ClusterHandler serves the node-to-node endpoints a control node exposes on
// its API listener (which then must serve TLS with client certificates
// requested):
//
//	POST /cluster/v1/join    add the calling node (voter if its certificate
//	                         says control, non-voter if edge)
//	GET  /cluster/v1/status  this node's view of the cluster
//
// Every call needs a client certificate from the cluster CA. A join that
// reaches a follower is forwarded to the leader with the follower's own
// certificate and the verified identity of the original caller in
// X-H0p-Join-For, which the leader believes only from a control node.
type ClusterHandler struct {
	Node   *Node
	Client *http.Client // mTLS client used to forward joins to the leader
	Logger *slog.Logger
}

const joinForHeader = "X-H0p-Join-For"

func (h *ClusterHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		writeClusterError(w, http.StatusForbidden, "FORBIDDEN", "cluster endpoints need TLS with a client certificate")
		return
	}
	peerID, peerRole, err := clustercert.PeerIdentity(*r.TLS)
	if err != nil {
		writeClusterError(w, http.StatusUnauthorized, "UNAUTHORIZED", "a client certificate from the cluster CA is required")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/cluster/v1/join":
		h.join(w, r, peerID, peerRole)
	case r.Method == http.MethodGet && r.URL.Path == "/cluster/v1/status":
		st, err := h.Node.Status()
		if err != nil {
			writeClusterError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	default:
		writeClusterError(w, http.StatusNotFound, "NOT_FOUND", "no cluster route for "+r.Method+" "+r.URL.Path)
	}
}

func (h *ClusterHandler) join(w http.ResponseWriter, r *http.Request, peerID string, peerRole clustercert.Role) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeClusterError(w, http.StatusBadRequest, "VALIDATION_ERROR", "cannot read body")
		return
	}
	var req JoinRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" || req.RaftAddr == "" {
		writeClusterError(w, http.StatusBadRequest, "VALIDATION_ERROR", "body must be {id, raftAddr[, apiAddr]}")
		return
	}
	id, role := peerID, peerRole
	if fwd := r.Header.Get(joinForHeader); fwd != "" {
		if peerRole != clustercert.Control {
			writeClusterError(w, http.StatusForbidden, "FORBIDDEN", "only a control node may forward a join")
			return
		}
		fid, frole, ok := strings.Cut(fwd, "/")
		parsedRole, roleErr := clustercert.ParseRole(frole)
		if !ok || roleErr != nil || clustercert.ValidateID(fid) != nil {
			writeClusterError(w, http.StatusBadRequest, "VALIDATION_ERROR", "bad "+joinForHeader)
			return
		}
		id, role = fid, parsedRole
	}
	if req.ID != id {
		writeClusterError(w, http.StatusForbidden, "FORBIDDEN",
			fmt.Sprintf("certificate is for node %q, not %q", id, req.ID))
		return
	}
	if !h.Node.IsLeader() {
		h.forwardJoin(w, r.Context(), body, id, role)
		return
	}
	resp, err := h.Node.admit(req, role)
	if err != nil {
		h.Logger.Warn("join failed", "node", id, "err", err)
		writeClusterError(w, http.StatusServiceUnavailable, "UNAVAILABLE", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *ClusterHandler) forwardJoin(w http.ResponseWriter, ctx context.Context, body []byte, id string, role clustercert.Role) {
	leader := h.Node.LeaderAPI()
	if leader == "" {
		writeClusterError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "no raft leader known; retry")
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(leader, "/")+"/cluster/v1/join", bytes.NewReader(body))
	req.Header.Set(joinForHeader, id+"/"+string(role))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		writeClusterError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "forward join to leader: "+err.Error())
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// admit adds a node and records its API address. Leader only.
func (n *Node) admit(req JoinRequest, role clustercert.Role) (JoinResponse, error) {
	if err := n.AddMember(req.ID, req.RaftAddr, role == clustercert.Control); err != nil {
		return JoinResponse{}, err
	}
	if err := n.PublishNode(kv.Node{ID: req.ID, Role: string(role), APIAddr: req.APIAddr}); err != nil {
		return JoinResponse{}, err
	}
	return JoinResponse{LeaderID: n.id, CommitIndex: n.CommitIndex()}, nil
}

// PublishNode records a node in the replicated node table, unless the same
// record is already there. Leader only.
func (n *Node) PublishNode(rec kv.Node) error {
	if cur, ok, err := n.store.Node(rec.ID); err == nil && ok && cur == rec {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, kv.PutNode(rec).Encode()); err != nil {
		return fmt.Errorf("publish node %s: %w", rec.ID, err)
	}
	return nil
}

// LeaderAPI is the API base URL of the current leader, from the node table,
// or "" when there is no leader or it has not published one.
func (n *Node) LeaderAPI() string {
	id := n.LeaderID()
	if id == "" {
		return ""
	}
	rec, ok, err := n.store.Node(id)
	if err != nil || !ok {
		return ""
	}
	return rec.APIAddr
}

// Status is this node's view of the cluster.
func (n *Node) Status() (Status, error) {
	servers, err := n.Servers()
	if err != nil {
		return Status{}, err
	}
	nodes, err := n.store.Nodes()
	if err != nil {
		return Status{}, err
	}
	links, err := n.store.LinkCount()
	if err != nil {
		return Status{}, err
	}
	return Status{
		ID: n.id, LeaderID: n.LeaderID(), LeaderAPI: n.LeaderAPI(),
		CommitIndex: n.CommitIndex(), AppliedIndex: n.AppliedIndex(), Links: links,
		Servers: servers, Nodes: nodes,
	}, nil
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

func writeClusterError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
