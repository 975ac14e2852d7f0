package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/egress"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Prefix of endpoint IDs.
const Prefix = "wh"

// SecretPurpose labels the key that seals endpoint secrets
// (shared/sealed), derived from the key pepper every control node holds.
const SecretPurpose = "h0p webhook secret v1"

// RotationOverlap is how long a rotated-out secret keeps signing beside
// the new one.
const RotationOverlap = 24 * time.Hour

// Sealer seals endpoint secrets before they reach the store and opens
// them to sign; *sealed.Key is one.
type Sealer interface {
	Seal(plaintext []byte) []byte
	Open(sealed []byte) ([]byte, error)
}

// Service manages an org's webhook endpoints.
type Service struct {
	Store store.Store
	// Policy checks URLs when they are saved; Client sends, built from
	// the same Policy (Policy.Client), once, and shared.
	Policy egress.Policy
	Client *http.Client
	Sealer Sealer
	// UserAgent of deliveries; "" is "H0p-Webhooks".
	UserAgent string
	Now       func() time.Time
	Logger    *slog.Logger
	// Subscriptions is told of every endpoint change (nil: none).
	Subscriptions *Subscriptions
	// Wake, when set, asks the dispatcher for a pass now: after a retry,
	// a replay or an enable.
	Wake func()
}

func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func notFoundErr() error { return apierror.New(apierror.NotFound, "webhook not found") }

func lookup(sw store.Webhook, err error) (Webhook, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Webhook{}, notFoundErr()
	}
	if err != nil {
		return Webhook{}, err
	}
	return decode(sw)
}

// View shows w as it stands now.
func (s *Service) View(w Webhook) View {
	v := auditView(w)
	if !w.PreviousExpiresAt.After(s.now()) {
		v.PreviousSecretExpiresAt = nil
	}
	return v
}

func auditView(w Webhook) View {
	v := View{ID: w.ID, URL: w.URL, Description: w.Description, Events: w.events,
		LinkIDs: w.scope.LinkIDs, Tags: w.scope.Tags, AllLinks: w.scope.AllLinks,
		Disabled: !w.DisabledAt.IsZero(), DisabledAt: optTime(w.DisabledAt), DisabledReason: optString(w.DisabledReason),
		PreviousSecretExpiresAt: optTime(w.PreviousExpiresAt), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	return v
}

// checkURL is the egress policy's check of a URL being saved: a refused
// URL is the client's mistake, a failed lookup a temporary failure.
func (s *Service) checkURL(ctx context.Context, in Input) (string, error) {
	if in.URL.Null || in.URL.V == "" {
		return "", apierror.Invalid("url", "is required")
	}
	u, err := s.Policy.CheckURL(ctx, in.URL.V)
	if ue, ok := errors.AsType[*egress.URLError](err); ok {
		return "", apierror.Invalid("url", ue.Reason)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
			"the URL's host could not be looked up; nothing changed, try again"), err)
	}
	return u, nil
}

// checkScope refuses link and tag IDs that are not the org's.
func checkScope(ctx context.Context, q store.Queries, orgID string, sc Scope) error {
	if len(sc.LinkIDs) > 0 {
		orgs, err := q.LinkOrgs(ctx, sc.LinkIDs)
		if err != nil {
			return err
		}
		for i, id := range sc.LinkIDs {
			if orgs[id] != orgID {
				return apierror.Invalid(fmt.Sprintf("linkIds[%d]", i), "no such link")
			}
		}
	}
	for i, id := range sc.Tags {
		if _, err := q.Tag(ctx, orgID, id); errors.Is(err, store.ErrNotFound) {
			return apierror.Invalid(fmt.Sprintf("tags[%d]", i), "no such tag")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// plan is the plan of org, refusing it if it has no webhooks.
func plan(ctx context.Context, q store.Queries, orgID string) (plans.Plan, error) {
	o, err := q.Org(ctx, orgID)
	if err != nil {
		return plans.Plan{}, fmt.Errorf("org of webhook: %w", err)
	}
	p := plans.Get(o.Plan)
	return p, p.CheckFeature(plans.FeatureWebhooks)
}

// Create registers an endpoint for p's org and returns it with its
// secret, which is shown this once.
func (s *Service) Create(ctx context.Context, p access.Principal, in Input) (Webhook, string, error) {
	if !in.Events.Set || in.Events.Null {
		return Webhook{}, "", apierror.Invalid("events", "is required")
	}
	now := s.now()
	w := Webhook{Webhook: store.Webhook{ID: ids.New(Prefix, now), OrgID: p.OrgID, Version: 1, CreatedBy: p.ActorID(),
		CreatedAt: now, UpdatedAt: now}}
	if err := w.apply(in); err != nil {
		return Webhook{}, "", err
	}
	u, err := s.checkURL(ctx, in)
	if err != nil {
		return Webhook{}, "", err
	}
	w.URL = u
	key := newKey()
	w.Secret = s.Sealer.Seal(key)
	err = s.Store.Write(ctx, func(q store.Queries) error {
		pl, err := plan(ctx, q, p.OrgID)
		if err != nil {
			return err
		}
		n, err := q.CountWebhooks(ctx, p.OrgID)
		if err != nil {
			return err
		}
		if err := pl.CheckLimit(plans.Webhooks, n, 1); err != nil {
			return err
		}
		if err := checkScope(ctx, q, p.OrgID, w.scope); err != nil {
			return err
		}
		sw, err := w.encode()
		if err != nil {
			return err
		}
		if err := q.CreateWebhook(ctx, sw); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "webhook.created", "webhook", w.ID, nil, auditView(w)))
	})
	if err != nil {
		return Webhook{}, "", err
	}
	s.Subscriptions.Changed()
	return w, FormatSecret(key), nil
}

// Get reads endpoint id of p's org.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (Webhook, error) {
	return lookup(s.Store.Webhook(ctx, p.OrgID, id))
}

// List returns a page of p's org's endpoints, oldest first, and the
// cursor of the next page ("" at the end). limit 0: 50; at most 100.
func (s *Service) List(ctx context.Context, p access.Principal, limit int, cursor string) ([]Webhook, string, error) {
	return page.ListByID(limit, cursor, func(after string, n int) ([]store.Webhook, error) {
		return s.Store.Webhooks(ctx, store.WebhookFilter{OrgID: p.OrgID, AfterID: after, Limit: n})
	}, func(r store.Webhook) string { return r.ID }, decode)
}

// Update changes endpoint id; a new URL is checked as at create.
func (s *Service) Update(ctx context.Context, p access.Principal, id string, in Input) (Webhook, error) {
	if in.Events.Set && in.Events.Null {
		return Webhook{}, apierror.Invalid("events", "must list at least one event")
	}
	u := ""
	if in.URL.Set {
		var err error
		if u, err = s.checkURL(ctx, in); err != nil {
			return Webhook{}, err
		}
	}
	return s.change(ctx, p, id, "webhook.updated", func(q store.Queries, w *Webhook) error {
		if err := w.apply(in); err != nil {
			return err
		}
		if in.URL.Set {
			w.URL = u
		}
		if in.LinkIDs.Set || in.Tags.Set {
			return checkScope(ctx, q, p.OrgID, w.scope)
		}
		return nil
	})
}

// change runs fn on endpoint id in one transaction and stores the result,
// a new version, with its audit entry.
func (s *Service) change(ctx context.Context, p access.Principal, id, action string, fn func(store.Queries, *Webhook) error) (Webhook, error) {
	var w Webhook
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var (
			e   store.AuditEntry
			err error
		)
		if w, e, err = s.changeIn(ctx, q, p, id, action, fn); err != nil {
			return err
		}
		return q.AppendAudit(ctx, e)
	})
	if err != nil {
		return Webhook{}, err
	}
	s.Subscriptions.Changed()
	return w, nil
}

// changeIn is change inside q's transaction: it stores the endpoint as fn
// left it, a new version, and returns it with the change's audit entry,
// for the caller to append.
func (s *Service) changeIn(ctx context.Context, q store.Queries, p access.Principal, id, action string,
	fn func(store.Queries, *Webhook) error) (Webhook, store.AuditEntry, error) {
	now := s.now()
	w, err := lookup(q.Webhook(ctx, p.OrgID, id))
	if err != nil {
		return w, store.AuditEntry{}, err
	}
	before := auditView(w)
	if err := fn(q, &w); err != nil {
		return w, store.AuditEntry{}, err
	}
	w.Version++
	w.UpdatedAt = now
	sw, err := w.encode()
	if err != nil {
		return w, store.AuditEntry{}, err
	}
	if err := q.UpdateWebhook(ctx, sw); err != nil {
		return w, store.AuditEntry{}, err
	}
	return w, audit.Entry(p, p.OrgID, now, action, "webhook", w.ID, before, auditView(w)), nil
}

// Delete removes endpoint id with its delivery log.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string) (Webhook, error) {
	now := s.now()
	var w Webhook
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if w, err = lookup(q.Webhook(ctx, p.OrgID, id)); err != nil {
			return err
		}
		if err := q.DeleteWebhook(ctx, p.OrgID, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "webhook.deleted", "webhook", w.ID, auditView(w), nil))
	})
	if err != nil {
		return Webhook{}, err
	}
	s.Subscriptions.Changed()
	return w, nil
}

// RotateSecret gives endpoint id a new secret, returned this once. The
// one it replaces keeps signing beside it for RotationOverlap; one
// replaced earlier stops at once.
func (s *Service) RotateSecret(ctx context.Context, p access.Principal, id string) (Webhook, string, error) {
	key := newKey()
	now := s.now()
	w, err := s.change(ctx, p, id, "webhook.secretRotated", func(_ store.Queries, w *Webhook) error {
		w.PreviousSecret, w.PreviousExpiresAt = w.Secret, now.Add(RotationOverlap)
		w.Secret = s.Sealer.Seal(key)
		return nil
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, FormatSecret(key), nil
}

// Enable lets a disabled endpoint receive deliveries again; an enabled one
// is left as it is (no new version, no audit entry).
func (s *Service) Enable(ctx context.Context, p access.Principal, id string) (Webhook, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil || w.DisabledAt.IsZero() {
		return w, err
	}
	w, err = s.change(ctx, p, id, "webhook.enabled", func(q store.Queries, w *Webhook) error {
		if _, err := plan(ctx, q, p.OrgID); err != nil {
			return err
		}
		w.DisabledAt, w.DisabledReason = time.Time{}, ""
		return nil
	})
	if err == nil {
		s.wake()
	}
	return w, err
}
