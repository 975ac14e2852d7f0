package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/shared/apierror"
)

// originPolicy is the MCP endpoint's cross-origin policy (control/mcp's
// Handler): it answers a browser's preflight, which carries no key, and
// refuses a foreign Origin, before any authentication.
type originPolicy interface {
	AdmitOrigin(w http.ResponseWriter, r *http.Request) (answered bool)
}

// mcpGuard admits a request to /mcp with an API key of an org: a missing,
// invalid or expired key, or a session token, is 401 UNAUTHORIZED in the
// envelope. A request that opens a session (a POST without
// Mcp-Session-Id: initialize) spends from the key's rate limit as an API
// call does; the session's other protocol messages (the lists,
// notifications) spend nothing, and each tool is an API call that spends
// from it as a direct call does. A refused credential spends from the
// client IP's limit, as on every route, so guessing keys here costs the
// guesser too. /mcp requests are not API usage: the tools' API calls are,
// each once, so the guard names no caller for observe to record.
func (h *handler) mcpGuard(c *gin.Context) {
	if p, ok := h.MCP.(originPolicy); ok && p.AdmitOrigin(c.Writer, c.Request) {
		c.Abort()
		return
	}
	need := access.Need{Member: true}
	p, err := h.authenticate(c, need)
	if err == nil && p.KeyID == "" {
		err = apierror.New(apierror.Unauthorized, "the MCP endpoint takes an API key (x-api-key or Authorization: Bearer), not a session token")
	}
	opens := c.Request.Method == http.MethodPost && c.GetHeader("Mcp-Session-Id") == ""
	if err != nil || opens {
		if !h.rateLimit(c, p, err) {
			return
		}
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Next()
}
