package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// Bulk updates and deletes name their links by ids, by linkIds (Dub's name
// for the same ids) or by externalIds: one list per call, checked as
// strictly as any other body.
func TestBulkTargets(t *testing.T) {
	e := mustStart(t)
	id := map[string]string{}
	for _, k := range []string{"t1", "t2", "t3", "t4"} {
		l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/`+k+`","key":"`+k+`","externalId":"ext-`+k+`"}`)
		id[k] = l["id"].(string)
	}
	disabled := func(k string) any {
		return e.mustCall(t, 200, "GET", "/v1/links/"+id[k], e.key, "")["disabled"]
	}

	upd := e.mustCall(t, 200, "PATCH", "/v1/links/bulk", e.key,
		`{"linkIds":["`+id["t1"]+`","link_nope"],"data":{"disabled":true}}`)["data"].([]any)
	if len(upd) != 2 || upd[0].(map[string]any)["link"].(map[string]any)["id"] != id["t1"] || errCode(upd[1].(map[string]any)) != "NOT_FOUND" {
		t.Errorf("update by linkIds: %v", upd)
	}
	if disabled("t1") != true || disabled("t2") != false {
		t.Error("update by linkIds changed the wrong links")
	}
	e.mustCall(t, 200, "PATCH", "/v1/links/bulk", e.key, `{"externalIds":["ext-t2"],"data":{"disabled":true}}`)
	if disabled("t2") != true {
		t.Error("update by externalIds")
	}

	// A deleted link is shown by its id alone, as DELETE /v1/links/{id}
	// shows it, not as a link object of empty fields.
	_, _, r := e.call(t, "DELETE", "/v1/links/bulk", e.key, `{"linkIds":["`+id["t1"]+`"]}`)
	if want := `{"data":[{"index":0,"link":{"id":"` + id["t1"] + `"}}]}`; r.status != 200 || string(r.body) != want {
		t.Errorf("delete by linkIds: %d %s, want %s", r.status, r.body, want)
	}
	del := e.mustCall(t, 200, "DELETE", "/v1/links/bulk", e.key, `{"externalIds":["ext-t2","ext-nope"]}`)["data"].([]any)
	if len(del) != 2 || del[0].(map[string]any)["link"].(map[string]any)["id"] != id["t2"] || errCode(del[1].(map[string]any)) != "NOT_FOUND" {
		t.Errorf("delete by externalIds: %v", del)
	}
	e.mustCall(t, 404, "GET", "/v1/links/"+id["t2"], e.key, "")

	tooMany := `["` + strings.TrimSuffix(strings.Repeat(`x","`, 1001), `","`) + `"]`
	for _, tc := range []struct{ method, body, field, reason string }{
		{"PATCH", `{"ids":["` + id["t3"] + `"],"linkIds":["` + id["t4"] + `"],"data":{"disabled":true}}`, "linkIds",
			"give one of ids, linkIds and externalIds, not ids and linkIds"},
		{"DELETE", `{"ids":["` + id["t3"] + `"],"linkIds":["` + id["t4"] + `"]}`, "linkIds",
			"give one of ids, linkIds and externalIds, not ids and linkIds"},
		{"DELETE", `{"linkIds":["` + id["t3"] + `"],"externalIds":["ext-t4"]}`, "externalIds",
			"give one of ids, linkIds and externalIds, not linkIds and externalIds"},
		{"DELETE", `{"ids":[],"linkIds":["` + id["t3"] + `"]}`, "linkIds",
			"give one of ids, linkIds and externalIds, not ids and linkIds"},
		{"DELETE", `{}`, "ids", "is required: give ids (or linkIds) or externalIds"},
		{"DELETE", `{"linkIds":[]}`, "linkIds", "is empty; name at least one link"},
		{"DELETE", `{"linkIds":` + tooMany + `}`, "linkIds", "at most 1000 links per call"},
		{"PATCH", `{"externalIds":` + tooMany + `,"data":{"disabled":true}}`, "externalIds", "at most 1000 links per call"},
		{"PATCH", `{"linkIds":["` + id["t3"] + `"]}`, "data", "is required: the changes to apply"},
		// Strict bodies: exact names, no name twice, nothing a call does not read.
		{"DELETE", `{"linkIDs":["` + id["t3"] + `"]}`, "linkIDs", "is not a known field"},
		{"DELETE", `{"linkIds":["` + id["t3"] + `"],"linkIds":["` + id["t4"] + `"]}`, "linkIds", "appears more than once"},
		{"DELETE", `{"linkIds":["` + id["t3"] + `"],"data":{"disabled":true}}`, "data", "is not a known field"},
		{"PATCH", `{"linkIds":"` + id["t3"] + `","data":{"disabled":true}}`, "linkIds", "must be an array"},
	} {
		status, m, _ := e.call(t, tc.method, "/v1/links/bulk", e.key, tc.body)
		if status != 400 || errCode(m) != "VALIDATION_ERROR" {
			t.Errorf("%s %.80s: %d %v", tc.method, tc.body, status, m)
			continue
		}
		assertDetail(t, m["error"].(map[string]any), tc.field, tc.reason)
	}
	// Nothing refused changed anything.
	for _, k := range []string{"t3", "t4"} {
		if got := disabled(k); got != false {
			t.Errorf("%s disabled = %v after refused calls", k, fmt.Sprint(got))
		}
	}
}
