package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// KeyInput is what a client may set on a key.
type KeyInput struct {
	Name        *string
	Type        string
	Permissions *identity.Permissions
	ExpiresAt   *time.Time
}

// checkGrants parses grants and refuses any beyond what may be given: the
// role (for people; a user key's also by its user's role), and, when the
// principal is itself a key, that key's effective permissions.
func checkGrants(p access.Principal, role identity.Role, perms identity.Permissions) (access.Set, error) {
	set, err := access.Parse(perms)
	if err != nil {
		return 0, apierror.Invalid("permissions", err.Error())
	}
	limit := access.All
	if p.IsPerson() {
		limit = access.OfRole(role)
	}
	if p.Kind != access.Session {
		limit &= p.Effective()
	}
	if excess := set.Minus(limit); excess != 0 {
		return 0, forbidden("permissions exceed what you may grant: %s", excess)
	}
	return set, nil
}

// ownKeyOnly reports whether the principal may only manage its own user key
// (a session without apiKeys permission).
func ownKeyOnly(p access.Principal, a access.Action) bool {
	return !p.Effective().Has(access.APIKeys, a)
}

// CreateKey makes a key and returns it, shown once.
func (s *Service) CreateKey(ctx context.Context, p access.Principal, in KeyInput) (string, store.APIKey, error) {
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if name == "" || len(name) > 100 {
		return "", store.APIKey{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	var typ identity.KeyType
	switch in.Type {
	case "user":
		typ = identity.KeyUser
		if !p.IsPerson() {
			return "", store.APIKey{}, apierror.Invalid("type", "a bot key cannot own a user key; create a bot key")
		}
	case "bot":
		typ = identity.KeyBot
		if ownKeyOnly(p, access.Create) {
			return "", store.APIKey{}, forbidden("bot keys need the apiKeys:create permission")
		}
	default:
		return "", store.APIKey{}, apierror.Invalid("type", "must be user or bot")
	}
	perms := identity.Permissions{}
	if in.Permissions != nil {
		perms = *in.Permissions
	}
	set, err := checkGrants(p, p.Role, perms)
	if err != nil {
		return "", store.APIKey{}, err
	}
	now := s.now()
	var expires time.Time
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return "", store.APIKey{}, apierror.Invalid("expiresAt", "must be in the future")
		}
		expires = in.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	apiType := apikey.User
	if typ == identity.KeyBot {
		apiType = apikey.Bot
	}
	plain := apikey.Generate(apiType)
	k := store.APIKey{ID: ids.New(ids.Key, now), OrgID: p.OrgID, Type: typ, Name: name,
		Prefix: apikey.Prefix(plain), Digest: apikey.Digest(s.Pepper, plain), Permissions: set.Permissions(),
		CreatedBy: p.UserID, CreatedAt: now, ExpiresAt: expires}
	if typ == identity.KeyUser {
		k.UserID = p.UserID
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		org, err := q.Org(ctx, p.OrgID)
		if err != nil {
			return err
		}
		existing, err := q.APIKeys(ctx, p.OrgID)
		if err != nil {
			return err
		}
		if err := plans.Get(org.Plan).CheckLimit(plans.APIKeys, len(existing), 1); err != nil {
			return err
		}
		if err := q.CreateAPIKey(ctx, k); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return apierror.New(apierror.AlreadyExist, "you already have a user key in this organization; rotate or delete it")
			}
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "apiKey.created", "apiKey", k.ID, nil, KeyView(k)))
	})
	return plain, k, err
}

// keyTarget is what access.CheckKey needs to know of k: its grants and, for
// a user key, its person's current role (roles: user ID → role).
func keyTarget(k store.APIKey, roles map[string]identity.Role) (access.KeyTarget, error) {
	grants, err := access.Parse(k.Permissions)
	if err != nil {
		return access.KeyTarget{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	return access.KeyTarget{Type: k.Type, UserID: k.UserID, OwnerRole: roles[k.UserID], Grants: grants}, nil
}

// visibleKey loads key id and checks the principal may do a to it.
func visibleKey(ctx context.Context, q store.Queries, p access.Principal, id string, a access.Action) (store.APIKey, error) {
	k, err := q.APIKey(ctx, p.OrgID, id)
	if err != nil {
		return store.APIKey{}, mapNotFound(err, "API key")
	}
	roles := map[string]identity.Role{}
	if k.Type == identity.KeyUser {
		m, err := q.Member(ctx, k.OrgID, k.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.APIKey{}, err
		}
		roles[k.UserID] = m.Role
	}
	t, err := keyTarget(k, roles)
	if err != nil {
		return store.APIKey{}, err
	}
	if refusal := access.CheckKey(p, a, t); refusal != "" {
		return store.APIKey{}, forbidden("%s", refusal)
	}
	return k, nil
}

// Keys lists the keys the principal may see (access.CheckKey's read): with
// apiKeys:read all of the org's (a bot key: its bot keys), otherwise only
// the principal's own user key.
func (s *Service) Keys(ctx context.Context, p access.Principal) ([]store.APIKey, error) {
	keys, err := s.Store.APIKeys(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	members, err := s.Store.Members(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	roles := map[string]identity.Role{}
	for _, m := range members {
		roles[m.UserID] = m.Role
	}
	visible := keys[:0]
	for _, k := range keys {
		t, err := keyTarget(k, roles)
		if err != nil {
			return nil, err
		}
		if access.CheckKey(p, access.Read, t) == "" {
			visible = append(visible, k)
		}
	}
	return visible, nil
}

// Key returns one key.
func (s *Service) Key(ctx context.Context, p access.Principal, id string) (store.APIKey, error) {
	return visibleKey(ctx, s.Store, p, id, access.Read)
}

// UpdateKey changes a key's name and/or permissions.
func (s *Service) UpdateKey(ctx context.Context, p access.Principal, id string, in KeyInput) (store.APIKey, error) {
	if in.Type != "" {
		return store.APIKey{}, apierror.Invalid("type", "cannot be changed; create a new key")
	}
	if in.ExpiresAt != nil {
		return store.APIKey{}, apierror.Invalid("expiresAt", "cannot be changed; create a new key")
	}
	var k store.APIKey
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := visibleKey(ctx, q, p, id, access.Update)
		if err != nil {
			return err
		}
		k = before
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			if name == "" || len(name) > 100 {
				return apierror.Invalid("name", "must be 1 to 100 characters")
			}
			k.Name = name
		}
		if in.Permissions != nil {
			// Only the key's own person changes a user key (visibleKey), so
			// either way the grants are bounded by the changer's role.
			set, err := checkGrants(p, p.Role, *in.Permissions)
			if err != nil {
				return err
			}
			k.Permissions = set.Permissions()
		}
		if err := q.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.updated", "apiKey", k.ID, KeyView(before), KeyView(k)))
	})
	return k, err
}

// RotateKey replaces a key's secret; the old one stops working at once.
func (s *Service) RotateKey(ctx context.Context, p access.Principal, id string) (string, store.APIKey, error) {
	var (
		k     store.APIKey
		plain string
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := visibleKey(ctx, q, p, id, access.Update)
		if err != nil {
			return err
		}
		t := apikey.User
		if before.Type == identity.KeyBot {
			t = apikey.Bot
		}
		plain = apikey.Generate(t)
		k = before
		k.Prefix, k.Digest = apikey.Prefix(plain), apikey.Digest(s.Pepper, plain)
		if err := q.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.rotated", "apiKey", k.ID, KeyView(before), KeyView(k)))
	})
	return plain, k, err
}

// DeleteKey revokes a key at once.
func (s *Service) DeleteKey(ctx context.Context, p access.Principal, id string) error {
	return s.Store.Write(ctx, func(q store.Queries) error {
		k, err := visibleKey(ctx, q, p, id, access.Delete)
		if err != nil {
			return err
		}
		if err := q.DeleteAPIKey(ctx, p.OrgID, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.deleted", "apiKey", k.ID, KeyView(k), nil))
	})
}
