package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// CreateOrg makes a new org with the principal's user as its Owner.
func (s *Service) CreateOrg(ctx context.Context, p access.Principal, name string) (store.Org, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return store.Org{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	u, err := s.Store.User(ctx, p.UserID)
	if err != nil {
		return store.Org{}, mapNotFound(err, "user")
	}
	if u.EmailVerifiedAt.IsZero() {
		return store.Org{}, errUnverified(u.Email)
	}
	now := s.now()
	o := store.Org{ID: ids.New(ids.Org, now), Name: name, Plan: string(plans.Free), CreatedAt: now}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: o.ID, UserID: p.UserID, Role: identity.RoleOwner, CreatedAt: now}); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, o.ID, now, "org.created", "org", o.ID, nil, OrgView(o)))
	})
	return o, err
}

// SetPlan moves an org to another plan (an operator's command).
func (s *Service) SetPlan(ctx context.Context, orgID, plan string) (store.Org, error) {
	if !plans.Valid(plan) {
		return store.Org{}, apierror.Invalid("plan", "must be free, pro, business or enterprise")
	}
	var o store.Org
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Org(ctx, orgID)
		if err != nil {
			return mapNotFound(err, "organization")
		}
		o = before
		o.Plan = plan
		if err := q.UpdateOrg(ctx, o); err != nil {
			return err
		}
		p := access.Principal{Kind: access.System, OrgID: orgID}
		return q.AppendAudit(ctx, audit.Entry(p, orgID, s.now(), "org.planChanged", "org", orgID,
			map[string]string{"plan": before.Plan}, map[string]string{"plan": plan}))
	})
	return o, err
}

// Usage is what an org uses of its plan's limits.
type Usage struct {
	LinksThisMonth int64 `json:"linksCreatedThisMonth"`
	CustomDomains  int   `json:"customDomains"`
	Tags           int   `json:"tags"`
	APIKeys        int   `json:"apiKeys"`
	Webhooks       int   `json:"webhooks"`
	// ClicksThisMonth are the clicks by people counted this month (UTC),
	// against the plan's trackedClicksPerMonth.
	ClicksThisMonth int64 `json:"trackedClicksThisMonth"`
	Files           int   `json:"files"`
	FilesBytes      int64 `json:"filesStorageBytes"`
}

// OrgUsage is the org with its plan and usage.
func (s *Service) OrgUsage(ctx context.Context, p access.Principal) (store.Org, plans.Plan, Usage, error) {
	o, err := s.Org(ctx, p)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	u, err := s.Store.Usage(ctx, p.OrgID, plans.Period(s.now()))
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	tags, err := s.Store.Tags(ctx, p.OrgID)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	keys, err := s.Store.APIKeys(ctx, p.OrgID)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	hooks, err := s.Store.CountWebhooks(ctx, p.OrgID)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	domains, err := s.Store.CountDomains(ctx, p.OrgID)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	files, bytes, err := s.Store.FileUsage(ctx, p.OrgID)
	return o, plans.Get(o.Plan), Usage{LinksThisMonth: u["linksCreated"], CustomDomains: domains, Tags: len(tags), APIKeys: len(keys),
		Webhooks: hooks, ClicksThisMonth: u[plans.ClicksPerMonth], Files: files, FilesBytes: bytes}, err
}

// Org is the principal's org.
func (s *Service) Org(ctx context.Context, p access.Principal) (store.Org, error) {
	o, err := s.Store.Org(ctx, p.OrgID)
	return o, mapNotFound(err, "organization")
}

// RenameOrg changes the org's name.
func (s *Service) RenameOrg(ctx context.Context, p access.Principal, name string) (store.Org, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return store.Org{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	var o store.Org
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Org(ctx, p.OrgID)
		if err != nil {
			return mapNotFound(err, "organization")
		}
		o = before
		o.Name = name
		if err := q.UpdateOrg(ctx, o); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "org.updated", "org", o.ID, OrgView(before), OrgView(o)))
	})
	return o, err
}

// CreateOrgWithOwner creates an org whose Owner is the user with ownerEmail
// (created when new, with password pw if given) and gives the Owner a user
// key with every permission the role allows, all in one transaction. save
// receives the key before the commit. It is how installs start (h0p dev's
// bootstrap, h0p admin create-org); nobody is signed in, so the audit entry
// names the Owner.
func (s *Service) CreateOrgWithOwner(ctx context.Context, orgName, ownerEmail, pw, plan string, save func(key string) error) (store.Org, error) {
	now := s.now()
	if !plans.Valid(plan) {
		return store.Org{}, apierror.Invalid("plan", "must be free, pro, business or enterprise")
	}
	email, err := normalizeEmail("ownerEmail", ownerEmail)
	if err != nil {
		return store.Org{}, err
	}
	var hash string
	if pw != "" {
		if err := password.Validate(pw); err != nil {
			return store.Org{}, apierror.Invalid("password", err.Error())
		}
		if hash, err = s.hashPassword(ctx, pw); err != nil {
			return store.Org{}, err
		}
	}
	o := store.Org{ID: ids.New(ids.Org, now), Name: orgName, Plan: plan, CreatedAt: now}
	plain := apikey.Generate(apikey.User)
	if err := save(plain); err != nil {
		return store.Org{}, fmt.Errorf("save owner key: %w", err)
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		u, err := q.UserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			// The operator vouches for the address.
			u = store.User{ID: ids.New(ids.User, now), Email: email, Name: "Owner", CreatedAt: now, EmailVerifiedAt: now}
			u.PasswordHash = hash
			err = q.CreateUser(ctx, u)
		}
		if err != nil {
			return err
		}
		if err := q.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: o.ID, UserID: u.ID, Role: identity.RoleOwner, CreatedAt: now}); err != nil {
			return err
		}
		k := store.APIKey{ID: ids.New(ids.Key, now), OrgID: o.ID, Type: identity.KeyUser, UserID: u.ID, Name: "owner",
			Prefix: apikey.Prefix(plain), Digest: apikey.Digest(s.Pepper, plain),
			Permissions: access.OfRole(identity.RoleOwner).Permissions(), CreatedBy: u.ID, CreatedAt: now}
		if err := q.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		p := access.Principal{Kind: access.Session, OrgID: o.ID, UserID: u.ID}
		return q.AppendAudit(ctx, audit.Entry(p, o.ID, now, "org.created", "org", o.ID, nil, OrgView(o)))
	})
	return o, err
}
