package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// Tag names are single-line text: control characters (NUL, line breaks,
// tabs, DEL, C1) and the Unicode line and paragraph separators are refused
// wherever a name is given.
func TestTagNamesRefuseControlCharacters(t *testing.T) {
	e := mustStart(t)
	tag := e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"fine"}`)["id"].(string)
	link := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com"}`)["id"].(string)
	refused := func(method, path, body, field string) {
		t.Helper()
		status, m, _ := e.call(t, method, path, e.key, body)
		errBody, _ := m["error"].(map[string]any)
		details, _ := errBody["details"].([]any)
		if status != 400 || errCode(m) != "VALIDATION_ERROR" || len(details) == 0 || details[0].(map[string]any)["field"] != field {
			t.Errorf("%s %s %s: %d %v, want 400 naming %s", method, path, body, status, m, field)
		}
	}
	for _, bad := range []string{`a\u0000b`, `a\nb`, `a\rb`, `a\tb`, `line\n`, `a\u007fb`, `a\u0085b`, `a\u2028b`, `a\u2029b`, `\u001b[31mred`, `a|b`} {
		refused("POST", "/v1/tags", `{"name":"`+bad+`"}`, "name")
		refused("PATCH", "/v1/tags/"+tag, `{"name":"`+bad+`"}`, "name")
		refused("POST", "/v1/links", `{"url":"https://example.com","tags":["ok","`+bad+`"]}`, "tags")
		refused("PATCH", "/v1/links/"+link, `{"tags":["`+bad+`"]}`, "tags")
		bulk := e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, `[{"url":"https://example.com","tags":["`+bad+`"]}]`)["data"].([]any)
		if item := bulk[0].(map[string]any); errCode(item) != "VALIDATION_ERROR" {
			t.Errorf("bulk item with tag %s: %v", bad, item)
		}
	}
	// No tag was made by any of them.
	if list := e.mustCall(t, 200, "GET", "/v1/tags", e.key, "")["data"].([]any); len(list) != 1 {
		t.Errorf("tags %v", list)
	}
	// Names in any script, with spaces and punctuation, are fine.
	for i, good := range []string{"Grüße", "日本語", "with space", "a-b_c.d", "emoji 🚀"} {
		e.mustCall(t, 201, "POST", "/v1/tags", e.key, fmt.Sprintf(`{"name":%q}`, good))
		e.mustCall(t, 201, "POST", "/v1/links", e.key, fmt.Sprintf(`{"url":"https://example.com/%d","tags":[%q]}`, i, strings.ToUpper(good)))
	}
}

// GET /v1/tags is a list like the others: limit (default 50, at most 100),
// cursor → nextCursor, by name case-insensitively then ID.
func TestTagsArePaginated(t *testing.T) {
	e := mustStart(t)
	var want []string
	for i := range 120 {
		name := fmt.Sprintf("tag-%03d", (i*37)%120) // created out of order
		if i%3 == 0 {
			name = strings.ToUpper(name)
		}
		e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"`+name+`"}`)
	}
	for i := range 120 {
		want = append(want, fmt.Sprintf("tag-%03d", i))
	}
	page := func(q string) (names []string, next string) {
		t.Helper()
		m := e.mustCall(t, 200, "GET", "/v1/tags?"+q, e.key, "")
		for _, tg := range m["data"].([]any) {
			names = append(names, strings.ToLower(tg.(map[string]any)["name"].(string)))
		}
		next, _ = m["nextCursor"].(string)
		return names, next
	}
	names, next := page("")
	if len(names) != 50 || next == "" {
		t.Fatalf("first page: %d tags, nextCursor %q", len(names), next)
	}
	got := names
	for next != "" {
		names, next = page("limit=100&cursor=" + next)
		got = append(got, names...)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages:\n%v\nwant\n%v", got, want)
	}
	if names, next := page("limit=100"); len(names) != 100 || next == "" {
		t.Errorf("limit=100: %d, %q", len(names), next)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=nope", "cursor=e30"} {
		if status, m, _ := e.call(t, "GET", "/v1/tags?"+q, e.key, ""); status != 400 || errCode(m) != "VALIDATION_ERROR" {
			t.Errorf("%s: %d %v", q, status, m)
		}
	}
}
