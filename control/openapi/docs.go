package openapi

import (
	"embed"
	"io/fs"
)

//go:embed docs/index.html docs/docs.js docs/docs.css docs/favicon.svg
var docsFiles embed.FS

// DocsCSP is the Content-Security-Policy the reference page and its assets
// are served with: everything from the API's own origin, nothing inline,
// no framing.
const DocsCSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Docs is the reference page: index.html, docs.js, docs.css and
// favicon.svg (declared by the page, so a browser asks no /favicon.ico).
func Docs() fs.FS {
	sub, _ := fs.Sub(docsFiles, "docs")
	return sub
}
