package api_test

import (
	"strings"
	"testing"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/openapi"
	"github.com/h0p/h0p/control/openapi/openapitest"
)

// notREST are paths the router serves that are not part of the REST
// API's document, and why.
var notREST = map[string]string{
	"/mcp":      "the MCP endpoint speaks JSON-RPC (Model Context Protocol); its tools describe themselves",
	"/cluster/": "node-to-node endpoints of a control cluster, mutual TLS, not for clients",
	// The web dashboard (control/dashboard, Config.Dashboard) serves every
	// path that is not the API's (IsAPIPath).
	"/login":   dashboardPages,
	"/logout":  dashboardPages,
	"/invite/": dashboardPages,
	"/links":   dashboardPages,
	"/org":     dashboardPages,
	"/static/": dashboardPages,
}

const dashboardPages = "the web dashboard's HTML pages and assets, for people; they call the API in process"

// templateOf is a gin route as the document writes it: /v1/links/{id}.
func templateOf(ginPath string) string {
	parts := strings.Split(ginPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// TestDocumentCoversRoutes: every route of the router is in the document,
// and every operation of the document is a route.
func TestDocumentCoversRoutes(t *testing.T) {
	doc, err := openapitest.Doc()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	routes := map[string]bool{}
routes:
	for _, r := range api.Routes() {
		for prefix, why := range notREST {
			if strings.HasPrefix(r.Path, prefix) {
				t.Logf("%s %s: not in the document: %s", r.Method, r.Path, why)
				continue routes
			}
		}
		key := r.Method + " " + templateOf(r.Path)
		routes[key] = true
		if !documented[key] {
			t.Errorf("route %s %s is not in the document", r.Method, r.Path)
		}
	}
	for key := range documented {
		if !routes[key] {
			t.Errorf("the document has %s, which is no route", key)
		}
	}
}

// TestActionsOperationsDocumented: the actions profile keeps operations
// the document has.
func TestActionsOperationsDocumented(t *testing.T) {
	doc, err := openapitest.Doc()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ids[op.OperationID] = true
		}
	}
	for _, id := range openapi.ActionsOperations() {
		if !ids[id] {
			t.Errorf("the actions profile keeps %s, which the document does not have", id)
		}
	}
}
