package clickspool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/h0p/h0p/shared/clicks"
)

// control stores batches as control does: once per (edge, sequence),
// keeping per edge the last sequence stored and acknowledging any batch at
// or below it without storing it. fail, when set, decides each attempt's
// fate before (or, with lose, after) the batch is stored.
type control struct {
	mu       sync.Mutex
	last     map[string]uint64
	stored   []clicks.Click
	attempts []uint64 // the sequence of every Ship, in order
	times    []time.Time
	fail     func(attempt int, seq uint64) (err error, lose bool)
}

func (c *control) Ship(ctx context.Context, data []byte) error {
	var b clicks.Batch
	if err := b.UnmarshalBinary(data); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts = append(c.attempts, b.Seq)
	c.times = append(c.times, time.Now())
	var err error
	var lose bool
	if c.fail != nil {
		err, lose = c.fail(len(c.attempts), b.Seq)
	}
	if err != nil && !lose {
		return err
	}
	if c.last == nil {
		c.last = map[string]uint64{}
	}
	if b.Seq > c.last[b.Edge] {
		c.stored = append(c.stored, b.Clicks...)
		c.last[b.Edge] = b.Seq
	}
	return err
}

func (c *control) storedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stored)
}

// runShipper runs sh until stop is called, which returns Run's error.
func runShipper(t *testing.T, sh *Shipper) (stop func() error) {
	t.Helper()
	if sh.Interval == 0 {
		sh.Interval = 5 * time.Millisecond
	}
	if sh.MinBackoff == 0 {
		sh.MinBackoff, sh.MaxBackoff = time.Millisecond, 20*time.Millisecond
	}
	if sh.Rate == 0 {
		sh.Rate = 1000
	}
	sh.Logger = quiet
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the shipper did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// queue is an edge's click queue (edge.Server's) without the edge.
type queue struct {
	mu  sync.Mutex
	enc clicks.Encoder
}

func (q *queue) TakeClicks(e *clicks.Encoder) {
	e.Reset()
	q.mu.Lock()
	q.enc, *e = *e, q.enc
	q.mu.Unlock()
}

func (q *queue) add(c *clicks.Click) {
	q.mu.Lock()
	q.enc.Add(c)
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enc.Clicks()
}

// feed adds n clicks numbered from first to q, a few at a time.
func (q *queue) feed(first, n int) {
	cs := someClicks(first, n)
	for i := range cs {
		q.add(&cs[i])
		if i%7 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// checkOnceInOrder: control stored clicks 0..n-1, each once, in order.
func checkOnceInOrder(t *testing.T, c *control, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stored) != n {
		t.Fatalf("control stored %d clicks, want %d", len(c.stored), n)
	}
	for i, cl := range c.stored {
		if clickNo(cl) != i {
			t.Fatalf("stored click %d is %d", i, clickNo(cl))
		}
	}
}

// A segment is emptied only once the sink acknowledged it.
func TestShipperDeletesOnlyAfterAck(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustWrite(t, s, someClicks(0, 5))
	entered, ack := make(chan struct{}), make(chan error)
	sink := SinkFunc(func(ctx context.Context, batch []byte) error {
		entered <- struct{}{}
		return <-ack
	})
	runShipper(t, &Shipper{Spool: s, Queue: &queue{}, Sink: sink})
	seg := filepath.Join(dir, slotName(0))
	<-entered
	if slotBatch(t, seg) < 0 {
		t.Fatal("segment gone while being shipped")
	}
	ack <- errors.New("control unavailable")
	<-entered // shipped again
	if slotBatch(t, seg) < 0 {
		t.Fatal("segment gone after a failed ship")
	}
	ack <- nil
	waitFor(t, "the segment's deletion", func() bool { return testutil.ToFloat64(s.m.shipped) == 5 })
	if n := slotBatch(t, seg); n >= 0 {
		t.Errorf("segment of %d bytes still there after its ack", n)
	}
	if got := testutil.ToFloat64(s.m.shipErrors); got != 1 {
		t.Errorf("ship errors: %v, want 1", got)
	}
}

// A control that fails a while, then works, gets every click once, in
// order, every batch after the one before it.
func TestShipperRetriesUntilEveryBatchIsStoredOnceInOrder(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentClicks: 50})
	c := &control{fail: func(attempt int, _ uint64) (error, bool) {
		if attempt <= 5 {
			return errors.New("connection refused"), false
		}
		return nil, false
	}}
	q := &queue{}
	stop := runShipper(t, &Shipper{Spool: s, Queue: q, Sink: c})
	q.feed(0, 2000)
	waitFor(t, "every click stored", func() bool { return c.storedCount() == 2000 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkOnceInOrder(t, c, 2000)
	if !slices.IsSorted(c.attempts) {
		t.Errorf("batches shipped out of order: %v", c.attempts)
	}
	if _, n, _ := s.stats(); n != 0 {
		t.Errorf("%d segments left", n)
	}
}

// An acknowledgement lost after control stored the batch: the edge ships
// it again with the same sequence, and control stores it once.
func TestLostAckIsReshippedWithTheSameSequence(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentClicks: 40})
	seen := map[uint64]bool{}
	c := &control{fail: func(_ int, seq uint64) (error, bool) {
		if !seen[seq] {
			seen[seq] = true
			return errors.New("read: connection reset by peer"), true // stored, then the answer lost
		}
		return nil, false
	}}
	q := &queue{}
	stop := runShipper(t, &Shipper{Spool: s, Queue: q, Sink: c})
	q.feed(0, 500)
	waitFor(t, "every segment shipped", func() bool {
		_, n, _ := s.stats()
		return c.storedCount() == 500 && n == 0
	})
	stop()
	checkOnceInOrder(t, c, 500)
	for i := 0; i < len(c.attempts); i += 2 {
		if i+1 >= len(c.attempts) || c.attempts[i] != c.attempts[i+1] {
			t.Fatalf("attempts %v: each sequence should be shipped twice in a row", c.attempts)
		}
	}
}

// A batch control refuses for good is set aside, counted, and the next
// one is shipped.
func TestRejectedBatchIsSetAside(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 10})
	mustWrite(t, s, someClicks(0, 30))
	c := &control{fail: func(_ int, seq uint64) (error, bool) {
		if seq == 2 {
			return fmt.Errorf("400 VALIDATION_ERROR: %w", clicks.ErrRejected), false
		}
		return nil, false
	}}
	runShipper(t, &Shipper{Spool: s, Queue: &queue{}, Sink: c})
	waitFor(t, "the other batches", func() bool { return c.storedCount() == 20 })
	if got := files(t, filepath.Join(dir, rejectedDir)); !slices.Equal(got, []string{"00000000000000000002-10.batch"}) {
		t.Errorf("rejected/ holds %v", got)
	}
	if got := testutil.ToFloat64(s.m.rejected); got != 10 {
		t.Errorf("rejected clicks: %v, want 10", got)
	}
	if !slices.Equal(c.attempts, []uint64{1, 2, 3}) {
		t.Errorf("attempts %v, want [1 2 3]", c.attempts)
	}
}

// A backlog drains no faster than Rate batches a second.
func TestBacklogDrainsAtTheRate(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentClicks: 1})
	mustWrite(t, s, someClicks(0, 10))
	c := &control{}
	runShipper(t, &Shipper{Spool: s, Queue: &queue{}, Sink: c, Rate: 40})
	waitFor(t, "the backlog", func() bool { return c.storedCount() == 10 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if took, least := c.times[9].Sub(c.times[0]), 9*25*time.Millisecond; took < least {
		t.Errorf("10 batches at 40/s took %v, want at least %v", took, least)
	}
}

// Stopping the shipper spools what the queue holds, so that nothing the
// edge captured before it stopped is left in memory.
func TestStopSpoolsWhatTheQueueHolds(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentClicks: 100})
	q := &queue{}
	stop := runShipper(t, &Shipper{Spool: s, Queue: q, Interval: time.Hour}) // no sink: spool only
	q.feed(0, 250)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if q.len() != 0 {
		t.Fatalf("%d clicks left in the queue", q.len())
	}
	got := mustTakeAll(t, mustOpen(t, dir, Options{}))
	var n int
	for _, b := range got {
		for _, c := range b.Clicks {
			if clickNo(c) != n {
				t.Fatalf("click %d is %d", n, clickNo(c))
			}
			n++
		}
	}
	if n != 250 {
		t.Fatalf("%d clicks spooled, want 250", n)
	}
}

// While the disk refuses writes, the clicks taken wait in memory and the
// rest in the edge's queue (which drops what overflows, counted by the
// edge); once writes work again they are spooled, in order.
func TestFailingWritesLeaveClicksInTheQueue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clicks")
	s := mustOpen(t, dir, Options{})
	if err := os.RemoveAll(dir); err != nil { // every write now fails
		t.Fatal(err)
	}
	q := &queue{}
	q.feed(0, 50)
	stop := runShipper(t, &Shipper{Spool: s, Queue: q})
	waitFor(t, "a failed write", func() bool { return testutil.ToFloat64(s.m.writeErrors) >= 1 && q.len() == 0 })
	q.feed(50, 30)
	waitFor(t, "more failed writes", func() bool { return testutil.ToFloat64(s.m.writeErrors) >= 3 })
	if q.len() != 30 {
		t.Fatalf("%d clicks in the queue while writes fail, want 30", q.len())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clicks spooled", func() bool { return testutil.ToFloat64(s.m.spooled) == 80 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, b := range mustTakeAll(t, s) {
		for _, c := range b.Clicks {
			if clickNo(c) != n {
				t.Fatalf("click %d is %d", n, clickNo(c))
			}
			n++
		}
	}
	if n != 80 {
		t.Fatalf("%d clicks spooled, want 80", n)
	}
}

// Taking the queue into the open segment allocates nothing per click: on
// the edge's CPU, garbage is collection work that stalls the event loop.
func TestTakeAllocatesNothing(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentClicks: clicks.MaxClicks, SegmentBytes: 64 << 20})
	q := &queue{}
	sh := &Shipper{Spool: s, Queue: q}
	cs := someClicks(0, 1000)
	take := func() {
		for i := range cs {
			q.add(&cs[i])
		}
		if err := sh.take(); err != nil {
			t.Fatal(err)
		}
	}
	for range 21 { // grow the segment's buffer, then seal it, keeping it
		take()
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(20, take); allocs != 0 {
		t.Errorf("%.1f allocations a take of %d clicks, want 0", allocs, len(cs))
	}
}
