package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookReceiver is a customer's webhook endpoint on the loopback: it
// records every request and answers 503 while failing is set, 200
// otherwise. Endpoints registered at different paths of it tell their
// requests apart.
type webhookReceiver struct {
	*httptest.Server
	failing atomic.Bool

	mu   sync.Mutex
	reqs []receivedHook
}

// receivedHook is one request as the receiver saw it.
type receivedHook struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time // when it came
	status int       // what the receiver answered
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	r := &webhookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status := http.StatusOK
		if r.failing.Load() {
			status = http.StatusServiceUnavailable
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, receivedHook{path: req.URL.Path, header: req.Header.Clone(), body: body, at: time.Now(), status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// received is a copy of the requests so far, in the order they came.
func (r *webhookReceiver) received() []receivedHook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedHook(nil), r.reqs...)
}

// webhookTolerance is how far a webhook-timestamp may be from the
// receiver's clock, the Standard Webhooks libraries' default.
const webhookTolerance = 5 * time.Minute

// verifyWebhook checks a request as a Standard Webhooks receiver does,
// written from the spec rather than with the sender's code: the three
// headers present, the timestamp within tolerance of at, and one of the
// space-separated "v1,<base64>" signatures equal to the base64 HMAC-SHA256,
// keyed with the base64 part of the whsec_ secret, of "id.timestamp.body".
func verifyWebhook(secret string, h http.Header, body []byte, at time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", ts, err)
	}
	if d := at.Sub(time.Unix(sec, 0)); d > webhookTolerance || d < -webhookTolerance {
		return fmt.Errorf("webhook-timestamp %s is %v from the receiver's clock", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+ts+".")
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for sig := range strings.FieldsSeq(sigs) {
		version, value, _ := strings.Cut(sig, ",")
		if version == "v1" && hmac.Equal([]byte(value), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", sigs)
}

// mustWaitUntil polls ok until it holds or timeout passes.
func mustWaitUntil(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
