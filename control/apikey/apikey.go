// Package apikey is the format of H0p API keys: how they are generated,
// checked before any lookup, and digested for storage.
//
// A key is `h0p_<t>_<30 base62 random><6 base62 checksum>`, where t is `u`
// (user key) or `b` (bot key). Session tokens (`s`), invitation tokens
// (`i`) and the codes mailed to users (`e`) use the same format and digest,
// so they too are refused before any lookup when mistyped, and never stored
// in clear. 30 base62 characters carry 178 random bits.
// The checksum is the CRC-32 of everything before it, so a mistyped or
// truncated key is refused without touching the store. Keys are stored only
// as HMAC-SHA256(pepper, key); the pepper lives outside the database, so a
// stolen database alone cannot be used to test guesses.
//
// This package must never log or return a key except from Generate.
package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
)

// Type is the kind of key, encoded in its prefix.
type Type string

const (
	User       Type = "user"
	Bot        Type = "bot"
	Session    Type = "session"
	Invitation Type = "invitation"
	// EmailToken is a one-time code mailed to a user (address verification,
	// password reset).
	EmailToken Type = "email"
)

var typeLetters = map[Type]byte{User: 'u', Bot: 'b', Session: 's', Invitation: 'i', EmailToken: 'e'}

const (
	alphabet     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen    = 30
	checksumLen  = 6
	headLen      = len("h0p_u_")
	keyLen       = headLen + randomLen + checksumLen
	DisplayChars = headLen + 6 // what Prefix keeps: the head and 6 random chars
)

// ErrMalformed is returned for a string that is not a well-formed key.
var ErrMalformed = errors.New("malformed API key")

func head(t Type) string {
	return "h0p_" + string(typeLetters[t]) + "_"
}

// Generate returns a new random key of type t.
func Generate(t Type) string {
	b := make([]byte, 0, keyLen)
	b = append(b, head(t)...)
	b = appendRandom(b, randomLen)
	return string(appendChecksum(b))
}

// appendRandom appends n uniformly random base62 characters, by rejection
// sampling so no character is more likely than another.
func appendRandom(b []byte, n int) []byte {
	var buf [64]byte
	for n > 0 {
		rand.Read(buf[:])
		for _, c := range buf {
			if c >= 248 { // 248 = 4*62: keep the modulo unbiased
				continue
			}
			b = append(b, alphabet[c%62])
			if n--; n == 0 {
				break
			}
		}
	}
	return b
}

func appendChecksum(b []byte) []byte {
	sum := crc32.ChecksumIEEE(b)
	var c [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		c[i] = alphabet[sum%62]
		sum /= 62
	}
	return append(b, c[:]...)
}

// Parse checks the format and checksum of s and returns its type.
func Parse(s string) (Type, error) {
	if len(s) != keyLen || s[:4] != "h0p_" || s[5] != '_' {
		return "", ErrMalformed
	}
	var t Type
	for typ, letter := range typeLetters {
		if s[4] == letter {
			t = typ
		}
	}
	if t == "" {
		return "", ErrMalformed
	}
	for i := headLen; i < keyLen; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "", ErrMalformed
		}
	}
	body := s[:keyLen-checksumLen]
	if string(appendChecksum([]byte(body))) != s {
		return "", ErrMalformed
	}
	return t, nil
}

// Prefix is the part of a key kept for display.
func Prefix(key string) string { return key[:min(len(key), DisplayChars)] }

// Digest is what the store keeps and looks up: HMAC-SHA256(pepper, key).
func Digest(pepper []byte, key string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(key))
	return m.Sum(nil)
}
