package webhooks_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/webhooks"
)

// verify checks a message as a receiver following the Standard Webhooks
// spec does, written from the spec rather than from the producer: the
// timestamp within tolerance of now, and one of the space-separated
// "v1,<sig>" entries equal to HMAC-SHA256(key, "id.timestamp.body"),
// where key is the base64 after whsec_.
func verify(secret string, h http.Header, body []byte, now time.Time) bool {
	const tolerance = 5 * time.Minute
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, tsText, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || id == "" {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsText + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignatureVerifies(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 24)
	other := bytes.Repeat([]byte{0x17}, 32)
	secret, otherSecret := webhooks.FormatSecret(key), webhooks.FormatSecret(other)
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"ping","timestamp":"2026-12-07T06:00:00Z","data":{"webhookId":"wh_1"}}`)
	signed := func(keys ...[]byte) http.Header {
		h := http.Header{}
		webhooks.SetHeaders(h, keys, "msg_1", at, body)
		return h
	}
	for _, tt := range []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   bool
	}{
		{"valid", secret, signed(key), body, at, true},
		{"valid a minute later", secret, signed(key), body, at.Add(time.Minute), true},
		{"tampered body", secret, signed(key), append(bytes.Clone(body), ' '), at, false},
		{"older than 5 minutes", secret, signed(key), body, at.Add(5*time.Minute + time.Second), false},
		{"from the future", secret, signed(key), body, at.Add(-6 * time.Minute), false},
		{"wrong secret", otherSecret, signed(key), body, at, false},
		{"two keys, the new", secret, signed(key, other), body, at, true},
		{"two keys, the old", otherSecret, signed(key, other), body, at, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := verify(tt.secret, tt.h, tt.body, tt.now); got != tt.want {
				t.Errorf("verify = %v, want %v (headers %v)", got, tt.want, tt.h)
			}
		})
	}
	// The spec's own example: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,
	// msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330, {"test": 2432232314}.
	k, err := webhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhooks.Signature([][]byte{k}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("spec example: %s, want %s", got, want)
	}
}

func TestSecretFormat(t *testing.T) {
	if _, err := webhooks.ParseSecret("sk_abc"); err == nil {
		t.Error("a secret without whsec_ parsed")
	}
	k := []byte("0123456789abcdef01234567")
	got, err := webhooks.ParseSecret(webhooks.FormatSecret(k))
	if err != nil || string(got) != string(k) {
		t.Errorf("round trip: %q %v", got, err)
	}
}
