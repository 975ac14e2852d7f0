package links

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// Target names a link to change: by ID, or by external ID.
type Target struct{ ID, ExternalID string }

func (s *Service) find(ctx context.Context, q store.Queries, orgID string, t Target) (store.Link, error) {
	var (
		l   store.Link
		err error
	)
	if t.ID != "" {
		l, err = q.LockLink(ctx, orgID, t.ID)
	} else {
		if l, err = q.LinkByExternalID(ctx, orgID, t.ExternalID); err == nil {
			l, err = q.LockLink(ctx, orgID, l.ID)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, notFound()
	}
	return l, err
}

// UpdateMany applies the same change to several links.
func (s *Service) UpdateMany(ctx context.Context, p access.Principal, targets []Target, in Input) ([]Result, error) {
	if len(targets) > MaxBulk {
		return nil, apierror.Invalid("ids", fmt.Sprintf("at most %d links per call", MaxBulk))
	}
	if in.Password.Set && in.Password.V != "" {
		if err := checkPassword(in.Password.V); err != nil {
			return nil, err
		}
	}
	now := s.now()
	results := make([]Result, len(targets))
	refuse := func(err error) ([]Result, error) {
		for i := range results {
			results[i].Err = err
		}
		return results, nil
	}
	// The change is the same for every link: it is valid, and its password
	// may be hashed, before any link is read.
	draft, err := s.checkChange(ctx, p.OrgID, in, now)
	if err != nil {
		return refuse(err)
	}
	var hash string
	if in.Password.Set && in.Password.V != "" {
		if hash, err = s.hashChange(ctx, p.OrgID, in, draft); isClientError(err) {
			return refuse(err)
		} else if err != nil {
			return nil, err
		}
	}
	var pub pending
	err = s.Store.Write(ctx, func(q store.Queries) error {
		plan, err := s.orgPlan(ctx, q, p.OrgID)
		if err != nil {
			return err
		}
		if err := checkFeatures(in, plan); err != nil {
			for i := range results {
				results[i].Err = err
			}
			return nil
		}
		tags, err := loadTags(ctx, q, p.OrgID, plan)
		if err != nil {
			return err
		}
		j := newJournal(now)
		var ops []kv.Op
		for i, t := range targets {
			r := &results[i]
			r.Link, r.Err = s.updateOne(ctx, q, p, t, in, hash, tags, j)
			if r.Err != nil {
				if !isClientError(r.Err) {
					return r.Err
				}
				continue
			}
			rec := s.record(&r.Link)
			ops = append(ops, kv.Op{Type: kv.OpPutLink, Link: &rec})
		}
		if err := j.flush(ctx, q); err != nil {
			return err
		}
		pub, err = record(ctx, q, ops, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, s.publish(ctx, pub)
}

func (s *Service) updateOne(ctx context.Context, q store.Queries, p access.Principal, t Target, in Input, hash string, tags *tagIndex, j *journal) (Link, error) {
	now := j.now
	cur, err := s.find(ctx, q, p.OrgID, t)
	if err != nil {
		return Link{}, err
	}
	l, err := fromStore(cur, tags)
	if err != nil {
		return Link{}, err
	}
	before := ViewOf(l)
	if in.Domain.Set {
		if l.Domain, err = s.domain(ctx, p.OrgID, in.Domain.V); err != nil {
			return Link{}, err
		}
	}
	if in.URL.Set && in.URL.Null {
		return Link{}, apierror.Invalid("url", "cannot be removed")
	}
	oldExternal := l.ExternalID
	if err := l.applyInput(in, now, s.own()); err != nil {
		return Link{}, err
	}
	if err := checkFiles(ctx, q, p, &l, in); err != nil {
		return Link{}, err
	}
	if in.Password.Set {
		l.PasswordHash = hash // "" clears
	}
	if l.ExternalID != "" && l.ExternalID != oldExternal {
		if other, err := q.LinkByExternalID(ctx, p.OrgID, l.ExternalID); err == nil && other.ID != l.ID {
			return Link{}, apierror.New(apierror.AlreadyExist, "externalId %q is already used by another link", l.ExternalID)
		}
	}
	if in.Tags.Set {
		if l.TagIDs, err = tags.ids(ctx, q, l.TagNames, now); err != nil {
			return Link{}, err
		}
		l.TagNames = tags.names(l.TagIDs)
	}
	return saveChange(ctx, q, p, l, before, j)
}

// saveChange writes l, changed from before, as its next version, with its
// journal entry.
func saveChange(ctx context.Context, q store.Queries, p access.Principal, l Link, before View, j *journal) (Link, error) {
	l.Version++
	l.UpdatedAt = j.now
	sl, err := l.toStore()
	if err != nil {
		return Link{}, err
	}
	if err := q.UpdateLink(ctx, sl); errors.Is(err, store.ErrConflict) {
		return Link{}, apierror.New(apierror.AlreadyExist, "key %q is already in use on %s", l.Key, l.Domain)
	} else if err != nil {
		return Link{}, err
	}
	after := ViewOf(l)
	return l, j.add(p, "updated", l.ID, &before, &after)
}

// checkChange validates in as a change to any link: what it sets does not
// depend on the link it goes to. It returns in applied to an empty link.
func (s *Service) checkChange(ctx context.Context, orgID string, in Input, now time.Time) (Link, error) {
	var l Link
	if in.Domain.Set {
		if _, err := s.domain(ctx, orgID, in.Domain.V); err != nil {
			return Link{}, err
		}
	}
	if in.URL.Set && in.URL.Null {
		return Link{}, apierror.Invalid("url", "cannot be removed")
	}
	return l, l.applyInput(in, now, s.own())
}

// Update changes link id.
func (s *Service) Update(ctx context.Context, p access.Principal, id string, in Input) (Link, error) {
	return first(s.UpdateMany(ctx, p, []Target{{ID: id}}, in))
}

// Upsert returns or updates the org's link to in's url on its domain, or
// creates one; created says which.
func (s *Service) Upsert(ctx context.Context, p access.Principal, in Input) (Link, bool, error) {
	if !in.URL.Set || in.URL.Null {
		return Link{}, false, apierror.Invalid("url", "is required")
	}
	domain, err := s.domain(ctx, p.OrgID, in.Domain.V)
	if err != nil {
		return Link{}, false, err
	}
	existing, err := s.Store.LinkByURL(ctx, p.OrgID, domain, in.URL.V)
	if errors.Is(err, store.ErrNotFound) {
		l, err := s.Create(ctx, p, in)
		return l, err == nil, err
	}
	if err != nil {
		return Link{}, false, err
	}
	if !in.changes() {
		l, err := s.Get(ctx, p, existing.ID)
		return l, false, err
	}
	in.URL, in.Domain = jsonbody.Opt[string]{}, jsonbody.Opt[string]{}
	l, err := s.Update(ctx, p, existing.ID, in)
	return l, false, err
}
