package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/files/blobs"
	"github.com/h0p/h0p/control/store"
)

// testBlobs is the files' real store, blobs.Local, whose objects get the
// test clock's time as they are first written (the sweep compares them
// with it).
type testBlobs struct {
	*blobs.Local
	dir string
	now func() time.Time
}

var _ files.Store = testBlobs{}

func newTestBlobs(t testing.TB, dir string, now func() time.Time) testBlobs {
	l, err := blobs.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return testBlobs{Local: l, dir: dir, now: now}
}

func (b testBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, statErr := b.Local.Stat(ctx, key)
	if err := b.Local.Put(ctx, key, r, size); err != nil || statErr == nil {
		return err
	}
	return os.Chtimes(filepath.Join(b.dir, key[:2], key[2:]), b.now(), b.now())
}

// keys lists the blobs stored.
func (b testBlobs) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	if err := b.List(context.Background(), func(k string, _ int64, _ time.Time) error {
		out = append(out, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func pngOf(t testing.TB, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, 0, c)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a PNG whose header claims w×h pixels, its CRCs valid, with
// a few bytes of data after it.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", bytes.Repeat([]byte{0}, 200))
	chunk("IEND", nil)
	return b.Bytes()
}

// multipartBody is a multipart/form-data body with one part "file".
func multipartBody(t testing.TB, filename, contentType string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.WriteField("note", "ignored"); err != nil {
		t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func (e *env) upload(t *testing.T, key, filename, contentType string, data []byte) response {
	t.Helper()
	ct, body := multipartBody(t, filename, contentType, data)
	return e.do(t, "POST", "/v1/files", key, bytes.NewReader(body), "Content-Type", ct)
}

func (e *env) mustUpload(t *testing.T, key, filename string, data []byte) map[string]any {
	t.Helper()
	r := e.upload(t, key, filename, "application/octet-stream", data)
	if r.status != 201 {
		t.Fatalf("upload %s: %d %s", filename, r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mustNothingStored checks that org_1 has no file and the store no blob.
func (e *env) mustNothingStored(t *testing.T) {
	t.Helper()
	if fs, err := e.store.Files(context.Background(), store.FileFilter{OrgID: "org_1", Limit: 10}); err != nil || len(fs) != 0 {
		t.Errorf("files %v, %v; want none", fs, err)
	}
	if keys := e.blobs.keys(t); len(keys) != 0 {
		t.Errorf("blobs %v; want none", keys)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFileLifecycle(t *testing.T) {
	e := mustStart(t)
	img := pngOf(t, 3, 2, color.RGBA{255, 0, 0, 255})
	f := e.mustUpload(t, e.key, `C:\fakepath\logo.png`, img)
	id := f["id"].(string)
	if !strings.HasPrefix(id, "file_") || f["name"] != "logo.png" || f["type"] != "image/png" || f["sha256"] != sha(img) ||
		f["size"] != float64(len(img)) || f["width"] != float64(3) || f["height"] != float64(2) ||
		f["createdBy"] != "usr_1" || fmt.Sprint(f["references"]) != "[]" {
		t.Errorf("upload answered %v", f)
	}
	if got := e.mustCall(t, 200, "GET", "/v1/files/"+id, e.key, ""); got["sha256"] != sha(img) {
		t.Errorf("get %v", got)
	}

	r := e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil)
	etag := `"` + sha(img) + `"`
	if r.status != 200 || !bytes.Equal(r.body, img) || r.header.Get("Content-Type") != "image/png" ||
		r.header.Get("ETag") != etag || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(r.header.Get("Cache-Control"), "private, max-age=") ||
		r.header.Get("Content-Disposition") != `inline; filename=logo.png` {
		t.Errorf("content: %d %v (%d bytes)", r.status, r.header, len(r.body))
	}
	r = e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil, "Range", "bytes=4-9")
	if r.status != 206 || !bytes.Equal(r.body, img[4:10]) ||
		r.header.Get("Content-Range") != fmt.Sprintf("bytes 4-9/%d", len(img)) {
		t.Errorf("range: %d %q %q", r.status, r.header.Get("Content-Range"), r.body)
	}
	if r = e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil, "If-None-Match", etag); r.status != 304 || len(r.body) != 0 ||
		r.header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d %v %q", r.status, r.header, r.body)
	}
	// ServeContent's refusals are the error envelope, with what HTTP
	// asks of them beside it.
	past := fmt.Sprintf("bytes=%d-", len(img))
	for _, tt := range []struct {
		header, value string
		status        int
		field, reason string
	}{
		{"Range", past, 416, "Range", fmt.Sprintf("outside the file's %d bytes", len(img))},
		{"Range", "bytes=9-4", 416, "Range", "is not a byte range"},
		{"Range", "pages=1", 416, "Range", "is not a byte range"},
		{"If-Match", `"other"`, 412, "If-Match", "does not hold"},
		{"If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT", 412, "If-Unmodified-Since", "does not hold"},
	} {
		r := e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil, tt.header, tt.value)
		var m map[string]any
		json.Unmarshal(r.body, &m)
		b, _ := json.Marshal(m)
		if r.status != tt.status || errCode(m) != "VALIDATION_ERROR" || !strings.Contains(string(b), `"field":"`+tt.field+`"`) ||
			!strings.Contains(string(b), tt.reason) || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %s: %d %s %s", tt.header, tt.value, r.status, r.header.Get("Content-Type"), r.body)
		}
		for _, h := range []string{"ETag", "Cache-Control", "Content-Disposition", "Last-Modified"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("%s: %s: the error answer has %s: %s", tt.header, tt.value, h, v)
			}
		}
		if want := fmt.Sprintf("bytes */%d", len(img)); tt.status == 416 && r.header.Get("Content-Range") != want {
			t.Errorf("%s: %s: Content-Range %q, want %q", tt.header, tt.value, r.header.Get("Content-Range"), want)
		}
	}
	if r = e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil, "If-Match", etag, "Range", "bytes=0-0"); r.status != 206 ||
		!bytes.Equal(r.body, img[:1]) {
		t.Errorf("If-Match that holds, with a Range: %d %q", r.status, r.body)
	}

	// Raw body, named by ?name=; a name with a non-ASCII character.
	r = e.do(t, "POST", "/v1/files?name="+"r%C3%A9sum%C3%A9%0A.png", e.key, bytes.NewReader(pngOf(t, 1, 1, color.White)),
		"Content-Type", "image/png")
	var raw map[string]any
	json.Unmarshal(r.body, &raw)
	if r.status != 201 || raw["name"] != "résumé.png" {
		t.Fatalf("raw upload: %d %s", r.status, r.body)
	}
	cd := e.do(t, "GET", "/v1/files/"+raw["id"].(string)+"/content", e.key, nil).header.Get("Content-Disposition")
	if cd != `inline; filename*=utf-8''r%C3%A9sum%C3%A9.png` {
		t.Errorf("Content-Disposition %q", cd)
	}

	p := e.mustCall(t, 200, "PATCH", "/v1/files/"+id, e.key, `{"name":"../brand.png"}`)
	if p["name"] != "brand.png" || p["id"] != id {
		t.Errorf("patched %v", p)
	}

	// Lists: pages, and the type filter.
	e.mustUpload(t, e.key, "doc.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))
	page1 := e.mustCall(t, 200, "GET", "/v1/files?limit=2", e.key, "")
	cursor, _ := page1["nextCursor"].(string)
	if n := len(page1["data"].([]any)); n != 2 || cursor == "" {
		t.Fatalf("page 1: %v", page1)
	}
	page2 := e.mustCall(t, 200, "GET", "/v1/files?limit=2&cursor="+cursor, e.key, "")
	if d := page2["data"].([]any); len(d) != 1 || d[0].(map[string]any)["type"] != "application/pdf" {
		t.Errorf("page 2: %v", page2)
	}
	for filter, want := range map[string]int{"png": 2, "pdf": 1, "application/pdf": 1, "svg": 0} {
		if d := e.mustCall(t, 200, "GET", "/v1/files?type="+filter, e.key, "")["data"].([]any); len(d) != want {
			t.Errorf("type=%s: %d files, want %d", filter, len(d), want)
		}
	}
	e.mustCall(t, 400, "GET", "/v1/files?type=exe", e.key, "")

	e.mustCall(t, 200, "DELETE", "/v1/files/"+id, e.key, "")
	e.mustCall(t, 404, "GET", "/v1/files/"+id, e.key, "")
	e.mustCall(t, 404, "GET", "/v1/files/"+id+"/content", e.key, "")

	logs := e.mustCall(t, 200, "GET", "/v1/audit-logs?resourceId="+id, e.key, "")
	if b, _ := json.Marshal(logs); !bytes.Contains(b, []byte("file.created")) || !bytes.Contains(b, []byte("file.deleted")) {
		t.Errorf("audit log %s", b)
	}
}

func TestFileUploadsRefused(t *testing.T) {
	e := mustStart(t)
	e.files.MaxBytes = 10 << 20
	html := []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
	bigPNG := append(pngOf(t, 1, 1, color.Black), bytes.Repeat([]byte{0}, 10<<20)...)[:10<<20+1]
	ct, full := multipartBody(t, "x.png", "image/png", pngOf(t, 4, 4, color.Black))
	for _, tt := range []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code, text  string
	}{
		{"html named .png", "", html, 415, "UNSUPPORTED_MEDIA_TYPE", "text/html"},
		{"zip", "", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), 415, "UNSUPPORTED_MEDIA_TYPE", "application/zip"},
		{"too large", "", bigPNG, 413, "PAYLOAD_TOO_LARGE", ""},
		{"huge image", "", hugePNG(100000, 100000), 400, "VALIDATION_ERROR", "100000×100000"},
		{"wide image", "", hugePNG(20000, 1), 400, "VALIDATION_ERROR", "20000×1"},
		{"corrupt image", "", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00"), 400, "VALIDATION_ERROR", "header"},
		{"empty", "", nil, 400, "VALIDATION_ERROR", "empty"},
		{"truncated multipart", ct, full[:len(full)-60], 400, "VALIDATION_ERROR", ""},
		{"multipart without file", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n"), 400, "VALIDATION_ERROR", "file"},
		{"raw empty", "image/png", nil, 400, "VALIDATION_ERROR", "empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.contentType == "" {
				r = e.upload(t, e.key, "x.png", "image/png", tt.body)
			} else {
				r = e.do(t, "POST", "/v1/files", e.key, bytes.NewReader(tt.body), "Content-Type", tt.contentType)
			}
			var m map[string]any
			json.Unmarshal(r.body, &m)
			if r.status != tt.status || errCode(m) != tt.code || !strings.Contains(string(r.body), tt.text) {
				t.Errorf("%d %s; want %d %s naming %q", r.status, r.body, tt.status, tt.code, tt.text)
			}
			e.mustNothingStored(t)
		})
	}
	t.Run("too large, chunked", func(t *testing.T) {
		r := e.do(t, "POST", "/v1/files", e.key, io.MultiReader(bytes.NewReader(bigPNG)), "Content-Type", "image/png")
		if r.status != 413 {
			t.Errorf("%d %s", r.status, r.body)
		}
		e.mustNothingStored(t)
	})
}

func TestSVGIsSanitised(t *testing.T) {
	e := mustStart(t)
	svg := `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="80" viewBox="0 0 120 80" onload="alert(1)">
<script>alert(2)</script>
<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs>
<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">hi<iframe src="https://evil.example/"></iframe></div></foreignObject>
<a href="javascript:alert(3)"><rect width="10" height="10" fill="url(#g)"/></a>
<use xlink:href="https://evil.example/x.svg#a"/>
<use href="#g"/>
<image href="https://evil.example/i.png" width="5" height="5"/>
<circle cx="5" cy="5" r="4" fill="url(https://evil.example/p)" stroke="url(#g)" onclick="alert(4)"/>
<style>@import url(https://evil.example/s.css);</style>
</svg>`
	f := e.mustUpload(t, e.key, "logo.svg", []byte(svg))
	if f["type"] != "image/svg+xml" || f["width"] != float64(120) || f["height"] != float64(80) {
		t.Errorf("upload answered %v", f)
	}
	id := f["id"].(string)
	r := e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil)
	body := string(r.body)
	for _, bad := range []string{"script", "alert", "onload", "onclick", "foreignObject", "iframe", "evil.example",
		"javascript:", "<image", "<style", "@import"} {
		if strings.Contains(body, bad) {
			t.Errorf("served SVG holds %q:\n%s", bad, body)
		}
	}
	for _, good := range []string{"<linearGradient", `stop-color="red"`, `fill="url(#g)"`, `stroke="url(#g)"`,
		`<use href="#g"`, `viewBox="0 0 120 80"`, `xmlns="http://www.w3.org/2000/svg"`, "<rect", "<circle"} {
		if !strings.Contains(body, good) {
			t.Errorf("served SVG lacks %q:\n%s", good, body)
		}
	}
	if f["sha256"] != sha(r.body) || f["size"] != float64(len(r.body)) {
		t.Errorf("sha256 %v, size %v: not of the sanitised bytes", f["sha256"], f["size"])
	}
	if r.header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'" ||
		r.header.Get("Content-Disposition") != "attachment; filename=logo.svg" || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("headers %v", r.header)
	}
	r = e.do(t, "GET", "/v1/files/"+id+"/content", e.key, nil, "Sec-Fetch-Dest", "image")
	if r.header.Get("Content-Disposition") != "inline; filename=logo.svg" {
		t.Errorf("image request: Content-Disposition %q", r.header.Get("Content-Disposition"))
	}

	// A script and nothing else: kept as an empty drawing.
	r = e.upload(t, e.key, "x.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	if r.status != 201 || strings.Contains(string(r.body), "script") {
		t.Errorf("script-only SVG: %d %s", r.status, r.body)
	}
}

func TestFileDedupAndSweep(t *testing.T) {
	e := mustStart(t)
	ctx := context.Background()
	img := pngOf(t, 2, 2, color.Black)
	a := e.mustUpload(t, e.key, "a.png", img)["id"].(string)
	b := e.mustUpload(t, e.key, "b.png", img)["id"].(string)
	if keys := e.blobs.keys(t); len(keys) != 1 || keys[0] != sha(img) {
		t.Fatalf("blobs %v; want one", keys)
	}
	mustRefs := func(want int64) {
		t.Helper()
		if bl, err := e.store.Blob(ctx, sha(img)); err != nil || bl.Refs != want {
			t.Fatalf("blob %+v, %v; want refs %d", bl, err, want)
		}
	}
	mustRefs(2)
	e.mustCall(t, 200, "DELETE", "/v1/files/"+a, e.key, "")
	mustRefs(1)
	if r := e.do(t, "GET", "/v1/files/"+b+"/content", e.key, nil); r.status != 200 || !bytes.Equal(r.body, img) {
		t.Fatalf("the other file: %d", r.status)
	}
	e.mustCall(t, 200, "DELETE", "/v1/files/"+b, e.key, "")
	mustRefs(0)

	deleted := e.now
	e.now = deleted.Add(files.DefaultGrace - time.Minute)
	if n, err := e.files.Sweep(ctx); err != nil || n != (files.Swept{}) || len(e.blobs.keys(t)) != 1 {
		t.Fatalf("sweep within the grace period: %+v, %v, blobs %v", n, err, e.blobs.keys(t))
	}
	e.now = deleted.Add(files.DefaultGrace)
	if n, err := e.files.Sweep(ctx); err != nil || n.Unreferenced != 1 || len(e.blobs.keys(t)) != 0 {
		t.Fatalf("sweep after the grace period: %+v, %v, blobs %v", n, err, e.blobs.keys(t))
	}
	if _, err := e.store.Blob(ctx, sha(img)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("blob row after the sweep: %v", err)
	}

	// The same bytes again: stored again.
	c := e.mustUpload(t, e.key, "c.png", img)["id"].(string)
	if r := e.do(t, "GET", "/v1/files/"+c+"/content", e.key, nil); r.status != 200 || !bytes.Equal(r.body, img) {
		t.Fatalf("uploaded again: %d", r.status)
	}

	// An orphan (bytes without a row) goes once older than the grace.
	orphan := []byte("orphan bytes")
	if err := e.blobs.Put(ctx, sha(orphan), bytes.NewReader(orphan), int64(len(orphan))); err != nil {
		t.Fatal(err)
	}
	if n, err := e.files.Sweep(ctx); err != nil || n.Orphans != 0 {
		t.Fatalf("young orphan swept: %+v, %v", n, err)
	}
	e.now = e.now.Add(files.DefaultGrace)
	if n, err := e.files.Sweep(ctx); err != nil || n.Orphans != 1 {
		t.Fatalf("old orphan: %+v, %v", n, err)
	}
	if keys := e.blobs.keys(t); len(keys) != 1 || keys[0] != sha(img) {
		t.Errorf("blobs %v; want only the referenced one", keys)
	}
}

func TestFilePlanLimits(t *testing.T) {
	e := mustStart(t)
	free := mustOrgOnPlan(t, e, "free", "free")
	for i := range 25 {
		e.mustUpload(t, free, "f.png", pngOf(t, 1, 1+i, color.Black))
	}
	before := len(e.blobs.keys(t))
	r := e.upload(t, free, "f.png", "image/png", pngOf(t, 1, 99, color.Black))
	if r.status != 403 || !strings.Contains(string(r.body), "PLAN_LIMIT_REACHED") || !strings.Contains(string(r.body), `"files"`) {
		t.Errorf("26th file: %d %s", r.status, r.body)
	}
	if n := len(e.blobs.keys(t)); n != before {
		t.Errorf("%d blobs after a refused upload, want %d", n, before)
	}

	pro := mustOrgOnPlan(t, e, "pro", "pro")
	e.files.MaxBytes = 2 << 30
	ctx := context.Background()
	// Fill most of pro's 1 GiB with a row naming bytes counted, not sent.
	err := e.store.Write(ctx, func(q store.Queries) error {
		return q.CreateFile(ctx, store.File{ID: "file_big", OrgID: "org_pro", Name: "big", MediaType: "application/pdf",
			Size: 1<<30 - 50, SHA256: strings.Repeat("0", 64), Version: 1, CreatedBy: "usr_pro", CreatedAt: e.now, UpdatedAt: e.now})
	})
	if err != nil {
		t.Fatal(err)
	}
	before = len(e.blobs.keys(t))
	r = e.upload(t, pro, "f.png", "image/png", pngOf(t, 10, 10, color.Black))
	if r.status != 403 || !strings.Contains(string(r.body), "PLAN_LIMIT_REACHED") || !strings.Contains(string(r.body), "filesStorageBytes") {
		t.Errorf("over storage: %d %s", r.status, r.body)
	}
	if n := len(e.blobs.keys(t)); n != before {
		t.Errorf("%d blobs after a refused upload, want %d", n, before)
	}
}

func TestFilePermissions(t *testing.T) {
	e := mustStart(t)
	id := e.mustUpload(t, e.key, "a.png", pngOf(t, 1, 1, color.Black))["id"].(string)
	k := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"ro","type":"bot","permissions":{"files":["read"]}}`)
	ro := k["key"].(string)
	if r := e.upload(t, ro, "b.png", "image/png", pngOf(t, 2, 1, color.Black)); r.status != 403 {
		t.Errorf("read-only upload: %d %s", r.status, r.body)
	}
	e.mustCall(t, 403, "DELETE", "/v1/files/"+id, ro, "")
	e.mustCall(t, 200, "GET", "/v1/files/"+id, ro, "")
	other := mustBootstrap(t, e.store, "other", time.Time{})
	e.mustCall(t, 404, "GET", "/v1/files/"+id, other, "")
	e.mustCall(t, 404, "GET", "/v1/files/"+id+"/content", other, "")
	e.mustCall(t, 404, "PATCH", "/v1/files/"+id, other, `{"name":"x"}`)
	e.mustCall(t, 404, "DELETE", "/v1/files/"+id, other, "")
}
