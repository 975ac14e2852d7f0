// Package qr renders QR codes as PNG images (yeqown/go-qrcode computes the
// modules; this package draws them, with the 4-module quiet zone the
// standard asks for). Files and custom QR styles come with the files API;
// this is the plain black-on-white code every link has.
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/yeqown/go-qrcode/v2"
)

// PNG returns text as a QR code, each module scale pixels wide.
func PNG(text string, scale int) ([]byte, error) {
	if scale < 1 || scale > 40 {
		return nil, fmt.Errorf("qr: scale %d out of 1..40", scale)
	}
	code, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	w := &pngWriter{scale: scale}
	if err := code.Save(w); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return w.out.Bytes(), nil
}

// pngWriter is a qrcode.Writer drawing the matrix into a PNG.
type pngWriter struct {
	scale int
	out   bytes.Buffer
}

const quiet = 4 // modules of white around the code

func (w *pngWriter) Write(m qrcode.Matrix) error {
	bits := m.Bitmap()
	n := len(bits)
	size := (n + 2*quiet) * w.scale
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range bits {
		for x, set := range row {
			if !set {
				continue
			}
			for dy := range w.scale {
				for dx := range w.scale {
					img.SetColorIndex((x+quiet)*w.scale+dx, (y+quiet)*w.scale+dy, 1)
				}
			}
		}
	}
	return png.Encode(&w.out, img)
}

func (w *pngWriter) Close() error { return nil }
