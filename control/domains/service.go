package domains

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// Prefix of domain IDs.
const Prefix = "dom"

// DefaultGrace is how long a verified domain that fails its checks is
// still served.
const DefaultGrace = 72 * time.Hour

// Publisher applies an outbox entry through raft.
type Publisher interface {
	Publish(ctx context.Context, id int64, cmd []byte) error
}

// LinkDeleter deletes links, each with its audit entry and event.
type LinkDeleter interface {
	DeleteMany(ctx context.Context, p access.Principal, targets []links.Target) ([]links.Result, error)
}

// Service manages custom domains.
type Service struct {
	Store     store.Store
	Publisher Publisher
	Links     LinkDeleter
	Checker   *Checker
	// Certificates tells each served domain's certificate; nil: control
	// obtains none (no ACME directory), every domain shows "none".
	Certificates Certificates
	// Platform are the platform's own domains (default and shared): no
	// org may add them.
	Platform []string
	// LocalSuffixes are top-level names accepted as public suffixes
	// besides the Public Suffix List's, e.g. "test" (RFC 6761) for a
	// platform whose DNS is the operator's own, as in a local setup.
	LocalSuffixes []string
	Grace         time.Duration // 0: DefaultGrace
	Now           func() time.Time
	Logger        *slog.Logger
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) grace() time.Duration {
	if s.Grace == 0 {
		return DefaultGrace
	}
	return s.Grace
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func notFoundErr() error { return apierror.New(apierror.NotFound, "domain not found") }

func lookup(sd store.Domain, err error) (Domain, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Domain{}, notFoundErr()
	}
	if err != nil {
		return Domain{}, err
	}
	return decode(sd)
}

// View shows d with the records it expects and its certificate.
func (s *Service) View(ctx context.Context, d Domain) (View, error) {
	cert, err := s.certificate(ctx, d)
	if err != nil {
		return View{}, err
	}
	v := View{ID: d.ID, Name: d.Name, Status: d.Status, Primary: d.Primary,
		RootURL: optString(d.settings.RootURL), NotFoundURL: optString(d.settings.NotFoundURL),
		ExpiredURL: optString(d.settings.ExpiredURL), RedirectStatus: d.settings.RedirectStatus,
		Indexable: d.settings.Indexable, DoNotTrack: d.settings.DoNotTrack, HTTPSRedirect: !d.settings.NoHTTPSRedirect,
		HSTS: d.settings.HSTS, Token: d.Token,
		VerifiedAt: optTime(d.VerifiedAt), LastCheckedAt: optTime(d.CheckedAt),
		Certificate: cert, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if v.RedirectStatus == 0 {
		v.RedirectStatus = DefaultRedirectStatus
	}
	if s.Checker != nil {
		v.Records = &Records{Expected: s.Checker.expected(d.Name, d.Token), Found: d.found}
		if v.Records.Found == nil {
			v.Records.Found = []Record{}
		}
	}
	if d.Served() && d.CheckedAt.After(d.LastOKAt) {
		v.ServedUntil = optTime(d.LastOKAt.Add(s.grace()))
	}
	return v, nil
}

// auditView is a domain in audit entries: without its findings.
func auditView(d Domain) View {
	return View{ID: d.ID, Name: d.Name, Status: d.Status, Primary: d.Primary,
		RootURL: optString(d.settings.RootURL), NotFoundURL: optString(d.settings.NotFoundURL),
		ExpiredURL: optString(d.settings.ExpiredURL), RedirectStatus: d.settings.RedirectStatus,
		Indexable: d.settings.Indexable, DoNotTrack: d.settings.DoNotTrack, HTTPSRedirect: !d.settings.NoHTTPSRedirect,
		HSTS: d.settings.HSTS, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

type pending struct {
	id  int64
	cmd []byte
}

func record(ctx context.Context, q store.Queries, now time.Time, ops ...kv.Op) (pending, error) {
	cmd := kv.Command{Ops: ops}.Encode()
	id, err := q.AppendOutbox(ctx, cmd, now)
	return pending{id, cmd}, err
}

func (s *Service) publish(ctx context.Context, p pending) error {
	if p.cmd == nil {
		return nil
	}
	if err := s.Publisher.Publish(ctx, p.id, p.cmd); err != nil {
		return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
			"the change is saved but could not be replicated to the edges yet; it will go live when replication recovers"), err)
	}
	return nil
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "h0p-verify=" + hex.EncodeToString(b)
}

// Create adds a pending domain to p's org.
func (s *Service) Create(ctx context.Context, p access.Principal, in Input) (Domain, error) {
	if !in.Name.Set || in.Name.Null {
		return Domain{}, apierror.Invalid("name", "is required")
	}
	name, err := NormalizeName(in.Name.V, s.Platform, s.LocalSuffixes)
	if err != nil {
		return Domain{}, err
	}
	if in.Primary.Set && in.Primary.V {
		return Domain{}, apierror.Invalid("primary", "only a verified domain can be primary; verify it first")
	}
	now := s.now()
	d := Domain{Domain: store.Domain{ID: ids.New(Prefix, now), OrgID: p.OrgID, Name: name, Token: newToken(),
		Status: store.DomainPending, Version: 1, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}}
	if err := d.apply(in); err != nil {
		return Domain{}, err
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		o, err := q.Org(ctx, p.OrgID)
		if err != nil {
			return fmt.Errorf("org of domain: %w", err)
		}
		plan := plans.Get(o.Plan)
		if err := plan.CheckFeature(plans.FeatureCustomDomains); err != nil {
			return err
		}
		n, err := q.CountDomains(ctx, p.OrgID)
		if err != nil {
			return err
		}
		if err := plan.CheckLimit(plans.CustomDomains, n, 1); err != nil {
			return err
		}
		sd, err := d.encode()
		if err != nil {
			return err
		}
		if err := q.CreateDomain(ctx, sd); errors.Is(err, store.ErrConflict) {
			return apierror.New(apierror.AlreadyExist, "domain %s is already added", name)
		} else if err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "domain.created", "domain", d.ID, nil, auditView(d)))
	})
	if err != nil {
		return Domain{}, err
	}
	return d, nil
}

// Get reads domain id of p's org.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (Domain, error) {
	return lookup(s.Store.Domain(ctx, p.OrgID, id))
}

// List returns a page of p's org's domains, oldest first, and the cursor
// of the next page ("" at the end). limit 0: 50; at most 100.
func (s *Service) List(ctx context.Context, p access.Principal, limit int, cursor string) ([]Domain, string, error) {
	return page.ListByID(limit, cursor, func(after string, n int) ([]store.Domain, error) {
		return s.Store.Domains(ctx, store.DomainFilter{OrgID: p.OrgID, AfterID: after, Limit: n})
	}, func(r store.Domain) string { return r.ID }, decode)
}

// Update changes the settings of domain id.
func (s *Service) Update(ctx context.Context, p access.Principal, id string, in Input) (Domain, error) {
	if in.Name.Set {
		return Domain{}, apierror.Invalid("name", "cannot be changed; add the new name as another domain")
	}
	if in.Primary.Set && in.Primary.Null {
		return Domain{}, apierror.Invalid("primary", "must be true or false")
	}
	now := s.now()
	var (
		d   Domain
		pub pending
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if d, err = lookup(q.Domain(ctx, p.OrgID, id)); err != nil {
			return err
		}
		before := auditView(d)
		if err := d.apply(in); err != nil {
			return err
		}
		if in.Primary.Set && in.Primary.V && !d.Primary {
			if d.Status != store.DomainVerified {
				return apierror.Invalid("primary", "only a verified domain can be primary")
			}
			if err := unsetPrimary(ctx, q, p.OrgID, now); err != nil {
				return err
			}
		}
		if in.Primary.Set {
			d.Primary = in.Primary.V
		}
		d.Version++
		d.UpdatedAt = now
		sd, err := d.encode()
		if err != nil {
			return err
		}
		if err := q.UpdateDomain(ctx, sd); err != nil {
			return err
		}
		if d.Served() {
			rec := d.record()
			if pub, err = record(ctx, q, now, kv.Op{Type: kv.OpPutDomain, Domain: &rec}); err != nil {
				return err
			}
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "domain.updated", "domain", d.ID, before, auditView(d)))
	})
	if err != nil {
		return Domain{}, err
	}
	return d, s.publish(ctx, pub)
}

// unsetPrimary takes the primary flag off every domain of the org.
func unsetPrimary(ctx context.Context, q store.Queries, orgID string, now time.Time) error {
	after := ""
	for {
		page, err := q.Domains(ctx, store.DomainFilter{OrgID: orgID, AfterID: after, Limit: 100})
		if err != nil || len(page) == 0 {
			return err
		}
		for _, sd := range page {
			if sd.Primary {
				sd.Primary, sd.UpdatedAt = false, now
				if err := q.UpdateDomain(ctx, sd); err != nil {
					return err
				}
			}
		}
		after = page[len(page)-1].ID
	}
}

// linkCount counts the links on domain name of org.
func linkCount(ctx context.Context, q store.Queries, orgID, name string) (int64, error) {
	counts, err := q.CountLinks(ctx, store.LinkFilter{OrgID: orgID, Domain: name}, "")
	if err != nil || len(counts) == 0 {
		return 0, err
	}
	return counts[0].Count, nil
}

func hasLinks(name string, n int64) error {
	return &apierror.Error{Code: apierror.AlreadyExist,
		Message: fmt.Sprintf("domain %s still has %d links; delete them first, or delete with force=true to delete them too", name, n),
		Details: []apierror.Detail{{Field: "links", Reason: fmt.Sprintf("%d links use the domain", n)}}}
}

// Delete removes domain id. With links on it, it answers 409 unless force,
// which deletes them first through the links service.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string, force bool) (Domain, error) {
	d, err := s.Get(ctx, p, id)
	if err != nil {
		return Domain{}, err
	}
	if force {
		if err := s.deleteLinks(ctx, p, d.Name); err != nil {
			return Domain{}, err
		}
	}
	now := s.now()
	var pub pending
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if d, err = lookup(q.Domain(ctx, p.OrgID, id)); err != nil {
			return err
		}
		n, err := linkCount(ctx, q, p.OrgID, d.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			return hasLinks(d.Name, n)
		}
		if err := q.DeleteDomain(ctx, p.OrgID, id); err != nil {
			return err
		}
		// Its certificate, if it ever got one, goes with it: no key
		// outlives the domain; so do its failed attempts, if any.
		ops := append(kv.DeleteCertificate(d.Name).Ops, kv.DeleteCertificateFailure(d.Name).Ops...)
		if d.Served() {
			ops = append([]kv.Op{{Type: kv.OpDeleteDomain, Domain: &kv.Domain{Host: d.Name, Version: d.Version + 1}}}, ops...)
		}
		if pub, err = record(ctx, q, now, ops...); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "domain.deleted", "domain", d.ID, auditView(d), nil))
	})
	if err != nil {
		return Domain{}, err
	}
	return d, s.publish(ctx, pub)
}

func (s *Service) deleteLinks(ctx context.Context, p access.Principal, name string) error {
	for {
		page, err := s.Store.Links(ctx, store.LinkFilter{OrgID: p.OrgID, Domain: name, Limit: links.MaxBulk})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		targets := make([]links.Target, len(page))
		for i, l := range page {
			targets[i] = links.Target{ID: l.ID}
		}
		results, err := s.Links.DeleteMany(ctx, p, targets)
		if err != nil {
			return fmt.Errorf("delete the links of %s: %w", name, err)
		}
		for _, r := range results {
			if r.Err != nil && apierror.From(r.Err).Code != apierror.NotFound {
				return fmt.Errorf("delete the links of %s: %w", name, r.Err)
			}
		}
	}
}

// Verify checks domain id's DNS now and stores what it decides.
func (s *Service) Verify(ctx context.Context, p access.Principal, id string) (Domain, error) {
	d, err := s.Get(ctx, p, id)
	if err != nil {
		return Domain{}, err
	}
	c, err := s.Checker.check(ctx, d.Name, d.Token)
	if err != nil {
		return Domain{}, fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
			"the DNS lookups of %s failed; nothing changed, try again", d.Name), err)
	}
	return s.settle(ctx, &p, id, c)
}

// settle stores check c of domain id (of p's org, or of any org for the
// recheck, p nil): its findings, and the status they decide (doc.go).
func (s *Service) settle(ctx context.Context, p *access.Principal, id string, c check) (Domain, error) {
	now := s.now()
	var (
		d   Domain
		pub pending
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if p != nil {
			d, err = lookup(q.Domain(ctx, p.OrgID, id))
		} else {
			d, err = lookup(q.DomainByID(ctx, id))
		}
		if err != nil {
			return err
		}
		before := auditView(d)
		wasServed := d.Served()
		d.found, d.CheckedAt = c.found, now
		if d.found == nil {
			d.found = []Record{}
		}
		switch {
		case c.ok():
			d.Status, d.LastOKAt = store.DomainVerified, now
			if d.VerifiedAt.IsZero() {
				d.VerifiedAt = now
			}
		case wasServed && now.Sub(d.LastOKAt) >= s.grace():
			d.Status = store.DomainMisconfigured
		}
		var op *kv.Op
		switch {
		case !wasServed && d.Served():
			d.Version++
			rec := d.record()
			op = &kv.Op{Type: kv.OpPutDomain, Domain: &rec}
		case wasServed && !d.Served():
			d.Version++
			op = &kv.Op{Type: kv.OpDeleteDomain, Domain: &kv.Domain{Host: d.Name, Version: d.Version}}
		}
		if d.Status != before.Status {
			d.UpdatedAt = now
		}
		sd, err := d.encode()
		if err != nil {
			return err
		}
		if err := q.UpdateDomain(ctx, sd); err != nil {
			return err
		}
		if op == nil {
			return nil
		}
		if pub, err = record(ctx, q, now, *op); err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		return q.AppendAudit(ctx, audit.Entry(*p, p.OrgID, now, "domain.verified", "domain", d.ID, before, auditView(d)))
	})
	if err != nil {
		return Domain{}, err
	}
	if d.Status != store.DomainVerified || d.LastOKAt != now {
		s.logger().Info("domain check failed", "domain", d.Name, "org", d.OrgID, "status", d.Status)
	}
	return d, s.publish(ctx, pub)
}

// Recheck checks every domain last checked at least period ago, a batch at
// a time, and reports how many it checked.
func (s *Service) Recheck(ctx context.Context, period time.Duration) (int, error) {
	checked := 0
	for {
		due, err := s.Store.DomainsCheckedBefore(ctx, s.now().Add(-period+time.Millisecond), 100)
		if err != nil {
			return checked, err
		}
		progress := false
		for _, sd := range due {
			if ctx.Err() != nil {
				return checked, ctx.Err()
			}
			c, err := s.Checker.check(ctx, sd.Name, sd.Token)
			if err != nil {
				s.logger().Warn("domain recheck: DNS lookup failed", "domain", sd.Name, "err", err)
				continue
			}
			if _, err := s.settle(ctx, nil, sd.ID, c); err != nil && apierror.From(err).Code != apierror.NotFound {
				return checked, err
			}
			checked++
			progress = true
		}
		if len(due) < 100 || !progress {
			return checked, nil
		}
	}
}

// Run rechecks every domain each period until ctx ends.
func (s *Service) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Recheck(ctx, period); err != nil && ctx.Err() == nil {
			s.logger().Error("domain recheck", "err", err)
		}
	}
}
