package links

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
)

// Coalescing single creates: the one layer where control writes are
// batched. A single create costs a transaction (statements, a commit), a
// raft entry and the deletion of its outbox entry; written one by one,
// eight clients creating links back to back spend most of their time on
// those. So single creates that arrive while others are being written wait
// in a queue, and the next free runner writes everything queued, for each
// org, as one bulk: one transaction, one outbox entry, one raft entry.
// Each create still gets its own result and its own audit entry and event,
// attributed to its own caller; a bulk's rules (per-item failures, plan
// limits counted across items) apply unchanged.
//
// Why this layer and no other. bench/create measured it against the two
// other places a single create can be batched, a group commit of SQLite
// Writes (one transaction for the Writes queued together, a savepoint
// each) and a reaper deleting applied outbox entries in batches: each
// alone, none, and all three (8 clients; server CPU time a request,
// PostgreSQL's processes included; means of 3 alternating rounds on 2
// shared cores):
//
//	                  SQLite           PostgreSQL
//	                  single  mixed    single  mixed
//	none              0.70    0.90     1.00    1.13   ms
//	coalescing        0.40    0.90     0.60    1.16
//	group commit      0.37    0.55     -       -
//	reaper            0.58    0.70     0.89    1.02
//	all three         0.34    0.51     0.55    0.98
//
// Only coalescing earns its place on both engines: it shares statements,
// which PostgreSQL pays for in round trips, as well as commits, which
// SQLite pays for in fsyncs and WAL pages. The group commit shares commits
// only, so it earns on SQLite alone, where it also serves the writes that
// are not creates (mixed: a create with an Idempotency-Key, then an update
// of its link); on PostgreSQL it would run a batch's Writes one after
// another on one connection, a round trip per statement, where each has a
// connection of its own. Beside this layer it would batch SQLite's creates
// a second time. The price, against keeping all three (requests a second,
// 4 alternating rounds): on SQLite single creates 0.82x (1,841 against
// 2,255) and the mixed run 0.50x (733 against 1,460), every other write
// paying a commit of its own; on PostgreSQL single creates 1.02x and the
// mixed run 0.62x (536 against 860), the deletes of updates' outbox
// entries no longer batched. Bulk creates are one transaction already:
// unchanged on both.
//
// Runners are the callers themselves, at most createRunners at a time: one
// batch in raft while the next is in SQL. A runner writes one batch, then
// hands its turn to the first queued caller not yet woken (who writes
// whatever is queued by then, its own create included) or, with nobody
// queued, gives the turn back.
//
// A runner writes other callers' creates, so their work runs on its
// goroutine. A panic there (or runtime.Goexit) before the commit leaves
// nothing written, and every create of the batch is then written again by
// its own caller, alone, on its own goroutine: the others succeed, and the
// create that panics panics in its own caller's request only. A panic
// after the commit, while replicating the batch, belongs to no one create:
// each caller gets it as an error, and the outbox entry stays for the
// relay.
const createRunners = 2

type createQueue struct {
	mu      sync.Mutex
	pending []*queuedCreate
	running int // turns held: runners writing plus wakes not yet taken up
}

type queuedCreate struct {
	it       *item
	prepared Result // it.res when queued: where a create written alone starts again
	// Set by the runner before done is closed: the batch's error, or
	// alone when the batch's write did not return and this create is to be
	// written again by its own caller.
	err      error
	alone    bool
	answered bool          // by the runner that took it
	done     chan struct{} // closed when it is answered
	wake     chan struct{} // one token: it is this caller's turn to run
	woken    bool          // guarded by createQueue.mu
}

// do queues it and returns once it is written (its outcome is in it.res)
// or its batch failed (the error).
func (q *createQueue) do(ctx context.Context, s *Service, it *item) error {
	c := &queuedCreate{it: it, prepared: it.res, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	q.mu.Lock()
	q.pending = append(q.pending, c)
	run := q.running < createRunners
	if run {
		q.running++
	}
	q.mu.Unlock()
	// Should this goroutine end here without an answer (a panic or
	// runtime.Goexit in a batch it runs, or in its own create written
	// alone), its create leaves the queue and a turn it was given goes on.
	returned := false
	defer func() {
		if !returned {
			q.leave(c)
		}
	}()
	// The batch is written for every caller in it: one leaving early must
	// not cancel the others'.
	batchCtx := context.WithoutCancel(ctx)
	if run {
		q.run(batchCtx, s)
	}
	for {
		select {
		case <-c.done:
			// A wake sent before this create was taken into a batch is
			// already buffered: take up the turn it carries.
			select {
			case <-c.wake:
				q.run(batchCtx, s)
			default:
			}
			if c.alone {
				it.res = c.prepared
				_, c.err = s.createItems(ctx, it.p.OrgID, []*item{it})
			}
			returned = true
			return c.err
		case <-c.wake:
			q.run(batchCtx, s)
		}
	}
}

// run writes one batch of what is queued (up to MaxBulk creates), then
// hands the turn on.
func (q *createQueue) run(ctx context.Context, s *Service) {
	q.mu.Lock()
	n := min(len(q.pending), MaxBulk)
	batch := q.pending[:n:n]
	q.pending = q.pending[n:]
	if len(q.pending) == 0 {
		q.pending = nil
	}
	q.mu.Unlock()

	// Every create of the batch is answered and the turn goes on, even if
	// this goroutine ends (runtime.Goexit) in the middle of the batch.
	defer func() {
		for _, c := range batch {
			if !c.answered {
				c.answer(nil, true)
			}
		}
		q.handOff()
	}()
	// One bulk per org, in arrival order.
	var orgs []string
	byOrg := map[string][]*queuedCreate{}
	for _, c := range batch {
		org := c.it.p.OrgID
		if _, ok := byOrg[org]; !ok {
			orgs = append(orgs, org)
		}
		byOrg[org] = append(byOrg[org], c)
	}
	for _, org := range orgs {
		cs := byOrg[org]
		alone, err := write(ctx, s, org, cs)
		for _, c := range cs {
			c.answer(err, alone)
		}
	}
}

func (c *queuedCreate) answer(err error, alone bool) {
	c.err, c.alone, c.answered = err, alone, true
	close(c.done)
}

// write writes cs, the creates of one org, as one bulk. alone is true when
// the write did not return (see above); a panic while replicating comes
// back as err.
func write(ctx context.Context, s *Service, org string, cs []*queuedCreate) (alone bool, err error) {
	items := make([]*item, len(cs))
	for i, c := range cs {
		items[i] = c.it
	}
	written := false
	defer func() {
		v := recover()
		switch {
		case !written:
			alone = true // nothing was written
		case v != nil:
			err = fmt.Errorf("replicating links: panic: %v\n%s", v, debug.Stack())
		}
	}()
	pub, err := s.writeItems(ctx, org, items)
	written = true
	if err != nil {
		return false, err
	}
	return false, s.publish(ctx, pub)
}

// handOff wakes the first queued caller not yet woken, or gives the turn
// back when there is none.
func (q *createQueue) handOff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range q.pending {
		if !c.woken {
			c.woken = true
			c.wake <- struct{}{}
			return
		}
	}
	q.running--
}

// leave takes c out of the queue, its caller gone, and passes on a turn it
// was given and did not take up.
func (q *createQueue) leave(c *queuedCreate) {
	q.mu.Lock()
	if i := slices.Index(q.pending, c); i >= 0 {
		q.pending = slices.Delete(q.pending, i, i+1)
	}
	q.mu.Unlock()
	select {
	case <-c.wake:
		q.handOff()
	default:
	}
}
