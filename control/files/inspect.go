package files

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig reads these
	_ "image/jpeg"
	_ "image/png"
	"mime"

	"github.com/gabriel-vasile/mimetype"
	"github.com/h0p/h0p/shared/apierror"
	_ "golang.org/x/image/webp"
)

// Media types a file may have.
const (
	PNG  = "image/png"
	JPEG = "image/jpeg"
	GIF  = "image/gif"
	WebP = "image/webp"
	SVG  = "image/svg+xml"
	PDF  = "application/pdf"
)

// Types are the media types accepted, by the short names the list filter
// takes too.
var Types = map[string]string{"png": PNG, "jpeg": JPEG, "gif": GIF, "webp": WebP, "svg": SVG, "pdf": PDF}

// Image limits, read from the header before any pixel is decoded.
const (
	MaxSide   = 16384
	MaxPixels = 50_000_000
)

// Content is what Inspect made of an upload: the bytes to store (an SVG
// sanitised), their media type and, for an image, its size in pixels.
type Content struct {
	Bytes         []byte
	MediaType     string
	Width, Height int
}

// Inspect sniffs b's type from its bytes alone, refusing any but Types
// (UNSUPPORTED_MEDIA_TYPE naming what b is), sanitises an SVG and reads an
// image's width and height, refusing an image too large to decode.
func Inspect(b []byte) (Content, error) {
	if len(b) == 0 {
		return Content{}, apierror.Invalid("file", "is empty")
	}
	mt := sniff(b)
	c := Content{Bytes: b, MediaType: mt}
	switch mt {
	case PNG, JPEG, GIF, WebP:
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return Content{}, apierror.Invalid("file", fmt.Sprintf("is a %s whose header cannot be read", mt))
		}
		if err := checkPixels(cfg.Width, cfg.Height); err != nil {
			return Content{}, err
		}
		c.Width, c.Height = cfg.Width, cfg.Height
	case SVG:
		c.Bytes = sanitizeSVG(b)
		if got := sniff(c.Bytes); got != SVG {
			return Content{}, apierror.Invalid("file", "is an SVG with nothing left to draw once sanitised")
		}
		if err := wellFormed(c.Bytes); err != nil {
			return Content{}, fmt.Errorf("%w: %w", apierror.Invalid("file", "is not a well-formed SVG document (one <svg> root, every element closed)"), err)
		}
		c.Width, c.Height = svgSize(c.Bytes)
	case PDF:
	default:
		return Content{}, apierror.New(apierror.UnsupportedMediaType,
			"files of type %s are not accepted; send PNG, JPEG, GIF, WebP, SVG or PDF", mt)
	}
	return c, nil
}

// sniff is b's media type, without parameters.
func sniff(b []byte) string {
	mt, _, err := mime.ParseMediaType(mimetype.Detect(b).String())
	if err != nil {
		return "application/octet-stream"
	}
	return mt
}

func checkPixels(w, h int) error {
	if w <= 0 || h <= 0 || w > MaxSide || h > MaxSide || int64(w)*int64(h) > MaxPixels {
		return apierror.Invalid("file", fmt.Sprintf("is an image of %d×%d pixels; at most %d a side and %d megapixels",
			w, h, MaxSide, MaxPixels/1_000_000))
	}
	return nil
}
