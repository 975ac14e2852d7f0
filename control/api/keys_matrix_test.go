package api_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// keyTarget is one kind of key the key matrix acts on.
type keyTarget string

const (
	ownUserKey     keyTarget = "own user key"
	membersUserKey keyTarget = "another member's user key"
	ownersUserKey  keyTarget = "the Owner's user key"
	strongerBot    keyTarget = "a bot key with every Owner permission"
	weakerBot      keyTarget = "a bot key with shortLinks:read"
)

var keyTargets = []keyTarget{ownUserKey, membersUserKey, ownersUserKey, strongerBot, weakerBot}

// keyWorld is a fresh org for one cell of the key matrix: the actor, and one
// key of each target kind.
type keyWorld struct {
	orgID   string
	actor   actor
	targets map[keyTarget]string // target → key ID; ownUserKey absent for bots
	digests map[string][]byte    // key ID → digest, to see a key left alone
}

// keyActorSpec describes the actor of a key world.
type keyActorSpec struct {
	role    identity.Role
	kind    access.Kind
	variant string
}

func (s keyActorSpec) String() string {
	if s.kind == access.Session {
		return fmt.Sprintf("%s/session", s.role)
	}
	return fmt.Sprintf("%s/%s/%s", s.role, s.kind, s.variant)
}

// keyGrantVariants are the grants of the matrix's keys, each bounded by the
// role the key is made at; "apiKeys:read,update" is the bot key that could
// once rotate the Owner's key.
var keyGrantVariants = map[string]func(identity.Role) access.Set{
	"full":                access.OfRole,
	"minimal":             grantVariants["minimal"],
	"none":                grantVariants["none"],
	"apiKeys:read,update": func(r identity.Role) access.Set { return keysReadUpdate & access.OfRole(r) },
}

var keysReadUpdate = access.Of(map[access.Resource][]access.Action{access.APIKeys: {access.Read, access.Update}})

func keyActorSpecs() []keyActorSpec {
	var out []keyActorSpec
	for _, role := range []identity.Role{identity.RoleOwner, identity.RoleAdmin, identity.RoleMember} {
		out = append(out, keyActorSpec{role: role, kind: access.Session})
		for _, kind := range []access.Kind{access.UserKey, access.BotKey} {
			for _, v := range []string{"full", "minimal", "none", "apiKeys:read,update"} {
				out = append(out, keyActorSpec{role, kind, v})
			}
		}
	}
	return out
}

func mustKeyWorld(t *testing.T, e *env, n int, spec keyActorSpec) keyWorld {
	t.Helper()
	ctx := context.Background()
	w := keyWorld{orgID: fmt.Sprintf("org_k%d", n), targets: map[keyTarget]string{}, digests: map[string][]byte{}}
	tag := func(s string) string { return fmt.Sprintf("%s_k%d", s, n) }
	err := e.store.Write(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, store.Org{ID: w.orgID, Name: "keys", Plan: "enterprise", CreatedAt: e.now}); err != nil {
			return err
		}
		addUser := func(id string, role identity.Role) error {
			if err := q.CreateUser(ctx, store.User{ID: id, Email: id + "@example.com", CreatedAt: e.now}); err != nil {
				return err
			}
			return q.AddMember(ctx, store.Member{OrgID: w.orgID, UserID: id, Role: role, CreatedAt: e.now})
		}
		addKey := func(id string, typ identity.KeyType, user string, grants access.Set) (string, error) {
			kt := apikey.User
			if typ == identity.KeyBot {
				kt = apikey.Bot
			}
			plain := apikey.Generate(kt)
			w.digests[id] = apikey.Digest(pepper, plain)
			return plain, q.CreateAPIKey(ctx, store.APIKey{ID: id, OrgID: w.orgID, Type: typ, UserID: user, Name: id,
				Prefix: apikey.Prefix(plain), Digest: w.digests[id], Permissions: grants.Permissions(),
				CreatedBy: tag("usr_owner"), CreatedAt: e.now})
		}
		if err := addUser(tag("usr_owner"), identity.RoleOwner); err != nil {
			return err
		}
		w.targets[ownersUserKey] = tag("key_owner")
		if _, err := addKey(w.targets[ownersUserKey], identity.KeyUser, tag("usr_owner"), access.OfRole(identity.RoleOwner)); err != nil {
			return err
		}
		if err := addUser(tag("usr_member"), identity.RoleMember); err != nil {
			return err
		}
		w.targets[membersUserKey] = tag("key_member")
		if _, err := addKey(w.targets[membersUserKey], identity.KeyUser, tag("usr_member"), access.OfRole(identity.RoleMember)); err != nil {
			return err
		}
		w.targets[strongerBot] = tag("key_strong")
		if _, err := addKey(w.targets[strongerBot], identity.KeyBot, "", access.OfRole(identity.RoleOwner)); err != nil {
			return err
		}
		w.targets[weakerBot] = tag("key_weak")
		if _, err := addKey(w.targets[weakerBot], identity.KeyBot, "", grantVariants["minimal"](identity.RoleOwner)); err != nil {
			return err
		}

		uid := tag("usr_actor")
		switch spec.kind {
		case access.Session:
			if err := addUser(uid, spec.role); err != nil {
				return err
			}
			token := apikey.Generate(apikey.Session)
			if err := q.CreateSession(ctx, store.Session{ID: tag("ses_actor"), UserID: uid, Digest: apikey.Digest(pepper, token),
				CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}); err != nil {
				return err
			}
			w.actor = actor{spec.String(), access.Principal{Kind: access.Session, OrgID: w.orgID, UserID: uid, Role: spec.role}, token}
			// The signed-in person's own user key.
			w.targets[ownUserKey] = tag("key_actor")
			_, err := addKey(w.targets[ownUserKey], identity.KeyUser, uid, access.OfRole(spec.role))
			return err
		case access.UserKey:
			if err := addUser(uid, spec.role); err != nil {
				return err
			}
			grants := keyGrantVariants[spec.variant](spec.role)
			w.targets[ownUserKey] = tag("key_actor")
			plain, err := addKey(w.targets[ownUserKey], identity.KeyUser, uid, grants)
			w.actor = actor{spec.String(), access.Principal{Kind: access.UserKey, OrgID: w.orgID, UserID: uid, Role: spec.role,
				KeyID: w.targets[ownUserKey], Grants: grants}, plain}
			return err
		default:
			grants := keyGrantVariants[spec.variant](spec.role)
			id := tag("key_actor")
			plain, err := addKey(id, identity.KeyBot, "", grants)
			w.actor = actor{spec.String(), access.Principal{Kind: access.BotKey, OrgID: w.orgID, KeyID: id, Grants: grants}, plain}
			return err
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// targetFacts are what the rules look at in a target: whose key it is and
// what it may do.
func targetFacts(w keyWorld, target keyTarget) (person string, personRole identity.Role, effective access.Set) {
	switch target {
	case ownUserKey:
		return w.actor.p.UserID, w.actor.p.Role, w.actor.p.Effective()
	case membersUserKey:
		return "member", identity.RoleMember, access.OfRole(identity.RoleMember)
	case ownersUserKey:
		return "owner", identity.RoleOwner, access.OfRole(identity.RoleOwner)
	case strongerBot:
		return "", "", access.OfRole(identity.RoleOwner)
	}
	return "", "", grantVariants["minimal"](identity.RoleOwner)
}

// wantKeyAllowed is the product's rule for acting on a key, written out
// for the test from README's "Keys and permissions":
//   - a person may do anything to their own user key through a session;
//     through the key itself only what the key's apiKeys grants allow;
//   - a bot key never touches a user key;
//   - everything else needs apiKeys:<action>;
//   - reading is then allowed; another person's user key may otherwise
//     only be revoked, and an Owner's only by an Owner;
//   - nobody changes, rotates or revokes a key that holds more than they.
func wantKeyAllowed(w keyWorld, target keyTarget, a access.Action) bool {
	p := w.actor.p
	person, personRole, effective := targetFacts(w, target)
	if target == ownUserKey {
		return p.Kind == access.Session || p.Effective().Has(access.APIKeys, a)
	}
	if person != "" && p.Kind == access.BotKey {
		return false
	}
	if !p.Effective().Has(access.APIKeys, a) {
		return false
	}
	if a == access.Read {
		return true
	}
	if person != "" && (a != access.Delete || personRole == identity.RoleOwner && p.Role != identity.RoleOwner) {
		return false
	}
	return effective&^p.Effective() == 0
}

// keyRoutes are the key routes that act on one key, with the action each
// needs.
var keyRoutes = []struct {
	method, suffix, body string
	action               access.Action
}{
	{"GET", "", "", access.Read},
	{"GET", "/usage", "", access.Read},
	{"PATCH", "", `{"name":"renamed"}`, access.Update},
	{"POST", "/rotate", "", access.Update},
	{"DELETE", "", "", access.Delete},
}

// Every key route × {Owner, Admin, Member} × {session, user key, bot key} ×
// grants × target key: a refused call answers 403 and leaves the key as it
// was; an allowed one succeeds. Rotation is the only answer with a secret,
// and reading another's key never shows one.
func TestKeyPermissionMatrix(t *testing.T) {
	e := mustStart(t)
	n := 0
	for _, rt := range keyRoutes {
		t.Run(rt.method+" /v1/api-keys/:id"+rt.suffix, func(t *testing.T) {
			for _, spec := range keyActorSpecs() {
				for _, target := range keyTargets {
					if target == ownUserKey && spec.kind == access.BotKey {
						continue // a bot has no user key
					}
					n++
					w := mustKeyWorld(t, e, n, spec)
					id := w.targets[target]
					want := wantKeyAllowed(w, target, rt.action)
					status, m, r := e.call(t, rt.method, "/v1/api-keys/"+id+rt.suffix, w.actor.cred, rt.body)
					cell := fmt.Sprintf("%s on %s", w.actor.name, target)
					switch {
					case want && status != 200:
						t.Errorf("%s: %d %s; want 200", cell, status, r.body)
					case !want && (status != 403 || errCode(m) != "FORBIDDEN"):
						t.Errorf("%s: %d %s; want 403", cell, status, r.body)
					}
					secret, _ := m["key"].(string)
					if (secret != "") != (want && rt.suffix == "/rotate") {
						t.Errorf("%s: answer carries a secret: %q", cell, secret)
					}
					if !want {
						k, err := e.store.APIKey(context.Background(), w.orgID, id)
						if err != nil || !bytes.Equal(k.Digest, w.digests[id]) || k.Name != id {
							t.Errorf("%s: refused, yet the key changed: %+v %v", cell, k, err)
						}
					}
				}
			}
		})
	}
	t.Run("GET /v1/api-keys", func(t *testing.T) {
		for _, spec := range keyActorSpecs() {
			n++
			w := mustKeyWorld(t, e, n, spec)
			status, m, r := e.call(t, "GET", "/v1/api-keys", w.actor.cred, "")
			if !w.actor.p.Effective().Has(access.APIKeys, access.Read) && w.actor.p.Kind != access.Session {
				if status != 403 {
					t.Errorf("%s: %d %s; want 403", w.actor.name, status, r.body)
				}
				continue
			}
			if status != 200 {
				t.Fatalf("%s: %d %s", w.actor.name, status, r.body)
			}
			listed := map[string]bool{}
			for _, k := range m["data"].([]any) {
				km := k.(map[string]any)
				listed[km["id"].(string)] = true
				if km["key"] != nil {
					t.Errorf("%s: the list shows a secret", w.actor.name)
				}
			}
			for _, target := range keyTargets {
				id, ok := w.targets[target]
				if !ok {
					continue
				}
				if want := wantKeyAllowed(w, target, access.Read); listed[id] != want {
					t.Errorf("%s: %s listed %v, want %v", w.actor.name, target, listed[id], want)
				}
			}
		}
	})
}

// The takeovers the key rules close, step by step as an attacker would try
// them: an Admin, and a bot key that may only read and update keys, rotating
// or narrowing the Owner's key.
func TestNobodyTakesAnotherPersonsKey(t *testing.T) {
	e := mustStart(t)
	admin, _ := e.inviteAndLogin(t, e.key, "admin@example.com", "admin")
	bot := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key,
		`{"name":"key manager","type":"bot","permissions":{"apiKeys":["read","update"]}}`)["key"].(string)
	owner := "key_1" // the Owner's user key (mustBootstrap)

	for _, cred := range []string{admin, bot} {
		if status, m, _ := e.call(t, "POST", "/v1/api-keys/"+owner+"/rotate", cred, ""); status != 403 || m["key"] != nil {
			t.Errorf("rotating the Owner's key: %d %v", status, m)
		}
		if status, _, _ := e.call(t, "PATCH", "/v1/api-keys/"+owner, cred, `{"permissions":{"shortLinks":["read"]}}`); status != 403 {
			t.Errorf("narrowing the Owner's key: %d", status)
		}
	}
	// The Owner's key still works with every permission, and the Admin is
	// still an Admin.
	me := e.mustCall(t, 200, "GET", "/v1/me", e.key, "")
	if !strings.Contains(string(mustJSON(me["permissions"])), `"apiKeys":["create","read","update","delete"]`) {
		t.Errorf("Owner's key permissions now %v", me["permissions"])
	}
	// An Admin may see the Owner's key (no secret), and revoke a Member's.
	if k := e.mustCall(t, 200, "GET", "/v1/api-keys/"+owner, admin, ""); k["key"] != nil || k["id"] != owner {
		t.Errorf("Admin reads the Owner's key: %v", k)
	}
	if status, _, _ := e.call(t, "DELETE", "/v1/api-keys/"+owner, admin, ""); status != 403 {
		t.Errorf("Admin revokes the Owner's key: %d", status)
	}
	member, _ := e.inviteAndLogin(t, e.key, "member@example.com", "member")
	mk := e.mustCall(t, 201, "POST", "/v1/api-keys", member, `{"name":"laptop","type":"user","permissions":{"shortLinks":["read"]}}`)
	e.mustCall(t, 200, "DELETE", "/v1/api-keys/"+mk["id"].(string), admin, "")
	if status, _, _ := e.call(t, "GET", "/v1/links/x", mk["key"].(string), ""); status != 401 {
		t.Errorf("revoked key still works: %d", status)
	}
}
