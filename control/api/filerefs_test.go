package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"
)

// TestLinkImageFiles: a link's image fields may name a raster image file
// of its org; the edge gets the file's public URL, which serves the bytes
// to anyone; the file lists its references, refuses a plain delete and,
// deleted by force, leaves the links without it.
func TestLinkImageFiles(t *testing.T) {
	e := mustStart(t)
	img := pngOf(t, 3, 2, color.RGBA{0, 0, 255, 255})
	id := e.mustUpload(t, e.key, "card.png", img)["id"].(string)
	svg := e.mustUpload(t, e.key, "card.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>`))["id"].(string)
	key2 := mustBootstrap(t, e.store, "2", time.Time{})
	theirs := e.mustUpload(t, key2, "theirs.png", img)["id"].(string)

	l := e.mustCall(t, 201, "POST", "/v1/links", e.key,
		`{"url":"https://example.com/a","key":"card","image":"`+id+`","preview":{"title":"Card","image":"`+id+`"}}`)
	if l["image"] != id || l["preview"].(map[string]any)["image"] != id {
		t.Errorf("link view %v; want the file ID kept", l)
	}
	other := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/b","key":"card2","image":"`+id+`"}`)

	rec, ok, err := e.edge.Link([]byte("localhost"), []byte("card"))
	if err != nil || !ok || !strings.HasPrefix(rec.Preview.Image, e.url+"/f/"+id+"/") {
		t.Fatalf("edge record preview image %q (%v, %v)", rec.Preview.Image, ok, err)
	}
	public := strings.TrimPrefix(rec.Preview.Image, e.url)
	sig := public[strings.LastIndex(public, "/")+1:]
	if len(sig) != 22 {
		t.Errorf("signature %q: %d characters, want 22", sig, len(sig))
	}
	r := e.do(t, "GET", public, "", nil)
	if r.status != 200 || !bytes.Equal(r.body, img) || r.header.Get("Content-Type") != "image/png" ||
		r.header.Get("Cache-Control") != "public, max-age=86400, immutable" || r.header.Get("ETag") != `"`+sha(img)+`"` ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("public URL: %d %v (%d bytes)", r.status, r.header, len(r.body))
	}
	// A refused range is the envelope, and no cache keeps it for a day.
	r = e.do(t, "GET", public, "", nil, "Range", fmt.Sprintf("bytes=%d-", len(img)))
	var refused map[string]any
	if json.Unmarshal(r.body, &refused) != nil || r.status != 416 || errCode(refused) != "VALIDATION_ERROR" ||
		r.header.Get("Cache-Control") != "" || r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(img)) {
		t.Errorf("public URL, range past the end: %d %v %s", r.status, r.header, r.body)
	}
	for _, path := range []string{
		"/f/" + id + "/" + strings.Repeat("A", 22), // wrong signature
		"/f/" + id + "/" + sig[:21],                // cut short
		"/f/" + svg + "/" + sig,                    // another file's signature
		"/f/file_none/" + sig,
	} {
		if r := e.do(t, "GET", path, "", nil); r.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}

	for _, tt := range []struct{ body, field, reason string }{
		{`{"url":"https://example.com","preview":{"image":"` + svg + `"}}`, "preview.image", "SVG"},
		{`{"url":"https://example.com","image":"` + theirs + `"}`, "image", "no such file"},
		{`{"url":"https://example.com","image":"file_01J00000000000000000000000"}`, "image", "no such file"},
	} {
		m := e.mustCall(t, 400, "POST", "/v1/links", e.key, tt.body)
		if b, _ := json.Marshal(m); errCode(m) != "VALIDATION_ERROR" || !strings.Contains(string(b), `"field":"`+tt.field+`"`) ||
			!strings.Contains(string(b), tt.reason) {
			t.Errorf("create %s: %s", tt.body, b)
		}
	}

	// References: links by image, then by preview image, each by ID (the
	// view's keys sorted, as the test decodes it).
	first, second := l["id"], other["id"]
	if first.(string) > second.(string) {
		first, second = second, first
	}
	wantRefs := fmt.Sprintf(`[{"field":"image","id":"%s","type":"link"},{"field":"image","id":"%s","type":"link"},{"field":"preview.image","id":"%s","type":"link"}]`,
		first, second, l["id"])
	refsOf := func(m map[string]any) string { b, _ := json.Marshal(m["references"]); return string(b) }
	if got := refsOf(e.mustCall(t, 200, "GET", "/v1/files/"+id, e.key, "")); got != wantRefs {
		t.Errorf("references %s; want %s", got, wantRefs)
	}
	// A rename answers the file as GET does, with its references.
	renamed := e.mustCall(t, 200, "PATCH", "/v1/files/"+id, e.key, `{"name":"card-v2.png"}`)
	if got := refsOf(renamed); renamed["name"] != "card-v2.png" || got != wantRefs {
		t.Errorf("renamed %v, references %s; want %s", renamed["name"], got, wantRefs)
	}
	for _, f := range e.mustCall(t, 200, "GET", "/v1/files", e.key, "")["data"].([]any) {
		f := f.(map[string]any)
		if want := map[bool]string{true: wantRefs, false: "[]"}[f["id"] == id]; refsOf(f) != want {
			t.Errorf("listed %s references %s; want %s", f["id"], refsOf(f), want)
		}
	}

	m := e.mustCall(t, 409, "DELETE", "/v1/files/"+id, e.key, "")
	if b, _ := json.Marshal(m); errCode(m) != "ALREADY_EXIST" || !strings.Contains(string(b), fmt.Sprint(l["id"])) ||
		!strings.Contains(string(b), "preview.image") {
		t.Errorf("delete of a used file: %s", b)
	}
	e.mustCall(t, 400, "DELETE", "/v1/files/"+id+"?force=maybe", e.key, "")
	e.mustCall(t, 200, "GET", public, "", "")

	e.mustCall(t, 200, "DELETE", "/v1/files/"+id+"?force=true", e.key, "")
	e.mustCall(t, 404, "GET", "/v1/files/"+id, e.key, "")
	if r := e.do(t, "GET", public, "", nil); r.status != 404 {
		t.Errorf("public URL of a deleted file: %d", r.status)
	}
	got := e.mustCall(t, 200, "GET", "/v1/links/"+l["id"].(string), e.key, "")
	if got["image"] != nil || got["version"] != nil && got["version"] != float64(2) {
		t.Errorf("link after its file's delete: %v", got)
	}
	if p, _ := got["preview"].(map[string]any); p == nil || p["image"] != nil && p["image"] != "" || p["title"] != "Card" {
		t.Errorf("preview after its file's delete: %v", got["preview"])
	}
	rec, _, _ = e.edge.Link([]byte("localhost"), []byte("card"))
	if rec.Preview.Image != "" || rec.Version != 2 || rec.Preview.Title != "Card" {
		t.Errorf("edge record after the file's delete: version %d, preview %+v", rec.Version, rec.Preview)
	}
	logs := e.mustCall(t, 200, "GET", "/v1/audit-logs?resourceId="+l["id"].(string), e.key, "")
	if b, _ := json.Marshal(logs); !bytes.Contains(b, []byte("link.updated")) {
		t.Errorf("audit of the cleared link: %s", b)
	}
	if refs, err := e.store.FileReferences(context.Background(), "org_1", id); err != nil || len(refs) != 0 {
		t.Errorf("references left: %v, %v", refs, err)
	}
}
