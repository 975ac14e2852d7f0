package apiclient

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// WebhookInput is an endpoint as a client creates it: URL, Events (at
// least one) and at most one scope: LinkIDs, Tags (tag IDs) or AllLinks.
type WebhookInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
	LinkIDs     []string `json:"linkIds,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	AllLinks    bool     `json:"allLinks,omitempty"`
}

// WebhookSecret is an endpoint with its signing secret (Secret), as its
// creation and its rotate-secret answer it, the only times it is shown.
type WebhookSecret struct {
	Webhook
	Secret string `json:"secret"`
}

// CreateWebhook registers an endpoint (POST /v1/webhooks) and answers it
// with its secret, shown this once.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (WebhookSecret, error) {
	var w WebhookSecret
	return w, c.Do(ctx, "POST", "/v1/webhooks", nil, in, &w)
}

// GetWebhook reads endpoint id.
func (c *Client) GetWebhook(ctx context.Context, id string) (Webhook, error) {
	var w Webhook
	return w, c.Do(ctx, "GET", "/v1/webhooks/"+url.PathEscape(id), nil, nil, &w)
}

// DeleteWebhook deletes endpoint id: nothing more is delivered to it.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/webhooks/"+url.PathEscape(id), nil, nil, nil)
}

// RotateWebhookSecret gives endpoint id a new secret and answers it, shown
// this once; the old one signs beside it until PreviousSecretExpiresAt.
func (c *Client) RotateWebhookSecret(ctx context.Context, id string) (WebhookSecret, error) {
	var w WebhookSecret
	return w, c.Do(ctx, "POST", "/v1/webhooks/"+url.PathEscape(id)+"/rotate-secret", nil, nil, &w)
}

// EnableWebhook enables endpoint id again after it was disabled.
func (c *Client) EnableWebhook(ctx context.Context, id string) (Webhook, error) {
	var w Webhook
	return w, c.Do(ctx, "POST", "/v1/webhooks/"+url.PathEscape(id)+"/enable", nil, nil, &w)
}

// WebhookAttempt is one attempt to deliver a message: Success is a 2xx
// answer; StatusCode nil is no answer (Error says why).
type WebhookAttempt struct {
	MessageID  string `json:"messageId"`
	Success    bool   `json:"success"`
	StatusCode *int   `json:"statusCode"`
	LatencyMs  int64  `json:"latencyMs"`
	Response   string `json:"response"`
	Error      string `json:"error,omitempty"`
}

// TestWebhook sends endpoint id a ping now and answers the attempt,
// whether or not the receiver accepted it.
func (c *Client) TestWebhook(ctx context.Context, id string) (WebhookAttempt, error) {
	var a WebhookAttempt
	return a, c.Do(ctx, "POST", "/v1/webhooks/"+url.PathEscape(id)+"/test", nil, nil, &a)
}

// WebhookDelivery is a message to an endpoint and where its delivery
// stands.
type WebhookDelivery struct {
	ID             string     `json:"id"`
	EventType      string     `json:"eventType"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt"`
	LastStatusCode *int       `json:"lastStatusCode"`
	LastLatencyMs  int64      `json:"lastLatencyMs"`
	LastResponse   string     `json:"lastResponse"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// WebhookDeliveryDetail is a delivery with its body and every attempt.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Payload json.RawMessage        `json:"payload"`
	History []WebhookAttemptRecord `json:"history"`
}

// WebhookAttemptRecord is one past attempt of a delivery.
type WebhookAttemptRecord struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"statusCode"`
	LatencyMs  int64     `json:"latencyMs"`
	Response   string    `json:"response"`
	Error      string    `json:"error,omitempty"`
}

// ListWebhookDeliveries reads one page of endpoint id's messages, newest
// first.
func (c *Client) ListWebhookDeliveries(ctx context.Context, id string, q ListQuery) (Page[WebhookDelivery], error) {
	var p Page[WebhookDelivery]
	return p, c.Do(ctx, "GET", "/v1/webhooks/"+url.PathEscape(id)+"/deliveries", q.Values(), nil, &p)
}

// GetWebhookDelivery reads message msgID of endpoint id with its attempts.
func (c *Client) GetWebhookDelivery(ctx context.Context, id, msgID string) (WebhookDeliveryDetail, error) {
	var d WebhookDeliveryDetail
	return d, c.Do(ctx, "GET", "/v1/webhooks/"+url.PathEscape(id)+"/deliveries/"+url.PathEscape(msgID), nil, nil, &d)
}

// RetryWebhookDelivery makes message msgID of endpoint id due now, under
// its ID, delivered or not.
func (c *Client) RetryWebhookDelivery(ctx context.Context, id, msgID string) (WebhookDelivery, error) {
	var d WebhookDelivery
	return d, c.Do(ctx, "POST", "/v1/webhooks/"+url.PathEscape(id)+"/deliveries/"+url.PathEscape(msgID)+"/retry",
		nil, nil, &d)
}
