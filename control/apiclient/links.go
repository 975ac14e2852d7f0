package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

// Link is a short link as the API shows it.
type Link struct {
	ID             string            `json:"id"`
	Domain         string            `json:"domain"`
	Key            string            `json:"key"`
	URL            string            `json:"url"`
	ShortLink      string            `json:"shortLink"`
	QRCode         string            `json:"qrCode"`
	Title          *string           `json:"title"`
	Description    *string           `json:"description"`
	Image          *string           `json:"image"`
	Tags           []string          `json:"tags"`
	ExternalID     *string           `json:"externalId"`
	Comments       *string           `json:"comments"`
	ExpiresAt      *time.Time        `json:"expiresAt"`
	ExpiredURL     *string           `json:"expiredUrl"`
	HasPassword    bool              `json:"hasPassword"`
	IOS            *string           `json:"ios"`
	Android        *string           `json:"android"`
	Geo            map[string]string `json:"geo"`
	Rules          []Rule            `json:"rules"`
	Variants       []Variant         `json:"variants"`
	UTM            UTM               `json:"utm"`
	ForwardQuery   bool              `json:"forwardQuery"`
	RedirectStatus int               `json:"redirectStatus"`
	ValidSince     *time.Time        `json:"validSince"`
	MaxClicks      *int64            `json:"maxClicks"`
	Archived       bool              `json:"archived"`
	Disabled       bool              `json:"disabled"`
	DoIndex        bool              `json:"doIndex"`
	DoNotTrack     bool              `json:"doNotTrack"`
	Preview        *Preview          `json:"preview"`
	Clicks         int64             `json:"clicks"`
	LastClickedAt  *time.Time        `json:"lastClickedAt"`
	CreatedBy      string            `json:"createdBy"`
	CreatedAt      time.Time         `json:"createdAt"`
	UpdatedAt      time.Time         `json:"updatedAt"`
}

// Rule sends the visitors it matches to URL: each non-empty list must
// match (device, os, browser, country, language), query parameters must
// be present (value "") or equal, and the time must be in [After, Before).
type Rule struct {
	URL      string            `json:"url"`
	Device   []string          `json:"device,omitempty"`
	OS       []string          `json:"os,omitempty"`
	Browser  []string          `json:"browser,omitempty"`
	Country  []string          `json:"country,omitempty"`
	Language []string          `json:"language,omitempty"`
	Query    map[string]string `json:"query,omitempty"`
	After    *time.Time        `json:"after,omitempty"`
	Before   *time.Time        `json:"before,omitempty"`
}

// Variant is one destination of an A/B split, drawn by weight.
type Variant struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// UTM are the utm_* parameters a link adds to its destination.
type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

// Preview is what link previews (social cards) show.
type Preview struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image,omitempty"`
}

// LinkInput is a link as a client writes it, to create or change one.
// Only the fields set are sent: nil (or an empty slice or map) leaves a
// field out, so a change (UpdateLink) touches only them; on create, left
// out is the API's default. Clear names fields (by their JSON names, e.g.
// "expiresAt", "tags") to send as null, which clears them.
type LinkInput struct {
	URL            *string           `json:"url,omitempty"`
	Domain         *string           `json:"domain,omitempty"`
	Key            *string           `json:"key,omitempty"`
	Title          *string           `json:"title,omitempty"`
	Description    *string           `json:"description,omitempty"`
	Image          *string           `json:"image,omitempty"`
	ExternalID     *string           `json:"externalId,omitempty"`
	Comments       *string           `json:"comments,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	ExpiresAt      *time.Time        `json:"expiresAt,omitempty"`
	ValidSince     *time.Time        `json:"validSince,omitempty"`
	ExpiredURL     *string           `json:"expiredUrl,omitempty"`
	Password       *string           `json:"password,omitempty"`
	IOS            *string           `json:"ios,omitempty"`
	Android        *string           `json:"android,omitempty"`
	Geo            map[string]string `json:"geo,omitempty"`
	Rules          []Rule            `json:"rules,omitempty"`
	Variants       []Variant         `json:"variants,omitempty"`
	UTM            *UTM              `json:"utm,omitempty"`
	ForwardQuery   *bool             `json:"forwardQuery,omitempty"`
	Archived       *bool             `json:"archived,omitempty"`
	Disabled       *bool             `json:"disabled,omitempty"`
	DoIndex        *bool             `json:"doIndex,omitempty"`
	DoNotTrack     *bool             `json:"doNotTrack,omitempty"`
	RedirectStatus *int              `json:"redirectStatus,omitempty"`
	MaxClicks      *int64            `json:"maxClicks,omitempty"`
	Preview        *Preview          `json:"preview,omitempty"`

	Clear []string `json:"-"`
}

// MarshalJSON writes the fields set, and null for each field of Clear.
func (in LinkInput) MarshalJSON() ([]byte, error) {
	return withNulls(linkInputJSON(in), in.Clear)
}

type linkInputJSON LinkInput

// withNulls is v's JSON object with the members of nulls set to null (a
// member both set and cleared is cleared).
func withNulls(v any, nulls []string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(nulls) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, name := range nulls {
		m[name] = json.RawMessage("null")
	}
	return json.Marshal(m)
}

// LinkQuery filters and pages ListLinks. Zero fields filter nothing.
type LinkQuery struct {
	Domain     string
	Tag        string
	Search     string // in the key, URL and title
	ExternalID string
	CreatedBy  string
	Archived   *bool
	Disabled   *bool
	Sort       string // createdAt (default), clicks, lastClickedAt
	Order      string // desc (default) or asc
	Limit      int
	Cursor     string
}

// Values is q as GET /v1/links' query parameters.
func (q LinkQuery) Values() url.Values {
	v := url.Values{}
	set(v, "domain", q.Domain)
	set(v, "tag", q.Tag)
	set(v, "search", q.Search)
	set(v, "externalId", q.ExternalID)
	set(v, "createdBy", q.CreatedBy)
	setBool(v, "archived", q.Archived)
	setBool(v, "disabled", q.Disabled)
	set(v, "sort", q.Sort)
	set(v, "order", q.Order)
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	return v
}

// CreateLink creates a link (POST /v1/links); in.URL is required.
func (c *Client) CreateLink(ctx context.Context, in LinkInput) (Link, error) {
	var l Link
	return l, c.Do(ctx, "POST", "/v1/links", nil, in, &l)
}

// GetLink reads link id.
func (c *Client) GetLink(ctx context.Context, id string) (Link, error) {
	var l Link
	return l, c.Do(ctx, "GET", "/v1/links/"+url.PathEscape(id), nil, nil, &l)
}

// LinkByKey reads the link of domain and key (GET /v1/links/info).
func (c *Client) LinkByKey(ctx context.Context, domain, key string) (Link, error) {
	var l Link
	return l, c.Do(ctx, "GET", "/v1/links/info", url.Values{"domain": {domain}, "key": {key}}, nil, &l)
}

// LinkByExternalID reads the link with the caller's externalId.
func (c *Client) LinkByExternalID(ctx context.Context, externalID string) (Link, error) {
	var l Link
	return l, c.Do(ctx, "GET", "/v1/links/info", url.Values{"externalId": {externalID}}, nil, &l)
}

// ListLinks reads one page of the org's links.
func (c *Client) ListLinks(ctx context.Context, q LinkQuery) (Page[Link], error) {
	var p Page[Link]
	return p, c.Do(ctx, "GET", "/v1/links", q.Values(), nil, &p)
}

// AllLinks yields every link q selects from q.Cursor on, fetching pages of
// q.Limit as it goes; it stops at the first error, which it yields.
func (c *Client) AllLinks(ctx context.Context, q LinkQuery) iter.Seq2[Link, error] {
	return all(ctx, q.Cursor, func(ctx context.Context, cursor string) (Page[Link], error) {
		q.Cursor = cursor
		return c.ListLinks(ctx, q)
	})
}

// UpdateLink changes the fields in sets (PATCH /v1/links/{id}).
func (c *Client) UpdateLink(ctx context.Context, id string, in LinkInput) (Link, error) {
	var l Link
	return l, c.Do(ctx, "PATCH", "/v1/links/"+url.PathEscape(id), nil, in, &l)
}

// DeleteLink deletes link id.
func (c *Client) DeleteLink(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/links/"+url.PathEscape(id), nil, nil, nil)
}

// BulkResult is the outcome of one item of a bulk call, at Index in the
// call's list: its link, or its error (Status 0: items have none).
type BulkResult struct {
	Index int
	Link  *Link
	Err   *Error
}

// BulkCreateLinks creates up to the API's bulk limit of links in one call
// (POST /v1/links/bulk). Items fail alone: each result has its link or
// its error; the error returned is the call's.
func (c *Client) BulkCreateLinks(ctx context.Context, ins []LinkInput) ([]BulkResult, error) {
	var out struct {
		Data []struct {
			Index int   `json:"index"`
			Link  *Link `json:"link"`
			Error *struct {
				Code    apierror.Code     `json:"code"`
				Message string            `json:"message"`
				Details []apierror.Detail `json:"details"`
			} `json:"error"`
		} `json:"data"`
	}
	if ins == nil {
		ins = []LinkInput{}
	}
	if err := c.Do(ctx, "POST", "/v1/links/bulk", nil, ins, &out); err != nil {
		return nil, err
	}
	res := make([]BulkResult, len(out.Data))
	for i, d := range out.Data {
		res[i] = BulkResult{Index: d.Index, Link: d.Link}
		if e := d.Error; e != nil {
			res[i].Err = &Error{Code: e.Code, Message: e.Message, Details: e.Details}
		}
	}
	return res, nil
}

// QROptions draw a QR code; zero fields are the API's defaults (a
// 600-pixel black-on-white PNG, level M, a 4-module margin).
type QROptions struct {
	Format  string // png or svg
	Size    int    // pixels
	Scale   int    // pixels per module, instead of Size
	Level   string // L, M, Q or H
	FGColor string // #rgb or #rrggbb
	BGColor string
	Margin  *int   // modules
	Logo    string // an image file's id (file_…)
}

// Values is o as GET /v1/links/{id}/qr's query parameters.
func (o QROptions) Values() url.Values {
	v := url.Values{}
	set(v, "format", o.Format)
	setInt(v, "size", o.Size)
	setInt(v, "scale", o.Scale)
	set(v, "level", o.Level)
	set(v, "fgColor", o.FGColor)
	set(v, "bgColor", o.BGColor)
	if o.Margin != nil {
		v.Set("margin", strconv.Itoa(*o.Margin))
	}
	set(v, "logo", o.Logo)
	return v
}

// maxQR bounds a QR code's image as read.
const maxQR = 16 << 20

// LinkQR is link id's QR code: the image's bytes, PNG or SVG as o asks.
func (c *Client) LinkQR(ctx context.Context, id string, o QROptions) ([]byte, error) {
	body, err := c.Stream(ctx, "GET", "/v1/links/"+url.PathEscape(id)+"/qr", o.Values(), nil)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxQR+1))
	if err != nil {
		return nil, fmt.Errorf("apiclient: reading the QR code: %w", err)
	}
	if len(b) > maxQR {
		return nil, fmt.Errorf("apiclient: QR code larger than %d bytes", maxQR)
	}
	return b, nil
}
