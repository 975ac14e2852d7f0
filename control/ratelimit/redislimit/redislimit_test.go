package redislimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/ratelimit/limitertest"
	"github.com/h0p/h0p/control/ratelimit/redislimit"
	"github.com/h0p/h0p/control/ratelimit/redislimit/redistest"
)

func mustNew(t testing.TB, cfg redislimit.Config) *redislimit.Limiter {
	t.Helper()
	l, err := redislimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The Redis limiter passes Memory's suite: the same windows, decisions and
// headers, to the nanosecond of an injected clock.
func TestRedisConformance(t *testing.T) {
	c := redistest.Client(t)
	limitertest.Run(t, func(t testing.TB, now func() time.Time) ratelimit.Limiter {
		return mustNew(t, redislimit.Config{Client: c, Prefix: redistest.Prefix(t), Now: now})
	})
}

// With Redis's own clock: the same limits, and every log has a time to
// live no longer than the minute window.
func TestRedisTime(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	l := mustNew(t, redislimit.Config{Client: c, Prefix: prefix})
	ctx := context.Background()

	start := time.Now()
	for i := range 5 {
		d, err := l.Allow(ctx, "key:a", ratelimit.DefaultLimits)
		if err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v", i+1, d, err)
		}
	}
	d, err := l.Allow(ctx, "key:a", ratelimit.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	// Unless the sixth came a second after the first, it waits for the
	// first to leave the second window.
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Fatalf("sixth request: %+v", d)
		}
		if got, want := d.Windows[1].Remaining, 95; got != want {
			t.Errorf("minute remaining = %d, want %d", got, want)
		}
	}
	ttl, err := c.PTTL(ctx, prefix+"key:a").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("log's time to live = %v, want (0, 1m]", ttl)
	}
	if n, err := c.ZCard(ctx, prefix+"key:a").Result(); err != nil || n != 5 {
		t.Errorf("log holds %d instants (err %v), want 5", n, err)
	}
}

// Three control nodes are three clients of one Redis: 600 requests for one
// key, round-robin over them every 100 ms for a minute, admit exactly the
// one key's 100 (5 a second for 20 s), not three times that.
func TestRedisThreeNodesShareOneBudget(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	clock := limitertest.NewClock()
	var nodes []*redislimit.Limiter
	for range 3 {
		nodes = append(nodes, mustNew(t, redislimit.Config{Client: redistest.NewClient(t, url), Prefix: prefix, Now: clock.Now}))
	}
	perSecond := make([]int, 60)
	for i := range 600 {
		d, err := nodes[i%3].Allow(context.Background(), "key:shared", ratelimit.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			perSecond[i/10]++
		}
		clock.Advance(100 * time.Millisecond)
	}
	total := 0
	for s, n := range perSecond {
		total += n
		want := 0
		if s < 20 {
			want = 5
		}
		if n != want {
			t.Errorf("second %d: %d admitted, want %d", s, n, want)
		}
	}
	if total != 100 {
		t.Errorf("%d admitted over a minute, want 100", total)
	}
}

// All at once from three nodes, many goroutines each: the budget is spent
// exactly, never overdrawn.
func TestRedisThreeNodesConcurrent(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	limits := ratelimit.Limits{PerSecond: 1000, PerMinute: 100}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		l := mustNew(t, redislimit.Config{Client: redistest.NewClient(t, url), Prefix: prefix})
		for range 10 {
			wg.Go(func() {
				for range 20 {
					d, err := l.Allow(context.Background(), "key:shared", limits)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if got := admitted.Load(); got != 100 {
		t.Errorf("%d of 600 admitted, want 100", got)
	}
}

// lockedBuffer is a log destination safe for the limiter's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func counterValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Redis killed: every Allow fails and counts, the outage is logged once;
// Redis started again: the limiter works again without being told, and the
// end of the outage is logged once.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts.DisableIdentity, opts.MaxRetries = true, -1
	c := redis.NewClient(opts)
	defer c.Close()
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	l := mustNew(t, redislimit.Config{Client: c, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	ctx := context.Background()
	limits := ratelimit.Limits{PerSecond: 1000, PerMinute: 3}

	if _, err := l.Allow(ctx, "key:a", limits); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for i := range 5 {
		if d, err := l.Allow(ctx, "key:a", limits); err == nil {
			t.Fatalf("request %d with Redis down: %+v, no error", i+1, d)
		}
	}
	if got := counterValue(t, reg, "h0p_ratelimit_redis_errors_total"); got != 5 {
		t.Errorf("errors counted = %v, want 5", got)
	}
	// A request whose caller gave up is not Redis's failure.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	l.Allow(cancelled, "key:a", limits)
	if got := counterValue(t, reg, "h0p_ratelimit_redis_errors_total"); got != 5 {
		t.Errorf("errors counted = %v after a cancelled request, want 5", got)
	}

	srv.Start()
	// Nothing persisted: the key starts afresh, and its limits hold.
	for i := range 3 {
		if d, err := l.Allow(ctx, "key:a", limits); err != nil || !d.Allowed {
			t.Fatalf("request %d after the restart: %+v, %v", i+1, d, err)
		}
	}
	if d, err := l.Allow(ctx, "key:a", limits); err != nil || d.Allowed {
		t.Fatalf("fourth request after the restart: %+v, %v; want refused", d, err)
	}

	out := logs.String()
	if n := strings.Count(out, "redis unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "redis answers again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
}
