package blobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Store keeps objects by the SHA-256 of their bytes.
type Store interface {
	// Put stores size bytes read from r under key, atomically: the object
	// is whole under key or absent. Putting a key that exists is a no-op
	// that still drains (and checks) the size bytes. The bytes must hash to
	// key, else ErrHashMismatch and nothing is stored.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open reads an object: a ReadSeeker for Range requests, with its size.
	// ErrNotFound when absent.
	Open(ctx context.Context, key string) (Object, error)
	// Stat gives an object's size; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (size int64, err error)
	// Delete removes an object; an absent one is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every stored key, in no set order, stopping at the
	// first error fn returns (List returns it). Objects Put or Deleted while
	// List runs may or may not be seen.
	List(ctx context.Context, fn func(key string, size int64, modified time.Time) error) error
}

// Object is an open object: read it, seek in it, close it. An alias, so
// that a consumer's own interface of the same methods (control/files)
// takes a Store as it is.
type Object = interface {
	io.ReadSeekCloser
	Size() int64
}

var (
	// ErrNotFound is wrapped by Open and Stat for an absent key.
	ErrNotFound = errors.New("blobs: object not found")
	// ErrBadKey is wrapped for a key that is not 64 lowercase hex characters.
	ErrBadKey = errors.New("blobs: key is not a lowercase hex SHA-256")
	// ErrHashMismatch is wrapped by Put when the bytes do not hash to the key.
	ErrHashMismatch = errors.New("blobs: bytes do not hash to the key")
)

// Key returns the key of b: the lowercase hex SHA-256 of its bytes.
func Key(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CheckKey returns an error wrapping ErrBadKey unless key is exactly 64
// lowercase hex characters.
func CheckKey(key string) error {
	if len(key) != sha256.Size*2 {
		return fmt.Errorf("%w: %d characters", ErrBadKey, len(key))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%w: character %d", ErrBadKey, i)
		}
	}
	return nil
}

func checkSize(size int64) error {
	if size < 0 {
		return fmt.Errorf("blobs: negative size %d", size)
	}
	return nil
}

// verifier reads exactly size bytes from r, hashing them. It holds back the
// last bytes until the hash is known: on a mismatch the Read that would
// complete the object returns ErrHashMismatch instead, so whoever consumes
// it never receives a whole object with the wrong bytes. It checks ctx
// before each read from r. It deliberately offers no ReaderAt or Seeker, so
// a consumer cannot re-read or skip around it.
type verifier struct {
	ctx  context.Context
	r    io.Reader
	key  string
	left int64
	h    hash.Hash
	done bool  // all size bytes read and the hash matched
	err  error // the first error Read returned, other than io.EOF
}

func newVerifier(ctx context.Context, r io.Reader, key string, size int64) *verifier {
	return &verifier{ctx: ctx, r: r, key: key, left: size, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.read(p)
	if err != nil && err != io.EOF && v.err == nil {
		v.err = err
	}
	return n, err
}

// failure is the first error Read returned: why a consumer gave up.
func (v *verifier) failure() error { return v.err }

func (v *verifier) read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.done {
		return 0, io.EOF
	}
	if v.left == 0 {
		// size 0: nothing to read, only the hash to check.
		if err := v.finish(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if err := v.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.left -= int64(n)
	if v.left == 0 {
		if ferr := v.finish(); ferr != nil {
			return 0, ferr
		}
		return n, io.EOF
	}
	if err == io.EOF {
		return n, fmt.Errorf("blobs: read body: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return n, fmt.Errorf("blobs: read body: %w", err)
	}
	return n, nil
}

func (v *verifier) finish() error {
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.key {
		return fmt.Errorf("%w: key %s, bytes %s", ErrHashMismatch, v.key, got)
	}
	v.done = true
	return nil
}

// drain reads and checks the size bytes of a Put whose key is already
// stored.
func drain(ctx context.Context, key string, r io.Reader, size int64) error {
	v := newVerifier(ctx, r, key, size)
	if _, err := io.Copy(io.Discard, v); err != nil {
		return err
	}
	return v.finish()
}
