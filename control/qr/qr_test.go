package qr_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/h0p/h0p/control/qr"
	"github.com/h0p/h0p/shared/apierror"
)

const text = "https://h0p.link/spring-sale?qr=1"

var (
	darkBlue    = color.RGBA{0x1a, 0x23, 0x7e, 255}
	lightYellow = color.RGBA{0xff, 0xf9, 0xc4, 255}
)

// logo is a generated picture: a red disc with a dark ring on a
// transparent 240×160 canvas (not square, to check the aspect ratio).
func logo() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 240, 160))
	for y := range 160 {
		for x := range 240 {
			dx, dy := x-120, y-80
			switch d := dx*dx + dy*dy; {
			case d < 50*50:
				img.Set(x, y, color.NRGBA{220, 30, 40, 255})
			case d < 70*70:
				img.Set(x, y, color.NRGBA{20, 20, 60, 255})
			}
		}
	}
	return img
}

func opts(f func(*qr.Options)) qr.Options {
	o := qr.Defaults()
	f(&o)
	return o
}

func TestPNGDecodes(t *testing.T) {
	type tc struct {
		name string
		o    qr.Options
	}
	var cases []tc
	for _, level := range []byte("LMQH") {
		for _, size := range []int{64, 600, 2048} {
			cases = append(cases, tc{fmt.Sprintf("level %c size %d", level, size), opts(func(o *qr.Options) { o.Level, o.Size = level, size })})
		}
	}
	cases = append(cases,
		tc{"defaults", qr.Defaults()},
		tc{"dark blue on light yellow", opts(func(o *qr.Options) { o.FG, o.BG = darkBlue, lightYellow })},
		tc{"margin 0", opts(func(o *qr.Options) { o.Margin = 0 })},
		tc{"margin 10", opts(func(o *qr.Options) { o.Margin = 10 })},
		tc{"margin 16 size 64", opts(func(o *qr.Options) { o.Margin, o.Size = 16, 64 })},
		tc{"odd size", opts(func(o *qr.Options) { o.Size = 601 })},
		tc{"logo", opts(func(o *qr.Options) { o.Logo = logo() })},
		tc{"logo level L", opts(func(o *qr.Options) { o.Logo, o.Level = logo(), 'L' })},
		tc{"logo in colour", opts(func(o *qr.Options) { o.Logo, o.FG, o.BG = logo(), darkBlue, lightYellow })},
		tc{"logo size 64", opts(func(o *qr.Options) { o.Logo, o.Size = logo(), 64 })},
		tc{"logo size 2048", opts(func(o *qr.Options) { o.Logo, o.Size = logo(), 2048 })},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := qr.Render(text, c.o)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds(); got != image.Rect(0, 0, c.o.Size, c.o.Size) {
				t.Errorf("bounds %v, want %d×%d", got, c.o.Size, c.o.Size)
			}
			if _, paletted := img.(*image.Paletted); paletted != (c.o.Logo == nil) {
				t.Errorf("paletted %v with logo %v", paletted, c.o.Logo != nil)
			}
			// The corner pixel is the background, the margin's colour.
			if got := color.RGBAModel.Convert(img.At(0, 0)); got != c.o.BG {
				t.Errorf("corner %v, want %v", got, c.o.BG)
			}
			if got, level := mustDecode(t, img); got != text {
				t.Errorf("decoded %q, want %q", got, text)
			} else if want := wantLevel(c.o); level != want {
				t.Errorf("level %s, want %s", level, want)
			}
		})
	}
}

func wantLevel(o qr.Options) string {
	if o.Logo != nil {
		return "H"
	}
	return string(o.Level)
}

// mustDecode reads img with gozxing, an independent decoder, and returns
// the text and the error correction level it found.
func mustDecode(t *testing.T, img image.Image) (string, string) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	level, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), level
}

func TestPNGModulesAndRounding(t *testing.T) {
	bits, err := qr.Matrix(text, 'M', false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ size, margin int }{{600, 4}, {601, 4}, {64, 0}, {2048, 10}} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			b, err := qr.Render(text, opts(func(o *qr.Options) { o.Size, o.Margin = c.size, c.margin }))
			if err != nil {
				t.Fatal(err)
			}
			img, _ := png.Decode(bytes.NewReader(b))
			n := len(bits) + 2*c.margin
			mod := c.size / n
			off := (c.size - mod*n) / 2
			// Every pixel of every module is its module's colour.
			for y := range c.size {
				for x := range c.size {
					mx, my := (x-off)/mod-c.margin, (y-off)/mod-c.margin
					dark := x >= off && y >= off && mx >= 0 && my >= 0 && mx < len(bits) && my < len(bits) && bits[my][mx]
					if r, _, _, _ := img.At(x, y).RGBA(); (r == 0) != dark {
						t.Fatalf("pixel (%d,%d) dark %v, want %v", x, y, r == 0, dark)
					}
				}
			}
		})
	}
}

func TestScale(t *testing.T) {
	o := opts(func(o *qr.Options) { o.Scale = 3 })
	b, err := qr.Render(text, o)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	bits, _ := qr.Matrix(text, 'M', false)
	if got, want := img.Bounds().Dx(), 3*(len(bits)+8); got != want {
		t.Errorf("width %d, want %d", got, want)
	}
	if got, _ := mustDecode(t, img); got != text {
		t.Errorf("decoded %q", got)
	}
}

// svgDoc is what an SVG code may hold.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	ViewBox string   `xml:"viewBox,attr"`
	Rects   []struct {
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
	Images []struct {
		Href string `xml:"href,attr"`
	} `xml:"image"`
	Other []struct{ XMLName xml.Name } `xml:",any"` // anything else
}

var run = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// modules rebuilds the n×n bitmap the path's runs paint.
func modules(t *testing.T, d string, n int) [][]bool {
	t.Helper()
	bits := make([][]bool, n)
	for i := range bits {
		bits[i] = make([]bool, n)
	}
	for d != "" {
		m := run.FindStringSubmatch(d)
		if m == nil || m[3] != m[4] {
			t.Fatalf("path does not go on with a run: %.40q", d)
		}
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if y >= n || x+w > n {
			t.Fatalf("run %s out of %d modules", m[0], n)
		}
		for i := x; i < x+w; i++ {
			if bits[y][i] {
				t.Fatalf("run %s overlaps another", m[0])
			}
			bits[y][i] = true
		}
		if x+w < n && strings.HasPrefix(d[len(m[0]):], fmt.Sprintf("M%d %d", x+w, y)) {
			t.Fatalf("run %s not merged with the next", m[0])
		}
		d = d[len(m[0]):]
	}
	return bits
}

func TestSVG(t *testing.T) {
	for _, c := range []struct {
		name string
		o    qr.Options
	}{
		{"defaults", opts(func(o *qr.Options) { o.Format = qr.SVG })},
		{"level H margin 0 colours", opts(func(o *qr.Options) {
			o.Format, o.Level, o.Margin, o.FG, o.BG = qr.SVG, 'H', 0, darkBlue, lightYellow
		})},
		{"level L margin 10 size 64", opts(func(o *qr.Options) { o.Format, o.Level, o.Margin, o.Size = qr.SVG, 'L', 10, 64 })},
		{"logo", opts(func(o *qr.Options) { o.Format, o.Logo = qr.SVG, logo() })},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := qr.Render(text, c.o)
			if err != nil {
				t.Fatal(err)
			}
			var doc svgDoc
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			want, _ := qr.Matrix(text, wantLevel(c.o)[0], c.o.Logo != nil)
			n := len(want) + 2*c.o.Margin
			if doc.Width != c.o.Size || doc.Height != c.o.Size || doc.ViewBox != fmt.Sprintf("0 0 %d %d", n, n) {
				t.Errorf("width %d height %d viewBox %q, want %d and 0 0 %d %d", doc.Width, doc.Height, doc.ViewBox, c.o.Size, n, n)
			}
			if len(doc.Paths) != 1 || len(doc.Rects) != 1 || doc.Rects[0].Width != strconv.Itoa(n) {
				t.Fatalf("%d paths, rects %v, want one of each", len(doc.Paths), doc.Rects)
			}
			if doc.Rects[0].Fill != hex(c.o.BG) || doc.Paths[0].Fill != hex(c.o.FG) {
				t.Errorf("fills %s on %s", doc.Paths[0].Fill, doc.Rects[0].Fill)
			}
			wantImages := 0
			if c.o.Logo != nil {
				wantImages = 1
			}
			if len(doc.Images) != wantImages || len(doc.Other) != 0 {
				t.Fatalf("%d images, %d elements", len(doc.Images), len(doc.Other))
			}
			if wantImages == 1 && !strings.HasPrefix(doc.Images[0].Href, "data:image/png;base64,") {
				t.Errorf("logo href %.40q", doc.Images[0].Href)
			}
			got := modules(t, doc.Paths[0].D, n)
			// Under a logo, its box is cleared: a square centred on the code,
			// 9 modules or more from every edge.
			cleared := 0
			for y := range n {
				for x := range n {
					in := y >= c.o.Margin && x >= c.o.Margin && y < n-c.o.Margin && x < n-c.o.Margin && want[y-c.o.Margin][x-c.o.Margin]
					if got[y][x] == in {
						continue
					}
					if c.o.Logo == nil || got[y][x] || min(x, y, n-1-x, n-1-y)-c.o.Margin < 9 {
						t.Fatalf("module (%d,%d) dark %v, want %v", x, y, got[y][x], in)
					}
					cleared++
				}
			}
			if c.o.Logo != nil && (cleared == 0 || cleared > len(want)*len(want)/5) {
				t.Errorf("%d modules cleared under the logo of a %d-module code", cleared, len(want))
			}
			// The path alone, rasterised at 4 pixels a module, scans.
			const px = 4
			img := image.NewGray(image.Rect(0, 0, n*px, n*px))
			for y := range n * px {
				for x := range n * px {
					if !got[y/px][x/px] {
						img.SetGray(x, y, color.Gray{255})
					}
				}
			}
			if c.o.Margin == 0 {
				img = pad(img, 4*px)
			}
			if got, _ := mustDecode(t, img); got != text {
				t.Errorf("decoded %q", got)
			}
		})
	}
}

// pad surrounds img with white, as a page does a code without margin.
func pad(img *image.Gray, by int) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()+2*by, b.Dy()+2*by))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := range b.Dy() {
		copy(out.Pix[(y+by)*out.Stride+by:], img.Pix[y*img.Stride:y*img.Stride+b.Dx()])
	}
	return out
}

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// TestContrastThreshold: grey on white just at 3:1 is accepted and scans;
// just below is refused on fgColor, as are inverted colours.
func TestContrastThreshold(t *testing.T) {
	white := color.RGBA{255, 255, 255, 255}
	var at, below color.RGBA
	for v := 0; v < 256; v++ {
		g := color.RGBA{uint8(v), uint8(v), uint8(v), 255}
		if qr.Contrast(g, white) >= qr.MinContrast {
			at = g
		} else {
			below = g
			break
		}
	}
	b, err := qr.Render(text, opts(func(o *qr.Options) { o.FG = at }))
	if err != nil {
		t.Fatalf("contrast %.3f: %v", qr.Contrast(at, white), err)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	if got, _ := mustDecode(t, img); got != text {
		t.Errorf("decoded %q", got)
	}
	black := color.RGBA{0, 0, 0, 255}
	for _, c := range []struct{ fg, bg color.RGBA }{{below, white}, {white, black}} {
		if _, err := qr.Render(text, opts(func(o *qr.Options) { o.FG, o.BG = c.fg, c.bg })); field(err) != "fgColor" {
			t.Errorf("%v on %v: error %v, want one on fgColor", c.fg, c.bg, err)
		}
	}
	q := url.Values{"fgColor": {fmt.Sprintf("%02x%02x%02x", below.R, below.G, below.B)}}
	if _, err := qr.ParseOptions(q); field(err) != "fgColor" {
		t.Errorf("ParseOptions(%v): %v", q, err)
	}
}

func field(err error) string {
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != apierror.ValidationError || len(e.Details) != 1 {
		return ""
	}
	return e.Details[0].Field
}

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		query string
		want  qr.Options
	}{
		{"", qr.Defaults()},
		{"format=SVG&size=64&level=h&margin=0&fgColor=%231a237e&bgColor=fff9c4", opts(func(o *qr.Options) {
			o.Format, o.Size, o.Level, o.Margin, o.FG, o.BG = qr.SVG, 64, 'H', 0, darkBlue, lightYellow
		})},
		{"fgColor=%23123&bgColor=EEE&size=2048&margin=16", opts(func(o *qr.Options) {
			o.FG, o.BG, o.Size, o.Margin = color.RGBA{0x11, 0x22, 0x33, 255}, color.RGBA{0xee, 0xee, 0xee, 255}, 2048, 16
		})},
		{"scale=8&unknown=1&size=", opts(func(o *qr.Options) { o.Scale = 8 })},
		{"fgColor=777", opts(func(o *qr.Options) { o.FG = color.RGBA{0x77, 0x77, 0x77, 255} })}, // 4.48:1
		{"logo=file_01HXYZ", opts(func(o *qr.Options) { o.LogoID = "file_01HXYZ" })},
	} {
		q, _ := url.ParseQuery(c.query)
		got, err := qr.ParseOptions(q)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ParseOptions(%q) = %+v, %v; want %+v", c.query, got, err, c.want)
		}
	}
}

func TestParseOptionsRefuses(t *testing.T) {
	for _, c := range []struct{ query, field string }{
		{"format=jpeg", "format"},
		{"format=png%00", "format"},
		{"size=63", "size"},
		{"size=2049", "size"},
		{"size=600px", "size"},
		{"size=1e3", "size"},
		{"size=-600", "size"},
		{"level=X", "level"},
		{"level=MM", "level"},
		{"margin=17", "margin"},
		{"margin=-1", "margin"},
		{"margin=four", "margin"},
		{"scale=0", "scale"},
		{"scale=41", "scale"},
		{"scale=4&size=600", "scale"},
		{"fgColor=black", "fgColor"},
		{"fgColor=%2312345", "fgColor"},
		{"fgColor=%23ggg", "fgColor"},
		{"fgColor=0x123", "fgColor"},
		{"fgColor=%2B123", "fgColor"},
		{"bgColor=%23fffffff", "bgColor"},
		{"bgColor=%23ff_fff", "bgColor"},
		{"fgColor=fff&bgColor=000", "fgColor"}, // inverted
		{"fgColor=aaa&bgColor=fff", "fgColor"}, // 2.32:1
		{"fgColor=1a237e&bgColor=1a237f", "fgColor"},
		{"logo=abc", "logo"},
		{"logo=file_a%2Fb", "logo"},
		{"logo=file_" + strings.Repeat("a", 60), "logo"},
	} {
		q, _ := url.ParseQuery(c.query)
		_, err := qr.ParseOptions(q)
		if got := field(err); got != c.field {
			t.Errorf("ParseOptions(%q) = %v, want an error on %s", c.query, err, c.field)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	long := "https://h0p.link/" + strings.Repeat("x", 400)
	for _, c := range []struct {
		name, text, field string
		o                 qr.Options
	}{
		{"size too small for the code", long, "size", opts(func(o *qr.Options) { o.Size = 64 })},
		{"scale too large for the code", long, "scale", opts(func(o *qr.Options) { o.Scale = 40 })},
		{"zero options", text, "format", qr.Options{}},
		{"transparent fg", text, "fgColor", opts(func(o *qr.Options) { o.FG.A = 0 })},
		{"level", text, "level", opts(func(o *qr.Options) { o.Level = 'X' })},
		{"empty logo", text, "logo", opts(func(o *qr.Options) { o.Logo = image.NewNRGBA(image.Rect(0, 0, 0, 10)) })},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := qr.Render(c.text, c.o); field(err) != c.field {
				t.Errorf("error %v, want one on %s", err, c.field)
			}
		})
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"", "format=svg&size=64&level=H&margin=0&fgColor=%23000&bgColor=fff",
		"scale=8", "logo=file_1", "size=1%00", "fgColor=%23%23fff", "level=%C3%A9"} {
		f.Add(s)
	}
	params := map[string]bool{"format": true, "size": true, "scale": true, "level": true,
		"margin": true, "fgColor": true, "bgColor": true, "logo": true}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		o, err := qr.ParseOptions(q)
		if err != nil {
			if !params[field(err)] {
				t.Fatalf("error %v names no parameter", err)
			}
			return
		}
		if o.Size < qr.MinSize || o.Size > qr.MaxSize || o.Margin < 0 || o.Margin > qr.MaxMargin ||
			o.Scale < 0 || o.Scale > qr.MaxScale || !strings.ContainsRune("LMQH", rune(o.Level)) ||
			qr.Contrast(o.FG, o.BG) < qr.MinContrast || (o.Format != qr.PNG && o.Format != qr.SVG) {
			t.Fatalf("accepted %+v", o)
		}
		// Whatever it accepts renders, but small: the fuzzer checks the
		// parser, not the drawing.
		o.Size, o.Scale = qr.MinSize, 0
		if _, err := qr.Render("https://h0p.link/x?qr=1", o); err != nil {
			t.Fatalf("Render(%+v): %v", o, err)
		}
	})
}
