// Package password hashes and checks passwords (users' and links') with
// argon2id, stored as PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash) so
// parameters can be raised later without invalidating old hashes. Control
// hashes; edges check link passwords with the same code.
//
// Parameters: m=64 MiB, t=2, p=2 — RFC 9106's memory-constrained
// recommendation (m=64 MiB, t=3, p=4) scaled to the 2-core machines H0p's
// control nodes run on. Passwords are 10 to 256 bytes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Default is what new hashes use.
var Default = Params{Memory: 64 * 1024, Time: 2, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	MinLen  = 10
	MaxLen  = 256
)

// ErrMismatch means the password is wrong.
var ErrMismatch = errors.New("password does not match")

// Validate says why a new password is not acceptable, or nil.
func Validate(pw string) error {
	switch {
	case len(pw) < MinLen:
		return fmt.Errorf("must be at least %d characters", MinLen)
	case len(pw) > MaxLen:
		return fmt.Errorf("must be at most %d bytes", MaxLen)
	}
	return nil
}

// Hash returns the PHC string of pw with a fresh salt.
func Hash(pw string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Check compares pw with a PHC string in constant time.
func Check(pw, phc string) error {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("unsupported argon2 version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return errors.New("bad argon2 parameters")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return errors.New("bad argon2 salt")
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("bad argon2 hash")
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}
