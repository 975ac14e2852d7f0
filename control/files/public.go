package files

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/h0p/h0p/control/store"
)

// URLPurpose labels the key of public file URLs, derived from control's
// secret material (the pepper every control node holds) by HKDF-SHA256:
// the key is unrelated to every other key derived from it.
const URLPurpose = "h0p public file urls v1"

// sigLen is a signature's length: 22 base64url characters, 132 bits.
const sigLen = 22

// URLs makes and checks the public URLs of files: {base}/f/{id}/{sig},
// sig the first 22 characters of base64url(HMAC-SHA256(key, id)). A URL
// names one file and cannot be guessed from its ID; it never expires (the
// file's delete ends it) and needs no login, so that social networks'
// bots fetch a link's preview image.
type URLs struct {
	base string
	key  []byte
}

// NewURLs derives the key of public file URLs under base (the API's public
// URL) from secret.
func NewURLs(base string, secret []byte) (*URLs, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("public file urls: secret of %d bytes, want at least 32", len(secret))
	}
	k, err := hkdf.Key(sha256.New, secret, nil, URLPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("public file urls: derive key: %w", err)
	}
	return &URLs{base: strings.TrimSuffix(base, "/"), key: k}, nil
}

func (u *URLs) sig(id string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:sigLen]
}

// URL is file id's public URL.
func (u *URLs) URL(id string) string { return u.base + "/f/" + id + "/" + u.sig(id) }

// Valid reports whether sig is file id's signature (in constant time).
func (u *URLs) Valid(id, sig string) bool { return hmac.Equal([]byte(sig), []byte(u.sig(id))) }

// OpenPublic opens file id for its public URL, whose signature sig must be
// valid: a wrong one is NOT_FOUND, as a missing or deleted file is, and
// costs no store read.
func (s *Service) OpenPublic(ctx context.Context, id, sig string) (store.File, Object, error) {
	if s.URLs == nil || !s.URLs.Valid(id, sig) {
		return store.File{}, nil, notFoundErr()
	}
	f, err := lookup(s.Store.FileByID(ctx, id))
	return s.openBytes(ctx, f, err)
}
