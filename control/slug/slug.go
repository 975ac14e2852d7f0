// Package slug makes and checks short-link slugs (the `key` of a link).
//
// Random slugs are base62. Custom slugs are 1–190 characters of
// [A-Za-z0-9._~/-], case-sensitive. So that every accepted slug is one the
// edge can serve, a slug may not start or end with '/', hold an empty, "." or
// ".." path segment, or be a name the edge answers itself (robots.txt,
// favicon.ico, .well-known/…).
package slug

import (
	"crypto/rand"
	"errors"
	"strings"
)

const (
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// MaxLen is the longest custom slug.
	MaxLen = 190
	// DefaultLen is the length of random slugs.
	DefaultLen = 7
)

// Random returns a random base62 slug of n characters.
func Random(n int) string {
	b := make([]byte, 0, n)
	var buf [32]byte
	for len(b) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && len(b) < n { // 248 = 4*62: unbiased
				b = append(b, base62[c%62])
			}
		}
	}
	return string(b)
}

// lookalikeFree is base62 without 0, O, 1, l and I, which are easy to misread.
const lookalikeFree = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// RandomNoLookalike returns a random slug of n characters none of which can
// be mistaken for another.
func RandomNoLookalike(n int) string {
	b := make([]byte, 0, n)
	var buf [32]byte
	limit := byte(256 - 256%len(lookalikeFree)) // unbiased
	for len(b) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < limit && len(b) < n {
				b = append(b, lookalikeFree[int(c)%len(lookalikeFree)])
			}
		}
	}
	return string(b)
}

var reserved = map[string]bool{
	"robots.txt":  true,
	"favicon.ico": true,
}

// Validate returns why s is not an acceptable custom slug, or nil.
func Validate(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > MaxLen:
		return errors.New("must be at most 190 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '~' || c == '/' || c == '-') {
			return errors.New("may only contain A-Z a-z 0-9 . _ ~ / -")
		}
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("path segments must not be empty, '.' or '..'")
		}
	}
	if reserved[strings.ToLower(s)] || strings.HasPrefix(strings.ToLower(s), ".well-known/") || strings.EqualFold(s, ".well-known") {
		return errors.New("is reserved")
	}
	return nil
}
