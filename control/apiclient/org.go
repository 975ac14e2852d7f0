package apiclient

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"time"
)

// Tag is a tag of the org's links.
type Tag struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Color     string    `json:"color"`
	CreatedAt time.Time `json:"createdAt"`
}

// ListTags reads one page of the org's tags.
func (c *Client) ListTags(ctx context.Context, q ListQuery) (Page[Tag], error) {
	var p Page[Tag]
	return p, c.Do(ctx, "GET", "/v1/tags", q.Values(), nil, &p)
}

// AllTags yields every tag of the org.
func (c *Client) AllTags(ctx context.Context, q ListQuery) iter.Seq2[Tag, error] {
	return all(ctx, q.Cursor, func(ctx context.Context, cursor string) (Page[Tag], error) {
		q.Cursor = cursor
		return c.ListTags(ctx, q)
	})
}

// Webhook is an endpoint the org's events are delivered to. Its secret
// is shown only when it is created or rotated.
type Webhook struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	Events                  []string   `json:"events"`
	LinkIDs                 []string   `json:"linkIds,omitempty"`
	Tags                    []string   `json:"tags,omitempty"`
	AllLinks                bool       `json:"allLinks"`
	Disabled                bool       `json:"disabled"`
	DisabledAt              *time.Time `json:"disabledAt"`
	DisabledReason          *string    `json:"disabledReason"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

// ListWebhooks reads one page of the org's webhook endpoints.
func (c *Client) ListWebhooks(ctx context.Context, q ListQuery) (Page[Webhook], error) {
	var p Page[Webhook]
	return p, c.Do(ctx, "GET", "/v1/webhooks", q.Values(), nil, &p)
}

// UsageQuery asks GET /v1/usage: GroupBy key (default), route or
// status, over Interval 24h, 7d, 30d (default) or 90d.
type UsageQuery struct {
	GroupBy  string
	Interval string
}

// Usage is the org's API usage over a span of days, by GroupBy.
type Usage struct {
	GroupBy  string     `json:"groupBy"`
	Interval string     `json:"interval"`
	From     string     `json:"from"` // a date, UTC
	To       string     `json:"to"`
	Data     []UsageRow `json:"data"`
}

// UsageRow is one group of a usage report: a caller (Key or User, with
// Name), a Route or a Status class, and its counts.
type UsageRow struct {
	Key         string  `json:"key,omitempty"`
	User        string  `json:"user,omitempty"`
	Name        string  `json:"name,omitempty"`
	Deleted     bool    `json:"deleted,omitempty"`
	Route       string  `json:"route,omitempty"`
	Status      string  `json:"status,omitempty"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RateLimited int64   `json:"rateLimited"`
	LastUsedAt  *string `json:"lastUsedAt"`
}

// GetUsage reads the org's API usage (it takes the apiKeys read
// permission).
func (c *Client) GetUsage(ctx context.Context, q UsageQuery) (Usage, error) {
	v := url.Values{}
	set(v, "groupBy", q.GroupBy)
	set(v, "interval", q.Interval)
	var u Usage
	return u, c.Do(ctx, "GET", "/v1/usage", v, nil, &u)
}

// File is a file of the org (an uploaded image, a saved QR code).
type File struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Size       int64           `json:"size"`
	SHA256     string          `json:"sha256"`
	Width      *int            `json:"width"`
	Height     *int            `json:"height"`
	CreatedBy  string          `json:"createdBy"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	References []FileReference `json:"references"`
}

// FileReference is a link or saved QR code that uses a file, by which of
// its fields.
type FileReference struct {
	Type  string `json:"type"` // link or qr
	ID    string `json:"id"`
	Field string `json:"field"`
}

// SaveQR renders link linkID's QR code with o and saves it as a file of
// the org (POST /v1/files/qr); name "" is qr-<key>.<format>. A saved code
// is drawn by Size: o.Scale is refused.
func (c *Client) SaveQR(ctx context.Context, linkID, name string, o QROptions) (File, error) {
	if o.Scale != 0 {
		return File{}, errors.New("apiclient: SaveQR: a saved QR code takes Size, not Scale")
	}
	in := struct {
		LinkID  string  `json:"linkId"`
		Name    *string `json:"name,omitempty"`
		Format  *string `json:"format,omitempty"`
		Size    *int    `json:"size,omitempty"`
		Level   *string `json:"level,omitempty"`
		FGColor *string `json:"fgColor,omitempty"`
		BGColor *string `json:"bgColor,omitempty"`
		Margin  *int    `json:"margin,omitempty"`
		Logo    *string `json:"logo,omitempty"`
	}{LinkID: linkID, Name: opt(name), Format: opt(o.Format), Level: opt(o.Level), FGColor: opt(o.FGColor),
		BGColor: opt(o.BGColor), Margin: o.Margin, Logo: opt(o.Logo)}
	if o.Size != 0 {
		in.Size = &o.Size
	}
	var f File
	return f, c.Do(ctx, "POST", "/v1/files/qr", nil, in, &f)
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
