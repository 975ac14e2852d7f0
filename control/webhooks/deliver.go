package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/egress"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
)

// MaxResponse is how much of a receiver's answer an attempt keeps.
const MaxResponse = 2 << 10

// Attempt is the outcome of one delivery, as the API shows it.
type Attempt struct {
	MessageID  string `json:"messageId"`
	Success    bool   `json:"success"`
	StatusCode *int   `json:"statusCode"` // nil: no answer
	LatencyMs  int64  `json:"latencyMs"`
	Response   string `json:"response"` // the answer's first MaxResponse bytes
	Error      string `json:"error,omitempty"`
}

// ping is the body of a test delivery.
type ping struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		WebhookID string `json:"webhookId"`
	} `json:"data"`
}

// keys are the keys that sign w's messages at now: its secret's, and its
// previous secret's while that still signs.
func (s *Service) keys(w Webhook, now time.Time) ([][]byte, error) {
	k, err := s.Sealer.Open(w.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s secret: %w", w.ID, err)
	}
	keys := [][]byte{k}
	if len(w.PreviousSecret) > 0 && now.Before(w.PreviousExpiresAt) {
		prev, err := s.Sealer.Open(w.PreviousSecret)
		if err != nil {
			return nil, fmt.Errorf("webhook %s previous secret: %w", w.ID, err)
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

// Test sends a ping to endpoint id now, disabled or not, and records it
// in the delivery log as a message of one attempt, which is not retried.
func (s *Service) Test(ctx context.Context, p access.Principal, id string) (Attempt, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Attempt{}, err
	}
	now := s.now()
	keys, err := s.keys(w, now)
	if err != nil {
		return Attempt{}, err
	}
	var body ping
	body.Type, body.Timestamp, body.Data.WebhookID = "ping", now, w.ID
	payload, err := json.Marshal(body)
	if err != nil {
		return Attempt{}, err
	}
	m := store.WebhookMessage{ID: ids.New("msg", now), WebhookID: w.ID, OrgID: w.OrgID, EventType: "ping",
		Payload: payload, CreatedAt: now}
	a := s.send(ctx, w.URL, keys, m.ID, now, payload)
	m.Status, m.Attempts, m.UpdatedAt = store.MessageFailed, 1, s.now()
	if a.ok() {
		m.Status = store.MessageDelivered
	}
	m.LastStatusCode, m.LastLatency, m.LastResponse = a.StatusCode, a.Latency, a.Response
	// The message is written with its attempt, settled, so the dispatcher
	// never finds a ping pending; and written even if the client has gone.
	wctx := context.WithoutCancel(ctx)
	err = s.Store.Write(wctx, func(q store.Queries) error {
		if err := q.CreateWebhookMessage(wctx, m); err != nil {
			return err
		}
		return q.AppendWebhookAttempt(wctx, a.WebhookAttempt)
	})
	if err != nil {
		// Deleted while the ping was out: its log went with it.
		if _, gone := s.Store.Webhook(wctx, p.OrgID, id); errors.Is(gone, store.ErrNotFound) {
			return Attempt{}, notFoundErr()
		}
		return Attempt{}, err
	}
	out := Attempt{MessageID: m.ID, Success: a.ok(), LatencyMs: a.Latency.Milliseconds(),
		Response: string(a.Response), Error: a.Error}
	if a.StatusCode != 0 {
		out.StatusCode = &a.StatusCode
	}
	return out, nil
}

type attempt struct {
	store.WebhookAttempt
	retryAfter string // the answer's Retry-After
	refused    bool   // the egress policy refused the address or URL
}

// ok: any 2xx; a redirect is not followed, and fails.
func (a attempt) ok() bool { return a.StatusCode >= 200 && a.StatusCode < 300 }

// send makes one delivery attempt of message msgID, signed with keys at
// at, through the guarded client.
func (s *Service) send(ctx context.Context, url string, keys [][]byte, msgID string, at time.Time, body []byte) attempt {
	a := attempt{WebhookAttempt: store.WebhookAttempt{MessageID: msgID, Attempt: 1, At: at}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Error = "the URL cannot be requested"
		return a
	}
	SetHeaders(req.Header, keys, msgID, at, body)
	ua := s.UserAgent
	if ua == "" {
		ua = "H0p-Webhooks"
	}
	req.Header.Set("user-agent", ua)
	start := time.Now()
	resp, err := s.Client.Do(req)
	if err == nil {
		a.StatusCode = resp.StatusCode
		a.retryAfter = resp.Header.Get("Retry-After")
		// A body cut short still leaves the status, which decides.
		a.Response, _, err = egress.ReadBody(resp.Body, MaxResponse)
		if err != nil {
			a.Error = "the answer's body was cut short"
		}
	} else {
		a.Error = describe(err, s.timeout())
		_, addr := errors.AsType[*egress.AddrError](err)
		_, bad := errors.AsType[*egress.URLError](err)
		a.refused = addr || bad
		s.logger().Debug("webhook attempt failed", "message", msgID, "err", err)
	}
	a.Latency = time.Since(start)
	return a
}

// describe says why a request got no answer, without the addresses the
// dial saw (control's view of DNS is not the client's business).
func describe(err error, timeout time.Duration) string {
	var (
		ae *egress.AddrError
		ue *egress.URLError
		ne net.Error
	)
	switch {
	case errors.As(err, &ae):
		return "the host resolves to " + article(ae.Kind) + " address, which is not allowed"
	case errors.As(err, &ue):
		return ue.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer within " + timeout.String()
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	}
	return "could not connect or send the request"
}

// timeout is the client's bound on an attempt: the policy's.
func (s *Service) timeout() time.Duration {
	if s.Policy.Timeout > 0 {
		return s.Policy.Timeout
	}
	return egress.DefaultTimeout
}

func article(s string) string {
	if s != "" && bytes.ContainsRune([]byte("aeiouAEIOU"), rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}
