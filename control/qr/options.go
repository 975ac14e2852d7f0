package qr

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/h0p/h0p/shared/apierror"
)

// Format is the image format of a rendered code.
type Format string

// The formats Render writes.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// ContentType is the media type of f.
func (f Format) ContentType() string {
	if f == SVG {
		return "image/svg+xml"
	}
	return "image/png"
}

// Limits and defaults of Options (the package doc has the table).
const (
	MinSize       = 64
	MaxSize       = 2048
	DefaultSize   = 600
	MaxMargin     = 16
	DefaultMargin = 4
	MaxScale      = 40
	// MinContrast is the least WCAG contrast ratio of FG against BG.
	MinContrast = 3.0
)

// Options says how a code is drawn. Start from Defaults: the zero value is
// not valid (a zero Size, a transparent FG).
type Options struct {
	Format Format
	// Size is the side of the image in pixels (MinSize..MaxSize).
	Size int
	// Scale, when not 0, sets a module's side in pixels instead of Size.
	Scale int
	// Level is the error correction level: 'L', 'M', 'Q' or 'H'.
	Level byte
	// FG draws the dark modules, BG the light ones and the margin; both
	// opaque.
	FG, BG color.RGBA
	// Margin is the quiet zone in modules (0..MaxMargin).
	Margin int
	// Logo, when not nil, is centred on the code (level H).
	Logo image.Image
	// LogoID is the file id the API was asked for as a logo; Render
	// ignores it, the caller loads it into Logo.
	LogoID string
}

// Defaults are the options of a code asked for without any: a 600-pixel
// black-on-white PNG, level M, a 4-module quiet zone.
func Defaults() Options {
	return Options{
		Format: PNG,
		Size:   DefaultSize,
		Level:  'M',
		FG:     color.RGBA{0, 0, 0, 255},
		BG:     color.RGBA{255, 255, 255, 255},
		Margin: DefaultMargin,
	}
}

// ParseOptions reads the API's query parameters over Defaults. Every bad
// value is an apierror.Invalid naming its parameter.
func ParseOptions(q url.Values) (Options, error) {
	o := Defaults()
	if v, ok := param(q, "format"); ok {
		switch f := Format(strings.ToLower(v)); f {
		case PNG, SVG:
			o.Format = f
		default:
			return o, apierror.Invalid("format", "must be png or svg")
		}
	}
	var err error
	_, hasSize := param(q, "size")
	if hasSize {
		if o.Size, err = intParam(q, "size", MinSize, MaxSize); err != nil {
			return o, err
		}
	}
	if _, ok := param(q, "scale"); ok {
		if hasSize {
			return o, apierror.Invalid("scale", "give size or scale, not both")
		}
		if o.Scale, err = intParam(q, "scale", 1, MaxScale); err != nil {
			return o, err
		}
	}
	if v, ok := param(q, "level"); ok {
		if len(v) != 1 || !strings.Contains("LMQH", strings.ToUpper(v)) {
			return o, apierror.Invalid("level", "must be L, M, Q or H")
		}
		o.Level = strings.ToUpper(v)[0]
	}
	if _, ok := param(q, "margin"); ok {
		if o.Margin, err = intParam(q, "margin", 0, MaxMargin); err != nil {
			return o, err
		}
	}
	for _, c := range []struct {
		name string
		dst  *color.RGBA
	}{{"fgColor", &o.FG}, {"bgColor", &o.BG}} {
		v, ok := param(q, c.name)
		if !ok {
			continue
		}
		if *c.dst, ok = parseHex(v); !ok {
			return o, apierror.Invalid(c.name, "must be a hex colour, #rgb or #rrggbb")
		}
	}
	if err := checkContrast(o.FG, o.BG); err != nil {
		return o, err
	}
	if v, ok := param(q, "logo"); ok {
		if !strings.HasPrefix(v, "file_") || len(v) > 64 || strings.ContainsFunc(v, notIDRune) {
			return o, apierror.Invalid("logo", "must be the id of an image file (file_…)")
		}
		o.LogoID = v
	}
	return o, nil
}

// param is q's first value of name; an empty value counts as absent, as
// ?size= from a form left blank.
func param(q url.Values, name string) (string, bool) {
	v := q.Get(name)
	return v, v != ""
}

func intParam(q url.Values, name string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < lo || n > hi {
		return 0, apierror.Invalid(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n, nil
}

func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}

// parseHex reads #rgb or #rrggbb, the # optional.
func parseHex(s string) (color.RGBA, bool) {
	s = strings.TrimPrefix(s, "#")
	if len(s) != 3 && len(s) != 6 {
		return color.RGBA{}, false
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return color.RGBA{}, false
	}
	if len(s) == 3 {
		r, g, b := uint8(n>>8&0xf), uint8(n>>4&0xf), uint8(n&0xf)
		return color.RGBA{r * 17, g * 17, b * 17, 255}, true
	}
	return color.RGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), 255}, true
}

// checkContrast refuses colours a phone may not scan (see the package doc).
func checkContrast(fg, bg color.RGBA) error {
	lf, lb := luminance(fg), luminance(bg)
	if lf >= lb {
		return apierror.Invalid("fgColor", "must be darker than bgColor (inverted codes do not scan everywhere)")
	}
	if r := Contrast(fg, bg); r < MinContrast {
		return apierror.Invalid("fgColor", fmt.Sprintf("contrast with bgColor is %.2f:1, at least %.0f:1 scans reliably", r, MinContrast))
	}
	return nil
}

// Contrast is the WCAG 2 contrast ratio of two opaque colours, 1 to 21.
func Contrast(a, b color.RGBA) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(c color.RGBA) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}
