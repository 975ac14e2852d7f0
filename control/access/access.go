// Package access is H0p's permission model: resources × actions, the role
// table, the three kinds of principal (session, user key, bot key) and the
// rule that decides what a request may do.
//
//	role    shortLinks  domains  apiKeys  webhooks  stats  files
//	Owner   full        full     full     full      read   full
//	Admin   full        full     full     full      read   full
//	Member  full        c r u    none     none      read   full
//
// A session acts with its user's role. A user key acts with its grants ∩ its
// user's current role, so a demotion narrows it at once. A bot key acts with
// its grants, which were checked against its creator's role when it was made.
// Organization administration (members, invitations, the org itself, the
// audit log) is not a grantable resource: it needs a person (a session or a
// user key) with at least the route's role.
//
// Files are full for all three roles because uploads (logos, images, PDFs)
// are part of making links, which every role does.
//
// Roles, key types and stored grants are control/identity's values; this
// package decides what they allow. It reads nothing and writes nothing.
package access

import (
	"fmt"
	"sort"
	"strings"

	"github.com/h0p/h0p/control/identity"
)

// Resource is a grantable resource.
type Resource string

const (
	ShortLinks Resource = "shortLinks"
	Domains    Resource = "domains"
	Stats      Resource = "stats"
	Files      Resource = "files"
	APIKeys    Resource = "apiKeys"
	Webhooks   Resource = "webhooks"
)

// Action is something done to a resource.
type Action string

const (
	Create Action = "create"
	Read   Action = "read"
	Update Action = "update"
	Delete Action = "delete"
)

// Resources and Actions in their canonical order.
var (
	Resources = []Resource{ShortLinks, Domains, Stats, Files, APIKeys, Webhooks}
	Actions   = []Action{Create, Read, Update, Delete}
)

// Set is a set of (resource, action) permissions, one bit each.
type Set uint32

func bit(r Resource, a Action) Set {
	ri, ai := -1, -1
	for i, x := range Resources {
		if x == r {
			ri = i
		}
	}
	for i, x := range Actions {
		if x == a {
			ai = i
		}
	}
	if ri < 0 || ai < 0 {
		return 0
	}
	return 1 << (ri*len(Actions) + ai)
}

// Of builds a set from resource → actions.
func Of(grants map[Resource][]Action) Set {
	var s Set
	for r, as := range grants {
		for _, a := range as {
			s |= bit(r, a)
		}
	}
	return s
}

// All is every permission there is.
var All = func() Set {
	var s Set
	for _, r := range Resources {
		for _, a := range Actions {
			s |= bit(r, a)
		}
	}
	return s
}()

func (s Set) Has(r Resource, a Action) bool { return bit(r, a) != 0 && s&bit(r, a) != 0 }
func (s Set) Intersect(o Set) Set           { return s & o }

// Minus is what s has that o does not.
func (s Set) Minus(o Set) Set { return s &^ o }

// Permissions is the stored and JSON form: {"shortLinks":["create",…],…},
// resources and actions in canonical order, empty resources left out.
func (s Set) Permissions() identity.Permissions {
	p := identity.Permissions{}
	for _, r := range Resources {
		for _, a := range Actions {
			if s.Has(r, a) {
				p[string(r)] = append(p[string(r)], string(a))
			}
		}
	}
	return p
}

// String lists the permissions as resource:action, for messages.
func (s Set) String() string {
	var parts []string
	for _, r := range Resources {
		for _, a := range Actions {
			if s.Has(r, a) {
				parts = append(parts, string(r)+":"+string(a))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// Parse reads the stored/JSON form. Unknown resources or actions are an
// error naming them.
func Parse(p identity.Permissions) (Set, error) {
	var (
		s   Set
		bad []string
	)
	for r, as := range p {
		for _, a := range as {
			b := bit(Resource(r), Action(a))
			if b == 0 {
				bad = append(bad, r+":"+a)
			}
			s |= b
		}
		if len(as) == 0 && bit(Resource(r), Read) == 0 {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return 0, fmt.Errorf("unknown permissions: %s (resources: shortLinks, domains, stats, files, apiKeys, webhooks; actions: create, read, update, delete)",
			strings.Join(bad, ", "))
	}
	return s, nil
}

// OfRole is what a role allows (the table in the package doc).
func OfRole(role identity.Role) Set {
	full := []Action{Create, Read, Update, Delete}
	switch role {
	case identity.RoleOwner, identity.RoleAdmin:
		return Of(map[Resource][]Action{
			ShortLinks: full, Domains: full, APIKeys: full, Webhooks: full, Stats: {Read}, Files: full,
		})
	case identity.RoleMember:
		return Of(map[Resource][]Action{
			ShortLinks: full, Domains: {Create, Read, Update}, Stats: {Read}, Files: full,
		})
	}
	return 0
}

// RoleRank orders roles: Member < Admin < Owner.
func RoleRank(r identity.Role) int {
	switch r {
	case identity.RoleOwner:
		return 3
	case identity.RoleAdmin:
		return 2
	case identity.RoleMember:
		return 1
	}
	return 0
}

// Kind is how a principal authenticated.
type Kind string

const (
	Session Kind = "session"
	UserKey Kind = "userKey"
	BotKey  Kind = "botKey"
	// System is an operator's command (h0p admin), never an API request.
	System Kind = "system"
)

// Principal is who is making a request, in which org.
type Principal struct {
	Kind   Kind
	OrgID  string
	UserID string        // the person (sessions, user keys); "" for bots
	Role   identity.Role // the person's current role in OrgID; "" for bots
	KeyID  string        // the API key used; "" for sessions
	Grants Set           // the key's grants; unused for sessions
	// SessionID is set for sessions (logout deletes it).
	SessionID string

	// Of the request, for the audit log.
	RequestID string
	IP        string
}

// IsPerson reports whether a human (session or user key) is acting.
func (p Principal) IsPerson() bool { return p.Kind == Session || p.Kind == UserKey }

// Effective is what the principal may do right now.
func (p Principal) Effective() Set {
	switch p.Kind {
	case Session:
		return OfRole(p.Role)
	case UserKey:
		return p.Grants & OfRole(p.Role)
	case BotKey:
		return p.Grants
	}
	return 0
}

// ActorType and ActorID are how the audit log names the principal: the
// person for sessions and user keys, the bot key for bots.
func (p Principal) ActorType() string {
	switch p.Kind {
	case BotKey:
		return "bot"
	case System:
		return "system"
	}
	return "user"
}

func (p Principal) ActorID() string {
	switch p.Kind {
	case BotKey:
		return p.KeyID
	case System:
		return "h0p-admin"
	}
	return p.UserID
}

// Need is what a route requires. Exactly one form applies:
//   - Resource+Action: the principal's effective set must have it (with
//     OwnUserKey, a session lacking it may still act on its own user key;
//     the handler enforces the "own").
//   - MinRole: a person whose role ranks at least MinRole.
//   - Member: any principal of the org (the route shows org basics).
//   - Person: any person (session or user key) of the org.
//   - Public: no authentication (login, password reset). With
//     OptionalSession, a session token, when sent, says who is calling
//     (invitation accept); other credentials are ignored.
//   - SessionOnly: a signed-in user, whichever org (logout, creating orgs).
type Need struct {
	Resource        Resource
	Action          Action
	Also            Action // a second action the route needs on Resource (upsert: create and update)
	OwnUserKey      bool
	MinRole         identity.Role
	Member          bool
	Person          bool
	Public          bool
	OptionalSession bool
	SessionOnly     bool
}

// String describes the need, for messages and the route table.
func (n Need) String() string {
	switch {
	case n.Public && n.OptionalSession:
		return "public (a session, when sent, says who)"
	case n.Public:
		return "public"
	case n.SessionOnly:
		return "session"
	case n.Member:
		return "member"
	case n.Person:
		return "person"
	case n.MinRole != "":
		return "role:" + string(n.MinRole)
	}
	s := string(n.Resource) + ":" + string(n.Action)
	if n.Also != "" {
		s += "+" + string(n.Also)
	}
	if n.OwnUserKey {
		s += " (or own user key by session)"
	}
	return s
}

// Decision is the outcome of Check.
type Decision int

const (
	Allowed Decision = iota
	Denied
	// OwnKeyOnly: allowed only on the principal's own user key.
	OwnKeyOnly
)

// Check decides whether p may do what n requires.
func Check(p Principal, n Need) Decision {
	switch {
	case n.Public, n.Member:
		return Allowed
	case n.SessionOnly:
		return allowIf(p.Kind == Session)
	case n.Person:
		return allowIf(p.IsPerson())
	case n.MinRole != "":
		return allowIf(p.IsPerson() && RoleRank(p.Role) >= RoleRank(n.MinRole))
	}
	if p.Effective().Has(n.Resource, n.Action) && (n.Also == "" || p.Effective().Has(n.Resource, n.Also)) {
		return Allowed
	}
	if n.OwnUserKey && p.Kind == Session {
		return OwnKeyOnly
	}
	return Denied
}

func allowIf(ok bool) Decision {
	if ok {
		return Allowed
	}
	return Denied
}

// KeyTarget is an API key a principal wants to act on, as CheckKey sees it.
type KeyTarget struct {
	Type   identity.KeyType
	UserID string // the key's person, for user keys
	// OwnerRole is the person's current role in the org (user keys).
	OwnerRole identity.Role
	Grants    Set // the key's stored grants
}

// Effective is what the key may do right now: a user key's grants ∩ its
// person's role, a bot key's grants.
func (k KeyTarget) Effective() Set {
	if k.Type == identity.KeyUser {
		return k.Grants & OfRole(k.OwnerRole)
	}
	return k.Grants
}

// KeyRefusal says why CheckKey refuses; "" when it allows.
type KeyRefusal string

// CheckKey decides whether p may do a to key k, once the route's own need
// (apiKeys:a, or a session's own user key) has passed:
//
//   - A user key belongs to its person. Only that person may change it or
//     rotate it (whose answer carries the secret). Anyone with apiKeys:read
//     may see its metadata; with apiKeys:delete, a person may revoke it
//     (offboarding) unless its person outranks them (only an Owner revokes
//     an Owner's key).
//   - A bot key can never act on a user key, not even to read it.
//   - No principal may change, rotate or revoke a key whose effective
//     permissions exceed its own: that would hand it (or take from others)
//     more than it holds.
func CheckKey(p Principal, a Action, k KeyTarget) KeyRefusal {
	own := k.Type == identity.KeyUser && p.IsPerson() && k.UserID == p.UserID
	switch {
	case own:
		return ""
	case k.Type == identity.KeyUser && !p.IsPerson():
		return "a bot key cannot act on a user key"
	case !p.Effective().Has(APIKeys, a):
		return KeyRefusal(fmt.Sprintf("you may only manage your own user key (apiKeys:%s needed for others)", a))
	case a == Read:
		return ""
	case k.Type == identity.KeyUser && a != Delete:
		return "a user key belongs to its person: only they may change or rotate it; you may revoke it"
	case k.Type == identity.KeyUser && RoleRank(k.OwnerRole) > RoleRank(p.Role):
		return KeyRefusal(fmt.Sprintf("only an %s may revoke an %s's key", k.OwnerRole, k.OwnerRole))
	}
	if excess := k.Effective().Minus(p.Effective()); excess != 0 {
		return KeyRefusal("this key holds permissions you do not: " + excess.String())
	}
	return ""
}
