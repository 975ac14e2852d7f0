package links

import (
	"context"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/store"
)

// mustFile stores a file row (its bytes are not needed here).
func (s *stack) mustFile(t *testing.T, orgID, id, mediaType string) {
	t.Helper()
	err := s.store.CreateFile(context.Background(), store.File{ID: id, OrgID: orgID, Name: id, MediaType: mediaType,
		Size: 10, SHA256: strings.Repeat("a", 64), Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
}

func fileURL(id string) string { return "https://api.example/f/" + id + "/sig" }

func TestImageFiles(t *testing.T) {
	s := mustStack(t)
	s.FileURL = fileURL
	ctx := context.Background()
	if err := s.store.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	s.mustFile(t, "org_1", "file_png", "image/png")
	s.mustFile(t, "org_1", "file_webp", "image/webp")
	s.mustFile(t, "org_1", "file_svg", "image/svg+xml")
	s.mustFile(t, "org_1", "file_pdf", "application/pdf")
	s.mustFile(t, "org_2", "file_theirs", "image/png")

	l := s.mustCreate(t, `{"url":"https://example.com","key":"img","image":"file_png","preview":{"title":"T","image":"file_webp"}}`)
	if v := ViewOf(l); v.Image == nil || *v.Image != "file_png" || v.Preview == nil || v.Preview.Image != "file_webp" {
		t.Errorf("view keeps the IDs: image %v, preview %+v", v.Image, v.Preview)
	}
	rec, ok := s.edgeLink(t, "img")
	if !ok || rec.Preview.Image != fileURL("file_webp") {
		t.Errorf("edge preview image = %q (found %v); want %q", rec.Preview.Image, ok, fileURL("file_webp"))
	}
	sl, err := s.store.Link(ctx, "org_1", l.ID)
	if err != nil || sl.ImageFile != "file_png" || sl.PreviewImageFile != "file_webp" {
		t.Errorf("row files = %q, %q, %v", sl.ImageFile, sl.PreviewImageFile, err)
	}

	for _, tt := range []struct {
		body, field, reason string
	}{
		{`{"url":"https://example.com","preview":{"image":"file_svg"}}`, "preview.image", "SVG"},
		{`{"url":"https://example.com","image":"file_svg"}`, "image", "SVG"},
		{`{"url":"https://example.com","image":"file_pdf"}`, "image", "not an image"},
		{`{"url":"https://example.com","image":"file_theirs"}`, "image", "no such file"},
		{`{"url":"https://example.com","preview":{"image":"file_missing"}}`, "preview.image", "no such file"},
		{`{"url":"https://example.com","image":"file_ spaced"}`, "image", "no such file"},
	} {
		_, err := s.Create(ctx, owner, mustInput(t, tt.body))
		wantInvalid(t, err, tt.field)
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("create %s: %v, want a reason saying %q", tt.body, err, tt.reason)
		}
	}

	// An update checks the file it sets; the edge gets a URL as it is.
	_, err = s.Update(ctx, owner, l.ID, mustInput(t, `{"preview":{"image":"file_theirs"}}`))
	wantInvalid(t, err, "preview.image")
	s.mustUpdate(t, l.ID, `{"preview":{"image":"https://cdn.example/x.png"}}`)
	if rec, _ := s.edgeLink(t, "img"); rec.Preview.Image != "https://cdn.example/x.png" {
		t.Errorf("edge preview image = %q after a URL", rec.Preview.Image)
	}
	s.mustUpdate(t, l.ID, `{"preview":{"image":"file_png"}}`)
	if rec, _ := s.edgeLink(t, "img"); rec.Preview.Image != fileURL("file_png") {
		t.Errorf("edge preview image = %q after an update to a file", rec.Preview.Image)
	}
}

func TestClearFile(t *testing.T) {
	s := mustStack(t)
	s.FileURL = fileURL
	ctx := context.Background()
	s.mustFile(t, "org_1", "file_1", "image/png")
	s.mustFile(t, "org_1", "file_2", "image/png")
	a := s.mustCreate(t, `{"url":"https://example.com/a","key":"a","image":"file_1","preview":{"title":"A","image":"file_1"}}`)
	b := s.mustCreate(t, `{"url":"https://example.com/b","key":"b","image":"file_2","preview":{"image":"file_1"}}`)
	c := s.mustCreate(t, `{"url":"https://example.com/c","key":"c","image":"file_2"}`)

	ran := false
	err := s.ClearFile(ctx, owner, "file_1", func(q store.Queries) error {
		ran = true
		return q.DeleteFile(ctx, "org_1", "file_1", t0)
	})
	if err != nil || !ran {
		t.Fatalf("ClearFile: %v (ran %v)", err, ran)
	}
	for _, tt := range []struct {
		l                    Link
		image, previewImage  string
		version              uint64
		edgePreview, wantKey string
	}{
		{a, "", "", 2, "", "a"},
		{b, "file_2", "", 2, "", "b"},
		{c, "file_2", "", 1, "", "c"},
	} {
		got, err := s.Get(ctx, owner, tt.l.ID)
		if err != nil || got.Image != tt.image || got.Preview.Image != tt.previewImage || got.Version != tt.version {
			t.Errorf("link %s = image %q, preview %q, version %d, %v; want %q, %q, %d", tt.wantKey, got.Image,
				got.Preview.Image, got.Version, err, tt.image, tt.previewImage, tt.version)
		}
		if rec, ok := s.edgeLink(t, tt.wantKey); !ok || rec.Version != tt.version || rec.Preview.Image != tt.edgePreview {
			t.Errorf("edge %s = version %d, preview image %q", tt.wantKey, rec.Version, rec.Preview.Image)
		}
	}
	if got := s.mustActions(t, a.ID); len(got) != 2 {
		t.Errorf("audit of a cleared link = %v; want its create and an update", got)
	}
	if refs, err := s.store.FileReferences(ctx, "org_1", "file_1"); err != nil || len(refs) != 0 {
		t.Errorf("references left: %+v, %v", refs, err)
	}
	// Once deleted, the file cannot be named again.
	_, err = s.Update(ctx, owner, c.ID, mustInput(t, `{"image":"file_1"}`))
	wantInvalid(t, err, "image")
}
