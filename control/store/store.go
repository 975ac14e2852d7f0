// Package store holds the control plane's data types and the Store contract
// that every engine implements: SQLite as the embedded default, PostgreSQL
// for several control nodes sharing one database, both in
// control/store/sqlstore. One suite (control/store/storetest) runs against
// both.
//
// The contract is a set of small Queries; Write runs a function over them in
// one transaction, which is how services make a change, its audit entry and
// its outbox entry (the encoded replicated command) atomic. Outside Write the
// same Queries run on their own. The store knows nothing of permissions or
// the command format: it keeps bytes and rows.
//
// Time is always passed in by the caller; the store never reads the clock.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/h0p/h0p/control/identity"
)

var (
	// ErrNotFound: no such object (in this org).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (slug, email, a user's key, …) is taken.
	ErrConflict = errors.New("already exists")
)

type Org struct {
	ID        string
	Name      string
	Plan      string
	CreatedAt time.Time
}

type User struct {
	ID           string
	Email        string // lowercase
	Name         string
	PasswordHash string // argon2id PHC string; "" until a password is set
	CreatedAt    time.Time
	// EmailVerifiedAt is when the user proved they receive mail at Email;
	// zero until then.
	EmailVerifiedAt time.Time
}

// Purposes of UserTokens.
const (
	TokenVerifyEmail   = "verifyEmail"
	TokenResetPassword = "resetPassword"
)

// UserToken is a one-time secret mailed to a user's address (to verify it,
// or to reset the password); only its digest is stored.
type UserToken struct {
	ID        string
	UserID    string
	Purpose   string // TokenVerifyEmail or TokenResetPassword
	Digest    []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// Member is a user's membership of an org, with the user's email and name.
type Member struct {
	OrgID     string
	UserID    string
	Role      identity.Role
	CreatedAt time.Time
	Email     string // from the user, on reads
	Name      string // from the user, on reads
}

// Session is a signed-in user; the token itself is never stored.
type Session struct {
	ID        string
	UserID    string
	Digest    []byte // HMAC-SHA256(pepper, token)
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Invitation asks someone to join an org with a role; the token is shown
// once, to the inviter.
type Invitation struct {
	ID         string
	OrgID      string
	Email      string
	Role       identity.Role
	Digest     []byte
	InvitedBy  string // user ID
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt time.Time // zero until accepted
}

type APIKey struct {
	ID          string
	OrgID       string
	Type        identity.KeyType
	UserID      string // set for user keys
	Name        string
	Prefix      string // first characters, for display
	Digest      []byte // HMAC-SHA256(pepper, key); the key itself is never stored
	Permissions identity.Permissions
	CreatedBy   string // user ID
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero when never used
	ExpiresAt   time.Time // zero when it does not expire
}

// Link is a short link as control stores it. Columns the API filters and
// sorts on are fields; the rest of the link (targeting rules, A/B variants,
// UTM, social preview, …) is Attrs, a JSON document the links service owns.
type Link struct {
	ID         string
	OrgID      string
	Domain     string
	Key        string
	URL        string
	Version    uint64 // 1 on create, +1 on every change (deletes included)
	Title      string
	ExternalID string // unique per org when set
	// ImageFile and PreviewImageFile are the files (IDs) the link's image
	// and preview image are, "" when none: columns of their own, so that
	// a file's references are found through an index.
	ImageFile        string
	PreviewImageFile string
	PasswordHash     string
	ExpiresAt        time.Time
	ValidSince       time.Time
	Archived         bool
	Disabled         bool
	Attrs            json.RawMessage
	TagIDs           []string // sorted
	Clicks           int64
	LastClickedAt    time.Time
	CreatedBy        string // user or key ID
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// LinkSort is a sort order of link lists.
type LinkSort string

const (
	SortCreatedAt     LinkSort = "createdAt"
	SortClicks        LinkSort = "clicks"
	SortLastClickedAt LinkSort = "lastClickedAt"
)

// LinkFilter selects links of one org. Zero fields do not filter.
type LinkFilter struct {
	OrgID      string
	Domain     string
	TagID      string
	Search     string // substring of key, url or title, case-insensitive
	ExternalID string
	CreatedBy  string
	Archived   *bool
	Disabled   *bool
	Sort       LinkSort // default createdAt
	Asc        bool     // default newest / most first
	// After continues a page: the sort value and ID of the last link seen.
	After *LinkCursor
	Limit int
}

// LinkCursor is a position in a sorted link list. Lists are ordered by the
// sort column, then by ID, both descending unless Asc.
type LinkCursor struct {
	Value int64 // the sort column: Unix ms for times (0 for never clicked), the count for clicks
	ID    string
}

// Count is one group of CountLinks.
type Count struct {
	Group string // "" when not grouped
	Count int64
}

// LinkValue is one value of a link's attribute: a tag name, a UTM
// parameter.
type LinkValue struct {
	LinkID string
	Value  string
}

// Tag labels links; names are unique per org, case-insensitively.
type Tag struct {
	ID        string
	OrgID     string
	Name      string
	Color     string
	CreatedAt time.Time
}

// TagFilter selects a page of an org's tags, in the order of Tags.
type TagFilter struct {
	OrgID string
	// After continues a page: the name and ID of the last tag seen.
	After *TagCursor
	Limit int
}

// TagCursor is a position in an org's tag list, which is ordered by name
// case-insensitively (strings.ToLower, then byte-wise), then by ID.
type TagCursor struct{ Name, ID string }

// Domain statuses.
const (
	DomainPending       = "pending"
	DomainVerified      = "verified"
	DomainMisconfigured = "misconfigured"
)

// Domain is an org's custom short domain. Name is unique across orgs.
// Settings the API filters on are fields; the rest (rootUrl, redirect
// status, …) is Attrs, a JSON document the domains service owns.
type Domain struct {
	ID      string
	OrgID   string
	Name    string // lowercase ASCII (punycode), no trailing dot
	Token   string // the value of its TXT challenge record
	Status  string // DomainPending, DomainVerified or DomainMisconfigured
	Primary bool   // the org's domain for links created without one
	Version uint64 // 1 on create, +1 on every change (deletes included)
	Attrs   json.RawMessage
	// Records is the DNS the last check found (a JSON document the
	// service owns).
	Records    json.RawMessage
	VerifiedAt time.Time // first verification; zero until then
	LastOKAt   time.Time // last check that passed; zero until then
	CheckedAt  time.Time // last check; zero until then
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DomainFilter selects a page of an org's domains, oldest first (by ID).
type DomainFilter struct {
	OrgID   string
	AfterID string // cursor: domains with ID > AfterID
	Limit   int
}

// ClickCount is a number of clicks on a link and the time of the last.
type ClickCount struct {
	LinkID string
	Clicks int64
	Last   time.Time
}

// LinkClicks is a link after AddLinksClicks: its clicks, and what tells
// whether they reached its maxClicks (its attributes) and whether it
// changed since it was read (its version).
type LinkClicks struct {
	ID      string
	OrgID   string
	Clicks  int64
	Version uint64
	Attrs   json.RawMessage
}

// ClickCheckpoint is the last batch of clicks counted from one edge: a
// batch at or below Seq was counted already. Admission is what that batch
// admitted (opaque to the store).
type ClickCheckpoint struct {
	Edge      string
	Seq       uint64
	Admission []byte
	UpdatedAt time.Time
}

// Event is a domain event (link.created, …) waiting to be delivered to
// webhooks; written in the transaction of the change.
type Event struct {
	ID         string // evt_<ULID>
	OrgID      string
	Type       string
	ResourceID string
	Payload    json.RawMessage
	CreatedAt  time.Time
}

// Webhook message statuses.
const (
	MessagePending   = "pending"
	MessageRetrying  = "retrying"
	MessageDelivered = "delivered"
	MessageFailed    = "failed"
)

// Webhook is an endpoint an org registered for events. Events and Scope are
// JSON documents the webhooks service owns; the secrets are sealed by it,
// never stored in plaintext.
type Webhook struct {
	ID          string
	OrgID       string
	URL         string
	Description string
	Events      json.RawMessage
	Scope       json.RawMessage
	Secret      []byte // sealed
	// PreviousSecret (sealed) still signs, beside Secret, until
	// PreviousExpiresAt; nil when there is none.
	PreviousSecret    []byte
	PreviousExpiresAt time.Time
	DisabledAt        time.Time // zero while enabled
	DisabledReason    string
	Version           uint64 // 1 on create, +1 on every change
	CreatedBy         string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// File is an org's uploaded file: metadata, and the SHA-256 (lowercase
// hex) of its bytes, which are stored once as a blob however many files
// name them.
type File struct {
	ID        string
	OrgID     string
	Name      string
	MediaType string
	Size      int64
	SHA256    string
	Width     int // 0 when not an image, or not known
	Height    int
	Version   uint64 // 1 on create, +1 on every change
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	// A saved QR code's file: the file its logo is (LogoFileID) and the
	// link it encodes (LinkID); "" for other files. Set on insert only.
	LogoFileID string
	LinkID     string
}

// FileReference is a use of a file: a link's image or preview image
// (Type "link", Field "image" or "preview.image"), or a saved QR code's
// logo (Type "qr", ID the QR code's file, Field "logo").
type FileReference struct {
	Type  string
	ID    string
	Field string
}

// FileFilter selects a page of an org's files, oldest first (by ID).
type FileFilter struct {
	OrgID     string
	MediaType string // "" for every type
	AfterID   string // cursor: files with ID > AfterID
	Limit     int
}

// Blob is the reference count of stored bytes: how many files name them,
// and since when none has (zero while some do).
type Blob struct {
	SHA256    string
	Size      int64
	Refs      int64
	ZeroSince time.Time
}

// WebhookFilter selects a page of an org's webhooks, oldest first (by ID).
type WebhookFilter struct {
	OrgID   string
	AfterID string // cursor: webhooks with ID > AfterID
	Limit   int
}

// WebhookMessageFilter selects a page of a webhook's messages, newest
// first (by ID). Zero fields select everything.
type WebhookMessageFilter struct {
	OrgID     string
	WebhookID string
	Status    string
	EventType string
	From      time.Time // created at or after
	Until     time.Time // created before
	BeforeID  string    // cursor: messages with ID < BeforeID
	Limit     int
}

// WebhookMessage is one event to deliver to one webhook, and where its
// delivery stands.
type WebhookMessage struct {
	ID             string // msg_<ULID>, the webhook-id header
	WebhookID      string
	OrgID          string
	EventID        string // evt_… ("" for a ping)
	EventType      string
	Payload        json.RawMessage
	Status         string // MessagePending, MessageRetrying, MessageDelivered or MessageFailed
	Attempts       int
	NextAttemptAt  time.Time // zero: none planned
	LastStatusCode int       // 0: no answer
	LastLatency    time.Duration
	LastResponse   []byte // at most 2 KiB of the last answer's body
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookAttempt is one try at delivering a message.
type WebhookAttempt struct {
	MessageID  string
	Attempt    int // 1, 2, …
	At         time.Time
	StatusCode int // 0: no answer
	Latency    time.Duration
	Response   []byte // at most 2 KiB of the body
	Error      string // why there was no answer, or ""
}

// OutboxEntry is a replicated command waiting for its raft apply.
type OutboxEntry struct {
	ID        int64
	Command   []byte
	CreatedAt time.Time
}

// AuditEntry records one mutation: who, what, when, from where, and a
// compact before/after of the object without secrets.
type AuditEntry struct {
	ID           string // aud_<ULID>: sorts by time
	OrgID        string
	At           time.Time
	ActorType    string // "user" or "bot"
	ActorID      string // user ID, or the bot key's ID
	KeyID        string // the API key used; "" for a session
	Action       string // e.g. "link.created", "apiKey.rotated", "member.removed"
	ResourceType string
	ResourceID   string
	RequestID    string
	IP           string
	Diff         json.RawMessage // {"before":…,"after":…}; may be null
}

// AuditFilter selects audit entries of one org, newest first.
type AuditFilter struct {
	OrgID        string
	ActorID      string    // optional
	ResourceType string    // optional
	ResourceID   string    // optional
	From, To     time.Time // optional, [From, To)
	Before       string    // cursor: entries with ID < Before
	Limit        int
}

// IdempotencyKey is the Idempotency-Key of a write request and, once the
// request is done, its answer. The store keeps the answer as bytes; the API
// owns what they mean.
type IdempotencyKey struct {
	Scope       string // whose key it is: an org and a principal
	Key         string
	Fingerprint []byte // digest of the request the key was first used with
	Owner       string // the request that claimed the key
	CreatedAt   time.Time
	// The answer: Status is 0 while the owner runs.
	Status int
	Header json.RawMessage
	Body   []byte
}

// APIUsage counts the API requests of one caller of an org on one UTC day
// to one route, answered with one status class.
type APIUsage struct {
	OrgID         string
	PrincipalKind string // "key" (an API key's ID) or "user" (a signed-in user's ID)
	PrincipalID   string
	Day           string // "2006-01-02", UTC
	Route         string // the route template, e.g. "POST /v1/links"
	Status        string // "2xx", "3xx", "4xx" or "5xx"
	Requests      int64
	RateLimited   int64 // of Requests, those refused with 429
	LastUsedAt    time.Time
}

// APIUsageFilter selects an org's API usage of days From to To, both
// included ("2006-01-02"), of one caller when PrincipalID is set.
type APIUsageFilter struct {
	OrgID                      string
	From, To                   string
	PrincipalKind, PrincipalID string
}

// Groupings of SumAPIUsage.
const (
	UsageTotal    = ""
	UsageByCaller = "principal"
	UsageByDay    = "day"
	UsageByRoute  = "route"
	UsageByStatus = "status"
)

// APIUsageSum adds up the APIUsage rows of one group.
type APIUsageSum struct {
	// Group is the day, route, status class or principal ID the rows
	// share ("" for UsageTotal); Kind is the principal's kind when
	// grouped by caller.
	Group, Kind string
	Requests    int64
	Errors      int64 // answered 4xx or 5xx
	RateLimited int64
	LastUsedAt  time.Time // zero when there were no requests
}

// Queries are the control store's reads and writes. Each runs on its own,
// or inside Write's transaction.
type Queries interface {
	HasOrgs(ctx context.Context) (bool, error)
	CreateOrg(ctx context.Context, o Org) error
	Org(ctx context.Context, id string) (Org, error)
	// UpdateOrg stores the org's name and plan.
	UpdateOrg(ctx context.Context, o Org) error
	// AddUsage adds delta to an org's counter of metric in period (e.g.
	// "2026-11", "linksCreated") and returns the new value.
	AddUsage(ctx context.Context, orgID, period, metric string, delta int64) (int64, error)
	// Usage returns an org's counters for period.
	Usage(ctx context.Context, orgID, period string) (map[string]int64, error)
	// AddAPIUsage adds each row's Requests and RateLimited to its stored
	// counters and moves their LastUsedAt to the row's unless later
	// already, all in one transaction: concurrent calls, and the calls of
	// several control nodes, all count.
	AddAPIUsage(ctx context.Context, rows []APIUsage) error
	// SumAPIUsage adds up the usage f selects, grouped by groupBy
	// (UsageTotal, UsageByCaller, UsageByDay, UsageByRoute or
	// UsageByStatus), groups ordered by their value. UsageTotal answers
	// one sum, zero when nothing was counted.
	SumAPIUsage(ctx context.Context, f APIUsageFilter, groupBy string) ([]APIUsageSum, error)

	// CreateUser fails with ErrConflict when the email is taken.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	SetPassword(ctx context.Context, userID, hash string) error
	SetEmailVerified(ctx context.Context, userID string, at time.Time) error

	CreateUserToken(ctx context.Context, t UserToken) error
	UserTokenByDigest(ctx context.Context, digest []byte) (UserToken, error)
	// UseUserToken marks token id used at at; ErrNotFound when there is no
	// such token or it was used already (so two uses race to one winner).
	UseUserToken(ctx context.Context, id string, at time.Time) error
	// UseUserTokens marks every unused token of the user for purpose used
	// at at, so none of them works any more.
	UseUserTokens(ctx context.Context, userID, purpose string, at time.Time) error
	// CountUserTokens counts the user's tokens for purpose made at or after
	// since (used or not).
	CountUserTokens(ctx context.Context, userID, purpose string, since time.Time) (int, error)
	// PurgeUserTokens deletes tokens that expired before before.
	PurgeUserTokens(ctx context.Context, before time.Time) error

	// AddMember fails with ErrConflict when the user is already a member.
	AddMember(ctx context.Context, m Member) error
	Member(ctx context.Context, orgID, userID string) (Member, error)
	// Members lists an org's members by join time.
	Members(ctx context.Context, orgID string) ([]Member, error)
	// Memberships lists a user's memberships by join time.
	Memberships(ctx context.Context, userID string) ([]Member, error)
	SetRole(ctx context.Context, orgID, userID string, role identity.Role) error
	RemoveMember(ctx context.Context, orgID, userID string) error
	CountOwners(ctx context.Context, orgID string) (int, error)

	CreateSession(ctx context.Context, s Session) error
	SessionByDigest(ctx context.Context, digest []byte) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions ends every session of the user except the one with ID
	// except ("" for none).
	DeleteSessions(ctx context.Context, userID, except string) error

	CreateInvitation(ctx context.Context, inv Invitation) error
	InvitationByDigest(ctx context.Context, digest []byte) (Invitation, error)
	MarkInvitationAccepted(ctx context.Context, id string, at time.Time) error

	// CreateAPIKey fails with ErrConflict for a second user key of the same
	// user in the same org.
	CreateAPIKey(ctx context.Context, k APIKey) error
	APIKey(ctx context.Context, orgID, id string) (APIKey, error)
	APIKeyByDigest(ctx context.Context, digest []byte) (APIKey, error)
	// APIKeys lists an org's keys by creation time.
	APIKeys(ctx context.Context, orgID string) ([]APIKey, error)
	// UpdateAPIKey stores k's name, permissions, prefix, digest and expiry.
	UpdateAPIKey(ctx context.Context, k APIKey) error
	DeleteAPIKey(ctx context.Context, orgID, id string) error
	// DeleteUserKeys deletes a user's user keys in an org, or in every org
	// when orgID is "".
	DeleteUserKeys(ctx context.Context, orgID, userID string) error
	// TouchAPIKey sets lastUsedAt to at, unless it is already after
	// at-minAge (so a busy key costs one write a minute, not one a request).
	TouchAPIKey(ctx context.Context, id string, at time.Time, minAge time.Duration) error

	// InsertLink stores l with its tags; ErrConflict when domain+key or the
	// org's externalId is taken.
	InsertLink(ctx context.Context, l Link) error
	// UpdateLink replaces every column and the tags of link l.ID (org
	// scoped); ErrConflict as InsertLink.
	UpdateLink(ctx context.Context, l Link) error
	Link(ctx context.Context, orgID, id string) (Link, error)
	// LockLink is Link that, inside Write, also locks the row until commit.
	LockLink(ctx context.Context, orgID, id string) (Link, error)
	LinkByKey(ctx context.Context, orgID, domain, key string) (Link, error)
	LinkByExternalID(ctx context.Context, orgID, externalID string) (Link, error)
	// LinkByURL is the org's oldest link to url on domain.
	LinkByURL(ctx context.Context, orgID, domain, url string) (Link, error)
	// Links lists links by f, at most f.Limit.
	Links(ctx context.Context, f LinkFilter) ([]Link, error)
	// CountLinks counts links by f (Sort, After, Limit ignored), grouped by
	// "domain" or "tag" (a tag ID per group), or not ("").
	CountLinks(ctx context.Context, f LinkFilter, groupBy string) ([]Count, error)
	DeleteLink(ctx context.Context, orgID, id string) error
	// LinksByID reads the links of ids in any org; ids of no link are left
	// out.
	LinksByID(ctx context.Context, ids []string) ([]Link, error)
	// LinksByKeys reads an org's links whose key is one of keys, on any
	// domain.
	LinksByKeys(ctx context.Context, orgID string, keys []string) ([]Link, error)
	// LinkIDsByTags lists the IDs of an org's links carrying any of tagIDs.
	LinkIDsByTags(ctx context.Context, orgID string, tagIDs []string) ([]string, error)
	// LinkUTMValues lists the org's links whose Attrs set the UTM
	// parameter param ("source" for attrs {"utm":{"source":"…"}}) to a
	// non-empty string, with that string, by link ID: links without it
	// are left out, and cost nothing (an index holds the links with a
	// "utm" object).
	LinkUTMValues(ctx context.Context, orgID, param string) ([]LinkValue, error)
	// LinkTagNames lists the org's tagged links, a row per link and tag
	// name, by link ID.
	LinkTagNames(ctx context.Context, orgID string) ([]LinkValue, error)
	// LinkOrgs maps each of ids that is a link (of any org) to its org.
	LinkOrgs(ctx context.Context, ids []string) (map[string]string, error)
	// AddLinksClicks adds each count's Clicks to its link's clicks and
	// moves its lastClickedAt to Last unless it is later already, and
	// returns each link that exists as the update left it. Inside Write
	// the rows stay locked until commit.
	AddLinksClicks(ctx context.Context, counts []ClickCount) ([]LinkClicks, error)
	// ClickCheckpoint is edge's checkpoint; zero (Seq 0) when it has none.
	ClickCheckpoint(ctx context.Context, edge string) (ClickCheckpoint, error)
	// SetClickCheckpoint stores c as its edge's checkpoint.
	SetClickCheckpoint(ctx context.Context, c ClickCheckpoint) error

	// CreateTag fails with ErrConflict when the org has a tag of that name
	// in any case.
	CreateTag(ctx context.Context, t Tag) error
	Tag(ctx context.Context, orgID, id string) (Tag, error)
	// TagByName finds a tag by name, case-insensitively.
	TagByName(ctx context.Context, orgID, name string) (Tag, error)
	// Tags lists all of an org's tags by name (as TagCursor says).
	Tags(ctx context.Context, orgID string) ([]Tag, error)
	// TagPage lists up to f.Limit of an org's tags, in Tags' order, after
	// f.After.
	TagPage(ctx context.Context, f TagFilter) ([]Tag, error)
	UpdateTag(ctx context.Context, t Tag) error
	// DeleteTag deletes a tag and takes it off every link.
	DeleteTag(ctx context.Context, orgID, id string) error

	// CreateDomain fails with ErrConflict when the name is taken (in any
	// org).
	CreateDomain(ctx context.Context, d Domain) error
	Domain(ctx context.Context, orgID, id string) (Domain, error)
	// DomainByID reads domain id of any org.
	DomainByID(ctx context.Context, id string) (Domain, error)
	// PrimaryDomain is the org's primary domain (ErrNotFound: none).
	PrimaryDomain(ctx context.Context, orgID string) (Domain, error)
	// DomainByName finds a domain by name in any org.
	DomainByName(ctx context.Context, name string) (Domain, error)
	// Domains lists a page of an org's domains by f.
	Domains(ctx context.Context, f DomainFilter) ([]Domain, error)
	// CountDomains counts an org's domains.
	CountDomains(ctx context.Context, orgID string) (int, error)
	// DomainsCheckedBefore lists up to limit domains of any org whose last
	// check was before before (or never), least recently checked first.
	DomainsCheckedBefore(ctx context.Context, before time.Time, limit int) ([]Domain, error)
	// UpdateDomain replaces every column of domain d.ID (org scoped) but
	// its name, token and creation.
	UpdateDomain(ctx context.Context, d Domain) error
	DeleteDomain(ctx context.Context, orgID, id string) error

	// Files and the blobs they name. A file row and its blob's count
	// change together: CreateFile and DeleteFile each do both, so inside
	// Write the two never disagree.
	//
	// CreateFile inserts f (ErrConflict: the ID is taken) and counts one
	// more reference to its blob, creating the blob's row at 1.
	CreateFile(ctx context.Context, f File) error
	File(ctx context.Context, orgID, id string) (File, error)
	// FileByID reads file id of any org: for a public URL, whose
	// signature is checked first.
	FileByID(ctx context.Context, id string) (File, error)
	// LockFile is File that, inside Write, also locks the row until the
	// transaction ends (SQLite's one writer holds the lock already): a
	// link naming the file and the file's delete wait for each other.
	LockFile(ctx context.Context, orgID, id string) (File, error)
	// FileReferences lists the uses of file id of an org: links by
	// image, then by preview image, then saved QR codes by logo, each by
	// ID.
	FileReferences(ctx context.Context, orgID, id string) ([]FileReference, error)
	// Files lists a page of an org's files by f.
	Files(ctx context.Context, f FileFilter) ([]File, error)
	// FileUsage is how many files an org has and their total size.
	FileUsage(ctx context.Context, orgID string) (files int, bytes int64, err error)
	// UpdateFile stores f's name, version and updatedAt (org scoped).
	UpdateFile(ctx context.Context, f File) error
	// DeleteFile deletes file id (org scoped) and counts one reference
	// less to its blob; the blob's ZeroSince becomes at when none is left.
	DeleteFile(ctx context.Context, orgID, id string, at time.Time) error
	Blob(ctx context.Context, sha256 string) (Blob, error)
	// LockBlob is Blob that, inside Write, also locks the row until
	// commit (PostgreSQL: FOR UPDATE; SQLite's Write holds its one write
	// lock already), so a CreateFile naming it waits.
	LockBlob(ctx context.Context, sha256 string) (Blob, error)
	// ClaimBlob inserts b, unreferenced, to hold its name while the
	// caller deletes bytes no row knew of; ErrConflict when the row
	// exists. A CreateFile naming it waits until the claim commits.
	ClaimBlob(ctx context.Context, b Blob) error
	// UnreferencedBlobs lists up to limit blobs with no reference since
	// at or before before, longest unreferenced first.
	UnreferencedBlobs(ctx context.Context, before time.Time, limit int) ([]Blob, error)
	// DeleteBlob deletes the row of an unreferenced blob; ErrNotFound when
	// there is none, or it is referenced.
	DeleteBlob(ctx context.Context, sha256 string) error

	// Webhooks and their deliveries.
	//
	// CreateWebhook inserts w.
	CreateWebhook(ctx context.Context, w Webhook) error
	Webhook(ctx context.Context, orgID, id string) (Webhook, error)
	// Webhooks lists a page of an org's webhooks by f.
	Webhooks(ctx context.Context, f WebhookFilter) ([]Webhook, error)
	// CountWebhooks counts an org's webhooks.
	CountWebhooks(ctx context.Context, orgID string) (int, error)
	// UpdateWebhook replaces every column of webhook w.ID (org scoped) but
	// its creation.
	UpdateWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook deletes a webhook with its messages and attempts.
	DeleteWebhook(ctx context.Context, orgID, id string) error
	// EnabledWebhooks lists every org's enabled webhooks (no DisabledAt)
	// whose Events may name event: a superset (a textual match), which
	// the caller decodes to decide.
	EnabledWebhooks(ctx context.Context, event string) ([]Webhook, error)
	// CreateWebhookMessage inserts m.
	CreateWebhookMessage(ctx context.Context, m WebhookMessage) error
	WebhookMessage(ctx context.Context, orgID, id string) (WebhookMessage, error)
	// UpdateWebhookMessage stores m's delivery state: status, attempts,
	// next attempt, last answer, updatedAt.
	UpdateWebhookMessage(ctx context.Context, m WebhookMessage) error
	// AppendWebhookAttempt records one attempt; ErrConflict when the
	// message has that attempt number already.
	AppendWebhookAttempt(ctx context.Context, a WebhookAttempt) error
	// WebhookAttempts lists a message's attempts in order.
	WebhookAttempts(ctx context.Context, messageID string) ([]WebhookAttempt, error)
	// DueWebhooks lists up to limit enabled webhooks that have due
	// messages (pending or retrying, next attempt at or before now), the
	// one whose oldest due message is oldest first: a webhook with a long
	// backlog takes one place in the list, not its length.
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DueWebhookMessages lists up to limit due messages of webhook id, by
	// ID (oldest first).
	DueWebhookMessages(ctx context.Context, id string, now time.Time, limit int) ([]WebhookMessage, error)
	// CountDueWebhookMessages counts what DueWebhookMessages would list
	// without a limit.
	CountDueWebhookMessages(ctx context.Context, now time.Time) (int, error)
	// WebhookMessages lists a page of a webhook's messages by f, newest
	// first.
	WebhookMessages(ctx context.Context, f WebhookMessageFilter) ([]WebhookMessage, error)
	// RequeueWebhookMessages makes the webhook's messages (not pings)
	// created in [from, until) pending and due at now, and returns how
	// many.
	RequeueWebhookMessages(ctx context.Context, orgID, webhookID string, from, until, now time.Time) (int, error)
	// WebhookFailingSince is the time of the first attempt, after after, of
	// the webhook's messages (pings too) since its last successful (2xx)
	// attempt; zero when there is none.
	WebhookFailingSince(ctx context.Context, webhookID string, after time.Time) (time.Time, error)

	// PendingEvents lists up to limit events not fanned out yet, by ID.
	PendingEvents(ctx context.Context, limit int) ([]Event, error)
	// MarkEventsFannedOut records that events ids were fanned out at at.
	MarkEventsFannedOut(ctx context.Context, at time.Time, ids ...string) error

	// AppendEvent stores events (a bulk change appends all of its at once).
	AppendEvent(ctx context.Context, es ...Event) error

	// AppendOutbox queues a replicated command and returns its entry ID.
	AppendOutbox(ctx context.Context, cmd []byte, at time.Time) (int64, error)
	// PendingOutbox returns up to limit entries created at or before
	// olderThan, oldest first.
	PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]OutboxEntry, error)
	// DeleteOutbox removes entries once their commands are applied.
	DeleteOutbox(ctx context.Context, ids ...int64) error

	// AppendAudit stores audit entries (a bulk change appends all of its at
	// once).
	AppendAudit(ctx context.Context, es ...AuditEntry) error
	AuditLogs(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// ClaimIdempotencyKey stores k (without an answer) unless k.Scope holds
	// k.Key already, in one atomic step: of several claims of one key, one
	// wins. An entry created at or before expiredBefore counts as absent
	// and is replaced. It reports whether k was stored; if not, it returns
	// the entry that holds the key.
	ClaimIdempotencyKey(ctx context.Context, k IdempotencyKey, expiredBefore time.Time) (IdempotencyKey, bool, error)
	// FinishIdempotencyKey stores the answer (Status, Header, Body) of the
	// entry k.Owner claimed; ErrNotFound when k.Owner holds no such entry.
	FinishIdempotencyKey(ctx context.Context, k IdempotencyKey) error
	// ReleaseIdempotencyKey deletes the entry k.Owner claimed, so the key
	// may be claimed again; ErrNotFound when k.Owner holds no such entry.
	ReleaseIdempotencyKey(ctx context.Context, k IdempotencyKey) error
	// PurgeIdempotencyKeys deletes up to limit entries created at or before
	// expiredBefore, oldest first, and returns how many it deleted.
	PurgeIdempotencyKeys(ctx context.Context, expiredBefore time.Time, limit int) (int, error)
}

// Store is the contract every control store engine implements.
type Store interface {
	Queries
	// Write runs fn in one transaction: it commits if fn returns nil and
	// rolls back otherwise (a panic in fn too, which goes on up). fn must
	// use only the Queries it is given, and only while it runs.
	Write(ctx context.Context, fn func(Queries) error) error
	Close() error
}
