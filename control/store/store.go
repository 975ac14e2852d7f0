// Package store holds the control plane's data types and the Store contract
// that every engine implements: SQLite (control/store/sqlite) as the
// embedded default, PostgreSQL for several control nodes (a later issue).
//
// The store is the source of truth. Every change an edge must see is written
// together with an outbox entry (the encoded replicated command) in one
// transaction; control/outbox then applies it through raft. The store knows
// nothing of the command format: it keeps bytes.
//
// Time is always passed in by the caller; the store never reads the clock.
package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no such object (in this org).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (slug, email, …) is taken.
	ErrConflict = errors.New("already exists")
)

// Role of a member in an organization.
type Role string

const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

type Org struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

type User struct {
	ID        string
	Email     string
	Name      string
	CreatedAt time.Time
}

// KeyType is user (acts as a person) or bot (acts as the org).
type KeyType string

const (
	KeyUser KeyType = "user"
	KeyBot  KeyType = "bot"
)

// Permissions maps a resource to the actions granted on it.
type Permissions map[string][]string

type APIKey struct {
	ID          string
	OrgID       string
	Type        KeyType
	UserID      string // set for user keys
	Name        string
	Prefix      string // first characters, for display
	Digest      []byte // HMAC-SHA256(pepper, key); the key itself is never stored
	Permissions Permissions
	CreatedBy   string // user ID
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero when never used
	ExpiresAt   time.Time // zero when it does not expire
}

// Link is a short link as control stores it.
type Link struct {
	ID        string
	OrgID     string
	Domain    string
	Key       string
	URL       string
	Version   uint64 // 1 on create, +1 on every change (deletes included)
	CreatedBy string // user or key ID
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OutboxEntry is a replicated command waiting for its raft apply.
type OutboxEntry struct {
	ID        int64
	Command   []byte
	CreatedAt time.Time
}

// Bootstrap is the first org of an install with its Owner and the Owner's key.
type Bootstrap struct {
	Org   Org
	Owner User
	Key   APIKey
}

// Store is the contract every control store engine implements.
type Store interface {
	// HasOrgs reports whether any organization exists.
	HasOrgs(ctx context.Context) (bool, error)
	// CreateBootstrap creates the org, its Owner and the Owner's key in one
	// transaction.
	CreateBootstrap(ctx context.Context, b Bootstrap) error

	// APIKeyByDigest finds a key by its digest.
	APIKeyByDigest(ctx context.Context, digest []byte) (APIKey, error)
	// TouchAPIKey sets lastUsedAt to at, unless it is already after
	// at-minAge (so a busy key costs one write a minute, not one a request).
	TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error

	// CreateLink inserts l and an outbox entry holding cmd in one
	// transaction and returns the entry's ID. ErrConflict if domain+key is
	// taken.
	CreateLink(ctx context.Context, l Link, cmd []byte) (int64, error)
	// Link returns the link id of org orgID.
	Link(ctx context.Context, orgID, id string) (Link, error)
	// DeleteLink deletes link id of org orgID and, in the same transaction,
	// appends the outbox entry (created at) that cmd builds from the
	// deleted row.
	DeleteLink(ctx context.Context, orgID, id string, at time.Time, cmd func(Link) []byte) (Link, int64, error)

	// PendingOutbox returns up to limit entries created at or before
	// olderThan, oldest first.
	PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]OutboxEntry, error)
	// DeleteOutbox removes an entry once its command is applied.
	DeleteOutbox(ctx context.Context, id int64) error

	Close() error
}
