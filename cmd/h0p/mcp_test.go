package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/ratelimit"
)

// mustStartDevForMCP starts h0p dev with rate limits a test's burst of
// calls stays under, and answers it with its Owner's key.
func mustStartDevForMCP(t *testing.T) (*runningDev, string) {
	t.Helper()
	d := mustStartDevWith(t, devConfig{
		APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", RateLimits: ratelimit.Limits{PerSecond: 1000, PerMinute: 100000},
	}, quiet)
	t.Cleanup(func() { d.stop(t) })
	m := keyLine.FindStringSubmatch(d.stdout)
	if m == nil {
		t.Fatalf("stdout %q: want one H0P_API_KEY line", d.stdout)
	}
	return d, m[1]
}

// mustReadOnlyKey creates a bot key that may only read links.
func mustReadOnlyKey(t *testing.T, d *runningDev, owner string) string {
	t.Helper()
	status, k := d.api(t, "POST", "/v1/api-keys", owner, `{"name":"reader","type":"bot","permissions":{"shortLinks":["read"]}}`)
	if status != 201 {
		t.Fatalf("read-only key: %d %v", status, k)
	}
	return k["key"].(string)
}

// keyHeader sends x-api-key with every request.
type keyHeader string

func (k keyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-api-key", string(k))
	return http.DefaultTransport.RoundTrip(r)
}

func mcpCall(t *testing.T, cs *mcpsdk.ClientSession, name string, args any) (map[string]any, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcpsdk.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	return out, text.String(), res.IsError
}

func mustMCPCall(t *testing.T, cs *mcpsdk.ClientSession, name string, args any) map[string]any {
	t.Helper()
	out, text, isErr := mcpCall(t, cs, name, args)
	if isErr {
		t.Fatalf("%s: tool error %s", name, text)
	}
	return out
}

// MCP over Streamable HTTP on h0p dev's API: a link made by a tool
// redirects on the edge.
func TestMCPOverHTTPOnDev(t *testing.T) {
	d, key := mustStartDevForMCP(t)
	client := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test", Version: "1"}, nil)
	ctx := context.Background()
	cs, err := client.Connect(ctx, &mcpsdk.StreamableClientTransport{
		Endpoint: "http://" + d.control.Addr() + "/mcp", HTTPClient: &http.Client{Transport: keyHeader(key)}, MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 15 {
		t.Fatalf("tools: %v %v", tools, err)
	}
	link := mustMCPCall(t, cs, "create_link", map[string]any{"url": "https://example.com/landing?x=1", "key": "from-mcp"})
	if got := mustMCPCall(t, cs, "get_link", map[string]any{"id": link["id"]}); got["url"] != "https://example.com/landing?x=1" {
		t.Errorf("get_link %v", got)
	}
	resp, _ := get(t, noRedirect, "http://"+d.edge.Addr()+"/from-mcp")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/landing?x=1" {
		t.Errorf("edge: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if count := mustMCPCall(t, cs, "get_stats", map[string]any{"interval": "24h", "key": "from-mcp"}); count["clicks"] == nil {
		t.Errorf("stats %v", count)
	}
	list := mustMCPCall(t, cs, "list_links", map[string]any{"search": "from-mcp"})
	if data, _ := list["data"].([]any); len(data) != 1 {
		t.Errorf("list %v", list)
	}
}

// mustStartStdio runs h0p mcp as a process (this test binary as h0p)
// against the API at apiURL with key, through the SDK's CommandTransport.
// Closed, the process must exit 0 having logged to stderr.
func mustStartStdio(t *testing.T, apiURL, key string) *mcpsdk.ClientSession {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "H0P_TEST_AS_MAIN=1", "H0P_TEST_ARGS=mcp", "H0P_API_KEY="+key, "H0P_API_URL="+apiURL)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcpsdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v; stderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		if err := cs.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
			t.Errorf("h0p mcp exit %v; stderr:\n%s", cmd.ProcessState, stderr.String())
		}
		if !strings.Contains(stderr.String(), "h0p mcp serving over stdio") {
			t.Errorf("stderr %q", stderr.String())
		}
		if u, err := url.Parse(apiURL); err == nil && u.User != nil {
			if pass, _ := u.User.Password(); strings.Contains(stderr.String(), pass) {
				t.Errorf("the API URL's password is in the log: %q", stderr.String())
			}
		}
	})
	return cs
}

// h0p mcp over stdio, a real process, against h0p dev.
func TestMCPStdio(t *testing.T) {
	d, key := mustStartDevForMCP(t)
	apiURL := "http://" + d.control.Addr()
	cs := mustStartStdio(t, apiURL, key)
	ctx := context.Background()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 15 {
		t.Fatalf("tools: %v %v", tools, err)
	}
	link := mustMCPCall(t, cs, "create_link", map[string]any{"url": "https://example.com/stdio", "key": "stdio"})
	id, _ := link["id"].(string)
	if got := mustMCPCall(t, cs, "get_link", map[string]any{"domain": "localhost", "key": "stdio"}); got["id"] != id || id == "" {
		t.Errorf("get_link %v, created %v", got, link)
	}

	// An API URL with credentials in it: they stay out of the log.
	reader := mustStartStdio(t, "http://proxyuser:s3cret-pass@"+d.control.Addr(), mustReadOnlyKey(t, d, key))
	if _, text, isErr := mcpCall(t, reader, "delete_link", map[string]any{"id": id}); !isErr || !strings.Contains(text, "lacks shortLinks:delete") {
		t.Errorf("delete with a read-only key: %v %q", isErr, text)
	}
	if status, _ := d.api(t, "GET", "/v1/links/"+id, key, ""); status != 200 {
		t.Errorf("link after refused delete: %d", status)
	}
}

// h0p mcp without a usable key says so and exits 2 before serving.
func TestMCPStdioNeedsAKey(t *testing.T) {
	const key = "h0p_b_000000000000000000000000000000000000"
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{}, "H0P_API_KEY is not set"},
		{nil, map[string]string{"H0P_API_KEY": "sk-not-ours"}, "not an H0p API key"},
		{nil, map[string]string{"H0P_API_KEY": key, "H0P_API_URL": "ftp://x"}, "h0p: H0P_API_URL: "},
		{[]string{"--api-url", "ftp://x"}, map[string]string{"H0P_API_KEY": key}, "h0p: --api-url: "},
		{[]string{"-api-url=ftp://x"}, map[string]string{"H0P_API_KEY": key, "H0P_API_URL": "http://127.0.0.1:1"}, "h0p: --api-url: "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"mcp"}, tc.args...), &stdout, &stderr, func(k string) string { return tc.env[k] })
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q", tc.env, code, stderr.String(), stdout.String())
		}
	}
}
