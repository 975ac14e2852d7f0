package api

import (
	"github.com/gin-gonic/gin"
)

// publicFileCacheControl: a public file URL names one file, whose bytes
// never change, and anyone may fetch it (social networks' bots, their
// caches); a deleted file's URL answers 404 to those who did not cache it.
const publicFileCacheControl = "public, max-age=86400, immutable"

// publicFile serves a file's bytes at its public URL, /f/{id}/{sig}, to
// anyone: a link's image for the edges' preview pages. A wrong signature
// answers 404 as a missing file does. Headers as fileContent's.
func (h *handler) publicFile(c *gin.Context) {
	f, o, err := h.Files.OpenPublic(c.Request.Context(), c.Param("id"), c.Param("sig"))
	if err != nil {
		h.fail(c, err)
		return
	}
	defer o.Close()
	h.serveFile(c, f, o, publicFileCacheControl)
}
