// Package sealed encrypts small secrets, such as a certificate's private
// key, so that they never rest in a store or travel through raft in
// plaintext: control seals, an edge opens into memory.
//
// A Key is derived by HKDF-SHA256 from cluster secret material (bytes that
// every node which must open holds) and a purpose label: two purposes give
// two unrelated keys from one secret, so a value sealed for one use cannot
// be opened as another. Sealing is AES-256-GCM with a random 96-bit nonce;
// the output is
//
//	version (1 byte, 1) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// with the version byte authenticated as additional data. Open refuses
// anything altered, truncated, or sealed under another secret or purpose.
// Random nonces are safe for up to 2^32 seals under one key, far beyond the
// certificates a cluster holds.
//
// It lives in shared because control and the edges must agree on the
// format; it knows nothing of certificates, raft or stores. To rotate the
// secret, open with the old Key and seal with the new one.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

const version = 1

// MinSecret is the least cluster secret material NewKey accepts, in bytes:
// HKDF does not add entropy, so the secret must carry 256 bits itself.
const MinSecret = 32

// ErrOpen is returned when sealed bytes cannot be opened: altered,
// truncated, of an unknown version, or sealed under another key.
var ErrOpen = errors.New("sealed: cannot open")

// Key seals and opens values for one purpose. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
}

// NewKey derives the key for purpose from the cluster secret material.
// The purpose label names the use and its version, e.g.
// "h0p certs private key v1"; it must not be empty.
func NewKey(secret []byte, purpose string) (*Key, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("sealed: secret of %d bytes, want at least %d", len(secret), MinSecret)
	}
	if purpose == "" {
		return nil, errors.New("sealed: empty purpose")
	}
	// The standard library's HKDF: golang.org/x/crypto/hkdf now wraps it
	// and derives the same bytes. No salt: the secret is uniformly random.
	k, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("sealed: derive key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext. It cannot fail: crypto/rand
// does not return errors.
func (k *Key) Seal(plaintext []byte) []byte {
	ns := k.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+k.aead.Overhead())
	out[0] = version
	rand.Read(out[1 : 1+ns])
	return k.aead.Seal(out, out[1:1+ns], plaintext, out[:1])
}

// Open returns the plaintext of sealed, or ErrOpen.
func (k *Key) Open(sealed []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < 1+ns+k.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	p, err := k.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealed[:1])
	if err != nil {
		return nil, ErrOpen
	}
	return p, nil
}
