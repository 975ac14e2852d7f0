package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Statuses a message goes through.
var Statuses = []string{store.MessagePending, store.MessageRetrying, store.MessageDelivered, store.MessageFailed}

// DeliveryQuery is a client's filter of an endpoint's deliveries, as it
// came (strings, checked by Deliveries).
type DeliveryQuery struct {
	Status, EventType, From, To, Cursor, Limit string
}

// Delivery is a message to an endpoint and where its delivery stands.
type Delivery struct {
	ID             string     `json:"id"`
	EventType      string     `json:"eventType"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt"`
	LastStatusCode *int       `json:"lastStatusCode"`
	LastLatencyMs  int64      `json:"lastLatencyMs"`
	LastResponse   string     `json:"lastResponse"` // its first MaxResponse bytes
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// DeliveryDetail is a delivery with its body and every attempt.
type DeliveryDetail struct {
	Delivery
	Payload json.RawMessage `json:"payload"`
	History []AttemptView   `json:"history"`
}

// AttemptView is one attempt as the API shows it.
type AttemptView struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"statusCode"`
	LatencyMs  int64     `json:"latencyMs"`
	Response   string    `json:"response"`
	Error      string    `json:"error,omitempty"`
}

func optCode(c int) *int {
	if c == 0 {
		return nil
	}
	return &c
}

func deliveryOf(m store.WebhookMessage) Delivery {
	return Delivery{ID: m.ID, EventType: m.EventType, Status: m.Status, Attempts: m.Attempts,
		NextAttemptAt: optTime(m.NextAttemptAt), LastStatusCode: optCode(m.LastStatusCode),
		LastLatencyMs: m.LastLatency.Milliseconds(), LastResponse: string(m.LastResponse),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apierror.Invalid(field, "must be an RFC 3339 time, like 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// Deliveries lists a page of endpoint id's messages, newest first, and the
// cursor of the next page ("" at the end).
func (s *Service) Deliveries(ctx context.Context, p access.Principal, id string, dq DeliveryQuery) ([]Delivery, string, error) {
	f := store.WebhookMessageFilter{OrgID: p.OrgID, WebhookID: id, Status: dq.Status, EventType: dq.EventType, Limit: 50}
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		return nil, "", apierror.Invalid("status", "must be one of "+strings.Join(Statuses, ", "))
	}
	if f.EventType != "" && f.EventType != "ping" && !slices.Contains(Events, f.EventType) {
		return nil, "", apierror.Invalid("eventType", "must be ping or one of "+strings.Join(Events, ", "))
	}
	var err error
	if f.From, err = parseTime("from", dq.From); err != nil {
		return nil, "", err
	}
	if f.Until, err = parseTime("to", dq.To); err != nil {
		return nil, "", err
	}
	if !f.From.IsZero() && !f.Until.IsZero() && !f.From.Before(f.Until) {
		return nil, "", apierror.Invalid("to", "must be after from")
	}
	if dq.Limit != "" {
		n, err := strconv.Atoi(dq.Limit)
		if err != nil || n < 1 {
			return nil, "", apierror.Invalid("limit", "must be 1 to 100")
		}
		f.Limit = n
	}
	if f.Limit, err = page.Limit(f.Limit); err != nil {
		return nil, "", err
	}
	if f.BeforeID, err = page.AfterID(dq.Cursor); err != nil {
		return nil, "", err
	}
	if _, err := s.Get(ctx, p, id); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	f.Limit++
	ms, err := s.Store.WebhookMessages(ctx, f)
	if err != nil {
		return nil, "", err
	}
	ms, next := page.TrimByID(ms, limit, func(m store.WebhookMessage) string { return m.ID })
	out := make([]Delivery, len(ms))
	for i, m := range ms {
		out[i] = deliveryOf(m)
	}
	return out, next, nil
}

// message reads message msgID of endpoint id of p's org.
func (s *Service) message(ctx context.Context, q store.Queries, p access.Principal, id, msgID string) (store.WebhookMessage, error) {
	if _, err := lookup(q.Webhook(ctx, p.OrgID, id)); err != nil {
		return store.WebhookMessage{}, err
	}
	m, err := q.WebhookMessage(ctx, p.OrgID, msgID)
	if errors.Is(err, store.ErrNotFound) || err == nil && m.WebhookID != id {
		return store.WebhookMessage{}, apierror.New(apierror.NotFound, "delivery not found")
	}
	return m, err
}

// Delivery reads message msgID of endpoint id with its attempts.
func (s *Service) Delivery(ctx context.Context, p access.Principal, id, msgID string) (DeliveryDetail, error) {
	m, err := s.message(ctx, s.Store, p, id, msgID)
	if err != nil {
		return DeliveryDetail{}, err
	}
	as, err := s.Store.WebhookAttempts(ctx, m.ID)
	if err != nil {
		return DeliveryDetail{}, err
	}
	d := DeliveryDetail{Delivery: deliveryOf(m), Payload: m.Payload, History: make([]AttemptView, len(as))}
	for i, a := range as {
		d.History[i] = AttemptView{Attempt: a.Attempt, At: a.At, StatusCode: optCode(a.StatusCode),
			LatencyMs: a.Latency.Milliseconds(), Response: string(a.Response), Error: a.Error}
	}
	return d, nil
}

// Retry makes message msgID of endpoint id due now, whatever its status (a
// delivered one is sent again), under the same ID. A ping is not retried.
func (s *Service) Retry(ctx context.Context, p access.Principal, id, msgID string) (Delivery, error) {
	now := s.now()
	var m store.WebhookMessage
	err := s.Store.Write(ctx, func(q store.Queries) error {
		var err error
		if m, err = s.message(ctx, q, p, id, msgID); err != nil {
			return err
		}
		if m.EventType == "ping" {
			return apierror.Invalid("msgId", "a test ping is not retried; send another")
		}
		m.Status, m.NextAttemptAt, m.UpdatedAt = store.MessagePending, now, now
		if err := q.UpdateWebhookMessage(ctx, m); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "webhook.deliveryRetried", "webhook", id, nil,
			map[string]string{"messageId": m.ID}))
	})
	if err != nil {
		return Delivery{}, err
	}
	s.wake()
	return deliveryOf(m), nil
}

// ReplayInput is the range of a replay: messages created in [Since,
// Until); no Until is now.
type ReplayInput struct {
	Since string `json:"since"`
	Until string `json:"until"`
}

// Replay makes every message of endpoint id created in the input's range
// due now, under their IDs, and returns how many.
func (s *Service) Replay(ctx context.Context, p access.Principal, id string, in ReplayInput) (int, error) {
	if in.Since == "" {
		return 0, apierror.Invalid("since", "is required")
	}
	since, err := parseTime("since", in.Since)
	if err != nil {
		return 0, err
	}
	now := s.now()
	until := now.Add(time.Millisecond)
	if in.Until != "" {
		if until, err = parseTime("until", in.Until); err != nil {
			return 0, err
		}
	}
	if !since.Before(until) {
		return 0, apierror.Invalid("until", "must be after since")
	}
	var n int
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if _, err := lookup(q.Webhook(ctx, p.OrgID, id)); err != nil {
			return err
		}
		if n, err = q.RequeueWebhookMessages(ctx, p.OrgID, id, since, until, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "webhook.replayed", "webhook", id, nil,
			map[string]any{"since": since, "until": until, "messages": n}))
	})
	if err == nil {
		s.wake()
	}
	return n, err
}

// DecodeReplay reads a replay request's body.
func DecodeReplay(b []byte) (ReplayInput, error) {
	var in ReplayInput
	return in, jsonbody.Decode(b, &in)
}
