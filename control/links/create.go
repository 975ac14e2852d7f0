package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/slug"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
)

// prepare validates in for a new link (outside any transaction); its
// password is hashed later (hashItems).
func (s *Service) prepare(ctx context.Context, p access.Principal, in Input, now time.Time) (Link, error) {
	l := Link{Link: store.Link{OrgID: p.OrgID, Version: 1, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}}
	if !in.createdAt.IsZero() {
		l.CreatedAt = in.createdAt.Truncate(time.Millisecond)
	}
	if !in.URL.Set || in.URL.Null {
		var pr problems
		pr.add("url", "is required")
		return Link{}, pr.err()
	}
	domain, err := s.domain(ctx, p.OrgID, in.Domain.V)
	if err != nil {
		return Link{}, err
	}
	l.Domain = domain
	if err := l.applyInput(in, now, s.own()); err != nil {
		return Link{}, err
	}
	if in.Password.Set && in.Password.V != "" {
		if err := checkPassword(in.Password.V); err != nil {
			return Link{}, err
		}
	}
	return l, nil
}

func checkPassword(pw string) error {
	if len(pw) > passwordMaxLen {
		return apierror.Invalid("password", fmt.Sprintf("must be at most %d bytes", passwordMaxLen))
	}
	return nil
}

func (s *Service) hashPassword(pw string) string {
	if s.HashPassword != nil {
		return s.HashPassword(pw)
	}
	p := s.PasswordParams
	if p == (password.Params{}) {
		p = LinkPasswordParams
	}
	return password.Hash(pw, p)
}

// domain resolves the domain of a link: for none (""), the org's primary
// domain while it is verified, else the default; otherwise the given one
// (lowercase, punycode) if it is the default domain, a shared domain or
// one of the org's verified domains.
func (s *Service) domain(ctx context.Context, orgID, d string) (string, error) {
	if d == "" {
		pd, err := s.Store.PrimaryDomain(ctx, orgID)
		switch {
		case err == nil && pd.Status == store.DomainVerified:
			return pd.Name, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return "", err
		}
		return s.DefaultDomain, nil
	}
	domain := strings.TrimSuffix(strings.ToLower(d), ".")
	if ascii, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = ascii
	}
	if domain == s.DefaultDomain || slices.Contains(s.SharedDomains, domain) {
		return domain, nil
	}
	cd, err := s.Store.DomainByName(ctx, domain)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && cd.OrgID != orgID:
		return "", apierror.Invalid("domain", fmt.Sprintf("%s is not a domain of this organization", d))
	case err != nil:
		return "", err
	case cd.Status != store.DomainVerified:
		return "", apierror.Invalid("domain", fmt.Sprintf("%s is not verified (status %s); links go on verified domains only", d, cd.Status))
	}
	return domain, nil
}

func (s *Service) randomSlug(attempt int) string {
	n := s.SlugLength
	if n == 0 {
		n = slug.DefaultLen
	}
	n += attempt / 3 // crowded: grow
	if s.SlugNoLookalike {
		return slug.RandomNoLookalike(n)
	}
	return slug.Random(n)
}

// insert stores l, drawing random slugs again when the drawn one (drafted
// with the link) is taken.
func (s *Service) insert(ctx context.Context, q store.Queries, l *Link, keyGiven bool) error {
	if l.ExternalID != "" {
		if _, err := q.LinkByExternalID(ctx, l.OrgID, l.ExternalID); err == nil {
			return apierror.New(apierror.AlreadyExist, "externalId %q is already used by another link", l.ExternalID)
		}
	}
	for attempt := 0; ; attempt++ {
		if !keyGiven && attempt > 0 {
			l.Key = s.randomSlug(attempt)
		}
		sl, err := l.toStore()
		if err != nil {
			return err
		}
		err = q.InsertLink(ctx, sl)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, store.ErrConflict):
			return err
		case keyGiven:
			return apierror.New(apierror.AlreadyExist, "key %q is already in use on %s", l.Key, l.Domain)
		case attempt >= 9:
			return fmt.Errorf("no free random slug after %d attempts: %w", attempt+1, err)
		}
	}
}

// CreateMany creates links, one result per input in order; failures of some
// items do not stop the others. The created links go to the edges in one
// raft entry.
func (s *Service) CreateMany(ctx context.Context, p access.Principal, ins []Input) ([]Result, error) {
	if len(ins) > MaxBulk {
		return nil, apierror.Invalid("body", fmt.Sprintf("at most %d links per call", MaxBulk))
	}
	now := s.now()
	items := make([]*item, len(ins))
	for i, in := range ins {
		items[i] = s.prepareItem(ctx, p, in, now)
	}
	if err := s.hashItems(ctx, p.OrgID, items); err != nil {
		return nil, err
	}
	written, err := s.createItems(ctx, p.OrgID, items)
	if !written {
		return nil, err
	}
	results := make([]Result, len(items))
	for i, it := range items {
		results[i] = it.res
	}
	return results, err
}

// item is one link to create: who asks for it, what they sent, and the
// outcome (the prepared link until then).
type item struct {
	p   access.Principal
	in  Input
	res Result
	// view is the created link's JSON as drafted before the transaction,
	// valid while the link keeps draftKey and has no tags (the transaction
	// resolves those); nil when it has to be encoded inside.
	view     json.RawMessage
	draftKey string
}

// draft decides what can be decided outside the transaction, where the
// single writer does not wait for it: the ID, a random slug and the JSON of
// the link's audit entry and event.
func (s *Service) draft(it *item, now time.Time) {
	l := &it.res.Link
	l.ID = ids.New(ids.Link, now)
	if !it.in.Key.Set || it.in.Key.Null {
		l.Key = s.randomSlug(0)
	}
	it.draftKey = l.Key
	if len(l.TagNames) == 0 {
		it.view, _ = json.Marshal(ViewOf(*l)) // on error, encoded (and reported) inside
	}
}

// prepareItem validates in outside any transaction.
func (s *Service) prepareItem(ctx context.Context, p access.Principal, in Input, now time.Time) *item {
	l, err := s.prepare(ctx, p, in, now)
	return &item{p: p, in: in, res: Result{Link: l, Err: err}}
}

// createItems creates the prepared items of one org in one transaction and
// one raft entry. written is false when the transaction failed (nothing was
// created, err says why); otherwise err is the replication error, if any.
func (s *Service) createItems(ctx context.Context, orgID string, items []*item) (written bool, err error) {
	pub, err := s.writeItems(ctx, orgID, items)
	if err != nil {
		return false, err
	}
	return true, s.publish(ctx, pub)
}

// writeItems is createItems' transaction: it stores the items and their
// outbox entry, which it returns for publishing.
func (s *Service) writeItems(ctx context.Context, orgID string, items []*item) (pending, error) {
	now := s.now()
	for _, it := range items {
		if it.res.Err == nil {
			s.draft(it, now)
		}
	}
	var pub pending
	err := s.Store.Write(ctx, func(q store.Queries) error {
		plan, err := s.orgPlan(ctx, q, orgID)
		if err != nil {
			return err
		}
		period := plans.Period(now)
		used := 0
		if plan.Limits[plans.LinksPerMonth] != 0 { // no need to read usage without a limit
			usage, err := q.Usage(ctx, orgID, period)
			if err != nil {
				return err
			}
			used = int(usage["linksCreated"])
		}
		tags, err := lazyTags(ctx, q, orgID, plan, items)
		if err != nil {
			return err
		}
		j := newJournal(now)
		var ops []kv.Op
		for _, it := range items {
			r := &it.res
			if r.Err != nil {
				continue
			}
			if r.Err = checkFeatures(it.in, plan); r.Err != nil {
				continue
			}
			if r.Err = plan.CheckLimit(plans.LinksPerMonth, used, 1); r.Err != nil {
				continue
			}
			r.Err = s.createOne(ctx, q, it, tags, j)
			if r.Err != nil {
				if !isClientError(r.Err) {
					return r.Err
				}
				continue
			}
			r.Created = true
			used++
			rec := s.record(&r.Link)
			ops = append(ops, kv.Op{Type: kv.OpPutLink, Link: &rec})
		}
		if len(ops) > 0 {
			if _, err := q.AddUsage(ctx, orgID, period, "linksCreated", int64(len(ops))); err != nil {
				return err
			}
		}
		if err := j.flush(ctx, q); err != nil {
			return err
		}
		pub, err = record(ctx, q, ops, now)
		return err
	})
	if err != nil {
		// The items' outcomes were set inside a transaction that did not
		// commit.
		for _, it := range items {
			it.res.Created = false
		}
		return pending{}, err
	}
	return pub, nil
}

func (s *Service) createOne(ctx context.Context, q store.Queries, it *item, tags *tagIndex, j *journal) error {
	l := &it.res.Link
	keyGiven := it.in.Key.Set && !it.in.Key.Null
	// Refuse a taken key before creating tags, so a failed item leaves
	// nothing behind.
	if keyGiven {
		if _, err := q.LinkByKey(ctx, l.OrgID, l.Domain, l.Key); err == nil {
			return apierror.New(apierror.AlreadyExist, "key %q is already in use on %s", l.Key, l.Domain)
		}
	}
	if err := checkFiles(ctx, q, it.p, l, it.in); err != nil {
		return err
	}
	var err error
	if l.TagIDs, err = tags.ids(ctx, q, l.TagNames, j.now); err != nil {
		return err
	}
	l.TagNames = tags.names(l.TagIDs) // as the org spells them
	if err := s.insert(ctx, q, l, keyGiven); err != nil {
		return err
	}
	if it.view != nil && l.Key == it.draftKey && len(l.TagNames) == 0 {
		j.addObject(it.p, "link.created", l.ID, "after", it.view)
		return nil
	}
	v := ViewOf(*l)
	return j.add(it.p, "created", l.ID, nil, &v)
}

// isClientError reports whether err is meant for the client (an item's
// failure) rather than a broken store.
func isClientError(err error) bool {
	var e *apierror.Error
	return errors.As(err, &e) && e.Code != apierror.Internal
}

// first is the result of a bulk of one.
func first(rs []Result, err error) (Link, error) {
	if err != nil {
		return Link{}, err
	}
	return rs[0].Link, rs[0].Err
}

// Create validates in, stores the link and replicates it. Creates that
// arrive together are written together (coalesce.go).
func (s *Service) Create(ctx context.Context, p access.Principal, in Input) (Link, error) {
	it := s.prepareItem(ctx, p, in, s.now())
	if err := s.hashItems(ctx, p.OrgID, []*item{it}); err != nil {
		return Link{}, err
	}
	if it.res.Err != nil {
		return Link{}, it.res.Err
	}
	if err := s.creates.do(ctx, s, it); err != nil {
		return Link{}, err
	}
	return it.res.Link, it.res.Err
}
