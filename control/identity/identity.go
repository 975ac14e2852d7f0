// Package identity names who acts in an organization, in the form the store
// keeps and every other package reads: a member's Role, an API key's
// KeyType, and a key's Permissions as granted.
//
// These are values, not rules. What a role allows, how a key's grants meet
// its person's role, and who may act on whose key are decided in
// control/access (Set, Check, CheckKey); the store only keeps these values.
// Both import this package, so the store does not depend on access nor
// access on the store.
//
// Resource and Action (shortLinks, create, …) stay in control/access: they
// are the vocabulary of its decisions (the bit order of a Set, what Parse
// accepts), while the store never reads them. Permissions is therefore kept
// as plain strings, resource → actions, exactly as it is stored and sent as
// JSON; access.Parse is where unknown names are refused.
package identity

// Role of a member in an organization.
type Role string

const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// KeyType is user (acts as a person) or bot (acts as the org).
type KeyType string

const (
	KeyUser KeyType = "user"
	KeyBot  KeyType = "bot"
)

// Permissions maps a resource to the actions granted on it, as stored:
// {"shortLinks":["create","read"],…}.
type Permissions map[string][]string
