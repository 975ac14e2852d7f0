package api

import (
	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
)

// rateLimit spends one request from the caller's budget: the API key's, the
// signed-in user's (a key's over the network; ten times that,
// Limits.ForSessions, for the dashboard's in-process calls, whose contexts
// are ratelimit.Interactive), or (no valid credentials) the client IP's.
// It sets the RateLimit headers on every answer and refuses with 429
// RATE_LIMITED and Retry-After when the budget is spent. It reports
// whether to go on.
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
		// The limiter is a guard, not a dependency: fail open, and say so.
		h.Logger.Warn("rate limiter unavailable; request let through", "err", err)
		return true
	}
	d.SetHeaders(c.Writer.Header())
	if !d.Allowed {
		h.fail(c, apierror.New(apierror.RateLimited, "rate limit exceeded; retry in %s s", c.Writer.Header().Get("Retry-After")))
		return false
	}
	return true
}
