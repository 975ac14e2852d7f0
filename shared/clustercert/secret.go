package clustercert

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretFile is the cluster secret inside a certificate directory: 32
// random bytes, hex, that every node holds, from which control and the
// edges derive the keys that seal what must not rest or travel in
// plaintext (shared/sealed: certificates' private keys). Like the CA key
// it is written once: replacing it would leave every sealed key
// unreadable.
const SecretFile = "cluster-secret"

// secretBytes is the size of a new cluster secret.
const secretBytes = 32

// EnsureSecret writes a new cluster secret in dir unless one is there.
func EnsureSecret(dir string) error {
	path := filepath.Join(dir, SecretFile)
	if _, err := os.Lstat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster secret: %w", err)
	}
	b := make([]byte, secretBytes)
	rand.Read(b)
	if err := writeFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600, false); err != nil {
		return fmt.Errorf("cluster secret: %w", err)
	}
	return nil
}

// LoadSecret reads the cluster secret in dir.
func LoadSecret(dir string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w (h0p admin certs writes it; copy it to every node)", err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(b) < secretBytes {
		return nil, fmt.Errorf("cluster secret %s: want %d hex-encoded bytes", filepath.Join(dir, SecretFile), secretBytes)
	}
	return b, nil
}
