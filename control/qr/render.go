package qr

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"

	"github.com/h0p/h0p/shared/apierror"
	"github.com/yeqown/go-qrcode/v2"
)

// Render draws text as a QR code in o's format. Options out of range are
// apierror.Invalid naming the API's parameter, as ParseOptions' are.
func Render(text string, o Options) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	bits, err := Matrix(text, o.level(), o.Logo != nil)
	if err != nil {
		return nil, err
	}
	g, err := o.layout(len(bits))
	if err != nil {
		return nil, err
	}
	if o.Logo != nil {
		g.clearLogoBox(bits)
	}
	var out bytes.Buffer
	if o.Format == SVG {
		err = g.writeSVG(&out, bits, o)
	} else {
		err = png.Encode(&out, g.draw(bits, o))
	}
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return out.Bytes(), nil
}

func (o Options) check() error {
	switch {
	case o.Format != PNG && o.Format != SVG:
		return apierror.Invalid("format", "must be png or svg")
	case o.Scale == 0 && (o.Size < MinSize || o.Size > MaxSize):
		return apierror.Invalid("size", fmt.Sprintf("must be a whole number from %d to %d", MinSize, MaxSize))
	case o.Scale < 0 || o.Scale > MaxScale:
		return apierror.Invalid("scale", fmt.Sprintf("must be a whole number from 1 to %d", MaxScale))
	case o.Level != 'L' && o.Level != 'M' && o.Level != 'Q' && o.Level != 'H':
		return apierror.Invalid("level", "must be L, M, Q or H")
	case o.Margin < 0 || o.Margin > MaxMargin:
		return apierror.Invalid("margin", fmt.Sprintf("must be a whole number from 0 to %d", MaxMargin))
	case o.FG.A != 255:
		return apierror.Invalid("fgColor", "must be opaque")
	case o.BG.A != 255:
		return apierror.Invalid("bgColor", "must be opaque")
	case o.Logo != nil && o.Logo.Bounds().Empty():
		return apierror.Invalid("logo", "is an empty image")
	}
	return checkContrast(o.FG, o.BG)
}

// level is the error correction level drawn: H under a logo.
func (o Options) level() byte {
	if o.Logo != nil {
		return 'H'
	}
	return o.Level
}

// Matrix is the QR code of text at level ('L', 'M', 'Q' or 'H'), without
// quiet zone: true is a dark module. forLogo asks for version 4 or more,
// room for a logo.
func Matrix(text string, level byte, forLogo bool) ([][]bool, error) {
	ec := map[byte]qrcode.EncodeOption{
		'L': qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionLow),
		'M': qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
		'Q': qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart),
		'H': qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionHighest),
	}[level]
	if ec == nil {
		return nil, apierror.Invalid("level", "must be L, M, Q or H")
	}
	opts := []qrcode.EncodeOption{ec}
	if forLogo {
		opts = append(opts, qrcode.WithMinimumVersion(4))
	}
	code, err := qrcode.NewWith(text, opts...)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	var w matrixWriter
	if err := code.Save(&w); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return w.bits, nil
}

// matrixWriter is a qrcode.Writer keeping the modules.
type matrixWriter struct{ bits [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.bits = m.Bitmap(); return nil }
func (w *matrixWriter) Close() error                { return nil }

// geometry places a code of dim modules in the image.
type geometry struct {
	dim    int // modules of the code
	margin int // modules of quiet zone
	n      int // modules across the image: dim + 2·margin
	side   int // pixels across the image
	mod    int // pixels a module (PNG)
	off    int // pixels before the first margin module (PNG), the rounding's share
	// The logo's box: k modules from module at (in code coordinates).
	at, k int
}

func (o Options) layout(dim int) (geometry, error) {
	g := geometry{dim: dim, margin: o.Margin, n: dim + 2*o.Margin}
	if o.Scale > 0 {
		g.mod, g.side = o.Scale, g.n*o.Scale
		if g.side > MaxSize {
			return g, apierror.Invalid("scale", fmt.Sprintf("makes this code %d pixels wide, more than %d", g.side, MaxSize))
		}
	} else {
		g.side, g.mod = o.Size, o.Size/g.n
		if g.mod < 1 {
			return g, apierror.Invalid("size", fmt.Sprintf("this code needs at least %d pixels (%d modules)", g.n, g.n))
		}
		g.off = (g.side - g.mod*g.n) / 2
	}
	// At most 20% of the code's area, and clear of the finder patterns,
	// separators and format information (9 modules from every edge);
	// centred on whole modules, so k has dim's parity. Version 4 or more
	// (33 modules) makes it 13 modules or more.
	g.k = min(int(math.Sqrt(0.2)*float64(dim)), dim-18)
	if (dim-g.k)%2 != 0 {
		g.k--
	}
	g.at = (dim - g.k) / 2
	return g, nil
}

// clearLogoBox turns the logo's modules light.
func (g geometry) clearLogoBox(bits [][]bool) {
	for y := g.at; y < g.at+g.k; y++ {
		for x := g.at; x < g.at+g.k; x++ {
			bits[y][x] = false
		}
	}
}

// logoRect is where the logo goes in the PNG: its box less half a module
// on every side, the logo's aspect ratio kept, centred.
func (g geometry) logoRect(logo image.Image) image.Rectangle {
	box := (g.k - 1) * g.mod
	b := logo.Bounds()
	f := min(float64(box)/float64(b.Dx()), float64(box)/float64(b.Dy()))
	w, h := max(1, int(math.Round(float64(b.Dx())*f))), max(1, int(math.Round(float64(b.Dy())*f)))
	x := g.off + (g.margin+g.at)*g.mod + (g.k*g.mod-w)/2
	y := g.off + (g.margin+g.at)*g.mod + (g.k*g.mod-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// draw paints the modules, and the logo if any.
func (g geometry) draw(bits [][]bool, o Options) image.Image {
	img := image.NewPaletted(image.Rect(0, 0, g.side, g.side), color.Palette{o.BG, o.FG})
	row := make([]uint8, g.side)
	for y, line := range bits {
		clear(row)
		for x, dark := range line {
			if dark {
				start := g.off + (g.margin+x)*g.mod
				for i := start; i < start+g.mod; i++ {
					row[i] = 1
				}
			}
		}
		top := g.off + (g.margin+y)*g.mod
		for py := top; py < top+g.mod; py++ {
			copy(img.Pix[py*img.Stride:], row)
		}
	}
	if o.Logo == nil {
		return img
	}
	rgba := image.NewRGBA(img.Rect)
	draw.Draw(rgba, rgba.Rect, img, image.Point{}, draw.Src)
	r := g.logoRect(o.Logo)
	draw.Draw(rgba, r, scale(o.Logo, r.Dx(), r.Dy()), image.Point{}, draw.Over)
	return rgba
}

// writeSVG writes the code as vector paths (see the package doc).
func (g geometry) writeSVG(out *bytes.Buffer, bits [][]bool, o Options) error {
	side := strconv.Itoa(g.side)
	n := strconv.Itoa(g.n)
	out.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="` + side + `" height="` + side +
		`" viewBox="0 0 ` + n + ` ` + n + `" shape-rendering="crispEdges">` +
		`<rect width="` + n + `" height="` + n + `" fill="` + hex(o.BG) + `"/>` +
		`<path fill="` + hex(o.FG) + `" d="`)
	var num []byte
	for y, line := range bits {
		for x := 0; x < len(line); {
			if !line[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(line) && line[x+run] {
				run++
			}
			// M x y h run v 1 h -run z: one rectangle of the run.
			num = append(num[:0], 'M')
			num = strconv.AppendInt(num, int64(g.margin+x), 10)
			num = append(num, ' ')
			num = strconv.AppendInt(num, int64(g.margin+y), 10)
			num = append(num, 'h')
			num = strconv.AppendInt(num, int64(run), 10)
			num = append(num, "v1h-"...)
			num = strconv.AppendInt(num, int64(run), 10)
			num = append(num, 'z')
			out.Write(num)
			x += run
		}
	}
	out.WriteString(`"/>`)
	if o.Logo != nil {
		// The raster logo at the pixels it has in the PNG of this size.
		r := g.logoRect(o.Logo)
		var logo bytes.Buffer
		if err := png.Encode(&logo, scale(o.Logo, r.Dx(), r.Dy())); err != nil {
			return err
		}
		at, k := strconv.Itoa(g.margin+g.at)+".5", strconv.Itoa(g.k-1)
		out.WriteString(`<image x="` + at + `" y="` + at + `" width="` + k + `" height="` + k +
			`" href="data:image/png;base64,` + base64.StdEncoding.EncodeToString(logo.Bytes()) + `"/>`)
	}
	out.WriteString("</svg>\n")
	return nil
}

func hex(c color.RGBA) string {
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// scale resizes src to w×h, each pixel the mean of up to 4×4 samples of
// its footprint (bounded work whatever the source's size).
func scale(src image.Image, w, h int) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	b := src.Bounds()
	fx, fy := float64(b.Dx())/float64(w), float64(b.Dy())/float64(h)
	sx, sy := min(4, max(1, int(fx))), min(4, max(1, int(fy)))
	for y := range h {
		for x := range w {
			var r, gr, bl, a uint64
			for j := range sy {
				for i := range sx {
					px := b.Min.X + int((float64(x)+(float64(i)+0.5)/float64(sx))*fx)
					py := b.Min.Y + int((float64(y)+(float64(j)+0.5)/float64(sy))*fy)
					cr, cg, cb, ca := src.At(px, py).RGBA()
					r, gr, bl, a = r+uint64(cr), gr+uint64(cg), bl+uint64(cb), a+uint64(ca)
				}
			}
			// Premultiplied means; NRGBA stores them divided by alpha.
			s := uint64(sx * sy)
			r, gr, bl, a = r/s, gr/s, bl/s, a/s
			if a == 0 {
				continue
			}
			p := dst.Pix[y*dst.Stride+4*x:]
			p[0], p[1], p[2], p[3] = uint8(r*0xff/a), uint8(gr*0xff/a), uint8(bl*0xff/a), uint8(a>>8)
		}
	}
	return dst
}
