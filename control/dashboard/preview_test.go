package dashboard_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
)

// TestLinkPreview: the link form sets the preview social networks show,
// and the link's page draws the card a bot sees: an image file of the
// org through the dashboard, an image elsewhere as its URL only.
func TestLinkPreview(t *testing.T) {
	s := mustStart(t, withFiles(t))
	ctx := context.Background()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 120, 63))); err != nil {
		t.Fatal(err)
	}
	fileID := s.mustUpload(t, "card.png", img.Bytes())
	b := s.mustPerson(t, "ada@example.com", "member")

	p := b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/summer"}, "key": {"summer"},
		"preview.title": {"Summer <sale>"}, "preview.description": {"Everything half price"}, "preview.image": {fileID}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	id := strings.TrimPrefix(p.location(), "/links/")
	l, err := s.owner(t).GetLink(ctx, id)
	if err != nil || l.Preview == nil || *l.Preview != (apiclient.Preview{Title: "Summer <sale>",
		Description: "Everything half price", Image: fileID}) {
		t.Fatalf("created: %+v %v", l.Preview, err)
	}

	p = b.get("/links/" + id)
	src := "/links/" + id + "/preview-image"
	if p.status != 200 || !strings.Contains(p.body, "<strong>Summer &lt;sale&gt;</strong>") ||
		!strings.Contains(p.body, "Everything half price") || !strings.Contains(p.body, `<img src="`+src+`"`) ||
		!strings.Contains(p.body, "<small>example.com</small>") {
		t.Errorf("the card of a file image: %d\n%s", p.status, p.body)
	}
	if im := b.get(src); im.status != 200 || im.header.Get("Content-Type") != "image/png" || im.body != img.String() {
		t.Errorf("the preview's image: %d %q", im.status, im.header.Get("Content-Type"))
	}
	if p := b.get("/links/" + id + "/edit"); !strings.Contains(p.body, `value="`+fileID+`"`) ||
		!strings.Contains(p.body, `value="Summer &lt;sale&gt;"`) {
		t.Errorf("the edit form does not hold the preview\n%s", p.body)
	}

	for _, tt := range []struct {
		name, image string
		want        string // in the card
		wantNot     string
	}{
		{"elsewhere", "https://cdn.example.net/card.png",
			`<a href="https://cdn.example.net/card.png" rel="noreferrer">https://cdn.example.net/card.png</a>`, `<img src="https://`},
		{"a public file of this server", s.control.PublicURL() + "/f/file_abc/sig", `<img src="/f/file_abc/sig"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", url.Values{"url": {"https://example.com/summer"},
				"key": {"summer"}, "preview.title": {"Summer"}, "preview.image": {tt.image}})
			if p.status != http.StatusSeeOther {
				t.Fatalf("edit: %d\n%s", p.status, p.body)
			}
			p = b.get("/links/" + id)
			if !strings.Contains(p.body, tt.want) || tt.wantNot != "" && strings.Contains(p.body, tt.wantNot) {
				t.Errorf("want %s\n%s", tt.want, p.body)
			}
		})
	}

	p = b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", url.Values{"url": {"https://example.com/summer"},
		"key": {"summer"}, "preview.image": {"ftp://example.com/card.png"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="preview.image-err"`) {
		t.Errorf("a bad image: %d, want its error beside the field\n%s", p.status, p.body)
	}

	p = b.submit("/links/"+id+"/edit", "/links/"+id+"/edit", url.Values{"url": {"https://example.com/summer"}, "key": {"summer"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("emptied: %d\n%s", p.status, p.body)
	}
	if l, err := s.owner(t).GetLink(ctx, id); err != nil || l.Preview != nil {
		t.Errorf("emptied fields clear the preview: %+v %v", l.Preview, err)
	}
	if p := b.get("/links/" + id); !strings.Contains(p.body, "show the destination's own preview") {
		t.Errorf("no word that the link has no preview\n%s", p.body)
	}
	if p := b.get("/links/" + id + "/preview-image"); p.status != http.StatusNotFound {
		t.Errorf("the image of no preview: %d", p.status)
	}
}

// TestLinkFormCard: the link form draws the card of its preview fields
// (without JavaScript, the server's is the one shown): an image file of
// the org through the dashboard's file image route, an image elsewhere
// as its URL only.
func TestLinkFormCard(t *testing.T) {
	s := mustStart(t, withFiles(t))
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 120, 63))); err != nil {
		t.Fatal(err)
	}
	fileID := s.mustUpload(t, "card.png", img.Bytes())
	b := s.mustPerson(t, "ada@example.com", "member")

	if p := b.get("/links/new"); !strings.Contains(p.body, `<div id="card-body"><p class="card-none">`) {
		t.Errorf("the new link form has no empty card\n%s", p.body)
	}
	for _, tt := range []struct {
		name, image, want, wantNot string
	}{
		{"a file", fileID, `<img src="/files/` + fileID + `/image" alt="The preview's image">`, ""},
		{"elsewhere", "https://cdn.example.net/card.png",
			`<a href="https://cdn.example.net/card.png" rel="noreferrer">https://cdn.example.net/card.png</a>`, `<img`},
		{"a public file of this server", s.control.PublicURL() + "/f/file_abc/sig", `<img src="/f/file_abc/sig"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A rule button brings the form back with what was typed.
			p := b.submit("/links/new", "/links/new", url.Values{"url": {"https://example.com/summer"},
				"preview.title": {"Summer <sale>"}, "preview.image": {tt.image}, "rule": {"add"}})
			if p.status != 200 || !strings.Contains(p.body, tt.want) || !strings.Contains(p.body, "<strong>Summer &lt;sale&gt;</strong>") ||
				!strings.Contains(p.body, "<small>example.com</small>") || tt.wantNot != "" && strings.Contains(p.body, tt.wantNot) {
				t.Errorf("%d, want %s\n%s", p.status, tt.want, p.body)
			}
		})
	}

	if im := b.get("/files/" + fileID + "/image"); im.status != 200 || im.header.Get("Content-Type") != "image/png" || im.body != img.String() ||
		im.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a file's image: %d %q", im.status, im.header.Get("Content-Type"))
	}
	for _, id := range []string{"file_nothere", "link_1", "..%2Fv1%2Fme"} {
		if im := b.get("/files/" + id + "/image"); im.status != http.StatusNotFound {
			t.Errorf("the image of %s: %d, want 404", id, im.status)
		}
	}
	// Acting in an org of her own, the person finds no file of the other.
	org, err := s.mustOrgOf(t, "Ada's", "ada@example.com").GetOrg(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := b.submit("/links", "/org/switch", url.Values{"org": {org.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("switch: %d\n%s", p.status, p.body)
	}
	if im := b.get("/files/" + fileID + "/image"); im.status != http.StatusNotFound || strings.Contains(im.body, img.String()) {
		t.Errorf("another org's file: %d %q, want 404", im.status, im.header.Get("Content-Type"))
	}
}
