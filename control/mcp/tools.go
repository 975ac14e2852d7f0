package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/jsonschema-go/jsonschema"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/ids"
)

// The tools' annotations: what a client may tell its user before a call.
var (
	readOnly    = &mcpsdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	additive    = &mcpsdk.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)}
	overwriting = &mcpsdk.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)}
	checksDNS   = &mcpsdk.ToolAnnotations{DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(true)}
)

const (
	// maxBulkTool bounds the links of a bulk_create_links call: the API
	// takes 1000, but a model's call had better stay small.
	maxBulkTool = 100
	// maxQRImage is the largest PNG create_qr_code answers as an image.
	maxQRImage   = 256 << 10
	pageLimitMax = 100.0
)

// addTool adds a tool whose answer is the API's JSON object.
func addTool[In any](s *mcpsdk.Server, t *mcpsdk.Tool, call func(ctx context.Context, extra *mcpsdk.RequestExtra, in In) (json.RawMessage, error)) {
	mcpsdk.AddTool(s, t, func(ctx context.Context, req *mcpsdk.CallToolRequest, in In) (*mcpsdk.CallToolResult, json.RawMessage, error) {
		out, err := call(ctx, req.Extra, in)
		return nil, out, err
	})
}

// --- links -------------------------------------------------------------

// UTM are a link's UTM parameters, added to its destination.
type UTM struct {
	Source   *string `json:"source,omitempty" jsonschema:"utm_source, e.g. newsletter, twitter"`
	Medium   *string `json:"medium,omitempty" jsonschema:"utm_medium, e.g. email, social, cpc"`
	Campaign *string `json:"campaign,omitempty" jsonschema:"utm_campaign, e.g. spring_sale"`
	Term     *string `json:"term,omitempty" jsonschema:"utm_term"`
	Content  *string `json:"content,omitempty" jsonschema:"utm_content"`
}

// LinkFields are a link's settings as POST and PATCH /v1/links take them;
// a field left out is not set (on update: left as it is).
type LinkFields struct {
	Domain         *string           `json:"domain,omitempty" jsonschema:"the short link's domain (one of list_domains, or the platform's default when left out)"`
	Key            *string           `json:"key,omitempty" jsonschema:"the slug after the domain (random when left out on create)"`
	Title          *string           `json:"title,omitempty" jsonschema:"a title for people and link previews"`
	Description    *string           `json:"description,omitempty" jsonschema:"a description for link previews"`
	Image          *string           `json:"image,omitempty" jsonschema:"a preview image: an https URL or an image file id (file_…)"`
	Tags           []string          `json:"tags,omitempty" jsonschema:"tag names; on update they replace the link's tags"`
	ExternalID     *string           `json:"externalId,omitempty" jsonschema:"your own id for the link, unique in the organization"`
	Comments       *string           `json:"comments,omitempty" jsonschema:"private notes"`
	ExpiresAt      *string           `json:"expiresAt,omitempty" jsonschema:"when the link stops redirecting (RFC 3339)"`
	ExpiredURL     *string           `json:"expiredUrl,omitempty" jsonschema:"where an expired link redirects instead"`
	Password       *string           `json:"password,omitempty" jsonschema:"visitors must type it before the redirect"`
	IOS            *string           `json:"ios,omitempty" jsonschema:"destination for iOS devices"`
	Android        *string           `json:"android,omitempty" jsonschema:"destination for Android devices"`
	Geo            map[string]string `json:"geo,omitempty" jsonschema:"destinations by visitor country: ISO 3166-1 alpha-2 code to URL"`
	UTM            *UTM              `json:"utm,omitempty" jsonschema:"UTM parameters added to the destination"`
	RedirectStatus *int              `json:"redirectStatus,omitempty" jsonschema:"the HTTP status of the redirect (default 302)"`
	MaxClicks      *int64            `json:"maxClicks,omitempty" jsonschema:"the link stops redirecting after this many clicks"`
	ForwardQuery   *bool             `json:"forwardQuery,omitempty" jsonschema:"pass the short link's query string on to the destination"`
	Archived       *bool             `json:"archived,omitempty" jsonschema:"an archived link still redirects; list_links shows it unless archived is false"`
	Disabled       *bool             `json:"disabled,omitempty" jsonschema:"a disabled link does not redirect"`
	DoNotTrack     *bool             `json:"doNotTrack,omitempty" jsonschema:"do not record this link's clicks"`
}

func linkFieldsSchema(p map[string]*jsonschema.Schema) {
	enum(p["redirectStatus"], 301, 302, 307, 308)
	p["maxClicks"].Minimum = ptr(1.0)
	p["expiresAt"].Format = "date-time"
}

// CreateLinkInput is create_link's arguments.
type CreateLinkInput struct {
	URL string `json:"url" jsonschema:"the destination: an absolute http or https URL"`
	LinkFields
}

// UpdateLinkInput is update_link's arguments.
type UpdateLinkInput struct {
	ID  string  `json:"id" jsonschema:"the link's id (link_…)"`
	URL *string `json:"url,omitempty" jsonschema:"a new destination: an absolute http or https URL"`
	LinkFields
}

// GetLinkInput is get_link's arguments: one way of naming a link.
type GetLinkInput struct {
	ID         *string `json:"id,omitempty" jsonschema:"the link's id (link_…)"`
	Domain     *string `json:"domain,omitempty" jsonschema:"the short link's domain, with key"`
	Key        *string `json:"key,omitempty" jsonschema:"the short link's slug, with domain"`
	ExternalID *string `json:"externalId,omitempty" jsonschema:"your own id of the link"`
}

// IDInput names one object by id.
type IDInput struct {
	ID string `json:"id" jsonschema:"the object's id"`
}

// PageInput pages a list.
type PageInput struct {
	Limit  *int    `json:"limit,omitempty" jsonschema:"items per page, 1 to 100 (default 50)"`
	Cursor *string `json:"cursor,omitempty" jsonschema:"nextCursor of the previous page"`
}

func (p PageInput) query() url.Values {
	q := url.Values{}
	if p.Limit != nil {
		q.Set("limit", strconv.Itoa(*p.Limit))
	}
	set(q, "cursor", p.Cursor)
	return q
}

func pageSchema(p map[string]*jsonschema.Schema) { bounds(p["limit"], 1, pageLimitMax) }

// ListLinksInput is list_links's arguments.
type ListLinksInput struct {
	Domain     *string `json:"domain,omitempty" jsonschema:"only links on this domain"`
	Tag        *string `json:"tag,omitempty" jsonschema:"only links with this tag name"`
	Search     *string `json:"search,omitempty" jsonschema:"words found in the key, destination URL or title"`
	ExternalID *string `json:"externalId,omitempty" jsonschema:"only the link with this externalId"`
	Archived   *bool   `json:"archived,omitempty" jsonschema:"true: archived links only; false: unarchived only; left out: both"`
	Disabled   *bool   `json:"disabled,omitempty" jsonschema:"true: disabled links only; false: enabled only"`
	Sort       *string `json:"sort,omitempty" jsonschema:"order by createdAt (default), clicks or lastClickedAt"`
	Order      *string `json:"order,omitempty" jsonschema:"desc (default) or asc"`
	PageInput
}

// BulkCreateInput is bulk_create_links's arguments.
type BulkCreateInput struct {
	Links []CreateLinkInput `json:"links" jsonschema:"the links to create, each as create_link takes it"`
}

// --- stats -------------------------------------------------------------

// Filters narrow stats and events; each takes several values,
// comma-separated, a value after "-" excluding it.
type Filters struct {
	Domain  *string `json:"domain,omitempty" jsonschema:"short link domains"`
	LinkID  *string `json:"linkId,omitempty" jsonschema:"link ids (link_…)"`
	Key     *string `json:"key,omitempty" jsonschema:"short link slugs"`
	Tag     *string `json:"tag,omitempty" jsonschema:"tag names"`
	Country *string `json:"country,omitempty" jsonschema:"ISO 3166-1 alpha-2 codes, e.g. US,FR"`
	Device  *string `json:"device,omitempty" jsonschema:"desktop, mobile, tablet, …"`
	Browser *string `json:"browser,omitempty" jsonschema:"browser names"`
	OS      *string `json:"os,omitempty" jsonschema:"operating system names"`
	Referer *string `json:"referer,omitempty" jsonschema:"referring hosts"`
	Trigger *string `json:"trigger,omitempty" jsonschema:"link or qr"`
}

// Range is a time range of clicks.
type Range struct {
	Interval *string `json:"interval,omitempty" jsonschema:"a range ending now (default 24h); or give start and end"`
	Start    *string `json:"start,omitempty" jsonschema:"range start: RFC 3339, or a date (YYYY-MM-DD) in timezone"`
	End      *string `json:"end,omitempty" jsonschema:"range end: RFC 3339, or a date (YYYY-MM-DD) in timezone"`
	Timezone *string `json:"timezone,omitempty" jsonschema:"IANA zone of dates and timeseries buckets (default UTC), e.g. Europe/Paris"`
	Bots     *string `json:"bots,omitempty" jsonschema:"bots' clicks: excluded by default; include or only"`
}

func (r Range) set(q url.Values) {
	set(q, "interval", r.Interval)
	set(q, "start", r.Start)
	set(q, "end", r.End)
	set(q, "timezone", r.Timezone)
	set(q, "bots", r.Bots)
}

func (f Filters) set(q url.Values) {
	for name, v := range map[string]*string{"domain": f.Domain, "linkId": f.LinkID, "key": f.Key, "tag": f.Tag,
		"country": f.Country, "device": f.Device, "browser": f.Browser, "os": f.OS, "referer": f.Referer, "trigger": f.Trigger} {
		set(q, name, v)
	}
}

func rangeSchema(p map[string]*jsonschema.Schema) {
	enum(p["interval"], "24h", "7d", "30d", "90d", "1y", "mtd", "ytd", "all")
	enum(p["bots"], "exclude", "include", "only")
}

// StatsInput is get_stats's arguments.
type StatsInput struct {
	GroupBy     *string `json:"groupBy,omitempty" jsonschema:"what to count by (default count: the total)"`
	Granularity *string `json:"granularity,omitempty" jsonschema:"timeseries buckets (default: chosen from the range)"`
	Unique      *bool   `json:"unique,omitempty" jsonschema:"also count unique visitors"`
	Limit       *int    `json:"limit,omitempty" jsonschema:"rows of a grouping, 1 to 1000"`
	Range
	Filters
}

// EventsInput is list_events's arguments.
type EventsInput struct {
	Limit  *int    `json:"limit,omitempty" jsonschema:"clicks per page, 1 to 1000 (default 100)"`
	Cursor *string `json:"cursor,omitempty" jsonschema:"nextCursor of the previous page"`
	Range
	Filters
}

// --- domains, files, usage ------------------------------------------------

// AddDomainInput is add_domain's arguments.
type AddDomainInput struct {
	Name        string  `json:"name" jsonschema:"the domain name, e.g. go.example.com"`
	RootURL     *string `json:"rootUrl,omitempty" jsonschema:"where the domain's root (no key) redirects"`
	NotFoundURL *string `json:"notFoundUrl,omitempty" jsonschema:"where an unknown key redirects"`
	ExpiredURL  *string `json:"expiredUrl,omitempty" jsonschema:"where expired links redirect by default"`
}

// QRInput is create_qr_code's arguments.
type QRInput struct {
	LinkID       string  `json:"linkId" jsonschema:"the link whose short link the code encodes (link_…)"`
	Format       *string `json:"format,omitempty" jsonschema:"png (default) or svg"`
	Size         *int    `json:"size,omitempty" jsonschema:"the side in pixels, 64 to 2048 (default 600)"`
	Level        *string `json:"level,omitempty" jsonschema:"error correction: L, M (default), Q or H"`
	FGColor      *string `json:"fgColor,omitempty" jsonschema:"foreground colour, #rgb or #rrggbb"`
	BGColor      *string `json:"bgColor,omitempty" jsonschema:"background colour, #rgb or #rrggbb"`
	Margin       *int    `json:"margin,omitempty" jsonschema:"quiet zone in modules"`
	Logo         *string `json:"logo,omitempty" jsonschema:"an image file id (file_…) drawn in the middle (png only)"`
	Name         *string `json:"name,omitempty" jsonschema:"the file's name (default qr-<key>.<format>)"`
	IncludeImage *bool   `json:"includeImage,omitempty" jsonschema:"also answer a small PNG as an image (default true)"`
}

// UsageInput is get_api_usage's arguments.
type UsageInput struct {
	Interval *string `json:"interval,omitempty" jsonschema:"the days counted, ending today (default 30d)"`
	GroupBy  *string `json:"groupBy,omitempty" jsonschema:"rows by key (default), route or status"`
}

func set(q url.Values, name string, v *string) {
	if v != nil && *v != "" {
		q.Set(name, *v)
	}
}

func setBool(q url.Values, name string, v *bool) {
	if v != nil {
		q.Set(name, strconv.FormatBool(*v))
	}
}

func setInt(q url.Values, name string, v *int) {
	if v != nil {
		q.Set(name, strconv.Itoa(*v))
	}
}

// --- output schemas -----------------------------------------------------

var (
	str     = func(d string) *jsonschema.Schema { return &jsonschema.Schema{Type: "string", Description: d} }
	linkOut = outputSchema(map[string]*jsonschema.Schema{"id": str("the link's id"), "shortLink": str("the short URL to share"), "url": str("the destination")})
	listOut = func(of string) *jsonschema.Schema {
		return outputSchema(map[string]*jsonschema.Schema{
			"data":       {Type: "array", Description: of},
			"nextCursor": {Types: []string{"string", "null"}, Description: "give it as cursor for the next page; null on the last"},
		})
	}
	idOut      = outputSchema(map[string]*jsonschema.Schema{"id": str("the deleted object's id")})
	bulkOut    = outputSchema(map[string]*jsonschema.Schema{"data": {Type: "array", Description: "one result per input, by index: link, or error {code, message, details}"}})
	statsOut   = outputSchema(map[string]*jsonschema.Schema{"clicks": {Type: "integer", Description: "groupBy count: the total"}, "data": {Type: "array", Description: "other groupings: the rows or points"}})
	domainOut  = outputSchema(map[string]*jsonschema.Schema{"id": str("the domain's id"), "name": str("the domain name"), "status": str("its verification status")})
	fileOut    = outputSchema(map[string]*jsonschema.Schema{"id": str("the file's id"), "contentUrl": str("GET it with the API key for the bytes")})
	usageOut   = outputSchema(map[string]*jsonschema.Schema{"groupBy": str("what rows are by"), "data": {Type: "array", Description: "the rows"}})
	listLinks  = listOut("links, as get_link answers them")
	listDomain = listOut("domains")
)

func (h *handlers) addTools(s *mcpsdk.Server) {
	addTool(s, &mcpsdk.Tool{
		Name:  "create_link",
		Title: "Create a short link",
		Description: "Creates a short link to url on the organization's domain (domain, or the default) with key as its slug " +
			"(random when left out). Use it to shorten, brand or track a URL; for several links at once use bulk_create_links. " +
			"Answers the link: its id, shortLink (the URL to share), url and settings.",
		InputSchema:  inputSchema[CreateLinkInput](linkFieldsSchema),
		OutputSchema: linkOut,
		Annotations:  additive,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in CreateLinkInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodPost, "/v1/links", nil, in)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "get_link",
		Title: "Get a link",
		Description: "Reads one link: by id, or by domain and key (the short link's host and slug), or by externalId. " +
			"Answers the link with its destination, settings and click count.",
		InputSchema:  inputSchema[GetLinkInput](nil),
		OutputSchema: linkOut,
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in GetLinkInput) (json.RawMessage, error) {
		if in.ID != nil {
			if err := checkID("id", ids.Link, *in.ID); err != nil {
				return nil, err
			}
			return h.call(ctx, extra, http.MethodGet, "/v1/links/"+*in.ID, nil, nil)
		}
		q := url.Values{}
		set(q, "domain", in.Domain)
		set(q, "key", in.Key)
		set(q, "externalId", in.ExternalID)
		if len(q) == 0 {
			return nil, &ToolError{Text: "VALIDATION_ERROR: name the link: give id, or domain and key, or externalId"}
		}
		return h.call(ctx, extra, http.MethodGet, "/v1/links/info", q, nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "update_link",
		Title: "Update a link",
		Description: "Changes the fields given of the link id (destination, slug, title, tags, expiry, UTM, …); fields left out stay " +
			"as they are. The edges redirect with the change within moments. Answers the updated link.",
		InputSchema:  inputSchema[UpdateLinkInput](linkFieldsSchema),
		OutputSchema: linkOut,
		Annotations:  overwriting,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in UpdateLinkInput) (json.RawMessage, error) {
		body := struct {
			URL *string `json:"url,omitempty"`
			LinkFields
		}{in.URL, in.LinkFields}
		if err := checkID("id", ids.Link, in.ID); err != nil {
			return nil, err
		}
		return h.call(ctx, extra, http.MethodPatch, "/v1/links/"+in.ID, nil, body)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "delete_link",
		Title: "Delete a link",
		Description: "Deletes the link id for good: its short link stops redirecting and its slug is free again. " +
			"Prefer update_link with archived or disabled to keep it. Answers {id}.",
		InputSchema:  inputSchema[IDInput](func(p map[string]*jsonschema.Schema) { p["id"].Description = "the link's id (link_…)" }),
		OutputSchema: idOut,
		Annotations:  overwriting,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in IDInput) (json.RawMessage, error) {
		if err := checkID("id", ids.Link, in.ID); err != nil {
			return nil, err
		}
		return h.call(ctx, extra, http.MethodDelete, "/v1/links/"+in.ID, nil, nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "list_links",
		Title: "List links",
		Description: "Lists the organization's links, newest first unless sorted otherwise, filtered by domain, tag, search words, " +
			"archived or disabled. Answers {data: [links], nextCursor}; pass nextCursor as cursor for the next page.",
		InputSchema: inputSchema[ListLinksInput](func(p map[string]*jsonschema.Schema) {
			pageSchema(p)
			enum(p["sort"], "createdAt", "clicks", "lastClickedAt")
			enum(p["order"], "desc", "asc")
		}),
		OutputSchema: listLinks,
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in ListLinksInput) (json.RawMessage, error) {
		q := in.query()
		for name, v := range map[string]*string{"domain": in.Domain, "tag": in.Tag, "search": in.Search,
			"externalId": in.ExternalID, "sort": in.Sort, "order": in.Order} {
			set(q, name, v)
		}
		setBool(q, "archived", in.Archived)
		setBool(q, "disabled", in.Disabled)
		return h.call(ctx, extra, http.MethodGet, "/v1/links", q, nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "bulk_create_links",
		Title: "Create several links",
		Description: fmt.Sprintf("Creates up to %d links in one call, each as create_link takes it (e.g. one link per campaign source). "+
			"Each succeeds or fails on its own: answers {data: [{index, link} or {index, error}]} in the order given.", maxBulkTool),
		InputSchema: inputSchema[BulkCreateInput](func(p map[string]*jsonschema.Schema) {
			p["links"].MinItems, p["links"].MaxItems = ptr(1), ptr(maxBulkTool)
			linkFieldsSchema(p["links"].Items.Properties)
		}),
		OutputSchema: bulkOut,
		Annotations:  additive,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in BulkCreateInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodPost, "/v1/links/bulk", nil, in.Links)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "get_stats",
		Title: "Click statistics",
		Description: "Counts the organization's clicks over a range (interval, or start and end), optionally filtered (domain, linkId, " +
			"key, tag, country, …). groupBy count (default) answers {clicks[, visitors]}; timeseries answers {data: [{start, clicks}]}; " +
			"the other groupings answer {data: [rows]}, each row naming its value (country, linkId with domain and key, …) and its clicks. " +
			"Use it to report on links, campaigns and audiences.",
		InputSchema: inputSchema[StatsInput](func(p map[string]*jsonschema.Schema) {
			rangeSchema(p)
			enum(p["groupBy"], "count", "timeseries", "countries", "devices", "browsers", "os", "referers", "triggers",
				"top_links", "top_domains", "top_tags", "utm_sources", "utm_mediums", "utm_campaigns")
			enum(p["granularity"], "hour", "day", "month")
			bounds(p["limit"], 1, 1000)
		}),
		OutputSchema: statsOut,
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in StatsInput) (json.RawMessage, error) {
		q := url.Values{}
		set(q, "groupBy", in.GroupBy)
		set(q, "granularity", in.Granularity)
		setBool(q, "unique", in.Unique)
		setInt(q, "limit", in.Limit)
		in.Range.set(q)
		in.Filters.set(q)
		out, err := h.call(ctx, extra, http.MethodGet, "/v1/stats", q, nil)
		if err != nil {
			return nil, err
		}
		return objectOf(out), nil
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "list_events",
		Title: "List clicks",
		Description: "Lists the organization's clicks one by one, newest first, over a range and filters as get_stats takes them: " +
			"each with its time, link (id, domain, key), country, device, browser, OS, referer and trigger. " +
			"Answers {data: [clicks], nextCursor}.",
		InputSchema: inputSchema[EventsInput](func(p map[string]*jsonschema.Schema) {
			rangeSchema(p)
			bounds(p["limit"], 1, 1000)
		}),
		OutputSchema: listOut("clicks"),
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in EventsInput) (json.RawMessage, error) {
		q := url.Values{}
		setInt(q, "limit", in.Limit)
		set(q, "cursor", in.Cursor)
		in.Range.set(q)
		in.Filters.set(q)
		return h.call(ctx, extra, http.MethodGet, "/v1/events", q, nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "list_domains",
		Title: "List domains",
		Description: "Lists the organization's custom domains with their verification status and the DNS records they need. " +
			"Answers {data: [domains], nextCursor}.",
		InputSchema:  inputSchema[PageInput](pageSchema),
		OutputSchema: listDomain,
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in PageInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodGet, "/v1/domains", in.query(), nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "add_domain",
		Title: "Add a custom domain",
		Description: "Adds a custom domain for short links. It serves links once its DNS points at H0p's edges: the answer lists " +
			"the records to create; then call verify_domain. Answers the domain.",
		InputSchema:  inputSchema[AddDomainInput](nil),
		OutputSchema: domainOut,
		Annotations:  additive,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in AddDomainInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodPost, "/v1/domains", nil, in)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "verify_domain",
		Title: "Verify a domain",
		Description: "Checks the DNS of the domain id now and answers the domain with its status and the records expected and found. " +
			"Use it after the DNS records of add_domain were created.",
		InputSchema:  inputSchema[IDInput](func(p map[string]*jsonschema.Schema) { p["id"].Description = "the domain's id (dom_…)" }),
		OutputSchema: domainOut,
		Annotations:  checksDNS,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in IDInput) (json.RawMessage, error) {
		if err := checkID("id", domains.Prefix, in.ID); err != nil {
			return nil, err
		}
		return h.call(ctx, extra, http.MethodPost, "/v1/domains/"+in.ID+"/verify", nil, nil)
	})

	mcpsdk.AddTool(s, &mcpsdk.Tool{
		Name:  "create_qr_code",
		Title: "Create a QR code",
		Description: "Renders the QR code of a link's short link and saves it as a file of the organization (for print). " +
			"Answers the file (id, name, type, size) with contentUrl, where the API key downloads it; a PNG of at most 256 KiB " +
			"also comes back as an image.",
		InputSchema: inputSchema[QRInput](func(p map[string]*jsonschema.Schema) {
			enum(p["format"], "png", "svg")
			enum(p["level"], "L", "M", "Q", "H")
			bounds(p["size"], 64, 2048)
			p["margin"].Minimum = ptr(0.0)
		}),
		OutputSchema: fileOut,
		Annotations:  additive,
	}, h.createQR)

	addTool(s, &mcpsdk.Tool{
		Name:         "list_tags",
		Title:        "List tags",
		Description:  "Lists the organization's link tags (id, name, color). Answers {data: [tags], nextCursor}.",
		InputSchema:  inputSchema[PageInput](pageSchema),
		OutputSchema: listOut("tags"),
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in PageInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodGet, "/v1/tags", in.query(), nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "list_webhooks",
		Title: "List webhooks",
		Description: "Lists the organization's webhook endpoints: URL, events subscribed, enabled or not. " +
			"Answers {data: [webhooks], nextCursor}.",
		InputSchema:  inputSchema[PageInput](pageSchema),
		OutputSchema: listOut("webhook endpoints"),
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in PageInput) (json.RawMessage, error) {
		return h.call(ctx, extra, http.MethodGet, "/v1/webhooks", in.query(), nil)
	})

	addTool(s, &mcpsdk.Tool{
		Name:  "get_api_usage",
		Title: "API usage",
		Description: "Counts the organization's API requests over the last days, by API key (default), route or status: " +
			"requests, errors, rate-limited. Answers {groupBy, from, to, data: [rows]}.",
		InputSchema: inputSchema[UsageInput](func(p map[string]*jsonschema.Schema) {
			enum(p["interval"], "24h", "7d", "30d", "90d")
			enum(p["groupBy"], "key", "route", "status")
		}),
		OutputSchema: usageOut,
		Annotations:  readOnly,
	}, func(ctx context.Context, extra *mcpsdk.RequestExtra, in UsageInput) (json.RawMessage, error) {
		q := url.Values{}
		set(q, "interval", in.Interval)
		set(q, "groupBy", in.GroupBy)
		return h.call(ctx, extra, http.MethodGet, "/v1/usage", q, nil)
	})
}

// objectOf is an answer as a tool's structured output, which is an
// object: an array comes back as {"data": array}.
func objectOf(out json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(out); len(t) > 0 && t[0] == '[' {
		b, _ := json.Marshal(map[string]json.RawMessage{"data": t})
		return b
	}
	return out
}

// createQR saves a link's QR code as a file and answers the file with
// contentUrl and, for a small PNG, the image.
func (h *handlers) createQR(ctx context.Context, req *mcpsdk.CallToolRequest, in QRInput) (*mcpsdk.CallToolResult, json.RawMessage, error) {
	// The API's body is QRInput but includeImage, which the outer field,
	// left nil, hides from encoding/json.
	body := struct {
		QRInput
		IncludeImage *bool `json:"includeImage,omitempty"`
	}{QRInput: in}
	out, err := h.call(ctx, req.Extra, http.MethodPost, "/v1/files/qr", nil, body)
	if err != nil {
		return nil, nil, err
	}
	var file map[string]any
	if err := json.Unmarshal(out, &file); err != nil {
		return nil, nil, fmt.Errorf("the API's file: %w", err)
	}
	id, _ := file["id"].(string)
	file["contentUrl"] = h.publicURL + "/v1/files/" + id + "/content"
	structured, err := json.Marshal(file)
	if err != nil {
		return nil, nil, err
	}
	res := &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: string(structured)}}}
	size, _ := file["size"].(float64)
	if typ, _ := file["type"].(string); typ == "image/png" && size <= maxQRImage && (in.IncludeImage == nil || *in.IncludeImage) {
		// The file is saved: a failure to read it back (a key without
		// files:read, a spent rate limit) must not fail the tool, or the
		// model would call again and save the code twice.
		png, err := h.fileBytes(ctx, req.Extra, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			res.Content = append(res.Content, &mcpsdk.TextContent{Text: "image not included: " + err.Error() +
				"\nThe QR code is saved (the file above): do not create it again."})
			return res, structured, nil
		}
		res.Content = append(res.Content, &mcpsdk.ImageContent{Data: png, MIMEType: "image/png"})
	}
	return res, structured, nil
}

// fileBytes reads a file's content, at most maxQRImage bytes.
func (h *handlers) fileBytes(ctx context.Context, extra *mcpsdk.RequestExtra, id string) ([]byte, error) {
	c, err := h.clients(extra)
	if err != nil {
		return nil, err
	}
	if err := checkID("id", files.Prefix, id); err != nil {
		return nil, err
	}
	body, err := c.Stream(ctx, http.MethodGet, "/v1/files/"+id+"/content", nil, nil)
	if err != nil {
		return nil, toolError(err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxQRImage+1))
	if err != nil {
		return nil, toolError(err)
	}
	if len(b) > maxQRImage {
		return nil, errors.New("the QR code's file is larger than it said")
	}
	return b, nil
}
