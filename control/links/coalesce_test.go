package links

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/store"
)

// panicStore panics inside a Write when a link whose URL contains
// "panic" is inserted: a create whose own work panics.
type panicStore struct{ store.Store }

func (s panicStore) Write(ctx context.Context, fn func(store.Queries) error) error {
	return s.Store.Write(ctx, func(q store.Queries) error { return fn(panicQueries{q}) })
}

type panicQueries struct{ store.Queries }

func (q panicQueries) InsertLink(ctx context.Context, l store.Link) error {
	if strings.Contains(l.URL, "panic") {
		panic("boom: " + l.URL)
	}
	return q.Queries.InsertLink(ctx, l)
}

// outcome is what one Create did in its caller's goroutine.
type outcome struct {
	link     Link
	err      error
	panicked any
}

// mustHoldRunners starts a create for each runner and holds it in
// publish until release is closed, so that the creates started next queue
// and are written as one batch once released.
func mustHoldRunners(t *testing.T, s *Service, p access.Principal, published <-chan struct{}) []chan outcome {
	t.Helper()
	var outs []chan outcome
	for i := range createRunners {
		outs = append(outs, goCreate(s, p, fmt.Sprintf("https://example.com/held/%d", i)))
		select {
		case <-published:
		case <-time.After(10 * time.Second):
			t.Fatal("the held creates did not reach publish")
		}
	}
	return outs
}

func goCreate(s *Service, p access.Principal, url string) chan outcome {
	out := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			o.panicked = recover()
			out <- o
		}()
		o.link, o.err = s.Create(context.Background(), p, Input{URL: jsonbody.Of(url)})
	}()
	return out
}

// mustQueue waits until n creates are queued.
func mustQueue(t *testing.T, s *Service, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.creates.mu.Lock()
		queued := len(s.creates.pending)
		s.creates.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d creates queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A create whose work panics while other creates are batched with it:
// the others succeed, and only the panicking caller's own goroutine sees
// the panic, whichever caller ran the batch.
func TestCreatePanicReachesItsOwnCallerOnly(t *testing.T) {
	release := make(chan struct{})
	published := make(chan struct{}, createRunners)
	var held atomic.Int32
	s := mustService(t, publishFunc(func(context.Context, int64, []byte) error {
		if held.Add(1) <= createRunners {
			published <- struct{}{}
			<-release
		}
		return nil
	}))
	s.Store = panicStore{s.Store}
	p := access.Principal{OrgID: "org_1", UserID: "usr_1"}
	heldOuts := mustHoldRunners(t, s, p, published)

	const n = 6
	poisoned := n / 2
	var outs []chan outcome
	for i := range n {
		url := fmt.Sprintf("https://example.com/ok/%d", i)
		if i == poisoned {
			url = "https://example.com/panic"
		}
		outs = append(outs, goCreate(s, p, url))
		mustQueue(t, s, i+1) // in this order: the poisoned create is in the middle of the batch
	}
	close(release)

	for i, o := range heldOuts {
		if o := <-o; o.err != nil || o.panicked != nil {
			t.Errorf("held create %d: error %v, panic %v", i, o.err, o.panicked)
		}
	}
	created := map[string]bool{}
	for i, out := range outs {
		o := <-out
		switch {
		case i == poisoned:
			if o.panicked != "boom: https://example.com/panic" {
				t.Errorf("the poisoned create: error %v, panic %v; want its panic in its own goroutine", o.err, o.panicked)
			}
		case o.panicked != nil || o.err != nil || o.link.ID == "":
			t.Errorf("create %d, batched with the poisoned one: error %v, panic %v", i, o.err, o.panicked)
		default:
			created[o.link.ID] = true
		}
	}
	page, err := s.Store.Links(context.Background(), store.LinkFilter{OrgID: "org_1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range page {
		delete(created, l.ID)
	}
	if len(page) != createRunners+n-1 || len(created) != 0 {
		t.Errorf("%d links stored, want %d; created but not stored: %v", len(page), createRunners+n-1, created)
	}
	// The queue still works.
	if o := <-goCreate(s, p, "https://example.com/after"); o.err != nil || o.panicked != nil {
		t.Errorf("create after: error %v, panic %v", o.err, o.panicked)
	}
}

// A panic while replicating a batch (after its commit) belongs to no one
// create: every caller of the batch gets an error, none a panic, and the
// links stay stored with their outbox entry for the relay.
func TestCreateReplicationPanicIsEveryCallersError(t *testing.T) {
	release := make(chan struct{})
	published := make(chan struct{}, createRunners)
	var calls atomic.Int32
	s := mustService(t, publishFunc(func(_ context.Context, _ int64, cmd []byte) error {
		switch n := calls.Add(1); {
		case n <= createRunners:
			published <- struct{}{}
			<-release
		case n == createRunners+1:
			panic("raft is broken")
		}
		return nil
	}))
	p := access.Principal{OrgID: "org_1", UserID: "usr_1"}
	heldOuts := mustHoldRunners(t, s, p, published)
	const n = 4
	var outs []chan outcome
	for i := range n {
		outs = append(outs, goCreate(s, p, fmt.Sprintf("https://example.com/%d", i)))
		mustQueue(t, s, i+1)
	}
	close(release)
	for _, o := range heldOuts {
		<-o
	}
	for i, out := range outs {
		o := <-out
		if o.panicked != nil || o.err == nil || !strings.Contains(o.err.Error(), "raft is broken") {
			t.Errorf("create %d: error %v, panic %v; want the replication panic as an error", i, o.err, o.panicked)
		}
	}
	pending, err := s.Store.PendingOutbox(context.Background(), time.Now().Add(time.Hour), 10)
	if err != nil || len(pending) != createRunners+1 {
		t.Errorf("%d outbox entries (%v), want the batch's and the held ones'", len(pending), err)
	}
	if page, _ := s.Store.Links(context.Background(), store.LinkFilter{OrgID: "org_1", Limit: 100}); len(page) != createRunners+n {
		t.Errorf("%d links stored, want %d", len(page), createRunners+n)
	}
}
