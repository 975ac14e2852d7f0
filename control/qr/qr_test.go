package qr

import (
	"bytes"
	"image/png"
	"testing"
)

func TestPNG(t *testing.T) {
	b, err := PNG("https://localhost/abc?qr=1", 4)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 or 3 for this text: 25 or 29 modules, plus 8 of quiet zone.
	if w := img.Bounds().Dx(); w != (25+8)*4 && w != (29+8)*4 {
		t.Errorf("width %d", w)
	}
	// The quiet zone is white; the top-left finder pattern starts black.
	if r, _, _, _ := img.At(1, 1).RGBA(); r == 0 {
		t.Error("quiet zone is not white")
	}
	if r, _, _, _ := img.At(4*4+1, 4*4+1).RGBA(); r != 0 {
		t.Error("finder pattern is not black")
	}
	if _, err := PNG("x", 0); err == nil {
		t.Error("scale 0 accepted")
	}
}
