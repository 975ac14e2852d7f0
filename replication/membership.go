package replication

import (
	"context"
	"fmt"
	"time"

	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

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

// Admit adds node id (a voter when voter) and records its API address.
// Leader only. It answers the leader's ID and commit index, which the new
// node must catch up to.
func (n *Node) Admit(id, raftAddr, apiAddr string, role clustercert.Role) (leaderID string, commitIndex uint64, err error) {
	if err := n.AddMember(id, raftAddr, role == clustercert.Control); err != nil {
		return "", 0, err
	}
	if err := n.PublishNode(kv.Node{ID: id, Role: string(role), APIAddr: apiAddr}); err != nil {
		return "", 0, err
	}
	return n.id, n.CommitIndex(), nil
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

// Status is this node's view of the cluster; with digest, the content
// digest too (it reads the whole store).
func (n *Node) Status(digest bool) (Status, error) {
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
	st := Status{
		ID: n.id, LeaderID: n.LeaderID(), LeaderAPI: n.LeaderAPI(),
		CommitIndex: n.CommitIndex(), AppliedIndex: n.AppliedIndex(), Links: links,
		Servers: servers, Nodes: nodes,
	}
	if digest {
		st.Digest, err = n.store.Digest()
	}
	return st, err
}
