package files

import (
	"context"
	"fmt"
	"image"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/shared/apierror"
)

// MaxLogoSide bounds a QR logo's width and height: a logo is drawn in at
// most a fifth of a 2048-pixel code, and decoding costs memory by the
// pixel (8 MiB for a 16-bit 1024×1024 PNG).
const MaxLogoSide = 1024

// LogoImage decodes file id of p's org for a QR code's logo: NOT_FOUND
// when there is no such file, VALIDATION_ERROR on logo when it is not a
// PNG, JPEG, GIF or WebP image of at most MaxLogoSide pixels a side.
func (s *Service) LogoImage(ctx context.Context, p access.Principal, id string) (image.Image, error) {
	f, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, err
	}
	switch f.MediaType {
	case PNG, JPEG, GIF, WebP:
	default:
		return nil, apierror.Invalid("logo", "must be a PNG, JPEG, GIF or WebP image, not "+f.MediaType)
	}
	if f.Width > MaxLogoSide || f.Height > MaxLogoSide {
		return nil, apierror.Invalid("logo", fmt.Sprintf("must be at most %d pixels a side, not %d×%d", MaxLogoSide, f.Width, f.Height))
	}
	_, o, err := s.Open(ctx, p, id)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	img, _, err := image.Decode(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apierror.Invalid("logo", "could not be decoded"), err)
	}
	return img, nil
}
