package files

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"github.com/h0p/h0p/shared/apierror"
)

func encoded(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 7, 5), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webp is a 1×1 lossless WebP.
var webp = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

func TestInspect(t *testing.T) {
	for _, tt := range []struct {
		name       string
		b          []byte
		mediaType  string
		w, h       int
		code       apierror.Code
		reasonPart string
	}{
		{"png", encoded(t, "png"), PNG, 7, 5, "", ""},
		{"jpeg", encoded(t, "jpeg"), JPEG, 7, 5, "", ""},
		{"gif", encoded(t, "gif"), GIF, 7, 5, "", ""},
		{"webp", webp, WebP, 1, 1, "", ""},
		{"pdf", []byte("%PDF-1.7\n%%EOF\n"), PDF, 0, 0, "", ""},
		{"svg size", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="20px" height="10"><rect width="1" height="1"/></svg>`), SVG, 20, 10, "", ""},
		{"svg viewBox", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 32"><rect width="1" height="1"/></svg>`), SVG, 64, 32, "", ""},
		{"svg relative size", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100%"><rect/></svg>`), SVG, 0, 0, "", ""},
		{"svg swallowed by a raw-text element", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><plaintext><rect/></svg>`), "", 0, 0, apierror.ValidationError, "well-formed"},
		{"svg left open", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/>`), "", 0, 0, apierror.ValidationError, "well-formed"},
		{"svg twice", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>`), "", 0, 0, apierror.ValidationError, "well-formed"},
		{"html", []byte("<html><body>hi</body></html>"), "", 0, 0, apierror.UnsupportedMediaType, "text/html"},
		{"text", []byte("just text"), "", 0, 0, apierror.UnsupportedMediaType, "text/plain"},
		{"empty", nil, "", 0, 0, apierror.ValidationError, "empty"},
		{"png header only", encoded(t, "png")[:20], "", 0, 0, apierror.ValidationError, "header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Inspect(tt.b)
			if tt.code != "" {
				e, ok := errors.AsType[*apierror.Error](err)
				if !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.reasonPart) {
					t.Fatalf("Inspect: %v; want %s naming %q", err, tt.code, tt.reasonPart)
				}
				return
			}
			if err != nil || c.MediaType != tt.mediaType || c.Width != tt.w || c.Height != tt.h {
				t.Errorf("Inspect = %s %d×%d, %v; want %s %d×%d", c.MediaType, c.Width, c.Height, err, tt.mediaType, tt.w, tt.h)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"logo.png":               "logo.png",
		`C:\fakepath\logo.png`:   "logo.png",
		"../../etc/passwd":       "passwd",
		"a\x00b\nc\u2028.png":    "abc.png",
		"  spaced.pdf  ":         "spaced.pdf",
		"":                       "file",
		"..":                     "file",
		"dir/":                   "file",
		"bad\xffutf8":            "bad\uFFFDutf8",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
		strings.Repeat("a", 300): strings.Repeat("a", 255),
	} {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

var (
	handler     = regexp.MustCompile(`\son[a-z]+\s*=`)
	externalURL = regexp.MustCompile(`="[^"]*url\(\s*[^#\s"]`)
)

// FuzzInspect: whatever comes in, Inspect answers without panicking, an
// accepted file is one of Types with sane dimensions, and a sanitised SVG
// is SVG with nothing active left in it.
func FuzzInspect(f *testing.F) {
	f.Add(encoded(f, "png"))
	f.Add(encoded(f, "gif"))
	f.Add(webp)
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><script>x()</script><a href="javascript:x()"><rect fill="url(http://e/)"/></a></svg>`))
	f.Add([]byte("%PDF-1.4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Inspect(b)
		if err != nil {
			if _, ok := errors.AsType[*apierror.Error](err); !ok {
				t.Fatalf("not an API error: %v", err)
			}
			return
		}
		known := false
		for _, mt := range Types {
			known = known || mt == c.MediaType
		}
		if !known || c.Width < 0 || c.Height < 0 || int64(c.Width)*int64(c.Height) > MaxPixels && c.MediaType != SVG {
			t.Fatalf("accepted %s %d×%d", c.MediaType, c.Width, c.Height)
		}
		if c.MediaType == SVG {
			low := strings.ToLower(string(c.Bytes))
			for _, bad := range []string{"<script", "<foreignobject", "<style", "<image", `="javascript:`} {
				if strings.Contains(low, bad) {
					t.Fatalf("sanitised SVG holds %q: %s", bad, c.Bytes)
				}
			}
			if handler.MatchString(low) {
				t.Fatalf("sanitised SVG holds an event handler: %s", c.Bytes)
			}
			if externalURL.MatchString(low) {
				t.Fatalf("sanitised SVG loads a URL: %s", c.Bytes)
			}
		}
	})
}
