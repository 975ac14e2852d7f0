package edge_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/kv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// mustStartEdge runs an edge over a real Pebble store holding links, written
// through the real FSM.
func mustStartEdge(t *testing.T, fallback bool, links ...kv.Link) string {
	t.Helper()
	var ops []kv.Op
	for _, l := range links {
		ops = append(ops, kv.Op{Type: kv.OpPutLink, Link: &l})
	}
	// go.example is a custom domain with a record; localhost is the default.
	ops = append(ops, kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example", Version: 1}})
	return startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: fallback, Logger: quiet}
	}, ops...).url
}

var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func do(t *testing.T, method, url, host string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestRedirects(t *testing.T) {
	base := mustStartEdge(t, true,
		kv.Link{ID: "link_1", Domain: "localhost", Slug: "abc", URL: "https://example.com/a?b=1", Version: 1},
		kv.Link{ID: "link_2", Domain: "localhost", Slug: "ABC", URL: "https://example.com/upper", Version: 1},
		kv.Link{ID: "link_3", Domain: "localhost", Slug: "docs/intro", URL: "https://example.com/docs", Version: 1},
		kv.Link{ID: "link_4", Domain: "go.example", Slug: "abc", URL: "https://example.com/custom-domain", Version: 1},
	)
	tests := []struct {
		name, method, path, host string
		status                   int
		location                 string
	}{
		{"plain", "GET", "/abc", "", 302, "https://example.com/a?b=1"},
		{"case-sensitive", "GET", "/ABC", "", 302, "https://example.com/upper"},
		{"trailing slash", "GET", "/abc/", "", 302, "https://example.com/a?b=1"},
		{"escaped", "GET", "/%61bc", "", 302, "https://example.com/a?b=1"},
		{"nested slug", "GET", "/docs/intro", "", 302, "https://example.com/docs"},
		{"head", "HEAD", "/abc", "", 302, "https://example.com/a?b=1"},
		{"host with port", "GET", "/abc", "LOCALHOST:8081", 302, "https://example.com/a?b=1"},
		{"own domain", "GET", "/abc", "go.example", 302, "https://example.com/custom-domain"},
		{"unknown host falls back", "GET", "/abc", "other.example", 302, "https://example.com/a?b=1"},
		{"unknown slug", "GET", "/nope", "", 404, ""},
		{"root", "GET", "/", "", 404, ""},
		{"post", "POST", "/abc", "", 405, ""},
		{"bad host", "GET", "/abc", "bad host!", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, base+tt.path, tt.host)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.status != 400 && tt.status != 405 && resp.Header.Get("X-Robots-Tag") != "noindex" {
				t.Error("missing X-Robots-Tag: noindex")
			}
			if tt.status == 302 && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q on a 302", resp.Header.Get("Cache-Control"))
			}
			if tt.status == 404 && tt.method == "GET" && !strings.Contains(body, "Link not found") {
				t.Errorf("404 body %q", body)
			}
			if tt.method == "HEAD" && body != "" {
				t.Errorf("HEAD answered with a body %q", body)
			}
		})
	}
}

func TestNoFallbackOutsideDev(t *testing.T) {
	base := mustStartEdge(t, false, kv.Link{ID: "link_1", Domain: "localhost", Slug: "abc", URL: "https://example.com/", Version: 1})
	if resp, _ := do(t, "GET", base+"/abc", "other.example"); resp.StatusCode != 404 {
		t.Errorf("unknown host without fallback: %d, want 404", resp.StatusCode)
	}
}
