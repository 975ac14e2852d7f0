package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

func (h *handler) getStats(c *gin.Context) {
	out, err := h.Stats.Stats(c.Request.Context(), principalOf(c), c.Request.URL.Query())
	h.respond(c, http.StatusOK, out, err)
}

func (h *handler) listEvents(c *gin.Context) {
	out, err := h.Stats.Events(c.Request.Context(), principalOf(c), c.Request.URL.Query())
	h.respond(c, http.StatusOK, out, err)
}

// exportStats streams the clicks as CSV. A refusal (bad parameters, beyond
// retention) is answered in the envelope; a failure once rows are out is
// logged and cuts the connection (http.ErrAbortHandler, which
// recoverPanic lets through), so the client sees a broken download, never
// a short file that looks whole.
func (h *handler) exportStats(c *gin.Context) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="clicks.csv"`)
	err := h.Stats.Export(c.Request.Context(), principalOf(c), c.Request.URL.Query(), c.Writer)
	switch {
	case err != nil && !c.Writer.Written():
		// The refusal is the JSON envelope, not a CSV file.
		c.Writer.Header().Del("Content-Disposition")
		c.Writer.Header().Del("Content-Type")
		h.fail(c, err)
	case err != nil:
		h.Logger.Error("export clicks", "err", err, "requestId", c.GetString(ctxRequestID))
		panic(http.ErrAbortHandler)
	}
}
