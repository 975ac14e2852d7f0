package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/files/blobs"
)

// withFiles gives control a real file store under a temp dir.
func withFiles(t testing.TB) func(*control.Config) {
	return func(cfg *control.Config) {
		l, err := blobs.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Files = l
	}
}

// mustUpload uploads body as a file named name with the Owner's key, and
// answers its id.
func (s *stack) mustUpload(t testing.TB, name string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/v1/files?name="+url.QueryEscape(name), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f apiclient.File
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != http.StatusCreated || f.ID == "" {
		t.Fatalf("upload %s: %d %+v %v", name, resp.StatusCode, f, err)
	}
	return f.ID
}

var qrImgRe = regexp.MustCompile(`<img class="qr-preview" src="([^"]+)"`)

// TestQRDesigner: the link page's designer passes its options through to
// the API, offers the org's images as logos, and shows the API's
// refusals beside their fields.
func TestQRDesigner(t *testing.T) {
	s := mustStart(t, withFiles(t))
	l, err := s.owner(t).CreateLink(context.Background(), apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/qr")})
	if err != nil {
		t.Fatal(err)
	}
	var logo bytes.Buffer
	grey := image.NewGray(image.Rect(0, 0, 40, 40))
	for i := range grey.Pix {
		grey.Pix[i] = 200
	}
	if err := png.Encode(&logo, grey); err != nil {
		t.Fatal(err)
	}
	logoID := s.mustUpload(t, "logo.png", logo.Bytes())
	pdfID := s.mustUpload(t, "terms.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))
	b := s.mustPerson(t, "ada@example.com", "member")
	linkURL := "/links/" + l.ID

	p := b.get(linkURL)
	if p.status != 200 || !strings.Contains(p.body, `<option value="`+logoID+`"`) || strings.Contains(p.body, pdfID) ||
		qrImgRe.MatchString(p.body) {
		t.Fatalf("the designer before it is sent: %d, want the PNG offered as a logo, not the PDF, no code\n%s", p.status, p.body)
	}

	for _, tt := range []struct {
		name  string
		query url.Values
		check func(t *testing.T, img page)
	}{
		{"png", url.Values{"format": {"png"}, "size": {"200"}, "fgColor": {"#113366"}, "bgColor": {"#ffffee"},
			"margin": {"2"}, "level": {"H"}, "logo": {logoID}}, func(t *testing.T, img page) {
			m, err := png.Decode(strings.NewReader(img.body))
			if err != nil {
				t.Fatal(err)
			}
			if b := m.Bounds(); b.Dx() != 200 || b.Dy() != 200 {
				t.Errorf("size %v, want 200×200", b)
			}
			want := map[color.RGBA]bool{{0x11, 0x33, 0x66, 0xff}: false, {0xff, 0xff, 0xee, 0xff}: false, {200, 200, 200, 0xff}: false}
			for y := range 200 {
				for x := range 200 {
					c := color.RGBAModel.Convert(m.At(x, y)).(color.RGBA)
					if _, ok := want[c]; ok {
						want[c] = true
					}
				}
			}
			for c, seen := range want {
				if !seen {
					t.Errorf("no pixel of %v (foreground, background, logo)", c)
				}
			}
		}},
		{"svg", url.Values{"format": {"svg"}, "fgColor": {"#113366"}, "bgColor": {"#ffffff"}}, func(t *testing.T, img page) {
			if img.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(img.body, `<path fill="#113366"`) {
				t.Errorf("%q, want the foreground's fill:\n%.300s", img.header.Get("Content-Type"), img.body)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get(linkURL + "?" + tt.query.Encode())
			m := qrImgRe.FindStringSubmatch(p.body)
			if p.status != 200 || m == nil {
				t.Fatalf("%d, no code shown\n%s", p.status, p.body)
			}
			src := html.UnescapeString(m[1])
			if !strings.Contains(p.body, `href="`+m[1]+`" download`) {
				t.Errorf("no download of %s", src)
			}
			u, err := url.Parse(src)
			if err != nil || u.Path != "/links/"+l.ID+"/qr" {
				t.Fatalf("image at %q %v", src, err)
			}
			for k := range tt.query {
				if u.Query().Get(k) != tt.query.Get(k) {
					t.Errorf("%s=%q passed on, want %q", k, u.Query().Get(k), tt.query.Get(k))
				}
			}
			img := b.get(src)
			if img.status != 200 {
				t.Fatalf("the image: %d %s", img.status, img.body)
			}
			tt.check(t, img)
		})
	}

	for _, tt := range []struct {
		name, field, want string
		query             url.Values
	}{
		{"low contrast", "fgColor", "contrast with bgColor", url.Values{"fgColor": {"#777777"}, "bgColor": {"#888888"}}},
		{"inverted", "fgColor", "darker than bgColor", url.Values{"fgColor": {"#ffffff"}, "bgColor": {"#000000"}}},
		{"too small", "size", "from 64", url.Values{"size": {"10"}}},
		{"not a number", "margin", "whole number", url.Values{"margin": {"lots"}}},
		{"not a logo", "logo", "PNG, JPEG, GIF or WebP", url.Values{"logo": {pdfID}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get(linkURL + "?" + tt.query.Encode())
			m := regexp.MustCompile(`id="` + tt.field + `-err">([^<]*)<`).FindStringSubmatch(p.body)
			if p.status != http.StatusBadRequest || m == nil || !strings.Contains(html.UnescapeString(m[1]), tt.want) ||
				qrImgRe.MatchString(p.body) {
				t.Errorf("%d, want 400 with %q beside %s and no code\n%s", p.status, tt.want, tt.field, p.body)
			}
		})
	}

	// The route itself refuses what the API refuses, as a page.
	if p := b.get("/links/" + l.ID + "/qr?fgColor=%23777777&bgColor=%23888888"); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, "contrast") {
		t.Errorf("a low-contrast download: %d\n%s", p.status, p.body)
	}
}
