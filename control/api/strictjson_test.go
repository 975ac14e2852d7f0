package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestJSONBodiesMatchFieldsExactly: every JSON body of the API refuses a
// field name that matches only case-insensitively and a name given twice,
// at the top or nested, with 400 VALIDATION_ERROR naming the JSON path.
func TestJSONBodiesMatchFieldsExactly(t *testing.T) {
	e := mustStart(t)
	link := mustCreate(t, e, e.key, `{"url":"https://example.com/strict","key":"strict"}`)
	id := link["id"].(string)
	tag := e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"strict"}`)["id"].(string)

	tests := []struct {
		name         string
		method, path string
		body         string
		field        string
		reason       string
	}{
		{"create duplicate", "POST", "/v1/links", `{"url":"https://example.com/a","url":"https://example.com/b"}`, "url", "appears more than once"},
		{"create nested case", "POST", "/v1/links", `{"url":"https://example.com/a","utm":{"Source":"x"}}`, "utm.Source", "is not a known field"},
		{"create nested duplicate", "POST", "/v1/links", `{"url":"https://example.com/a","utm":{"source":"x","source":"y"}}`, "utm.source", "appears more than once"},
		{"create rule case", "POST", "/v1/links", `{"url":"https://example.com/a","rules":[{"url":"https://example.com/r","Device":["ios"]}]}`, "rules[0].Device", "is not a known field"},
		{"create rule query duplicate", "POST", "/v1/links", `{"url":"https://example.com/a","rules":[{"url":"https://example.com/r","query":{"q":"1","q":"2"}}]}`, "rules[0].query.q", "appears more than once"},
		{"create geo duplicate", "POST", "/v1/links", `{"url":"https://example.com/a","geo":{"US":"https://example.com/us","US":"https://example.com/x"}}`, "geo.US", "appears more than once"},
		{"create preview case", "POST", "/v1/links", `{"url":"https://example.com/a","preview":{"TITLE":"x"}}`, "preview.TITLE", "is not a known field"},
		{"create variant case", "POST", "/v1/links", `{"url":"https://example.com/a","variants":[{"url":"https://example.com/1","weight":50},{"url":"https://example.com/2","Weight":50}]}`, "variants[1].Weight", "is not a known field"},
		{"patch duplicate", "PATCH", "/v1/links/" + id, `{"title":"a","title":"b"}`, "title", "appears more than once"},
		{"patch nested case", "PATCH", "/v1/links/" + id, `{"utm":{"Medium":"x"}}`, "utm.Medium", "is not a known field"},
		{"upsert duplicate", "PUT", "/v1/links/upsert", `{"url":"https://example.com/u","key":"u1","key":"u2"}`, "key", "appears more than once"},
		{"key type case", "POST", "/v1/api-keys", `{"name":"k","Type":"bot"}`, "Type", "is not a known field"},
		{"key permissions duplicate", "POST", "/v1/api-keys", `{"name":"k","type":"bot","permissions":{"shortLinks":["read"],"shortLinks":["delete"]}}`, "permissions.shortLinks", "appears more than once"},
		{"key duplicate", "POST", "/v1/api-keys", `{"name":"a","type":"bot","name":"b"}`, "name", "appears more than once"},
		{"tag case", "POST", "/v1/tags", `{"Name":"x"}`, "Name", "is not a known field"},
		{"tag patch duplicate", "PATCH", "/v1/tags/" + tag, `{"color":"red","color":"blue"}`, "color", "appears more than once"},
		{"org case", "PATCH", "/v1/org", `{"name":"a","Name":"b"}`, "Name", "is not a known field"},
		{"invite duplicate", "POST", "/v1/invitations", `{"email":"a@example.com","role":"member","role":"owner"}`, "role", "appears more than once"},
		{"login case", "POST", "/v1/auth/login", `{"Email":"owner1@example.com","password":"x"}`, "Email", "is not a known field"},
		{"bulk targets duplicate", "PATCH", "/v1/links/bulk", `{"ids":["` + id + `"],"ids":["link_x"],"data":{"title":"t"}}`, "ids", "appears more than once"},
		{"bulk data duplicate", "PATCH", "/v1/links/bulk", `{"ids":["` + id + `"],"data":{"title":"a","title":"b"}}`, "data.title", "appears more than once"},
		{"bulk data nested case", "PATCH", "/v1/links/bulk", `{"ids":["` + id + `"],"data":{"utm":{"Source":"x"}}}`, "utm.Source", "is not a known field"},
		{"bulk delete case", "DELETE", "/v1/links/bulk", `{"IDs":["` + id + `"]}`, "IDs", "is not a known field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m, r := e.call(t, tt.method, tt.path, e.key, tt.body)
			if status != 400 || errCode(m) != "VALIDATION_ERROR" {
				t.Fatalf("%d %s, want 400 VALIDATION_ERROR", status, r.body)
			}
			assertDetail(t, m["error"].(map[string]any), tt.field, tt.reason)
		})
	}

	// Bulk create reports each item on its own, as for its other errors.
	_, m, r := e.call(t, "POST", "/v1/links/bulk", e.key,
		`[{"url":"https://example.com/ok1"},{"url":"https://example.com/a","url":"https://example.com/b"},{"url":"https://example.com/c","utm":{"Source":"x"}}]`)
	items, _ := m["data"].([]any)
	if len(items) != 3 {
		t.Fatalf("bulk create: %s", r.body)
	}
	if items[0].(map[string]any)["link"] == nil {
		t.Errorf("bulk item 0: %v", items[0])
	}
	for i, want := range []string{"", "url", "utm.Source"} {
		if want == "" {
			continue
		}
		item := items[i].(map[string]any)
		ie, _ := item["error"].(map[string]any)
		if ie == nil || ie["code"] != "VALIDATION_ERROR" {
			t.Errorf("bulk item %d: %v", i, item)
			continue
		}
		reason := "appears more than once"
		if i == 2 {
			reason = "is not a known field"
		}
		assertDetail(t, ie, want, reason)
	}

	// Nothing above changed the link.
	got := e.mustCall(t, 200, "GET", "/v1/links/"+id, e.key, "")
	if got["title"] != nil && got["title"] != "" {
		t.Errorf("link after refused patches: %v", got)
	}
	if strings.Contains(string(e.do(t, "GET", "/v1/api-keys", e.key, nil).body), `"type":"bot"`) {
		t.Error("a refused body created a bot key")
	}
}

// TestDeepBodies: a body whose objects and arrays nest more than 64 levels
// deep answers 400 VALIDATION_ERROR naming the value where the limit was
// hit, before any credential is looked at and at once: the check reads no
// deeper, and what it holds does not grow with the depth.
func TestDeepBodies(t *testing.T) {
	e := mustStart(t)
	arrays := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	const tooDeep = "is nested more than 64 levels deep"
	tests := []struct {
		name         string
		method, path string
		cred, body   string
		field        string
		reason       string
	}{
		{"login 10000 deep", "POST", "/v1/auth/login", "", arrays(10000), strings.Repeat("[0]", 64), tooDeep},
		{"login member 10000 deep", "POST", "/v1/auth/login", "", `{"email":` + arrays(9999) + `,"password":"x"}`, "email" + strings.Repeat("[0]", 63), tooDeep},
		{"login member 64 deep", "POST", "/v1/auth/login", "", `{"email":` + arrays(63) + `,"password":"x"}`, "email", "must be a string"},
		{"create link", "POST", "/v1/links", e.key, `{"url":"https://example.com/deep","rules":[{"url":"https://example.com/r","query":` +
			strings.Repeat(`{"q":`, 9000) + `"1"` + strings.Repeat("}", 9000) + `}]}`, "rules[0].query" + strings.Repeat(".q", 61), tooDeep},
		{"bulk update data", "PATCH", "/v1/links/bulk", e.key, `{"ids":["link_x"],"data":{"tags":` + arrays(9000) + `}}`, "data.tags" + strings.Repeat("[0]", 62), tooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			status, m, r := e.call(t, tt.method, tt.path, tt.cred, tt.body)
			took := time.Since(start)
			if status != 400 || errCode(m) != "VALIDATION_ERROR" {
				t.Fatalf("%d %.200s, want 400 VALIDATION_ERROR", status, r.body)
			}
			assertDetail(t, m["error"].(map[string]any), tt.field, tt.reason)
			// Generous: the answer takes milliseconds; this only catches a
			// check that walks the whole depth again and again.
			if took > 5*time.Second {
				t.Errorf("answered in %v", took)
			}
		})
	}
}

func assertDetail(t *testing.T, e map[string]any, field, reason string) {
	t.Helper()
	details, _ := e["details"].([]any)
	if len(details) != 1 {
		t.Fatalf("details %v, want one", e["details"])
	}
	d := details[0].(map[string]any)
	if d["field"] != field || d["reason"] != reason {
		t.Errorf("detail %v, want field %q reason %q", d, field, reason)
	}
}
