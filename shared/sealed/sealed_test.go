package sealed

import (
	"bytes"
	"errors"
	"testing"
)

func mustKey(t *testing.T, secret []byte, purpose string) *Key {
	t.Helper()
	k, err := NewKey(secret, purpose)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return k
}

var (
	secretA = bytes.Repeat([]byte{0xa1}, 32)
	secretB = bytes.Repeat([]byte{0xb2}, 32)
)

func TestRoundTrip(t *testing.T) {
	k := mustKey(t, secretA, "h0p test v1")
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("private key "), 100)} {
		s := k.Seal(plain)
		got, err := k.Open(s)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)): %v", len(plain), err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open(Seal(p)) = %q, want %q", got, plain)
		}
		// A short plaintext may appear in random bytes by chance; a long one may not.
		if len(plain) >= 16 && bytes.Contains(s, plain) {
			t.Fatalf("sealed bytes contain the plaintext")
		}
	}
	if bytes.Equal(k.Seal([]byte("p")), k.Seal([]byte("p"))) {
		t.Fatalf("two seals of one plaintext are equal: nonce reused")
	}
}

func TestOpenRefuses(t *testing.T) {
	k := mustKey(t, secretA, "h0p test v1")
	plain := []byte("-----BEGIN PRIVATE KEY-----")
	s := k.Seal(plain)

	tampered := func(i int) []byte {
		c := bytes.Clone(s)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		key    *Key
		sealed []byte
	}{
		{"wrong secret", mustKey(t, secretB, "h0p test v1"), s},
		{"wrong purpose", mustKey(t, secretA, "h0p other v1"), s},
		{"tampered version", k, tampered(0)},
		{"tampered nonce", k, tampered(1)},
		{"tampered ciphertext", k, tampered(14)},
		{"tampered tag", k, tampered(len(s) - 1)},
		{"truncated by one", k, s[:len(s)-1]},
		{"truncated to the header", k, s[:13]},
		{"empty", k, nil},
		{"extended", k, append(bytes.Clone(s), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.sealed)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
	for i := range s {
		if _, err := k.Open(tampered(i)); err == nil {
			t.Fatalf("Open accepted a flip of byte %d", i)
		}
	}
}

func TestNewKeyRefuses(t *testing.T) {
	if _, err := NewKey(secretA[:31], "p"); err == nil {
		t.Fatalf("NewKey accepted a 31-byte secret")
	}
	if _, err := NewKey(secretA, ""); err == nil {
		t.Fatalf("NewKey accepted an empty purpose")
	}
}

func FuzzOpen(f *testing.F) {
	k, err := NewKey(secretA, "h0p fuzz v1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Seal([]byte("seed")))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Anything but an unaltered seal must be refused, without panicking.
		if p, err := k.Open(b); err == nil && !bytes.Equal(p, []byte("seed")) {
			t.Fatalf("Open accepted forged input %x", b)
		}
	})
}
