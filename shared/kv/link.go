package kv

import "fmt"

// RecordVersion is the format version byte of Link and LinkState records.
const RecordVersion byte = 1

// Link is what an edge needs to answer a request for one short link. Control
// decides every field before the command is logged.
type Link struct {
	ID      string // link_…
	OrgID   string // org_…
	Domain  string // lowercase host, e.g. "localhost"
	Slug    string // case-sensitive path after the host, without the leading '/'
	URL     string // destination
	Version uint64 // per-link version, bigger for every change
}

// Field tags of a Link record. Never reuse a tag number.
const (
	linkTagID      = 1
	linkTagOrgID   = 2
	linkTagDomain  = 3
	linkTagSlug    = 4
	linkTagURL     = 5
	linkTagVersion = 6
)

// AppendLink appends the record encoding of l to b.
func AppendLink(b []byte, l *Link) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(linkTagID, l.ID)
	w.string(linkTagOrgID, l.OrgID)
	w.string(linkTagDomain, l.Domain)
	w.string(linkTagSlug, l.Slug)
	w.string(linkTagURL, l.URL)
	w.uint(linkTagVersion, l.Version)
	return w.b
}

// DecodeLink decodes a Link record. Strings are copied, so b may be reused.
func DecodeLink(b []byte) (Link, error) {
	body, err := checkVersion(b, RecordVersion, "link record")
	if err != nil {
		return Link{}, err
	}
	var l Link
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case linkTagID:
			l.ID = string(val)
		case linkTagOrgID:
			l.OrgID = string(val)
		case linkTagDomain:
			l.Domain = string(val)
		case linkTagSlug:
			l.Slug = string(val)
		case linkTagURL:
			l.URL = string(val)
		case linkTagVersion:
			l.Version = r.uint(tag, val)
		}
	}
	if r.err != nil {
		return Link{}, fmt.Errorf("decode link record: %w", r.err)
	}
	return l, nil
}

// LinkState is the FSM's bookkeeping for one link ID: which version it last
// applied and where the link currently lives, or that it was deleted.
type LinkState struct {
	Version uint64
	Domain  string
	Slug    string
	Deleted bool
}

const (
	stateTagVersion = 1
	stateTagDomain  = 2
	stateTagSlug    = 3
	stateTagDeleted = 4
)

// AppendLinkState appends the record encoding of s to b.
func AppendLinkState(b []byte, s *LinkState) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.uint(stateTagVersion, s.Version)
	w.string(stateTagDomain, s.Domain)
	w.string(stateTagSlug, s.Slug)
	w.bool(stateTagDeleted, s.Deleted)
	return w.b
}

// DecodeLinkState decodes a LinkState record.
func DecodeLinkState(b []byte) (LinkState, error) {
	body, err := checkVersion(b, RecordVersion, "link state")
	if err != nil {
		return LinkState{}, err
	}
	var s LinkState
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case stateTagVersion:
			s.Version = r.uint(tag, val)
		case stateTagDomain:
			s.Domain = string(val)
		case stateTagSlug:
			s.Slug = string(val)
		case stateTagDeleted:
			s.Deleted = r.uint(tag, val) != 0
		}
	}
	if r.err != nil {
		return LinkState{}, fmt.Errorf("decode link state: %w", r.err)
	}
	return s, nil
}

// Node is a member of the raft group as the cluster knows it: control nodes
// publish their API address so followers can forward writes to the leader and
// edges can find control. It holds no secret.
type Node struct {
	ID      string `json:"id"`
	Role    string `json:"role"`              // "control" or "edge"
	APIAddr string `json:"apiAddr,omitempty"` // control API base URL; empty for edges
}

const (
	nodeTagID      = 1
	nodeTagRole    = 2
	nodeTagAPIAddr = 3
)

// AppendNode appends the record encoding of n to b.
func AppendNode(b []byte, n *Node) []byte {
	w := fieldWriter{b: append(b, RecordVersion)}
	w.string(nodeTagID, n.ID)
	w.string(nodeTagRole, n.Role)
	w.string(nodeTagAPIAddr, n.APIAddr)
	return w.b
}

// DecodeNode decodes a Node record.
func DecodeNode(b []byte) (Node, error) {
	body, err := checkVersion(b, RecordVersion, "node record")
	if err != nil {
		return Node{}, err
	}
	var n Node
	r := fieldReader{b: body}
	for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
		switch tag {
		case nodeTagID:
			n.ID = string(val)
		case nodeTagRole:
			n.Role = string(val)
		case nodeTagAPIAddr:
			n.APIAddr = string(val)
		}
	}
	if r.err != nil {
		return Node{}, fmt.Errorf("decode node record: %w", r.err)
	}
	return n, nil
}
