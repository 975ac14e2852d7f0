package api

import (
	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/shared/apierror"
)

// mcpGuard admits a request to /mcp with an API key of an org: a missing,
// invalid or expired key, or a session token, is 401 UNAUTHORIZED in the
// envelope. It does not spend from the key's rate limit: an MCP client
// sends several protocol messages around each tool call (initialize, the
// lists, notifications), and each tool is an API call that spends from it
// as a direct call does. A refused credential spends from the client IP's
// limit, as on every route, so guessing keys here costs the guesser too.
// The request counts in the key's usage.
func (h *handler) mcpGuard(c *gin.Context) {
	need := access.Need{Member: true}
	p, err := h.authenticate(c, need)
	if caller, ok := callerOf(p, need); ok {
		c.Set(ctxCaller, caller)
	}
	if err == nil && p.KeyID == "" {
		err = apierror.New(apierror.Unauthorized, "the MCP endpoint takes an API key (x-api-key or Authorization: Bearer), not a session token")
	}
	if err != nil {
		if h.rateLimit(c, p, err) {
			h.fail(c, err)
		}
		return
	}
	c.Next()
}
