// Package links is the shortLinks service: it validates input, decides every
// field of a link (ID, slug, version, timestamps), enforces the org's plan,
// and writes the link with its audit entry, its domain event and its
// replicated command in one transaction, returning only once raft committed
// the change. A bulk call is one transaction and one raft entry; single
// operations are bulks of one, and single creates that arrive together are
// written as one bulk (coalesce.go). HTTP handlers and, later, the MCP
// server call it; it knows nothing of either.
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
//   - Link passwords are argon2id with m=19 MiB, t=2, p=1 (OWASP's minimum):
//     edges verify them on every attempt. Hashing one is the costly step of
//     a write, so it comes after every check that can refuse the link, and
//     a call hashes at most MaxPasswordsPerCall (100) passwords (more: 400),
//     two at a time, within the node's password Turns and PasswordHashTime
//     (5 s of waiting and hashing; beyond it 503, nothing written), and an
//     org has 200 hashes a minute (beyond: 429): passwords.go.
//   - Upsert matches the org's oldest link with the same url on the same
//     domain; it answers 201 when it created one and 200 otherwise.
//   - Plan features are checked against what a change sets, so a link made
//     before a downgrade can still be edited in other ways.
//   - A destination onto H0p itself loops and is refused: a short domain on
//     any port, or an edge's address (Service.Edges) on its port, hosts
//     read as browsers read them, so 0x7f000001 is 127.0.0.1 (loops.go).
package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/slug"
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

	// Edges are where the edges answer; destinations there loop.
	Edges []EdgeAddr

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
		s.ownHosts = &ownHosts{domains: []string{strings.TrimSuffix(d, ".")}, edges: s.Edges}
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

func (s *Service) publish(ctx context.Context, p pending) error {
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

// journal collects the audit entries and domain events of one write, to
// append them together (multi-row inserts) before it commits.
type journal struct {
	now    time.Time
	audits []store.AuditEntry
	events []store.Event
}

func newJournal(now time.Time) *journal { return &journal{now: now} }

// add records one change of link id: before is nil for a create, after nil
// for a delete. A created or deleted link is encoded to JSON once, for both
// its audit entry and its event.
func (j *journal) add(p access.Principal, kind, id string, before, after *View) error {
	action := "link." + kind
	if before != nil && after != nil {
		payload, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("encode link %s: %w", id, err)
		}
		j.append(p, audit.Entry(p, p.OrgID, j.now, action, "link", id, *before, *after), id, payload)
		return nil
	}
	side, obj := "after", after
	if after == nil {
		side, obj = "before", before
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode link %s: %w", id, err)
	}
	j.addObject(p, action, id, side, raw)
	return nil
}

// addObject records a create (side "after") or delete (side "before") of
// link id, already encoded as obj, which is also the event's payload.
func (j *journal) addObject(p access.Principal, action, id, side string, obj json.RawMessage) {
	j.append(p, audit.Object(p, p.OrgID, j.now, action, "link", id, side, obj), id, obj)
}

func (j *journal) append(p access.Principal, e store.AuditEntry, id string, payload json.RawMessage) {
	j.audits = append(j.audits, e)
	j.events = append(j.events, store.Event{ID: ids.New("evt", j.now), OrgID: p.OrgID, Type: e.Action,
		ResourceID: id, Payload: payload, CreatedAt: j.now})
}

// flush appends what was collected.
func (j *journal) flush(ctx context.Context, q store.Queries) error {
	if len(j.audits) == 0 {
		return nil
	}
	if err := q.AppendAudit(ctx, j.audits...); err != nil {
		return err
	}
	return q.AppendEvent(ctx, j.events...)
}

// tagIndex resolves tag names and IDs of one org within a transaction,
// creating tags that do not exist yet (within the plan's limit).
type tagIndex struct {
	byID   map[string]string // id → name
	byName map[string]string // lowercase name → id
	plan   plans.Plan
	orgID  string
}

func loadTags(ctx context.Context, q store.Queries, orgID string, plan plans.Plan) (*tagIndex, error) {
	tags, err := q.Tags(ctx, orgID)
	if err != nil {
		return nil, err
	}
	t := &tagIndex{byID: map[string]string{}, byName: map[string]string{}, plan: plan, orgID: orgID}
	for _, tag := range tags {
		t.byID[tag.ID] = tag.Name
		t.byName[strings.ToLower(tag.Name)] = tag.ID
	}
	return t, nil
}

func (t *tagIndex) names(tagIDs []string) []string {
	var out []string
	for _, id := range tagIDs {
		if n, ok := t.byID[id]; ok {
			out = append(out, n)
		}
	}
	return out
}

// ids resolves names to tag IDs, creating the missing tags; it checks the
// plan's tag limit for all of them before creating any.
func (t *tagIndex) ids(ctx context.Context, q store.Queries, names []string, now time.Time) ([]string, error) {
	var missing []string
	for _, n := range names {
		if _, ok := t.byName[strings.ToLower(n)]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if err := t.plan.CheckLimit(plans.Tags, len(t.byID), len(missing)); err != nil {
			return nil, err
		}
	}
	for _, n := range missing {
		id := ids.New("tag", now)
		if err := q.CreateTag(ctx, store.Tag{ID: id, OrgID: t.orgID, Name: n, Color: defaultColor, CreatedAt: now}); err != nil {
			return nil, err
		}
		t.byID[id], t.byName[strings.ToLower(n)] = n, id
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, t.byName[strings.ToLower(n)])
	}
	slices.Sort(out)
	return out, nil
}

// lazyTags loads the org's tags only when some input names tags: a link
// created without tags needs none.
func lazyTags(ctx context.Context, q store.Queries, orgID string, plan plans.Plan, items []*item) (*tagIndex, error) {
	for _, it := range items {
		if in := it.in; in.Tags.Set && len(in.Tags.V) > 0 {
			return loadTags(ctx, q, orgID, plan)
		}
	}
	return &tagIndex{byID: map[string]string{}, byName: map[string]string{}, plan: plan, orgID: orgID}, nil
}

// fromStore decodes a stored link.
func fromStore(sl store.Link, tags *tagIndex) (Link, error) {
	a, err := decodeAttrs(sl.Attrs)
	if err != nil {
		return Link{}, err
	}
	return Link{Link: sl, attrs: a, TagNames: tags.names(sl.TagIDs)}, nil
}

// toStore encodes l's attributes back.
func (l *Link) toStore() (store.Link, error) {
	raw, err := json.Marshal(l.attrs)
	if err != nil {
		return store.Link{}, err
	}
	sl := l.Link
	sl.Attrs = raw
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

// prepare validates in for a new link (outside any transaction); its
// password is hashed later (hashItems).
func (s *Service) prepare(p access.Principal, in Input, now time.Time) (Link, error) {
	l := Link{Link: store.Link{OrgID: p.OrgID, Version: 1, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}}
	if !in.createdAt.IsZero() {
		l.CreatedAt = in.createdAt.Truncate(time.Millisecond)
	}
	if !in.URL.Set || in.URL.Null {
		var pr problems
		pr.add("url", "is required")
		return Link{}, pr.err()
	}
	domain, err := s.domain(in.Domain)
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

// domain resolves the domain of a link: the given one (lowercased) if it is
// one of the org's, else the default.
func (s *Service) domain(d Opt[string]) (string, error) {
	if !d.Set || d.Null || d.V == "" {
		return s.DefaultDomain, nil
	}
	domain := strings.TrimSuffix(strings.ToLower(d.V), ".")
	if domain != s.DefaultDomain {
		return "", apierror.Invalid("domain", "is not a domain of this organization")
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
		items[i] = s.prepareItem(p, in, now)
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
func (s *Service) prepareItem(p access.Principal, in Input, now time.Time) *item {
	l, err := s.prepare(p, in, now)
	return &item{p: p, in: in, res: Result{Link: l, Err: err}}
}

// createItems creates the prepared items of one org in one transaction and
// one raft entry. written is false when the transaction failed (nothing was
// created, err says why); otherwise err is the replication error, if any.
func (s *Service) createItems(ctx context.Context, orgID string, items []*item) (written bool, err error) {
	now := s.now()
	for _, it := range items {
		if it.res.Err == nil {
			s.draft(it, now)
		}
	}
	var pub pending
	err = s.Store.Write(ctx, func(q store.Queries) error {
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
			rec := r.Link.record()
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
		return false, err
	}
	return true, s.publish(ctx, pub)
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
	it := s.prepareItem(p, in, s.now())
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
	draft, err := s.checkChange(in, now)
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
			rec := r.Link.record()
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
		if l.Domain, err = s.domain(in.Domain); err != nil {
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
	l.Version++
	l.UpdatedAt = now
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
func (s *Service) checkChange(in Input, now time.Time) (Link, error) {
	var l Link
	if in.Domain.Set {
		if _, err := s.domain(in.Domain); err != nil {
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

// DeleteMany deletes links; the deletes go to the edges in one raft entry.
func (s *Service) DeleteMany(ctx context.Context, p access.Principal, targets []Target) ([]Result, error) {
	if len(targets) > MaxBulk {
		return nil, apierror.Invalid("ids", fmt.Sprintf("at most %d links per call", MaxBulk))
	}
	now := s.now()
	results := make([]Result, len(targets))
	var pub pending
	err := s.Store.Write(ctx, func(q store.Queries) error {
		tags, err := loadTags(ctx, q, p.OrgID, plans.Plan{})
		if err != nil {
			return err
		}
		j := newJournal(now)
		var ops []kv.Op
		for i, t := range targets {
			r := &results[i]
			cur, err := s.find(ctx, q, p.OrgID, t)
			if err != nil {
				if r.Err = err; !isClientError(err) {
					return err
				}
				continue
			}
			if err := q.DeleteLink(ctx, p.OrgID, cur.ID); err != nil {
				return err
			}
			if r.Link, err = fromStore(cur, tags); err != nil {
				return err
			}
			v := ViewOf(r.Link)
			if err := j.add(p, "deleted", cur.ID, &v, nil); err != nil {
				return err
			}
			ops = append(ops, kv.Op{Type: kv.OpDeleteLink, Delete: &kv.LinkDelete{ID: cur.ID, Version: cur.Version + 1}})
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

// Delete removes link id.
func (s *Service) Delete(ctx context.Context, p access.Principal, id string) (Link, error) {
	return first(s.DeleteMany(ctx, p, []Target{{ID: id}}))
}

// Upsert returns or updates the org's link to in's url on its domain, or
// creates one; created says which.
func (s *Service) Upsert(ctx context.Context, p access.Principal, in Input) (Link, bool, error) {
	if !in.URL.Set || in.URL.Null {
		return Link{}, false, apierror.Invalid("url", "is required")
	}
	domain, err := s.domain(in.Domain)
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
	in.URL, in.Domain = Opt[string]{}, Opt[string]{}
	if !in.anySet() {
		l, err := s.Get(ctx, p, existing.ID)
		return l, false, err
	}
	l, err := s.Update(ctx, p, existing.ID, in)
	return l, false, err
}

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
		d, err := s.domain(Opt[string]{Set: domain != "", V: domain})
		if err != nil {
			return Link{}, err
		}
		sl, err := s.Store.LinkByKey(ctx, p.OrgID, d, key)
		return s.one(ctx, p.OrgID, sl, err)
	}
	return Link{}, apierror.Invalid("key", "give domain and key, or externalId")
}
