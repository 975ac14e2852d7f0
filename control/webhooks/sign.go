package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every endpoint secret as clients see it.
const SecretPrefix = "whsec_"

// secretBytes is the length of a new secret's key: the Standard Webhooks
// spec asks for 24 to 64 random bytes.
const secretBytes = 24

// newKey is a new endpoint key.
func newKey() []byte {
	k := make([]byte, secretBytes)
	rand.Read(k)
	return k
}

// FormatSecret is key as clients see it: whsec_ and its base64.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret is the key of a whsec_ secret.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook secret: no " + SecretPrefix + " prefix")
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("webhook secret: not base64")
	}
	return k, nil
}

// Signature is the webhook-signature header of a message signed with
// keys: one "v1,<base64 HMAC-SHA256>" of "id.timestamp.body" per key,
// separated by spaces (during a rotation, the new key's first).
func Signature(keys [][]byte, msgID string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, len(keys))
	for i, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(msgID))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders sets the Standard Webhooks headers of a message on h: its
// id, the attempt's time, its signature, and the JSON content type.
func SetHeaders(h http.Header, keys [][]byte, msgID string, at time.Time, body []byte) {
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", Signature(keys, msgID, at, body))
	h.Set("content-type", "application/json")
}
