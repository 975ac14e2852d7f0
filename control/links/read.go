package links

import (
	"context"
	"errors"
	"strings"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// read decodes stored links with tag names.
func (s *Service) read(ctx context.Context, orgID string, sls ...store.Link) ([]Link, error) {
	tags, err := loadTags(ctx, s.Store, orgID, plans.Plan{})
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(sls))
	for _, sl := range sls {
		l, err := fromStore(sl, tags)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Service) one(ctx context.Context, orgID string, sl store.Link, err error) (Link, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Link{}, notFound()
	}
	if err != nil {
		return Link{}, err
	}
	ls, err := s.read(ctx, orgID, sl)
	if err != nil {
		return Link{}, err
	}
	return ls[0], nil
}

// Get returns link id of the principal's org.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (Link, error) {
	sl, err := s.Store.Link(ctx, p.OrgID, id)
	return s.one(ctx, p.OrgID, sl, err)
}

// Info finds a link by domain and key, or by external ID.
func (s *Service) Info(ctx context.Context, p access.Principal, domain, key, externalID string) (Link, error) {
	switch {
	case externalID != "":
		sl, err := s.Store.LinkByExternalID(ctx, p.OrgID, externalID)
		return s.one(ctx, p.OrgID, sl, err)
	case key != "":
		d, err := s.lookupDomain(ctx, p.OrgID, domain)
		if err != nil {
			return Link{}, err
		}
		sl, err := s.Store.LinkByKey(ctx, p.OrgID, d, key)
		return s.one(ctx, p.OrgID, sl, err)
	}
	return Link{}, apierror.Invalid("key", "give domain and key, or externalId")
}

// lookupDomain is the domain a read names: as domain resolves it for a
// write, but a lapsed custom domain of the org still finds its links.
func (s *Service) lookupDomain(ctx context.Context, orgID, d string) (string, error) {
	name, err := s.domain(ctx, orgID, d)
	if err != nil && d != "" {
		if cd, derr := s.Store.DomainByName(ctx, strings.TrimSuffix(strings.ToLower(d), ".")); derr == nil && cd.OrgID == orgID {
			return cd.Name, nil
		}
	}
	return name, err
}
