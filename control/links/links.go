// Package links is the shortLinks service: it validates input, decides every
// field of a link (ID, slug, version, timestamps), enforces the org's plan,
// and writes the link with its audit entry, its domain event and its
// replicated command in one transaction, returning only once raft committed
// the change. A bulk call is one transaction and one raft entry; single
// operations are bulks of one, and single creates that arrive together are
// written as one bulk (coalesce.go). HTTP handlers and, later, the MCP
// server call it; it knows nothing of either.
//
// A link has one Go shape per purpose:
//   - Input: what a client writes (create, update, upsert, bulk, import),
//     every member a jsonbody.Opt: absent, null or a value;
//   - store.Link: the row, with the attributes it has no column for as one
//     JSON document (attrs);
//   - Link: the row with its attributes and tag names decoded, which the
//     service validates and changes;
//   - View: how a link is shown, by the API and in events and audit
//     entries;
//   - kv.Link: the record raft replicates to the edges (Link.record).
//
// Decisions where the product docs are silent:
//   - Tags are named on links; a name the org does not have yet is created
//     (counting against the plan's tag limit). Names match case-insensitively
//     and are one line of text: control characters (Unicode Cc) and line
//     and paragraph separators are refused, and so is '|' (CSV files
//     separate tags with it).
//   - Shorthands become edge rules after the explicit rules: ios, android,
//     then geo by country code. The API returns them as given.
//   - Archived links still redirect (archiving is for the dashboard);
//     disabled ones answer 404.
//   - doNotTrack stops the edges counting a link's clicks from the change
//     on; the clicks counted before it stay. It is not a plan feature.
//   - Link passwords are argon2id with m=19 MiB, t=2, p=1 (OWASP's minimum):
//     edges verify them on every attempt. Hashing one is the costly step of
//     a write, so it comes after every check that can refuse the link, and
//     a call hashes at most MaxPasswordsPerCall (100) passwords (more: 400),
//     two at a time, within the node's password Turns and PasswordHashTime
//     (5 s of waiting and hashing; beyond it 503, nothing written), and an
//     org has 200 hashes a minute (beyond: 429): passwords.go.
//   - Click ingestion writes a link.clicked event per stored click (bots
//     included, flagged) on a link an enabled link.clicked endpoint covers,
//     in the batch's transaction, and nothing for other clicks: a map
//     lookup per link of the batch (clicked.go).
//   - image and preview.image may be a file of the link's org (file_…), a
//     PNG, JPEG, GIF or WebP (files.go): shown as given, checked in the
//     write's transaction, and replicated to the edges as the file's
//     public URL (FileURL). The edges show preview.image only; image is
//     not in their record. A file deleted by force leaves the links that
//     used it (ClearFile), each a link update.
//   - Upsert matches the org's oldest link with the same url on the same
//     domain; it answers 201 when it created one and 200 otherwise.
//   - Plan features are checked against what a change sets, so a link made
//     before a downgrade can still be edited in other ways.
//   - A destination onto H0p itself loops and is refused: a short domain on
//     any port, or an edge's address (Service.Edges) on its port, hosts
//     read as browsers read them, so 0x7f000001 is 127.0.0.1 (loops.go).
//   - maxClicks is counted by control, not by the edges: a link redirects
//     until control has counted its maxClicks-th click (clicks.go) and the
//     edges have the link back, exhausted, through raft. The redirects
//     beyond maxClicks are those of that propagation: at most R × P, plus
//     the requests in flight, for R the link's redirects a second over
//     every edge and P = I + w + 2S + A: the shipper's interval I (100 ms)
//     for the click to leave the edge's queue, a segment's write w, a ship
//     S twice (the batch may wait for the one in flight; a ship is the
//     batch's count, the raft commit of the exhausted link and the click
//     store's ingest), and the edge's raft apply A. One control node on
//     PostgreSQL and one edge on 2 CPUs: S 4–15 ms, P measured 16–105 ms
//     in 25 runs, so at 500 redirects a second 7–51 beyond maxClicks
//     (TestFaultMaxClicksUnderLoad, make test-faults, which holds P under
//     250 ms). An exhausted link whose publish fails waits for the outbox
//     relay (its 10 s grace), and while control is unreachable the edges
//     go on redirecting, their clicks spooled: the bound holds only while
//     clicks reach control.
package links

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
	"github.com/h0p/h0p/shared/urlhost"
)

// Publisher applies an outbox entry through raft.
type Publisher interface {
	Publish(ctx context.Context, id int64, cmd []byte) error
}

// Service creates, reads, changes and deletes links and tags.
type Service struct {
	Store         store.Store
	Publisher     Publisher
	DefaultDomain string
	// SharedDomains are short domains every org may create links on
	// besides DefaultDomain; an org's own domains must be verified
	// (control/domains).
	SharedDomains []string
	Now           func() time.Time
	// SlugLength is the length of random slugs (0: 7); SlugNoLookalike
	// leaves out characters that are easy to misread (0 O 1 l I).
	SlugLength      int
	SlugNoLookalike bool
	// PasswordParams hash link passwords; zero: LinkPasswordParams.
	PasswordParams password.Params
	// HashPassword, when set, hashes link passwords instead of argon2id
	// with PasswordParams (tests count the hashes with it).
	HashPassword func(pw string) string
	// Turns bounds the password hashes running at once, the node's across
	// services (nil: GOMAXPROCS for this Service alone); PasswordHashTime
	// bounds the time a call may spend hashing, waiting for a turn
	// included (0: 5 s); PasswordHashesPerMinute is each org's budget of
	// hashes (0: 200). See passwords.go.
	Turns                   *password.Turns
	PasswordHashTime        time.Duration
	PasswordHashesPerMinute int

	// Edges are where the edges answer; destinations there loop, as on
	// the default and shared domains and the custom domains the edges
	// serve (Served: the replicated store's domain records; nil: none).
	Edges  []EdgeAddr
	Served func(host string) bool
	// Logger reports what a caller cannot be told (nil: slog.Default()).
	Logger *slog.Logger

	// ClickWebhooks says which clicks make link.clicked events (nil: none;
	// clicked.go). ShortLink and APIURL complete the link in them as the
	// API shows it (shortLink, qrCode; unset: left out).
	ClickWebhooks ClickWebhooks
	ShortLink     func(domain, key string) string
	APIURL        string
	// FileURL is the public URL of file id of a link's image fields, which
	// the edges get in the link's record (nil: the record has no image).
	FileURL func(id string) string
	// Committed, when set, is told after each write that may have
	// appended events (the webhook dispatcher's Wake: events go out at
	// once rather than at its next pass). It must not block.
	Committed func()

	turnsOnce  sync.Once
	hashBudget hashBudget // passwords.go
	ownOnce    sync.Once
	ownHosts   *ownHosts

	creates createQueue // coalesce.go
}

// LinkPasswordParams are cheap enough for an edge to check per attempt.
var LinkPasswordParams = password.Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// MaxBulk bounds a bulk call.
const MaxBulk = 1000

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// own is where H0p answers: destinations there loop (loops.go).
func (s *Service) own() *ownHosts {
	s.ownOnce.Do(func() {
		d := strings.ToLower(s.DefaultDomain)
		if h, err := urlhost.Parse(d); err == nil && !h.IsIP() {
			d = h.Domain // in ASCII, as destinations are compared
		}
		own := &ownHosts{domains: []string{strings.TrimSuffix(d, ".")}, served: s.Served, edges: s.Edges}
		for _, sd := range s.SharedDomains {
			own.domains = append(own.domains, strings.TrimSuffix(strings.ToLower(sd), "."))
		}
		s.ownHosts = own
	})
	return s.ownHosts
}

// errNotReplicated is the client-facing error when the SQL commit happened
// but raft did not take the change (yet): the outbox relay will finish it.
func errNotReplicated(err error) error {
	return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
		"the change is saved but could not be replicated to the edges yet; it will go live when replication recovers"), err)
}

func notFound() error { return apierror.New(apierror.NotFound, "link not found") }

// Result is the outcome of one item of a bulk call.
type Result struct {
	Link    Link
	Err     error
	Created bool
}

// pending is a change made inside a transaction, published after it.
type pending struct {
	outboxID int64
	cmd      []byte
}

// publish follows a committed write: it tells Committed, and replicates
// the write's command, if any.
func (s *Service) publish(ctx context.Context, p pending) error {
	if s.Committed != nil {
		s.Committed()
	}
	if p.cmd == nil {
		return nil
	}
	if err := s.Publisher.Publish(ctx, p.outboxID, p.cmd); err != nil {
		return errNotReplicated(err)
	}
	return nil
}

// record writes the outbox entry of ops (one raft entry for all of them).
func record(ctx context.Context, q store.Queries, ops []kv.Op, now time.Time) (pending, error) {
	if len(ops) == 0 {
		return pending{}, nil
	}
	cmd := kv.Command{Ops: ops}.Encode()
	id, err := q.AppendOutbox(ctx, cmd, now)
	return pending{id, cmd}, err
}

// fromStore decodes a stored link.
func fromStore(sl store.Link, tags *tagIndex) (Link, error) {
	a, err := decodeAttrs(sl.Attrs)
	if err != nil {
		return Link{}, err
	}
	return Link{Link: sl, attrs: a, TagNames: tags.names(sl.TagIDs)}, nil
}

// Decode is a stored link with its attributes decoded (tag names left
// out), for readers outside the service.
func Decode(sl store.Link) (Link, error) {
	a, err := decodeAttrs(sl.Attrs)
	if err != nil {
		return Link{}, fmt.Errorf("link %s: %w", sl.ID, err)
	}
	return Link{Link: sl, attrs: a}, nil
}

// toStore encodes l's attributes back.
func (l *Link) toStore() (store.Link, error) {
	raw, err := json.Marshal(l.attrs)
	if err != nil {
		return store.Link{}, err
	}
	sl := l.Link
	sl.Attrs = raw
	l.fileIDs(&sl)
	if string(raw) == "{}" {
		sl.Attrs = nil
	}
	return sl, nil
}

func (s *Service) orgPlan(ctx context.Context, q store.Queries, orgID string) (plans.Plan, error) {
	o, err := q.Org(ctx, orgID)
	if err != nil {
		return plans.Plan{}, fmt.Errorf("org of link: %w", err)
	}
	return plans.Get(o.Plan), nil
}

// checkFeatures refuses what in sets that the plan lacks.
func checkFeatures(in Input, plan plans.Plan) error {
	if in.Password.Set && in.Password.V != "" {
		if err := plan.CheckFeature(plans.FeaturePassword); err != nil {
			return err
		}
	}
	if in.Rules.Set && len(in.Rules.V) > 0 || in.IOS.Set && in.IOS.V != "" || in.Android.Set && in.Android.V != "" ||
		in.Geo.Set && len(in.Geo.V) > 0 {
		if err := plan.CheckFeature(plans.FeatureRules); err != nil {
			return err
		}
	}
	if in.Variants.Set && len(in.Variants.V) > 0 {
		return plan.CheckFeature(plans.FeatureVariants)
	}
	return nil
}
