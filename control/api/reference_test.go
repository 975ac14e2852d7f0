package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/openapi"
	"github.com/h0p/h0p/control/ratelimit"
)

func TestOpenAPIDocument(t *testing.T) {
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000}, func(c *api.Config) {
		c.APIURL = "https://api.example.com"
	})
	tests := []struct {
		query      string
		wantStatus int
		wantOps    func(n int) bool
	}{
		{"", http.StatusOK, func(n int) bool { return n > 0 }},
		{"?profile=actions", http.StatusOK, func(n int) bool { return n > 0 && n <= len(openapi.ActionsOperations()) }},
		{"?profile=gpt", http.StatusBadRequest, nil},
		{"?profile=", http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			// No key: the document is public.
			r := e.do(t, "GET", "/v1/openapi.json"+tt.query, "", nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			var doc struct {
				OpenAPI string                    `json:"openapi"`
				Servers []struct{ URL string }    `json:"servers"`
				Paths   map[string]map[string]any `json:"paths"`
				Error   struct {
					Code    string
					Details []struct{ Field string }
				}
			}
			if err := json.Unmarshal(r.body, &doc); err != nil {
				t.Fatal(err)
			}
			if tt.wantOps == nil {
				if doc.Error.Code != "VALIDATION_ERROR" || len(doc.Error.Details) != 1 || doc.Error.Details[0].Field != "profile" {
					t.Errorf("error %+v, want VALIDATION_ERROR on profile", doc.Error)
				}
				return
			}
			if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != "https://api.example.com" {
				t.Errorf("openapi %q, servers %+v", doc.OpenAPI, doc.Servers)
			}
			ops := 0
			for _, item := range doc.Paths {
				for m := range item {
					if m != "parameters" {
						ops++
					}
				}
			}
			if !tt.wantOps(ops) {
				t.Errorf("%d operations", ops)
			}
			etag := r.header.Get("ETag")
			if etag == "" || !strings.Contains(r.header.Get("Cache-Control"), "max-age") {
				t.Errorf("ETag %q, Cache-Control %q", etag, r.header.Get("Cache-Control"))
			}
			if r := e.do(t, "GET", "/v1/openapi.json"+tt.query, "", nil, "If-None-Match", etag); r.status != http.StatusNotModified {
				t.Errorf("with If-None-Match: %d, want 304", r.status)
			}
		})
	}
}

func TestDocsPage(t *testing.T) {
	e := mustStart(t)
	tests := []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/docs", "text/html", http.StatusOK},
		{"/docs/docs.js", "text/javascript", http.StatusOK},
		{"/docs/docs.css", "text/css", http.StatusOK},
		{"/docs/favicon.svg", "image/svg+xml", http.StatusOK},
		{"/docs/index.html", "application/json", http.StatusNotFound},
		{"/docs/nope.js", "application/json", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := e.do(t, "GET", tt.path, "", nil)
			if r.status != tt.wantStatus || !strings.HasPrefix(r.header.Get("Content-Type"), tt.wantType) {
				t.Fatalf("%d %s, want %d %s", r.status, r.header.Get("Content-Type"), tt.wantStatus, tt.wantType)
			}
			if r.status == http.StatusOK && r.header.Get("Content-Security-Policy") != openapi.DocsCSP {
				t.Errorf("Content-Security-Policy %q, want %q", r.header.Get("Content-Security-Policy"), openapi.DocsCSP)
			}
		})
	}
	// The page loads its assets from where they are served.
	page := string(e.do(t, "GET", "/docs", "", nil).body)
	for _, asset := range []string{`src="/docs/docs.js"`, `href="/docs/docs.css"`} {
		if !strings.Contains(page, asset) {
			t.Errorf("the page has no %s", asset)
		}
	}
}
