package apiclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/controltest"
	"github.com/h0p/h0p/control/openapi/openapitest"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clicks"
)

// api is a control node over a real single-voter raft node, on 127.0.0.1
// and a temp dir, with its bootstrap Owner's key.
type api struct {
	control *control.Server
	key     string
	// url is where the client calls: a proxy to the control node that
	// checks every request and answer against the API's OpenAPI document.
	url string
}

// mustStartAPI starts the API; limits (default: high) rate-limit it.
func mustStartAPI(t *testing.T, limits ...ratelimit.Limits) *api {
	t.Helper()
	var cfg control.Config
	if len(limits) > 0 {
		cfg.RateLimits = limits[0]
	}
	n := controltest.Start(t, cfg)
	target, err := url.Parse(n.Control.URL())
	if err != nil {
		t.Fatal(err)
	}
	checked := httptest.NewServer(openapitest.Contract(t, httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(checked.Close)
	return &api{control: n.Control, key: n.Key, url: checked.URL}
}

func mustClient(t *testing.T, baseURL, key string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(baseURL, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientLinks(t *testing.T) {
	ctx := context.Background()
	a := mustStartAPI(t)
	c := mustClient(t, a.url, a.key)

	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := c.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/docs"),
		Key: apiclient.Ptr("docs"), Title: apiclient.Ptr("Docs"), Tags: []string{"guide"}, ExpiresAt: &expires,
		ExternalID: apiclient.Ptr("ext-1")})
	if err != nil {
		t.Fatal(err)
	}
	if l.ID == "" || l.Key != "docs" || l.Domain != "localhost" || l.URL != "https://example.com/docs" ||
		l.ShortLink == "" || !slices.Equal(l.Tags, []string{"guide"}) || l.ExpiresAt == nil || !l.ExpiresAt.Equal(expires) {
		t.Fatalf("created %+v", l)
	}

	for name, get := range map[string]func() (apiclient.Link, error){
		"by id":          func() (apiclient.Link, error) { return c.GetLink(ctx, l.ID) },
		"by key":         func() (apiclient.Link, error) { return c.LinkByKey(ctx, "localhost", "docs") },
		"by external id": func() (apiclient.Link, error) { return c.LinkByExternalID(ctx, "ext-1") },
	} {
		got, err := get()
		if err != nil || got.ID != l.ID || got.Title == nil || *got.Title != "Docs" {
			t.Errorf("%s: %+v %v", name, got, err)
		}
	}

	// A change sends only what it sets, and Clear sends null.
	up, err := c.UpdateLink(ctx, l.ID, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/docs/v2"),
		Clear: []string{"expiresAt"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.URL != "https://example.com/docs/v2" || up.ExpiresAt != nil || up.Title == nil || *up.Title != "Docs" ||
		!slices.Equal(up.Tags, []string{"guide"}) {
		t.Errorf("updated %+v", up)
	}

	// Paging: a page of 2 and its cursor, and the iterator over pages of 2.
	res, err := c.BulkCreateLinks(ctx, []apiclient.LinkInput{
		{URL: apiclient.Ptr("https://example.com/1")},
		{URL: apiclient.Ptr("https://example.com/2"), Tags: []string{"guide"}},
		{URL: apiclient.Ptr("not a url")},
		{URL: apiclient.Ptr("https://example.com/4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[0].Link == nil || res[2].Err == nil || res[2].Err.Code != apierror.ValidationError ||
		res[2].Link != nil || res[3].Link == nil {
		t.Fatalf("bulk results %+v", res)
	}
	page, err := c.ListLinks(ctx, apiclient.LinkQuery{Limit: 2})
	if err != nil || len(page.Data) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %d links, cursor %q, %v", len(page.Data), page.NextCursor, err)
	}
	var ids []string
	for l, err := range c.AllLinks(ctx, apiclient.LinkQuery{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	if len(ids) != 4 || ids[0] != page.Data[0].ID || ids[1] != page.Data[1].ID {
		t.Errorf("all links %v, first page %v %v", ids, page.Data[0].ID, page.Data[1].ID)
	}
	tagged, err := c.ListLinks(ctx, apiclient.LinkQuery{Tag: "guide"})
	if err != nil || len(tagged.Data) != 2 || tagged.NextCursor != "" {
		t.Errorf("tagged: %d links, cursor %q, %v", len(tagged.Data), tagged.NextCursor, err)
	}
	tags, err := c.ListTags(ctx, apiclient.ListQuery{})
	if err != nil || len(tags.Data) != 1 || tags.Data[0].Name != "guide" {
		t.Errorf("tags %+v %v", tags, err)
	}

	png, err := c.LinkQR(ctx, l.ID, apiclient.QROptions{Size: 200})
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("qr: %d bytes %v", len(png), err)
	}

	if err := c.DeleteLink(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLink(ctx, l.ID)
	if !apiclient.IsCode(err, apierror.NotFound) {
		t.Errorf("get after delete: %v, want NOT_FOUND", err)
	}
}

// The API's envelope comes back as *Error, whole.
func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	a := mustStartAPI(t)

	_, err := mustClient(t, a.url, a.key).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("ftp://example.com")})
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok {
		t.Fatalf("bad url: %v, want *Error", err)
	}
	if e.Status != 400 || e.Code != apierror.ValidationError || len(e.Details) == 0 || e.Details[0].Field != "url" ||
		e.Details[0].Reason == "" || e.RequestID == "" || e.Message == "" {
		t.Errorf("bad url: %+v", e)
	}

	for name, key := range map[string]string{"no key": "", "wrong key": "h0p_u_000000000000000000000000000000000000", "bad key": "nope"} {
		_, err := mustClient(t, a.url, key).ListLinks(ctx, apiclient.LinkQuery{})
		e, ok := errors.AsType[*apiclient.Error](err)
		if !ok || e.Status != 401 || e.Code != apierror.Unauthorized || e.RequestID == "" {
			t.Errorf("%s: %v, want 401 UNAUTHORIZED", name, err)
		}
	}
}

func TestClientStatsAndDomains(t *testing.T) {
	ctx := context.Background()
	a := mustStartAPI(t)
	c := mustClient(t, a.url, a.key)

	l, err := c.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/s"), Key: apiclient.Ptr("s")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetStats(ctx, apiclient.StatsQuery{})
	if err != nil || s.Clicks != 0 || s.GroupBy != "count" {
		t.Fatalf("stats before clicks: %+v %v", s, err)
	}
	batch := clicks.Batch{Edge: "edge-1", Seq: 1}
	for i, country := range []string{"FR", "FR", "DE"} {
		batch.Clicks = append(batch.Clicks, clicks.Click{ID: [16]byte{byte(i + 1)}, Time: time.Now().Add(-time.Hour),
			LinkID: l.ID, Domain: "localhost", Country: country})
	}
	data, err := batch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.control.IngestClicks(ctx, data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    apiclient.StatsQuery
		want apiclient.Stats
	}{
		{apiclient.StatsQuery{}, apiclient.Stats{GroupBy: "count", Clicks: 3}},
		{apiclient.StatsQuery{GroupBy: "countries", Interval: "7d"}, apiclient.Stats{GroupBy: "countries", Clicks: 3,
			Rows: []apiclient.StatsRow{{Value: "FR", Clicks: 2}, {Value: "DE", Clicks: 1}}}},
		{apiclient.StatsQuery{GroupBy: "countries", Filters: apiclient.Filters{Country: []string{"-FR"}}},
			apiclient.Stats{GroupBy: "countries", Clicks: 1, Rows: []apiclient.StatsRow{{Value: "DE", Clicks: 1}}}},
		{apiclient.StatsQuery{GroupBy: "top_links", Filters: apiclient.Filters{Key: []string{"s"}}},
			apiclient.Stats{GroupBy: "top_links", Clicks: 3, Rows: []apiclient.StatsRow{{Value: l.ID, Clicks: 3,
				Domain: "localhost", Key: "s", URL: "https://example.com/s"}}}},
	}
	for _, tt := range tests {
		got, err := c.GetStats(ctx, tt.q)
		if err != nil {
			t.Errorf("%v: %v", tt.q.Values(), err)
			continue
		}
		if got.GroupBy != tt.want.GroupBy || got.Clicks != tt.want.Clicks || !slices.Equal(got.Rows, tt.want.Rows) {
			t.Errorf("%v: got %+v, want %+v", tt.q.Values(), got, tt.want)
		}
	}
	u, err := c.GetStats(ctx, apiclient.StatsQuery{Unique: true, GroupBy: "timeseries", Interval: "24h"})
	if err != nil || u.Clicks != 3 || len(u.Series) == 0 || u.Series[0].Visitors == nil {
		t.Errorf("timeseries: %+v %v", u, err)
	}
	events, err := c.ListEvents(ctx, apiclient.EventQuery{Limit: 2})
	if err != nil || len(events.Data) != 2 || events.NextCursor == "" || events.Data[0].Key != "s" {
		t.Errorf("events: %+v %v", events, err)
	}
	_, err = c.GetStats(ctx, apiclient.StatsQuery{GroupBy: "planets"})
	if e, ok := errors.AsType[*apiclient.Error](err); !ok || e.Code != apierror.ValidationError || e.Details[0].Field != "groupBy" {
		t.Errorf("bad groupBy: %v", err)
	}

	d, err := c.AddDomain(ctx, apiclient.DomainInput{Name: apiclient.Ptr("Go.Example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "go.example.com" || d.Status != "pending" || d.VerificationToken == "" {
		t.Errorf("added %+v", d)
	}
	ds, err := c.ListDomains(ctx, apiclient.ListQuery{})
	if err != nil || len(ds.Data) != 1 || ds.Data[0].ID != d.ID {
		t.Errorf("domains %+v %v", ds, err)
	}
	got, err := c.GetDomain(ctx, d.ID)
	if err != nil || got.Name != d.Name {
		t.Errorf("get domain %+v %v", got, err)
	}
	if err := c.DeleteDomain(ctx, d.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDomain(ctx, d.ID); !apiclient.IsCode(err, apierror.NotFound) {
		t.Errorf("get deleted domain: %v", err)
	}

	usage, err := c.GetUsage(ctx, apiclient.UsageQuery{GroupBy: "route"})
	if err != nil || usage.GroupBy != "route" || len(usage.Data) == 0 {
		t.Errorf("usage %+v %v", usage, err)
	}
}

// A refusal over the rate limit says how long to wait.
func TestClientRateLimited(t *testing.T) {
	ctx := context.Background()
	a := mustStartAPI(t, ratelimit.Limits{PerSecond: 1, PerMinute: 100})
	c := mustClient(t, a.url, a.key)
	var err error
	for range 3 {
		if _, err = c.ListLinks(ctx, apiclient.LinkQuery{}); err != nil {
			break
		}
	}
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok || e.Status != 429 || e.Code != apierror.RateLimited || e.RetryAfter < time.Second {
		t.Errorf("3 calls at 1/s: %#v", err)
	}
}

// recorder is a loopback HTTP server that answers 404 and keeps the
// requests it got.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func mustStartRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()
		http.NotFound(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// The API never redirects: a client follows no redirect, so the key never
// reaches another host.
func TestClientRefusesRedirects(t *testing.T) {
	elsewhere := mustStartRecorder(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	c := mustClient(t, redirector.URL, "h0p_b_secret")
	_, err := c.GetLink(context.Background(), "link_1")
	if err == nil || !strings.Contains(err.Error(), "redirect to "+elsewhere.URL+"/v1/links/link_1") {
		t.Errorf("a redirected call: %v", err)
	}
	for _, r := range elsewhere.requests() {
		t.Errorf("the redirect was followed: %s %s with x-api-key %q", r.Method, r.URL, r.Header.Get("x-api-key"))
	}
}

// A saved QR code takes no Scale: SaveQR refuses it before any call.
func TestClientSaveQRRefusesScale(t *testing.T) {
	api := mustStartRecorder(t)
	_, err := mustClient(t, api.URL, "h0p_b_secret").SaveQR(context.Background(), "link_1", "", apiclient.QROptions{Scale: 8})
	if err == nil || !strings.Contains(err.Error(), "Scale") {
		t.Errorf("SaveQR with Scale: %v", err)
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Every id is escaped once in the path the API gets, whichever method
// names it; an id with '/' is NOT_FOUND without a call (the API routes on
// the unescaped path, where it would name other segments).
func TestClientEscapesIDs(t *testing.T) {
	ctx := context.Background()
	api := mustStartRecorder(t)
	c := mustClient(t, api.URL, "h0p_b_secret")
	for _, tt := range []struct {
		name string
		call func(id string) error
		path string // the escaped path of id "a b?c%d#e"
	}{
		{"GetLink", func(id string) error { _, err := c.GetLink(ctx, id); return err }, "/v1/links/a%20b%3Fc%25d%23e"},
		{"DeleteLink", func(id string) error { return c.DeleteLink(ctx, id) }, "/v1/links/a%20b%3Fc%25d%23e"},
		{"GetDomain", func(id string) error { _, err := c.GetDomain(ctx, id); return err }, "/v1/domains/a%20b%3Fc%25d%23e"},
		{"VerifyDomain", func(id string) error { _, err := c.VerifyDomain(ctx, id); return err }, "/v1/domains/a%20b%3Fc%25d%23e/verify"},
		{"GetAPIKey", func(id string) error { _, err := c.GetAPIKey(ctx, id); return err }, "/v1/api-keys/a%20b%3Fc%25d%23e"},
		{"GetWebhook", func(id string) error { _, err := c.GetWebhook(ctx, id); return err }, "/v1/webhooks/a%20b%3Fc%25d%23e"},
	} {
		before := len(api.requests())
		// The recorder answers every call 404.
		if e, ok := errors.AsType[*apiclient.Error](tt.call("a b?c%d#e")); !ok || e.Status != http.StatusNotFound {
			t.Errorf("%s: %v", tt.name, e)
		}
		reqs := api.requests()
		if len(reqs) != before+1 {
			t.Fatalf("%s: %d requests", tt.name, len(reqs)-before)
		}
		if r := reqs[len(reqs)-1]; r.URL.EscapedPath() != tt.path || r.URL.RawQuery != "" {
			t.Errorf("%s: the API got %s ? %q, want %s", tt.name, r.URL.EscapedPath(), r.URL.RawQuery, tt.path)
		}
		if err := tt.call("link_1/qr"); !apiclient.IsCode(err, "NOT_FOUND") || len(api.requests()) != before+1 {
			t.Errorf("%s of an id with '/': %v, %d requests", tt.name, err, len(api.requests())-before)
		}
	}
}
