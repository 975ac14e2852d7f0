package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
)

// logoFiles is a LogoSource holding one image file, file_logo, of org_1.
type logoFiles struct{}

func (logoFiles) LogoImage(_ context.Context, p access.Principal, id string) (image.Image, error) {
	if id != "file_logo" || p.OrgID != "org_1" {
		return nil, apierror.New(apierror.NotFound, "file not found")
	}
	img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = 200
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img, nil
}

var _ api.LogoSource = logoFiles{}

func TestLinkQR(t *testing.T) {
	e := mustStart(t)
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/qr","key":"qr"}`)
	path := "/v1/links/" + l["id"].(string) + "/qr"

	r := e.do(t, "GET", path, e.key, nil)
	img, err := png.Decode(bytes.NewReader(r.body))
	if r.status != 200 || err != nil || r.header.Get("Content-Type") != "image/png" ||
		r.header.Get("Cache-Control") != "private, max-age=300" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("default: %d %v %v", r.status, r.header, err)
	}
	if _, paletted := img.(*image.Paletted); !paletted || img.Bounds().Dx() != 600 || img.Bounds().Dy() != 600 {
		t.Errorf("default image %T %v, want a paletted 600×600", img, img.Bounds())
	}

	r = e.do(t, "GET", path+"?format=svg&size=300&fgColor=%231a237e&bgColor=fff9c4&level=H&margin=2", e.key, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		r.header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'" ||
		r.header.Get("Cache-Control") != "private, max-age=300" {
		t.Fatalf("svg: %d %v", r.status, r.header)
	}
	if s := string(r.body); !strings.HasPrefix(s, "<svg ") || !strings.Contains(s, `width="300"`) || !strings.Contains(s, `fill="#1a237e"`) {
		t.Errorf("svg body %.200s", s)
	}

	for _, c := range []struct{ query, field string }{
		{"size=10", "size"},
		{"format=gif", "format"},
		{"fgColor=fff", "fgColor"},
		{"margin=99", "margin"},
		{"logo=file_logo", "logo"}, // no LogoSource
	} {
		r := e.do(t, "GET", path+"?"+c.query, e.key, nil)
		var m struct {
			Error struct {
				Code    string
				Details []struct{ Field string }
			}
		}
		json.Unmarshal(r.body, &m)
		if r.status != 400 || m.Error.Code != "VALIDATION_ERROR" || len(m.Error.Details) != 1 || m.Error.Details[0].Field != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.query, r.status, r.body, c.field)
		}
	}
}

func TestLinkQRLogo(t *testing.T) {
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000}, func(c *api.Config) { c.Logos = logoFiles{} })
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/qr","key":"qr"}`)
	path := "/v1/links/" + l["id"].(string) + "/qr"

	r := e.do(t, "GET", path+"?logo=file_logo&size=200", e.key, nil)
	img, err := png.Decode(bytes.NewReader(r.body))
	if r.status != 200 || err != nil {
		t.Fatalf("logo: %d %s %v", r.status, r.body, err)
	}
	// The logo's grey is in the middle of the code.
	if got := color.GrayModel.Convert(img.At(100, 100)).(color.Gray).Y; got != 200 {
		t.Errorf("centre grey %d, want the logo's 200", got)
	}
	r = e.do(t, "GET", path+"?logo=file_logo&format=svg", e.key, nil)
	if r.status != 200 || r.header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'; img-src data:" ||
		!strings.Contains(string(r.body), `href="data:image/png;base64,`) {
		t.Errorf("svg logo: %d %v %.100s", r.status, r.header, r.body)
	}
	if r := e.do(t, "GET", path+"?logo=file_other", e.key, nil); r.status != 404 {
		t.Errorf("unknown logo: %d %s", r.status, r.body)
	}
}

// TestSaveQRWithAnUploadedLogo saves a link's code with an uploaded image
// as its logo, through the files service as the server wires it, and
// decodes the saved file back to the short link.
func TestSaveQRWithAnUploadedLogo(t *testing.T) {
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000}, func(c *api.Config) { c.Logos = c.Files })
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/qr","key":"print"}`)
	logo := e.mustUpload(t, e.key, "logo.png", pngOf(t, 64, 48, color.RGBA{200, 30, 30, 255}))["id"].(string)

	f := e.mustCall(t, 201, "POST", "/v1/files/qr", e.key,
		`{"linkId":"`+l["id"].(string)+`","logo":"`+logo+`","size":400,"fgColor":"#1a237e"}`)
	if f["type"] != "image/png" || f["name"] != "qr-print.png" || f["width"] != float64(400) {
		t.Fatalf("saved code %v", f)
	}
	r := e.do(t, "GET", "/v1/files/"+f["id"].(string)+"/content", e.key, nil)
	img, err := png.Decode(bytes.NewReader(r.body))
	if r.status != 200 || err != nil {
		t.Fatalf("content: %d %v", r.status, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil || res.GetText() != l["shortLink"].(string)+"?qr=1" {
		t.Fatalf("decoded %v, %v; want %s?qr=1", res, err, l["shortLink"])
	}

	// The saved code is among the logo's references: deleting the logo
	// takes force.
	refs := fmt.Sprint(e.mustCall(t, 200, "GET", "/v1/files/"+logo, e.key, "")["references"])
	if !strings.Contains(refs, f["id"].(string)) || !strings.Contains(refs, "logo") {
		t.Errorf("logo's references %s, want the saved code %s", refs, f["id"])
	}
	e.mustCall(t, 409, "DELETE", "/v1/files/"+logo, e.key, "")

	svg := e.mustCall(t, 201, "POST", "/v1/files/qr", e.key, `{"linkId":"`+l["id"].(string)+`","format":"svg","name":"print.svg"}`)
	if svg["type"] != "image/svg+xml" || svg["name"] != "print.svg" {
		t.Errorf("saved svg %v", svg)
	}
	// The logo is read from the org's files on GET too.
	if r := e.do(t, "GET", "/v1/links/"+l["id"].(string)+"/qr?logo="+logo, e.key, nil); r.status != 200 {
		t.Errorf("GET with an uploaded logo: %d %s", r.status, r.body)
	}

	for _, c := range []struct{ body, field string }{
		{`{"linkId":"` + l["id"].(string) + `","format":"svg","logo":"` + logo + `"}`, "logo"},
		{`{"linkId":"` + l["id"].(string) + `","size":10}`, "size"},
		{`{"linkId":"` + l["id"].(string) + `","fgColor":"#eeeeee"}`, "fgColor"},
		{`{"format":"png"}`, "linkId"},
	} {
		r := e.do(t, "POST", "/v1/files/qr", e.key, strings.NewReader(c.body))
		var m struct {
			Error struct{ Details []struct{ Field string } }
		}
		json.Unmarshal(r.body, &m)
		if r.status != 400 || len(m.Error.Details) != 1 || m.Error.Details[0].Field != c.field {
			t.Errorf("%s: %d %s, want 400 on %s", c.body, r.status, r.body, c.field)
		}
	}
	e.mustCall(t, 404, "POST", "/v1/files/qr", e.key, `{"linkId":"lnk_missing"}`)
	pdf := e.mustUpload(t, e.key, "a.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))["id"].(string)
	e.mustCall(t, 400, "POST", "/v1/files/qr", e.key, `{"linkId":"`+l["id"].(string)+`","logo":"`+pdf+`"}`)

	k := e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"files only","type":"bot","permissions":{"files":["create","read"]}}`)
	e.mustCall(t, 403, "POST", "/v1/files/qr", k["key"].(string), `{"linkId":"`+l["id"].(string)+`"}`)
	// A key without files read neither draws a file as a logo nor
	// publishes one as a link's image.
	k = e.mustCall(t, 201, "POST", "/v1/api-keys", e.key, `{"name":"links only","type":"bot","permissions":{"shortLinks":["create","read","update"]}}`)
	linksOnly := k["key"].(string)
	e.mustCall(t, 403, "GET", "/v1/links/"+l["id"].(string)+"/qr?logo="+logo, linksOnly, "")
	e.mustCall(t, 200, "GET", "/v1/links/"+l["id"].(string)+"/qr", linksOnly, "")
	e.mustCall(t, 403, "POST", "/v1/links", linksOnly, `{"url":"https://example.com/p","preview":{"title":"T","image":"`+logo+`"}}`)
	e.mustCall(t, 403, "PATCH", "/v1/links/"+l["id"].(string), linksOnly, `{"image":"`+logo+`"}`)
}
