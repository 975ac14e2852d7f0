package apiclient

import (
	"context"
	"net/url"
)

// APIKey is a key of the org as the API shows it: never its secret, only
// its prefix. Times are the API's RFC 3339 strings.
type APIKey struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Type        string              `json:"type"` // user or bot
	UserID      string              `json:"userId,omitempty"`
	Prefix      string              `json:"prefix"`
	Permissions map[string][]string `json:"permissions"`
	CreatedBy   string              `json:"createdBy"`
	CreatedAt   string              `json:"createdAt"`
	LastUsedAt  *string             `json:"lastUsedAt"`
	ExpiresAt   *string             `json:"expiresAt"`
}

// APIKeySecret is a key with its secret (Key), as its creation and its
// rotation answer it, the only times the secret is shown.
type APIKeySecret struct {
	APIKey
	Key string `json:"key"`
}

// APIKeyInput is a key as a client creates it: Type user or bot, the
// grants by resource, ExpiresAt an RFC 3339 time ("" : never).
type APIKeyInput struct {
	Name        string              `json:"name"`
	Type        string              `json:"type"`
	Permissions map[string][]string `json:"permissions,omitempty"`
	ExpiresAt   string              `json:"expiresAt,omitempty"`
}

// CreateAPIKey makes a key (POST /v1/api-keys) and answers it with its
// secret, shown this once.
func (c *Client) CreateAPIKey(ctx context.Context, in APIKeyInput) (APIKeySecret, error) {
	var k APIKeySecret
	return k, c.Do(ctx, "POST", "/v1/api-keys", nil, in, &k)
}

// ListAPIKeys reads the org's keys the caller may see (one page: the API
// answers them all).
func (c *Client) ListAPIKeys(ctx context.Context) (Page[APIKey], error) {
	var p Page[APIKey]
	return p, c.Do(ctx, "GET", "/v1/api-keys", nil, nil, &p)
}

// GetAPIKey reads key id.
func (c *Client) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	return k, c.Do(ctx, "GET", "/v1/api-keys/"+url.PathEscape(id), nil, nil, &k)
}

// RotateAPIKey gives key id a new secret and answers it, shown this once;
// the old secret stops working.
func (c *Client) RotateAPIKey(ctx context.Context, id string) (APIKeySecret, error) {
	var k APIKeySecret
	return k, c.Do(ctx, "POST", "/v1/api-keys/"+url.PathEscape(id)+"/rotate", nil, nil, &k)
}

// DeleteAPIKey revokes key id: it stops working at once.
func (c *Client) DeleteAPIKey(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/api-keys/"+url.PathEscape(id), nil, nil, nil)
}

// KeyUsage is one key's API usage over a span of days (GET
// /v1/api-keys/{id}/usage).
type KeyUsage struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Interval    string        `json:"interval"`
	From        string        `json:"from"` // a date, UTC
	To          string        `json:"to"`
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"`
	RateLimited int64         `json:"rateLimited"`
	LastUsedAt  *string       `json:"lastUsedAt"`
	Days        []KeyUsageRow `json:"days"`
	Routes      []KeyUsageRow `json:"routes"`
	Statuses    []KeyUsageRow `json:"statuses"`
}

// KeyUsageRow is a day, a route or a status class of a key's usage.
type KeyUsageRow struct {
	Day         string  `json:"day,omitempty"`
	Route       string  `json:"route,omitempty"`
	Status      string  `json:"status,omitempty"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RateLimited int64   `json:"rateLimited"`
	LastUsedAt  *string `json:"lastUsedAt"`
}

// GetKeyUsage reads key id's usage over interval (24h, 7d, 30d or 90d;
// "" : the API's default, 30d).
func (c *Client) GetKeyUsage(ctx context.Context, id, interval string) (KeyUsage, error) {
	v := url.Values{}
	set(v, "interval", interval)
	var u KeyUsage
	return u, c.Do(ctx, "GET", "/v1/api-keys/"+url.PathEscape(id)+"/usage", v, nil, &u)
}
