package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
)

// limiterRetry is the Retry-After of a refusal because the limiter failed:
// the next request tries it again, and a second is about how long a
// restarting Redis takes.
const limiterRetry = time.Second

// rateLimit spends one request from the caller's budget: the API key's, the
// signed-in user's (a key's over the network; ten times that,
// Limits.ForSessions, for the dashboard's in-process calls, whose contexts
// are ratelimit.Interactive), or (no valid credentials) the client IP's.
// It sets the RateLimit headers on every answer and refuses with 429
// RATE_LIMITED and Retry-After when the budget is spent. When the limiter
// fails it lets the request through, or refuses it with 503 UNAVAILABLE
// and Retry-After if LimitFailClosed. It reports whether to go on.
func (h *handler) rateLimit(c *gin.Context, p access.Principal, authErr error) bool {
	if h.Limiter == nil {
		return true
	}
	key, limits := "ip:"+c.ClientIP(), h.Limits
	switch {
	case authErr != nil:
	case p.KeyID != "":
		key = "key:" + p.KeyID
	case p.UserID != "":
		key = "user:" + p.UserID
		if ratelimit.IsInteractive(c.Request.Context()) {
			limits = h.Limits.ForSessions()
		}
	}
	d, err := h.Limiter.Allow(c.Request.Context(), key, limits)
	if err != nil {
		// The limiter logs and counts its failures itself, once per
		// outage rather than once per request.
		if h.LimitFailClosed {
			h.fail(c, &apierror.Error{Code: apierror.Unavailable, Message: "rate limiting is unavailable; retry shortly",
				RetryAfter: limiterRetry})
			return false
		}
		return true
	}
	d.SetHeaders(c.Writer.Header())
	if !d.Allowed {
		h.fail(c, apierror.New(apierror.RateLimited, "rate limit exceeded; retry in %s s", c.Writer.Header().Get("Retry-After")))
		return false
	}
	return true
}
