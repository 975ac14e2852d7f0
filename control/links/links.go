// Package links is the shortLinks service: it validates input, decides every
// field of a link (ID, slug, version, timestamps) and writes it with its
// replicated command, returning only once raft committed the change. HTTP
// handlers and, later, the MCP server call it; it knows nothing of either.
package links

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/slug"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
)

// MaxURLLen bounds a destination URL.
const MaxURLLen = 8 << 10

// Publisher applies an outbox entry through raft.
type Publisher interface {
	Publish(ctx context.Context, id int64, cmd []byte) error
}

// Service creates, reads and deletes links.
type Service struct {
	Store         store.Store
	Publisher     Publisher
	DefaultDomain string
	Now           func() time.Time
}

// CreateInput is what a client may set when creating a link.
type CreateInput struct {
	URL    string
	Key    string // empty: a random slug
	Domain string // empty: the default domain
}

// View is a link as the API shows it (the API adds shortLink) and the audit
// log records it.
type View struct {
	ID        string `json:"id"`
	Domain    string `json:"domain"`
	Key       string `json:"key"`
	URL       string `json:"url"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// TimeFormat is RFC 3339 in UTC with milliseconds, the store's precision.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func ViewOf(l store.Link) View {
	return View{ID: l.ID, Domain: l.Domain, Key: l.Key, URL: l.URL,
		CreatedAt: l.CreatedAt.UTC().Format(TimeFormat), UpdatedAt: l.UpdatedAt.UTC().Format(TimeFormat)}
}

// createdBy is what a link records as its creator: the person, or the bot key.
func createdBy(p access.Principal) string { return p.ActorID() }

// errNotReplicated is the client-facing error when the SQL commit happened
// but raft did not take the change (yet): the outbox relay will finish it.
func errNotReplicated(err error) error {
	return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
		"the change is saved but could not be replicated to the edges yet; it will go live when replication recovers"), err)
}

// ValidateURL checks a destination: absolute http(s), with a host, bounded.
func ValidateURL(field, raw string) (string, error) {
	if raw == "" {
		return "", apierror.Invalid(field, "is required")
	}
	if len(raw) > MaxURLLen {
		return "", apierror.Invalid(field, "must be at most 8192 bytes")
	}
	if strings.TrimSpace(raw) != raw {
		return "", apierror.Invalid(field, "must not start or end with whitespace")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", apierror.Invalid(field, "is not a valid URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", apierror.Invalid(field, "must be an absolute http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", apierror.Invalid(field, "must have a host")
	}
	return raw, nil
}

// Create validates in, stores the link and replicates it.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (store.Link, error) {
	dest, err := ValidateURL("url", in.URL)
	if err != nil {
		return store.Link{}, err
	}
	domain := strings.ToLower(in.Domain)
	if domain == "" {
		domain = s.DefaultDomain
	}
	if domain != s.DefaultDomain {
		return store.Link{}, apierror.Invalid("domain", "is not a domain of this organization")
	}
	if in.Key != "" {
		if err := slug.Validate(in.Key); err != nil {
			return store.Link{}, apierror.Invalid("key", err.Error())
		}
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	l := store.Link{
		ID: ids.New(ids.Link, now), OrgID: p.OrgID, Domain: domain, URL: dest,
		Version: 1, CreatedBy: createdBy(p), CreatedAt: now, UpdatedAt: now,
	}
	// A random slug that happens to be taken is drawn again; a given one
	// that is taken is the client's conflict.
	for attempt := 0; ; attempt++ {
		l.Key = in.Key
		if l.Key == "" {
			l.Key = slug.Random(slug.DefaultLen + attempt/3)
		}
		cmd := kv.PutLink(recordOf(l)).Encode()
		var outboxID int64
		err := s.Store.Write(ctx, func(q store.Queries) error {
			if err := q.InsertLink(ctx, l); err != nil {
				return err
			}
			var err error
			if outboxID, err = q.AppendOutbox(ctx, cmd, now); err != nil {
				return err
			}
			return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "link.created", "link", l.ID, nil, ViewOf(l)))
		})
		if errors.Is(err, store.ErrConflict) {
			if in.Key != "" {
				return store.Link{}, apierror.New(apierror.AlreadyExist, "key %q is already in use on %s", in.Key, domain)
			}
			if attempt < 9 {
				continue
			}
		}
		if err != nil {
			return store.Link{}, fmt.Errorf("create link: %w", err)
		}
		if err := s.Publisher.Publish(ctx, outboxID, cmd); err != nil {
			return store.Link{}, errNotReplicated(err)
		}
		return l, nil
	}
}

// Get returns link id of the actor's org.
func (s *Service) Get(ctx context.Context, p access.Principal, id string) (store.Link, error) {
	l, err := s.Store.Link(ctx, p.OrgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, apierror.New(apierror.NotFound, "link not found")
	}
	return l, err
}

// Delete removes link id of the principal's org and replicates the delete.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string) (store.Link, error) {
	var (
		l        store.Link
		cmd      []byte
		outboxID int64
	)
	now := s.Now().UTC()
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if l, err = q.LockLink(ctx, p.OrgID, id); err != nil {
			return err
		}
		if err := q.DeleteLink(ctx, p.OrgID, id); err != nil {
			return err
		}
		cmd = kv.DeleteLink(l.ID, l.Version+1).Encode()
		if outboxID, err = q.AppendOutbox(ctx, cmd, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "link.deleted", "link", l.ID, ViewOf(l), nil))
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, apierror.New(apierror.NotFound, "link not found")
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("delete link: %w", err)
	}
	if err := s.Publisher.Publish(ctx, outboxID, cmd); err != nil {
		return store.Link{}, errNotReplicated(err)
	}
	return l, nil
}

// recordOf is the edge's view of a link.
func recordOf(l store.Link) kv.Link {
	return kv.Link{ID: l.ID, OrgID: l.OrgID, Domain: l.Domain, Slug: l.Key, URL: l.URL, Version: l.Version}
}
