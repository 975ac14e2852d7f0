package links

import (
	"context"
	"fmt"
	"sync"
)

// Coalescing single creates. A create costs a transaction (with an fsync)
// and a raft entry (with another); written one by one, eight clients
// creating links back to back spent most of their time queued behind one
// another's fsyncs. So single creates that arrive while others are being
// written wait in a queue, and the next free runner writes everything
// queued, for each org, as one bulk: one transaction, one outbox entry, one
// raft entry. Each create still gets its own result and its own audit entry
// and event, attributed to its own caller; a bulk's rules (per-item
// failures, plan limits counted across items) apply unchanged.
//
// Runners are the callers themselves, at most createRunners at a time: one
// batch in raft while the next is in SQL. Measured with 8 clients: 2 runners
// made batches of 2.5 creates and ~1,100 creates/s; 4 runners ~1,050-1,250;
// 16 (no coalescing: batches of 1) ~950, each stage slower. A runner writes one
// batch, then hands its turn to the first queued caller not yet woken (who
// writes whatever is queued by then, its own create included) or, with
// nobody queued, gives the turn back.
const createRunners = 2

type createQueue struct {
	mu      sync.Mutex
	pending []*queuedCreate
	running int // turns held: runners writing plus wakes not yet taken up
}

type queuedCreate struct {
	it    *item
	err   error         // the batch's error, set before done is closed
	done  chan struct{} // closed when it is written (or failed)
	wake  chan struct{} // one token: it is this caller's turn to run
	woken bool          // guarded by createQueue.mu
}

// do queues it and returns once it is written (its outcome is in it.res)
// or its batch failed (the error).
func (q *createQueue) do(ctx context.Context, s *Service, it *item) error {
	c := &queuedCreate{it: it, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	q.mu.Lock()
	q.pending = append(q.pending, c)
	run := q.running < createRunners
	if run {
		q.running++
	}
	q.mu.Unlock()
	// The batch is written for every caller in it: one leaving early must
	// not cancel the others'.
	ctx = context.WithoutCancel(ctx)
	if run {
		q.run(ctx, s)
	}
	for {
		select {
		case <-c.done:
			// A wake sent before this create was taken into a batch is
			// already buffered: take up the turn it carries.
			select {
			case <-c.wake:
				q.run(ctx, s)
			default:
			}
			return c.err
		case <-c.wake:
			q.run(ctx, s)
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
	var panicked any
	for _, org := range orgs {
		cs := byOrg[org]
		items := make([]*item, len(cs))
		for i, c := range cs {
			items[i] = c.it
		}
		err := func() (err error) {
			// A panic must still answer the batch's other callers and
			// pass the turn on; it is raised again below, in this
			// runner's own request.
			defer func() {
				if v := recover(); v != nil {
					panicked, err = v, fmt.Errorf("creating links: panic: %v", v)
				}
			}()
			_, err = s.createItems(ctx, org, items)
			return err
		}()
		for _, c := range cs {
			c.err = err
			close(c.done)
		}
	}
	q.handOff()
	if panicked != nil {
		panic(panicked)
	}
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
