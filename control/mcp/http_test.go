package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/controltest"
	"github.com/h0p/h0p/control/files/blobs"
	"github.com/h0p/h0p/control/mcp"
	"github.com/h0p/h0p/control/ratelimit"
)

// allTools are the server's tools, as tools/list names them (sorted).
var allTools = []string{"add_domain", "bulk_create_links", "create_link", "create_qr_code", "delete_link",
	"get_api_usage", "get_link", "get_stats", "list_domains", "list_events", "list_links", "list_tags",
	"list_webhooks", "update_link", "verify_domain"}

// stack is a control server over a real single-node raft group, with the
// Owner's key.
type stack struct {
	control *control.Server
	key     string
}

func mustStartStack(t *testing.T, edits ...func(*control.Config)) *stack {
	t.Helper()
	n := controltest.Start(t, control.Config{MCPAllowedOrigins: []string{"https://app.example.com"}},
		func(n *controltest.Node, cfg *control.Config) {
			fileStore, err := blobs.OpenLocal(filepath.Join(n.Dir, "files"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Files = fileStore
			for _, edit := range edits {
				edit(cfg)
			}
		})
	return &stack{control: n.Control, key: n.Key}
}

// headers adds headers to every request.
type headers struct {
	h    http.Header
	next http.RoundTripper
}

func (t headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.next.RoundTrip(r)
}

// connect opens an MCP session on /mcp with key (and more headers).
func (s *stack) connect(t *testing.T, key string, more ...string) (*mcpsdk.ClientSession, error) {
	t.Helper()
	h := http.Header{"X-Api-Key": {key}}
	for i := 0; i+1 < len(more); i += 2 {
		h.Set(more[i], more[i+1])
	}
	client := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Connect(ctx, &mcpsdk.StreamableClientTransport{
		Endpoint:   s.control.URL() + "/mcp",
		HTTPClient: &http.Client{Transport: headers{h, http.DefaultTransport}},
		MaxRetries: -1,
	}, nil)
}

func (s *stack) mustConnect(t *testing.T, key string, more ...string) *mcpsdk.ClientSession {
	t.Helper()
	cs, err := s.connect(t, key, more...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// api calls the API directly.
func (s *stack) api(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.control.URL()+path, strings.NewReader(body))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// call calls a tool and answers its result, failing the test on a
// protocol error.
func call(t *testing.T, cs *mcpsdk.ClientSession, name string, args any) *mcpsdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// mustCall calls a tool that must succeed and answers its structured
// output.
func mustCall(t *testing.T, cs *mcpsdk.ClientSession, name string, args any) map[string]any {
	t.Helper()
	res := call(t, cs, name, args)
	if res.IsError {
		t.Fatalf("%s: tool error %s", name, text(res))
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: structured output %s: %v", name, b, err)
	}
	return out
}

func text(res *mcpsdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcpsdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// post sends a raw JSON-RPC initialize to /mcp with headers.
func (s *stack) post(t *testing.T, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, _ := http.NewRequest("POST", s.control.URL()+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHTTPToolsCallTheAPI(t *testing.T) {
	s := mustStartStack(t)
	cs := s.mustConnect(t, s.key)
	ctx := context.Background()

	t.Run("tools/list", func(t *testing.T) {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
			schema, _ := json.Marshal(tool.InputSchema)
			if !strings.Contains(string(schema), `"type":"object"`) {
				t.Errorf("%s: input schema %s", tool.Name, schema)
			}
			if tool.Description == "" || tool.Annotations == nil || tool.OutputSchema == nil {
				t.Errorf("%s: description %q, annotations %v, output schema %v", tool.Name, tool.Description, tool.Annotations, tool.OutputSchema)
				continue
			}
			read := strings.HasPrefix(tool.Name, "get_") || strings.HasPrefix(tool.Name, "list_")
			if tool.Annotations.ReadOnlyHint != read {
				t.Errorf("%s: readOnlyHint %v", tool.Name, tool.Annotations.ReadOnlyHint)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, allTools) {
			t.Errorf("tools %v, want %v", names, allTools)
		}
		for _, tool := range res.Tools {
			if tool.Name == "delete_link" && (tool.Annotations.DestructiveHint == nil || !*tool.Annotations.DestructiveHint || !tool.Annotations.IdempotentHint) {
				t.Errorf("delete_link annotations %+v", tool.Annotations)
			}
			if tool.Name == "get_stats" {
				schema, _ := json.Marshal(tool.InputSchema)
				for _, want := range []string{`"top_links"`, `"timeseries"`, `"30d"`, `"maximum":1000`} {
					if !strings.Contains(string(schema), want) {
						t.Errorf("get_stats schema lacks %s: %s", want, schema)
					}
				}
			}
		}
	})

	var id string
	t.Run("create, get, update, list", func(t *testing.T) {
		l := mustCall(t, cs, "create_link", map[string]any{"url": "https://example.com/page", "key": "mcp-one",
			"utm": map[string]any{"source": "newsletter"}, "tags": []string{"spring"}})
		id, _ = l["id"].(string)
		if !strings.HasPrefix(id, "link_") || !strings.HasSuffix(l["shortLink"].(string), "/mcp-one") {
			t.Fatalf("created %v", l)
		}
		if got := mustCall(t, cs, "get_link", map[string]any{"id": id}); got["id"] != id {
			t.Errorf("get by id %v", got)
		}
		if got := mustCall(t, cs, "get_link", map[string]any{"domain": "localhost", "key": "mcp-one"}); got["id"] != id {
			t.Errorf("get by domain and key %v", got)
		}
		if got := mustCall(t, cs, "update_link", map[string]any{"id": id, "title": "Spring"}); got["title"] != "Spring" {
			t.Errorf("updated %v", got)
		}
		list := mustCall(t, cs, "list_links", map[string]any{"tag": "spring", "limit": 10})
		if data, _ := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
			t.Errorf("list %v", list)
		}
		bulk := mustCall(t, cs, "bulk_create_links", map[string]any{"links": []any{
			map[string]any{"url": "https://example.com/a"}, map[string]any{"url": "https://example.com/b", "key": "mcp-one"}}})
		data, _ := bulk["data"].([]any)
		if len(data) != 2 || data[0].(map[string]any)["link"] == nil || data[1].(map[string]any)["error"] == nil {
			t.Errorf("bulk %v", bulk)
		}
	})

	t.Run("stats and the other reads", func(t *testing.T) {
		count := mustCall(t, cs, "get_stats", map[string]any{"interval": "30d"})
		if _, ok := count["clicks"].(float64); !ok || len(count) != 1 {
			t.Errorf("count %v", count)
		}
		rows := mustCall(t, cs, "get_stats", map[string]any{"groupBy": "countries", "interval": "7d", "linkId": id})
		if _, ok := rows["data"].([]any); !ok {
			t.Errorf("countries %v", rows)
		}
		for _, name := range []string{"list_events", "list_domains", "list_tags", "list_webhooks"} {
			if out := mustCall(t, cs, name, map[string]any{}); out["data"] == nil {
				t.Errorf("%s: %v", name, out)
			}
		}
		if out := mustCall(t, cs, "get_api_usage", map[string]any{"interval": "7d", "groupBy": "route"}); out["groupBy"] != "route" {
			t.Errorf("usage %v", out)
		}
	})

	t.Run("create_qr_code", func(t *testing.T) {
		res := call(t, cs, "create_qr_code", map[string]any{"linkId": id, "size": 200})
		if res.IsError {
			t.Fatal(text(res))
		}
		var file map[string]any
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &file)
		if !strings.HasPrefix(file["contentUrl"].(string), s.control.PublicURL()+"/v1/files/file_") || file["type"] != "image/png" {
			t.Errorf("file %v", file)
		}
		var img *mcpsdk.ImageContent
		for _, c := range res.Content {
			if ic, ok := c.(*mcpsdk.ImageContent); ok {
				img = ic
			}
		}
		if img == nil || !bytes.HasPrefix(img.Data, []byte("\x89PNG")) {
			t.Errorf("no PNG image in %v", res.Content)
		}
	})

	t.Run("API errors are tool errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args map[string]any
			want []string
		}{
			{"get_link", map[string]any{"id": "link_nope"}, []string{"NOT_FOUND"}},
			{"get_link", map[string]any{}, []string{"id", "domain and key", "externalId"}},
			{"create_link", map[string]any{"url": "notaurl"}, []string{"VALIDATION_ERROR", "field url"}},
			{"create_link", map[string]any{"url": "https://example.com", "redirectStatus": 303}, []string{"redirectStatus"}},
			{"create_link", map[string]any{"url": 42}, []string{"VALIDATION_ERROR", "/properties/url", "integer"}},
			{"create_link", map[string]any{"key": "x"}, []string{"VALIDATION_ERROR", `missing properties: ["url"]`}},
			{"create_link", map[string]any{"url": "https://example.com", "colour": "red"}, []string{"colour"}},
			{"get_stats", map[string]any{"groupBy": "cities"}, []string{"VALIDATION_ERROR", "groupBy"}},
			{"create_link", map[string]any{"url": "https://example.com", "key": "mcp-one"}, []string{"ALREADY_EXIST"}},
		} {
			res := call(t, cs, tc.name, tc.args)
			t.Logf("%s %v: %s", tc.name, tc.args, text(res))
			if !res.IsError {
				t.Errorf("%s %v: no error: %s", tc.name, tc.args, text(res))
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(text(res), w) {
					t.Errorf("%s %v: %q lacks %q", tc.name, tc.args, text(res), w)
				}
			}
		}
	})

	t.Run("a read-only key may not delete", func(t *testing.T) {
		status, k := s.api(t, "POST", "/v1/api-keys", s.key, `{"name":"reader","type":"bot","permissions":{"shortLinks":["read"]}}`)
		if status != 201 {
			t.Fatalf("key: %d %v", status, k)
		}
		reader := s.mustConnect(t, k["key"].(string))
		if got := mustCall(t, reader, "get_link", map[string]any{"id": id}); got["id"] != id {
			t.Errorf("reader reads %v", got)
		}
		res := call(t, reader, "delete_link", map[string]any{"id": id})
		t.Logf("delete_link with a read-only key: %s", text(res))
		if !res.IsError || !strings.Contains(text(res), "FORBIDDEN") || !strings.Contains(text(res), "lacks shortLinks:delete") {
			t.Errorf("delete with a read-only key: %v %s", res.IsError, text(res))
		}
		if status, _ := s.api(t, "GET", "/v1/links/"+id, s.key, ""); status != 200 {
			t.Errorf("link after refused delete: %d", status)
		}
	})

	t.Run("resources", func(t *testing.T) {
		res, err := cs.ReadResource(ctx, &mcpsdk.ReadResourceParams{URI: "h0p://links/" + id})
		if err != nil || len(res.Contents) != 1 || !strings.Contains(res.Contents[0].Text, `"id":"`+id+`"`) {
			t.Fatalf("link resource: %v %v", res, err)
		}
		if _, err := cs.ReadResource(ctx, &mcpsdk.ReadResourceParams{URI: "h0p://links/link_nope"}); err == nil {
			t.Error("a missing link read")
		}
		res, err = cs.ReadResource(ctx, &mcpsdk.ReadResourceParams{URI: mcp.StatsSummary})
		if err != nil {
			t.Fatal(err)
		}
		var summary map[string]any
		if err := json.Unmarshal([]byte(res.Contents[0].Text), &summary); err != nil || summary["total"] == nil ||
			summary["topLinks"] == nil || summary["countries"] == nil {
			t.Errorf("summary %s: %v", res.Contents[0].Text, err)
		}
		tmpl, err := cs.ListResourceTemplates(ctx, nil)
		if err != nil || len(tmpl.ResourceTemplates) != 1 || tmpl.ResourceTemplates[0].URITemplate != mcp.LinkTemplate {
			t.Errorf("templates %v %v", tmpl, err)
		}
	})

	t.Run("prompts", func(t *testing.T) {
		res, err := cs.ListPrompts(ctx, nil)
		if err != nil || len(res.Prompts) != 2 {
			t.Fatalf("prompts %v %v", res, err)
		}
		p, err := cs.GetPrompt(ctx, &mcpsdk.GetPromptParams{Name: "campaign_links",
			Arguments: map[string]string{"url": "https://example.com/sale", "campaign": "spring", "sources": "newsletter,twitter"}})
		if err != nil {
			t.Fatal(err)
		}
		msg := p.Messages[0].Content.(*mcpsdk.TextContent).Text
		for _, want := range []string{"bulk_create_links", `source: "twitter"`, `campaign: "spring"`} {
			if !strings.Contains(msg, want) {
				t.Errorf("campaign_links lacks %s:\n%s", want, msg)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		if got := mustCall(t, cs, "delete_link", map[string]any{"id": id}); got["id"] != id {
			t.Errorf("deleted %v", got)
		}
		if status, _ := s.api(t, "GET", "/v1/links/"+id, s.key, ""); status != 404 {
			t.Errorf("link after delete: %d", status)
		}
	})
}

func TestHTTPRefusals(t *testing.T) {
	s := mustStartStack(t)

	t.Run("wrong key", func(t *testing.T) {
		if _, err := s.connect(t, "h0p_b_000000000000000000000000000000000000"); err == nil {
			t.Error("connected with a wrong key")
		}
		for _, hdr := range []map[string]string{{}, {"x-api-key": "nope"}, {"Authorization": "Bearer nope"}} {
			resp, m := s.post(t, hdr)
			if resp.StatusCode != 401 || errCode(m) != "UNAUTHORIZED" {
				t.Errorf("%v: %d %v", hdr, resp.StatusCode, m)
			}
		}
	})

	t.Run("bearer key", func(t *testing.T) {
		resp, _ := s.post(t, map[string]string{"Authorization": "Bearer " + s.key})
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
			t.Errorf("bearer: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("origins", func(t *testing.T) {
		for _, tc := range []struct {
			origin string
			want   int
		}{
			{"https://evil.example", 403},
			{"null", 403},
			{"https://app.example.com", 200},
			{"HTTPS://APP.example.com:443", 200},
			{s.control.PublicURL(), 200},
		} {
			resp, m := s.post(t, map[string]string{"x-api-key": s.key, "Origin": tc.origin})
			if resp.StatusCode != tc.want {
				t.Errorf("Origin %s: %d %v, want %d", tc.origin, resp.StatusCode, m, tc.want)
			}
			if tc.want == 403 && (errCode(m) != "FORBIDDEN" || !strings.Contains(resp.Header.Get("Content-Type"), "json")) {
				t.Errorf("Origin %s: body %v", tc.origin, m)
			}
		}
		if _, err := s.connect(t, s.key, "Origin", "https://evil.example"); err == nil {
			t.Error("connected from a foreign origin")
		}
		cs := s.mustConnect(t, s.key, "Origin", "https://app.example.com")
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			t.Error(err)
		}
	})

	t.Run("a session is its key's", func(t *testing.T) {
		status, k := s.api(t, "POST", "/v1/api-keys", s.key, `{"name":"other","type":"bot","permissions":{"shortLinks":["read"]}}`)
		if status != 201 {
			t.Fatalf("key: %d %v", status, k)
		}
		cs := s.mustConnect(t, s.key)
		list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
		for _, tc := range []struct {
			key, session, accept string
			want                 int
			code, message        string
		}{
			{k["key"].(string), cs.ID(), "", 403, "FORBIDDEN", "belongs to another API key"},
			{s.key, "NOSUCHSESSION", "", 404, "NOT_FOUND", "initialize a new session"},
			{s.key, cs.ID(), "text/html", 400, "VALIDATION_ERROR", "Accept"},
			{s.key, cs.ID(), "", 200, "", ""},
		} {
			req, _ := http.NewRequest("POST", s.control.URL()+"/mcp", strings.NewReader(list))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			req.Header.Set("Mcp-Session-Id", tc.session)
			req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
			req.Header.Set("x-api-key", tc.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var m map[string]any
			json.Unmarshal(b, &m)
			if resp.StatusCode != tc.want || errCode(m) != tc.code || !strings.Contains(string(b), tc.message) {
				t.Errorf("session %s with key %s…, Accept %q: %d %s, want %d %s", tc.session, tc.key[:8], tc.accept, resp.StatusCode, b, tc.want, tc.code)
			}
		}
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			t.Errorf("the session after refusals: %v", err)
		}
	})

	t.Run("no standalone stream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.control.URL()+"/mcp", nil)
		req.Header.Set("x-api-key", s.key)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
			t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// Tools spend from their key's rate limit as direct calls do; the MCP
// messages around them (initialize, lists) spend nothing.
func TestHTTPToolsSpendTheKeysRateLimit(t *testing.T) {
	s := mustStartStack(t, func(c *control.Config) { c.RateLimits = ratelimit.Limits{PerSecond: 2, PerMinute: 100} })
	cs := s.mustConnect(t, s.key)
	for range 5 {
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			t.Fatalf("tools/list: %v", err)
		}
	}
	limited := 0
	for range 6 {
		res := call(t, cs, "get_stats", map[string]any{})
		if res.IsError {
			if !strings.Contains(text(res), "RATE_LIMITED") || !strings.Contains(text(res), "wait") {
				t.Errorf("error %s", text(res))
			}
			limited++
		}
	}
	if limited == 0 {
		t.Error("6 tool calls at 2 a second: none rate-limited")
	}
}

// A key that may save files but not read them gets its QR code saved
// once, without the image, and is told why: the tool does not fail, so
// the model has no reason to save it again.
func TestHTTPQRCodeWithoutFileRead(t *testing.T) {
	s := mustStartStack(t)
	status, l := s.api(t, "POST", "/v1/links", s.key, `{"url":"https://example.com/qr","key":"qr"}`)
	if status != 201 {
		t.Fatalf("link: %d %v", status, l)
	}
	status, k := s.api(t, "POST", "/v1/api-keys", s.key,
		`{"name":"printer","type":"bot","permissions":{"files":["create"],"shortLinks":["read"]}}`)
	if status != 201 {
		t.Fatalf("key: %d %v", status, k)
	}
	cs := s.mustConnect(t, k["key"].(string))
	res := call(t, cs, "create_qr_code", map[string]any{"linkId": l["id"], "size": 200})
	t.Logf("create_qr_code without files:read: %s", text(res))
	if res.IsError || !strings.Contains(text(res), "image not included: FORBIDDEN") || !strings.Contains(text(res), "files:read") {
		t.Fatalf("create_qr_code: error %v, %s", res.IsError, text(res))
	}
	var file map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if json.Unmarshal(b, &file); !strings.HasPrefix(fmt.Sprint(file["id"]), "file_") {
		t.Errorf("structured file %s", b)
	}
	for _, c := range res.Content {
		if _, ok := c.(*mcpsdk.ImageContent); ok {
			t.Error("an image came back")
		}
	}
	if status, files := s.api(t, "GET", "/v1/files", s.key, ""); status != 200 || len(files["data"].([]any)) != 1 {
		t.Errorf("files saved: %d %v, want 1", status, files)
	}
}

// Ids go into the API's path as they are: a tool refuses one that is not
// of its kind rather than call another route.
func TestHTTPToolsRefuseMalformedIDs(t *testing.T) {
	s := mustStartStack(t)
	cs := s.mustConnect(t, s.key)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"get_link", map[string]any{"id": "export"}},
		{"get_link", map[string]any{"id": ""}},
		{"get_link", map[string]any{"id": "link_a/../../domains"}},
		{"update_link", map[string]any{"id": "link_a%2Fb", "title": "x"}},
		{"delete_link", map[string]any{"id": "bulk"}},
		{"verify_domain", map[string]any{"id": "link_01"}},
		{"verify_domain", map[string]any{"id": "dom_"}},
	} {
		res := call(t, cs, tc.tool, tc.args)
		if !res.IsError || !strings.HasPrefix(text(res), `VALIDATION_ERROR: id "`) {
			t.Errorf("%s %v: error %v, %s", tc.tool, tc.args, res.IsError, text(res))
		}
	}
	if _, err := cs.ReadResource(context.Background(), &mcpsdk.ReadResourceParams{URI: "h0p://links/export"}); err == nil {
		t.Error("h0p://links/export read")
	}
}

// initialize spends from the key's rate limit; the other messages of a
// session do not.
func TestHTTPInitializeSpendsTheRateLimit(t *testing.T) {
	s := mustStartStack(t, func(c *control.Config) { c.RateLimits = ratelimit.Limits{PerSecond: 2, PerMinute: 100} })
	var codes []int
	for range 3 {
		resp, m := s.post(t, map[string]string{"x-api-key": s.key})
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && errCode(m) != "RATE_LIMITED" {
			t.Errorf("429 body %v", m)
		}
	}
	if !slices.Equal(codes, []int{200, 200, 429}) {
		t.Errorf("3 initializes at 2 a second: %v", codes)
	}
}

// A key holds at most mcp.DefaultMaxSessionsPerKey sessions open; past
// it initialize is 429 saying what to do, until one is closed.
func TestHTTPSessionsPerKey(t *testing.T) {
	s := mustStartStack(t)
	var ids []string
	for range mcp.DefaultMaxSessionsPerKey {
		resp, m := s.post(t, map[string]string{"x-api-key": s.key})
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize: %d %v", resp.StatusCode, m)
		}
		ids = append(ids, resp.Header.Get("Mcp-Session-Id"))
	}
	resp, m := s.post(t, map[string]string{"x-api-key": s.key})
	if resp.StatusCode != 429 || errCode(m) != "RATE_LIMITED" || !strings.Contains(fmt.Sprint(m), "DELETE /mcp") {
		t.Fatalf("initialize past the cap: %d %v", resp.StatusCode, m)
	}
	status, k := s.api(t, "POST", "/v1/api-keys", s.key, `{"name":"other","type":"bot","permissions":{"shortLinks":["read"]}}`)
	if status != 201 {
		t.Fatalf("key: %d %v", status, k)
	}
	if resp, m := s.post(t, map[string]string{"x-api-key": k["key"].(string)}); resp.StatusCode != 200 {
		t.Errorf("another key's initialize: %d %v", resp.StatusCode, m)
	}
	req, _ := http.NewRequest("DELETE", s.control.URL()+"/mcp", nil)
	req.Header.Set("x-api-key", s.key)
	req.Header.Set("Mcp-Session-Id", ids[0])
	del, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	del.Body.Close()
	if del.StatusCode != 204 {
		t.Fatalf("DELETE: %d", del.StatusCode)
	}
	if resp, m := s.post(t, map[string]string{"x-api-key": s.key}); resp.StatusCode != 200 {
		t.Errorf("initialize after a DELETE: %d %v", resp.StatusCode, m)
	}
}

// A page of an allowed origin may call /mcp from a browser: its preflight,
// which carries no key, is answered, and so are its requests; a foreign
// origin's preflight is refused.
func TestHTTPCORS(t *testing.T) {
	s := mustStartStack(t)
	preflight := func(origin string) (*http.Response, []byte) {
		req, _ := http.NewRequest("OPTIONS", s.control.URL()+"/mcp", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "x-api-key, content-type, mcp-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, _ := preflight("https://app.example.com")
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":   "https://app.example.com",
		"Access-Control-Allow-Methods":  "POST, DELETE",
		"Access-Control-Allow-Headers":  "x-api-key, authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id",
		"Access-Control-Expose-Headers": "Mcp-Session-Id",
		"Access-Control-Max-Age":        "600",
		"Vary":                          "Origin",
	} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("preflight %s: %q, want %q", h, got, want)
		}
	}
	if resp.StatusCode != 204 {
		t.Errorf("preflight: %d", resp.StatusCode)
	}
	resp, b := preflight("https://evil.example")
	var m map[string]any
	json.Unmarshal(b, &m)
	if resp.StatusCode != 403 || errCode(m) != "FORBIDDEN" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %s %v", resp.StatusCode, b, resp.Header)
	}
	for _, key := range []string{s.key, ""} {
		resp, m := s.post(t, map[string]string{"x-api-key": key, "Origin": "https://app.example.com"})
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Mcp-Session-Id") {
			t.Errorf("POST with key %q from an allowed origin: %d %v, headers %v", key, resp.StatusCode, m, resp.Header)
		}
	}
}

// /mcp messages are not API usage; a tool call is one API request.
func TestHTTPToolCallCountsOnceInUsage(t *testing.T) {
	s := mustStartStack(t)
	cs := s.mustConnect(t, s.key)
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mustCall(t, cs, "create_link", map[string]any{"url": "https://example.com/usage"})
	status, u := s.api(t, "GET", "/v1/usage?groupBy=route&interval=24h", s.key, "")
	if status != 200 {
		t.Fatalf("usage: %d %v", status, u)
	}
	var total float64
	for _, r := range u["data"].([]any) {
		row := r.(map[string]any)
		total += row["requests"].(float64)
		if strings.Contains(fmt.Sprint(row["route"]), "/mcp") {
			t.Errorf("usage counts /mcp: %v", row)
		}
		if row["route"] == "POST /v1/links" && row["requests"] != 1.0 {
			t.Errorf("POST /v1/links counted %v times", row["requests"])
		}
	}
	if total != 1 {
		t.Errorf("usage after one tool call: %v requests, want 1: %v", total, u["data"])
	}
}
