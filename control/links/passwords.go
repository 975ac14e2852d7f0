package links

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Hashing link passwords. A link password is hashed with argon2id at 19 MiB
// (LinkPasswordParams), 20 to 30 ms of a CPU: the one costly step of a link
// write, and one a client could otherwise multiply by a thousand with a
// single bulk call. So it runs after every check that can refuse the link
// without the transaction — validation, the plan's features, the month's
// link quota and the tag limit (precheck) — and it is bounded:
//
//   - a call hashes at most MaxPasswordsPerCall passwords: a bulk create
//     with more links that would be created with a password is refused
//     (400 VALIDATION_ERROR on "password") before any hash;
//   - a call hashes hashWorkers passwords at a time;
//   - the node runs at most its Turns' hashes at once (user passwords'
//     included), each holding 19 MiB while it runs;
//   - an org may have PasswordHashesPerMinute hashes a minute (0: 200, a
//     token bucket; beyond it 429 RATE_LIMITED before any hash), charged
//     whatever comes of the write, so a call whose links are then refused
//     (a taken key) cannot keep the node hashing for free;
//   - a call that cannot start all its hashes within PasswordHashTime (0:
//     5 s), waiting for turns included, is refused (503 UNAVAILABLE) and
//     writes nothing; so is one whose context ends first (the API ends it
//     before the server's write timeout) or before its hashes are done.
//
// So the worst link write is MaxBulk links of which MaxPasswordsPerCall
// have a password: under 2 s of hashing on a 2-CPU node, at most
// PasswordHashTime and one hash when the node is busy, then one transaction
// (about 60 ms for 1,000 links) and one raft entry, well inside the API's
// 30 s write timeout.
//
// The transaction checks plan, quota and tags again on what it reads: the
// checks here only decide which links are refused before their hash (and
// may refuse a link at the very edge of the quota that an earlier link of
// the call, failing later on a taken key, would have left room for).

// MaxPasswordsPerCall bounds the link passwords one call hashes.
const MaxPasswordsPerCall = 100

const (
	hashWorkers     = 2
	defaultHashTime = 5 * time.Second
)

func (s *Service) turns() *password.Turns {
	s.turnsOnce.Do(func() {
		if s.Turns == nil {
			s.Turns = password.NewTurns(0)
		}
	})
	return s.Turns
}

func errHashingBusy() error {
	return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
		"too many link passwords are being hashed right now; nothing was saved, try again shortly"), apierror.ErrNothingWritten)
}

// hashAll hashes pws for org, hashWorkers at a time within the node's
// Turns, once org's budget allows. It gives up, with nothing to show, when
// they are not all done (started within PasswordHashTime) before ctx ends:
// the API ends it before the server's write timeout.
func (s *Service) hashAll(ctx context.Context, orgID string, pws []string) ([]string, error) {
	if err := s.hashBudget.take(orgID, len(pws), s.PasswordHashesPerMinute, s.now()); err != nil {
		return nil, err
	}
	limit := s.PasswordHashTime
	if limit <= 0 {
		limit = defaultHashTime
	}
	call := ctx
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	turns := s.turns()
	out := make([]string, len(pws))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(hashWorkers, len(pws)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pws) {
					return
				}
				release, err := turns.Take(ctx)
				if err != nil {
					return
				}
				if ctx.Err() != nil { // both were ready
					release()
					return
				}
				out[i] = s.hashPassword(pws[i])
				release()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	// Done after the call's own time is not done: what it would write
	// could not be answered in time.
	if int(done.Load()) < len(pws) || call.Err() != nil {
		return nil, errHashingBusy()
	}
	return out, nil
}

// hashes reports whether it is to be created with a password, as far as
// is known.
func (it *item) hashes() bool {
	return it.res.Err == nil && it.in.Password.Set && it.in.Password.V != ""
}

// hashItems hashes the passwords of the items to create (validated by
// prepareItem) once precheck has refused those the transaction would.
func (s *Service) hashItems(ctx context.Context, orgID string, items []*item) error {
	n := 0
	for _, it := range items {
		if it.hashes() {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := s.precheck(ctx, orgID, items); err != nil {
		return err
	}
	var todo []*item
	for _, it := range items {
		if it.hashes() {
			todo = append(todo, it)
		}
	}
	if len(todo) > MaxPasswordsPerCall {
		return apierror.Invalid("password", fmt.Sprintf(
			"at most %d links with a password per call (this one has %d): send the others in further calls",
			MaxPasswordsPerCall, len(todo)))
	}
	if len(todo) == 0 {
		return nil
	}
	pws := make([]string, len(todo))
	for i, it := range todo {
		pws[i] = it.in.Password.V
	}
	hashes, err := s.hashAll(ctx, orgID, pws)
	if err != nil {
		return err
	}
	for i, it := range todo {
		it.res.Link.PasswordHash = hashes[i]
	}
	return nil
}

// precheck refuses the password links of a create that the transaction
// would refuse for the org's plan: a feature it lacks, the month's link
// quota (counting the valid links before them in the call), the tag limit.
// It reads outside the transaction; links without a password are left to
// the transaction alone.
func (s *Service) precheck(ctx context.Context, orgID string, items []*item) error {
	plan, err := s.orgPlan(ctx, s.Store, orgID)
	if err != nil {
		return err
	}
	used := 0
	if plan.Limits[plans.LinksPerMonth] != 0 {
		usage, err := s.Store.Usage(ctx, orgID, plans.Period(s.now()))
		if err != nil {
			return err
		}
		used = int(usage["linksCreated"])
	}
	var tags *tagIndex
	if plan.Limits[plans.Tags] != 0 {
		if tags, err = lazyTags(ctx, s.Store, orgID, plan, items); err != nil {
			return err
		}
	}
	newTags := map[string]bool{}
	for _, it := range items {
		if it.res.Err != nil {
			continue
		}
		err := checkFeatures(it.in, plan)
		if err == nil {
			err = plan.CheckLimit(plans.LinksPerMonth, used, 1)
		}
		if err == nil && tags != nil {
			err = tags.checkNew(it.res.Link.TagNames, newTags)
		}
		if err != nil {
			if it.hashes() {
				it.res.Err = err
			}
			continue
		}
		used++
	}
	return nil
}

// hashChange hashes the password a change sets, once the change is valid
// (draft is it applied to an empty link) and the org's plan allows it:
// features and the tag limit.
func (s *Service) hashChange(ctx context.Context, orgID string, in Input, draft Link) (string, error) {
	plan, err := s.orgPlan(ctx, s.Store, orgID)
	if err != nil {
		return "", err
	}
	if err := checkFeatures(in, plan); err != nil {
		return "", err
	}
	if in.Tags.Set && len(draft.TagNames) > 0 && plan.Limits[plans.Tags] != 0 {
		tags, err := loadTags(ctx, s.Store, orgID, plan)
		if err != nil {
			return "", err
		}
		if err := tags.checkNew(draft.TagNames, map[string]bool{}); err != nil {
			return "", err
		}
	}
	hashes, err := s.hashAll(ctx, orgID, []string{in.Password.V})
	if err != nil {
		return "", err
	}
	return hashes[0], nil
}

// checkNew is ids' plan check without creating anything: pending holds the
// (lowercased) names that links before in the call would create, and gets
// names' new ones when they fit.
func (t *tagIndex) checkNew(names []string, pending map[string]bool) error {
	var add []string
	for _, n := range names {
		l := strings.ToLower(n)
		if _, ok := t.byName[l]; !ok && !pending[l] {
			add = append(add, l)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := t.plan.CheckLimit(plans.Tags, len(t.byID)+len(pending), len(add)); err != nil {
		return err
	}
	for _, l := range add {
		pending[l] = true
	}
	return nil
}

// defaultHashesPerMinute is an org's budget of link-password hashes when
// the Service sets none: 200 a minute, about 5 s of a CPU.
const defaultHashesPerMinute = 200

// hashBudget is each org's budget of link-password hashes, a token bucket
// of perMinute tokens that refills at perMinute a minute. Hashes are
// charged whatever comes of the write — a link refused later (its key
// taken, say) cost the hash all the same — so no org can keep a node's
// CPUs hashing, whatever it sends. Each control node keeps its own.
type hashBudget struct {
	mu   sync.Mutex
	orgs map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// take spends n hashes of org's budget at now, or refuses with 429
// RATE_LIMITED saying when there will be enough.
func (b *hashBudget) take(orgID string, n, perMinute int, now time.Time) error {
	if perMinute <= 0 {
		perMinute = defaultHashesPerMinute
	}
	capacity := float64(perMinute)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.orgs == nil {
		b.orgs = map[string]*bucket{}
	}
	k, ok := b.orgs[orgID]
	if !ok {
		k = &bucket{tokens: capacity, at: now}
		b.orgs[orgID] = k
	}
	if elapsed := now.Sub(k.at); elapsed > 0 {
		k.tokens = min(capacity, k.tokens+elapsed.Minutes()*capacity)
		k.at = now
	}
	if float64(n) > k.tokens {
		wait := time.Duration((float64(n) - k.tokens) / capacity * float64(time.Minute))
		e := apierror.New(apierror.RateLimited,
			"this organization may have %d link passwords hashed a minute; this call needs %d, retry in %d s",
			perMinute, n, int(wait.Seconds())+1)
		e.RetryAfter = time.Duration(int(wait.Seconds())+1) * time.Second
		return fmt.Errorf("%w: %w", e, apierror.ErrNothingWritten)
	}
	k.tokens -= float64(n)
	return nil
}
