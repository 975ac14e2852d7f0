package api

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/openapi"
	"github.com/h0p/h0p/shared/apierror"
)

// openAPI answers the API's OpenAPI document (control/openapi), its
// servers the API's public URL; ?profile=actions is the ChatGPT custom
// action's part. Clients revalidate with the ETag.
func (h *handler) openAPI(c *gin.Context) {
	doc, err := openapi.Load()
	if err != nil {
		h.fail(c, err)
		return
	}
	profile, ok := c.GetQuery("profile")
	if ok && profile == "" {
		h.fail(c, apierror.Invalid("profile", "must be actions, or absent for the whole document"))
		return
	}
	server := h.APIURL
	if server == "" {
		server = "/" // relative: the document's own origin
	}
	r, err := doc.Render(profile, server)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("ETag", r.ETag)
	c.Header("Cache-Control", "public, max-age=300")
	c.Header("Access-Control-Allow-Origin", "*")
	if c.GetHeader("If-None-Match") == r.ETag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", r.JSON)
}

// docs answers the reference page (/docs) and its assets (/docs/:asset).
func (h *handler) docs(c *gin.Context) {
	name := c.Param("asset")
	switch name {
	case "":
		name = "index.html"
	case "index.html":
		name = "" // served as /docs only
	}
	b, err := fs.ReadFile(openapi.Docs(), name)
	if err != nil || name == "" {
		h.fail(c, apierror.New(apierror.NotFound, "no route for %s %s", c.Request.Method, c.Request.URL.Path))
		return
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	c.Header("Content-Security-Policy", openapi.DocsCSP)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, types[path.Ext(name)], b)
}
