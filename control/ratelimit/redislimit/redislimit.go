// Package redislimit is a ratelimit.Limiter kept in Redis, so that every
// control node of a cluster spends from one budget per key: with N nodes
// each holding its own ratelimit.Memory a key would get N times its limits.
//
// Its semantics are Memory's, exactly (control/ratelimit's doc and
// DESIGN.md): the same sliding logs, both windows checked and spent in one
// atomic step, the same Decision and so the same headers. The step is one
// Lua script (allow.lua), run with EVALSHA and, when Redis does not have it
// cached, EVAL. A key's log is one sorted set, "<prefix><key>", holding the
// instants of its requests allowed in the longest window; every write sets
// its time to live to that window's length, so Redis holds nothing for a
// key idle for a minute and never grows without bound. The Decision is
// computed from the log the script returns by ratelimit.Decide, the code
// Memory runs, not by a second implementation.
//
// Time is Redis's: the script reads TIME (microseconds), one clock for
// every node, so the nodes' clocks never need to agree. As in Memory, time
// never goes back for a key: an instant before its newest counts as that
// one. Only tests inject a clock (Config.Now), which the script then takes
// as an argument, in nanoseconds; a log's time to live stays in real time.
//
// Allow fails when Redis does not answer: whether to let the request
// through or refuse it is the caller's (control/api, --redis-fail). Each
// failure counts in h0p_ratelimit_redis_errors_total; an outage is logged
// once when it starts and once when Redis answers again. A request whose
// context ended is the caller's failure, not Redis's, and counts in
// neither.
//
// One Redis server (or a primary with failover) holds the logs; a single
// key per script makes it Redis Cluster safe, but nothing here was tried
// against a cluster.
package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/h0p/h0p/control/ratelimit"
)

//go:embed allow.lua
var allowLua string

var script = redis.NewScript(allowLua)

// DefaultPrefix starts the Redis key of every log.
const DefaultPrefix = "h0p:ratelimit:"

// horizon is the longest window, a log's time to live.
const horizon = time.Minute

// Config configures a Limiter.
type Config struct {
	// Client runs the script: a *redis.Client (or a Ring or ClusterClient).
	Client redis.Scripter
	// Prefix starts every key (empty: DefaultPrefix). Tests give each
	// limiter its own.
	Prefix string
	// Now, set only by tests, replaces Redis's TIME. Instants are sent as
	// nanoseconds since its first reading, so they stay exact in Lua's
	// doubles.
	Now func() time.Time
	// Logger receives the outage messages (nil: slog.Default()).
	Logger *slog.Logger
	// Registerer receives h0p_ratelimit_redis_errors_total; nil registers
	// nothing.
	Registerer prometheus.Registerer
}

// Limiter is the Redis ratelimit.Limiter. It is safe for concurrent use.
type Limiter struct {
	client redis.Scripter
	prefix string
	now    func() time.Time
	epoch  time.Time
	logger *slog.Logger
	errs   prometheus.Counter
	down   atomic.Bool // Redis failed last time: an outage is under way
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a Limiter over cfg.Client. It does not contact Redis: a
// Redis that is down at start is an outage like any other.
func New(cfg Config) (*Limiter, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislimit: no client")
	}
	l := &Limiter{client: cfg.Client, prefix: cfg.Prefix, now: cfg.Now, logger: cfg.Logger,
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_ratelimit_redis_errors_total",
			Help: "Rate-limit checks that Redis did not answer (the API let them through or refused them, per --redis-fail).",
		})}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.now != nil {
		l.epoch = l.now()
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(l.errs); err != nil {
			return nil, fmt.Errorf("register redislimit metrics: %w", err)
		}
	}
	return l, nil
}

// Allow decides and spends one request of key in one script run. Its error
// is non-nil for invalid limits and when Redis did not answer.
func (l *Limiter) Allow(ctx context.Context, key string, limits ratelimit.Limits) (ratelimit.Decision, error) {
	if err := limits.Validate(); err != nil {
		return ratelimit.Decision{}, err
	}
	// Ticks: microseconds of Redis's TIME, or nanoseconds of a test clock.
	tick, now := time.Microsecond, ""
	if l.now != nil {
		tick, now = time.Nanosecond, strconv.FormatInt(int64(l.now().Sub(l.epoch)), 10)
	}
	res, err := script.Run(ctx, l.client, []string{l.prefix + key},
		limits.PerSecond, int64(time.Second/tick), limits.PerMinute, int64(time.Minute/tick), now, horizon.Milliseconds()).Slice()
	if err != nil {
		if ctx.Err() == nil {
			l.failed(err)
		}
		return ratelimit.Decision{}, fmt.Errorf("redislimit: run script: %w", err)
	}
	if l.down.CompareAndSwap(true, false) {
		l.logger.Info("redis answers again; rate limits hold across control nodes")
	}
	allowed, at, log, err := parse(res, tick)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	d := ratelimit.Decide(log, at, limits)
	if d.Allowed != allowed {
		// The script and Decide read the same log with the same rule.
		return ratelimit.Decision{}, fmt.Errorf("redislimit: script allowed %v, its log says %v", allowed, d.Allowed)
	}
	return d, nil
}

// failed counts a failure of Redis and logs the outage's start.
func (l *Limiter) failed(err error) {
	l.errs.Inc()
	if l.down.CompareAndSwap(false, true) {
		l.logger.Warn("redis unavailable; rate limits are decided without it until it answers again",
			"err", err, "metric", "h0p_ratelimit_redis_errors_total")
	}
}

// parse reads the script's answer: allowed, now and the log's instants as
// nanoseconds.
func parse(res []any, tick time.Duration) (allowed bool, now int64, log []int64, err error) {
	if len(res) < 2 {
		return false, 0, nil, fmt.Errorf("redislimit: script answered %d values", len(res))
	}
	flag, ok := res[0].(int64)
	if !ok {
		return false, 0, nil, fmt.Errorf("redislimit: script answered %T for allowed", res[0])
	}
	ns := make([]int64, len(res)-1)
	for i, v := range res[1:] {
		s, ok := v.(string)
		if !ok {
			return false, 0, nil, fmt.Errorf("redislimit: script answered %T for an instant", v)
		}
		// Redis writes a score as a double ("1.5e+15" is possible in
		// principle); every one the script stores is an integer.
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, 0, nil, fmt.Errorf("redislimit: instant %q: %w", s, err)
		}
		ns[i] = int64(f) * int64(tick)
	}
	return flag == 1, ns[0], ns[1:], nil
}
