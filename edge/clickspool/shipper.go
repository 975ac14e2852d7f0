package clickspool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/h0p/h0p/shared/clicks"
)

// Sink takes one encoded clicks.Batch to control, and keeps no reference
// to its bytes after it returns (the shipper reuses them). nil means
// control has it (stored now, or before). An error wrapping clicks.ErrRejected or
// clicks.ErrCorrupt is a refusal for good; any other is retried with the
// same bytes.
type Sink interface {
	Ship(ctx context.Context, batch []byte) error
}

// SinkFunc is a Sink in process (control's ingest, in h0p dev).
type SinkFunc func(ctx context.Context, batch []byte) error

// Ship calls f.
func (f SinkFunc) Ship(ctx context.Context, batch []byte) error { return f(ctx, batch) }

var _ Sink = SinkFunc(nil)

// Queue is where clicks wait to be taken: the edge (edge.Server).
type Queue interface {
	// TakeClicks empties e and swaps it with the clicks captured since
	// the last take.
	TakeClicks(e *clicks.Encoder)
}

// Shipper drains an edge's click queue into a Spool and ships the spool's
// segments through a Sink.
type Shipper struct {
	Spool *Spool
	Queue Queue
	// Sink ships the segments; nil: they stay in the spool (within its
	// budget) until a shipper with a Sink runs.
	Sink Sink
	// Interval is how often the queue is drained and written (0: 100 ms):
	// a click is on disk within about this long.
	Interval time.Duration
	// Rate bounds the batches shipped a second (0: 50): the pace at which
	// a backlog drains once control is back.
	Rate float64
	// MinBackoff and MaxBackoff bound the wait after a failed ship, which
	// doubles from one to the other (0: 100 ms and 10 s), with jitter.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger

	taken clicks.Encoder // clicks taken from the queue and not in the spool yet
}

// RunBeside runs serve (what fills the queue: the edge's Run) and the
// shipper beside it until ctx ends; the shipper stops only once serve has
// returned, so the clicks of the requests serve answered while draining
// are spooled too.
func (sh *Shipper) RunBeside(ctx context.Context, serve func(context.Context) error) error {
	shipCtx, stopShipping := context.WithCancel(context.WithoutCancel(ctx))
	shipped := make(chan error, 1)
	go func() { shipped <- sh.Run(shipCtx) }()
	err := serve(ctx)
	stopShipping()
	if serr := <-shipped; serr != nil {
		err = errors.Join(err, fmt.Errorf("click shipper: %w", serr))
	}
	return err
}

// Run drains and ships until ctx ends, then drains the queue once more
// into the spool and returns: stop it after whatever fills the queue (the
// edge's Run) has returned, and no click is left behind in memory. The
// error is that last write's; failures before it are logged and retried.
func (sh *Shipper) Run(ctx context.Context) error {
	if sh.Interval <= 0 {
		sh.Interval = 100 * time.Millisecond
	}
	if sh.Rate <= 0 {
		sh.Rate = 50
	}
	if sh.MinBackoff <= 0 {
		sh.MinBackoff = 100 * time.Millisecond
	}
	if sh.MaxBackoff < sh.MinBackoff {
		sh.MaxBackoff = max(sh.MinBackoff, 10*time.Second)
	}
	if sh.Logger == nil {
		sh.Logger = slog.Default()
	}
	sh.Logger = sh.Logger.With("subsystem", "clickspool")
	shipDone := make(chan struct{})
	if sh.Sink != nil {
		go func() {
			defer close(shipDone)
			sh.ship(ctx)
		}()
	} else {
		close(shipDone)
	}
	err := sh.spool(ctx)
	<-shipDone
	return err
}

// TakeEvery is how often the shipper takes the edge's queue into the open
// segment (the clicks of 20 ms: ≈540 KB at 225,000 a second). At
// saturation the edge's requests wait behind whatever CPU the shipper
// takes, and a take costs a wake-up whatever its size: taking every 5 ms
// put a saturated edge's p50 25 µs later (edge/DESIGN.md, Figures).
// Durability is Interval's: a crash loses the open segment.
const TakeEvery = 20 * time.Millisecond

// spool takes the queue into the spool, sealing a segment when it is full
// or its first click is Interval old.
func (sh *Shipper) spool(ctx context.Context) error {
	tick := time.NewTicker(min(TakeEvery, sh.Interval))
	defer tick.Stop()
	var (
		failing bool
		tried   time.Time // the last seal that failed
	)
	for {
		select {
		case <-ctx.Done():
			err := sh.take()
			if err == nil {
				err = sh.seal()
			}
			if err != nil {
				n, _ := sh.Spool.Pending()
				sh.Logger.Error("clicks lost at shutdown: the spool could not take them", "clicks", n+sh.taken.Clicks(), "err", err)
			}
			return err
		case <-tick.C:
		}
		now := sh.Spool.opts.Now()
		// While sealing fails, the open segment is sealed again each
		// Interval and the queue left to fill (and drop, counted by the
		// edge) instead of memory growing.
		var err error
		if failing {
			if now.Sub(tried) < sh.Interval {
				continue
			}
			err = sh.seal()
		}
		if err == nil {
			err = sh.take()
		}
		if n, since := sh.Spool.Pending(); err == nil && n > 0 && now.Sub(since) >= sh.Interval {
			err = sh.seal()
		}
		switch {
		case err != nil && !failing:
			sh.Logger.Error("writing the click spool failed; clicks wait in the queue", "err", err)
		case err == nil && failing:
			sh.Logger.Info("writing the click spool again")
		}
		failing, tried = err != nil, now
	}
}

// take moves what the queue holds into the spool's open segment, sealing
// each segment that fills. Clicks that found the segment full and the seal
// failing are held, and the queue left alone, until a later take. It
// allocates nothing once the two buffers it swaps with the queue have
// grown.
func (sh *Shipper) take() error {
	if sh.taken.Clicks() == 0 {
		sh.Queue.TakeClicks(&sh.taken)
	}
	for !sh.Spool.Take(&sh.taken) {
		if err := sh.seal(); err != nil {
			return err
		}
	}
	return nil
}

// seal seals the open segment, counting a failure.
func (sh *Shipper) seal() error {
	err := sh.Spool.Seal()
	if err != nil {
		sh.Spool.m.writeErrors.Inc()
	}
	return err
}

// ship ships the oldest segment, one at a time, until ctx ends.
func (sh *Shipper) ship(ctx context.Context) {
	var (
		s        = sh.Spool
		period   = time.Duration(float64(time.Second) / sh.Rate)
		backoff  = sh.MinBackoff
		last     time.Time // when the last ship started
		failures int       // in a row
		warned   time.Time // last warning of this outage
	)
	fail := func(msg string, err error) bool {
		failures++
		if now := s.opts.Now(); failures == 1 || now.Sub(warned) >= time.Minute {
			sh.Logger.Warn(msg, "err", err, "failures", failures, "retryIn", backoff)
			warned = now
		}
		ok := sleep(ctx, backoff/2+rand.N(backoff/2+1))
		backoff = min(2*backoff, sh.MaxBackoff)
		return ok
	}
	for ctx.Err() == nil {
		g, data, ok, err := s.oldest()
		if err != nil {
			if !fail("reading the click spool failed; retrying", err) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.written:
			}
			continue
		}
		if wait := last.Add(period).Sub(s.opts.Now()); wait > 0 && !sleep(ctx, wait) {
			s.release()
			return
		}
		last = s.opts.Now()
		err = sh.Sink.Ship(ctx, data)
		s.m.shipLatency.Observe(s.opts.Now().Sub(last).Seconds())
		switch {
		case err == nil:
			// Shipped again if its slot cannot be emptied: control
			// acknowledges a sequence it has without storing it twice.
			if err := s.shipped(g); err != nil {
				if !fail("emptying a shipped click segment's slot failed; retrying", err) {
					return
				}
				continue
			}
			if failures > 0 {
				_, segs, _ := s.stats()
				sh.Logger.Info("shipping clicks again", "failures", failures, "backlogSegments", segs)
			}
			failures, backoff = 0, sh.MinBackoff
		case errors.Is(err, clicks.ErrRejected) || errors.Is(err, clicks.ErrCorrupt):
			sh.Logger.Error("control refused a click batch for good; it is kept in rejected/",
				"seq", g.seq, "clicks", g.clicks, "err", err)
			if err := s.setAside(g, data); err != nil && !fail("setting a refused click segment aside failed; retrying", err) {
				return
			}
		default:
			s.release()
			if ctx.Err() != nil {
				return
			}
			s.m.shipErrors.Inc()
			if !fail("shipping clicks to control failed; retrying", err) {
				return
			}
		}
	}
}

// sleep waits d, or less if ctx ends first (then false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
