package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limiter decides whether one more request for key fits within limits, and
// spends it if so. Both windows of limits are checked and spent in one atomic
// step: a refused request spends nothing from either window. Each window
// holds over any span of its length (see the package doc).
//
// The in-process implementation is Memory; redislimit keeps the same logs in
// a Redis that several control nodes share, one Lua script per call
// (DESIGN.md). limitertest is the suite both pass.
type Limiter interface {
	Allow(ctx context.Context, key string, limits Limits) (Decision, error)
}

// Limits are the two windows a key is held to. They are passed on every call,
// not fixed per limiter, because the plan of the key's organisation decides
// them and a plan can change between two requests.
type Limits struct {
	PerSecond int // quota of the "second" policy, a 1 s window
	PerMinute int // quota of the "minute" policy, a 60 s window
}

// DefaultLimits are the product's limits for an API key.
var DefaultLimits = Limits{PerSecond: 5, PerMinute: 100}

// sessionFactor is how many times a key's budget a signed-in person's is.
const sessionFactor = 10

// ForSessions is the budget of a signed-in person clicking through the
// dashboard (whose one page is a dozen API calls in a burst: an
// Interactive context) when keys have l: ten times each window (50/s and
// 1,000/min by default). A session used over the network has a key's.
func (l Limits) ForSessions() Limits {
	return Limits{PerSecond: sessionFactor * l.PerSecond, PerMinute: sessionFactor * l.PerMinute}
}

// interactiveKey marks a context as the dashboard's; unexported, so only
// code in this process can set it, never a request from the network.
type interactiveKey struct{}

// Interactive is ctx marked as a person's interactive use: the
// dashboard's in-process API calls, which ForSessions budgets.
func Interactive(ctx context.Context) context.Context {
	return context.WithValue(ctx, interactiveKey{}, true)
}

// IsInteractive reports whether ctx was marked by Interactive.
func IsInteractive(ctx context.Context) bool {
	v, _ := ctx.Value(interactiveKey{}).(bool)
	return v
}

// Validate reports whether both quotas are at least 1.
func (l Limits) Validate() error {
	if l.PerSecond < 1 || l.PerMinute < 1 {
		return fmt.Errorf("ratelimit: limits need at least 1 request per window, got %d/s and %d/min", l.PerSecond, l.PerMinute)
	}
	return nil
}

// policies returns the windows in the order they are checked and advertised.
func (l Limits) policies() [2]policy {
	return [2]policy{
		{name: "second", quota: l.PerSecond, period: time.Second},
		{name: "minute", quota: l.PerMinute, period: time.Minute},
	}
}

type policy struct {
	name   string
	quota  int
	period time.Duration
}

// Window is the state of one policy for one key, as it stands after the
// decision (after spending, if the request was allowed).
type Window struct {
	Name      string        // policy name in the headers: "second" or "minute"
	Quota     int           // requests in any span of Period (the q parameter)
	Period    time.Duration // window length (the w parameter)
	Remaining int           // requests this window would allow right now (r)
	// Reset is how long until Remaining grows: until the oldest request
	// holding it down leaves the window. Until then the key can make no more
	// than Remaining requests (the t parameter, the draft's effective
	// window). Zero when the window holds no request.
	Reset time.Duration
}

// Decision is the outcome of one Allow call.
type Decision struct {
	Allowed bool
	// RetryAfter is, when refused, how long until this request would be
	// allowed (by every window); zero when allowed.
	RetryAfter time.Duration
	// Windows are in header order: second, then minute.
	Windows [2]Window
}

// Closest is the window closest to refusing: the one with the fewest requests
// remaining, and on a tie the one whose remaining grows later. When the
// request was refused it is the window that refuses it longest: its Reset is
// the Decision's RetryAfter.
func (d Decision) Closest() Window {
	c := d.Windows[0]
	for _, w := range d.Windows[1:] {
		if w.Remaining < c.Remaining || (w.Remaining == c.Remaining && w.Reset > c.Reset) {
			c = w
		}
	}
	return c
}

// SetHeaders writes RateLimit-Policy and RateLimit (draft-ietf-httpapi-
// ratelimit-headers-11) and, when the request was refused, Retry-After.
// A zero Decision (as returned with an error) writes nothing.
func (d Decision) SetHeaders(h http.Header) {
	if d.Windows[0].Quota == 0 {
		return
	}
	var policy strings.Builder
	for i, w := range d.Windows {
		if i > 0 {
			policy.WriteString(", ")
		}
		fmt.Fprintf(&policy, "%s;q=%d;w=%d", strconv.Quote(w.Name), w.Quota, wholeSeconds(w.Period))
	}
	h.Set("RateLimit-Policy", policy.String())

	c := d.Closest()
	h.Set("RateLimit", fmt.Sprintf("%s;r=%d;t=%d", strconv.Quote(c.Name), c.Remaining, wholeSeconds(c.Reset)))

	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(wholeSeconds(d.RetryAfter), 1), 10))
	}
}

// wholeSeconds rounds d up to whole seconds: a client that waits that long is
// never early.
func wholeSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
