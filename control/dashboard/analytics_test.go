package dashboard_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/clicks"
)

var batchSeq atomic.Uint64

// mustClicks sends cs to control as an edge's batch would, with fresh
// ids.
func (s *stack) mustClicks(t testing.TB, cs ...clicks.Click) {
	t.Helper()
	seq := batchSeq.Add(1)
	b := clicks.Batch{Edge: "edge-test", Seq: seq}
	for i, c := range cs {
		c.ID = [16]byte{byte(seq >> 8), byte(seq), byte(i >> 8), byte(i), 1}
		c.IPHash = [16]byte{byte(i)}
		b.Clicks = append(b.Clicks, c)
	}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.control.IngestClicks(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) mustLink(t testing.TB, key string) apiclient.Link {
	t.Helper()
	l, err := s.owner(t).CreateLink(context.Background(), apiclient.LinkInput{
		URL: apiclient.Ptr("https://example.com/" + key), Key: apiclient.Ptr(key)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	seriesRe = regexp.MustCompile(`aria-label="Clicks over time: (?:(\d+) clicks?|(no clicks))`)
	totalRe  = regexp.MustCompile(`<strong class="total">(\d+)</strong> clicks`)
)

// mustTotal is the page's count of clicks, which its timeseries chart
// must say too.
func mustTotal(t testing.TB, p page) int {
	t.Helper()
	tm, sm := totalRe.FindStringSubmatch(p.body), seriesRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || tm == nil || sm == nil {
		t.Fatalf("no totals: %d\n%s", p.status, p.body)
	}
	total, _ := strconv.Atoi(tm[1])
	series := 0
	if sm[2] == "" {
		series, _ = strconv.Atoi(sm[1])
	}
	if total != series {
		t.Fatalf("the total says %d clicks, the chart %d", total, series)
	}
	return total
}

// TestAnalytics: the org's and a link's charts count exactly the clicks
// sent, filters and exclusions narrow them, bots are left out unless
// asked for, the browser's timezone moves the day buckets, and a bad
// filter is the API's error beside its field.
func TestAnalytics(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "member")
	a, c := s.mustLink(t, "a"), s.mustLink(t, "c")

	// Day d, two days ago: 19:00 in Tokyo for the first clicks, the next
	// day there (08:30) for the others.
	d := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	early, late := d.Add(10*time.Hour), d.Add(23*time.Hour+30*time.Minute)
	us := clicks.Click{Time: late, LinkID: a.ID, Domain: "localhost", Country: "US", Device: "mobile",
		Browser: "Chrome", OS: "iOS", RefererHost: "news.example"}
	de := clicks.Click{Time: early, LinkID: a.ID, Domain: "localhost", Country: "DE", Device: "desktop",
		Browser: "Firefox", OS: "Linux"}
	qr := de
	qr.QR = true
	fr := clicks.Click{Time: early, LinkID: c.ID, Domain: "localhost", Country: "FR", Device: "desktop",
		Browser: "Safari", OS: "macOS"}
	bot := fr
	bot.Bot = true
	s.mustClicks(t, us, us, us, de, qr, fr, bot)

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/analytics", 6},
		{"/analytics?interval=7d", 6},
		{"/analytics?interval=24h", 0},
		{"/analytics?start=" + d.Format(time.DateOnly) + "&end=" + d.Format(time.DateOnly), 6},
		{"/analytics?start=" + d.AddDate(0, 0, 1).Format(time.DateOnly), 0},
		{"/analytics?country=US", 3},
		{"/analytics?country=DE", 2},
		{"/analytics?country=-DE", 4},
		{"/analytics?country=-US,-FR", 2},
		{"/analytics?device=desktop&browser=-Safari", 2},
		{"/analytics?trigger=qr", 1},
		{"/analytics?referer=news.example", 3},
		{"/analytics?key=c", 1},
		{"/analytics?key=-c", 5},
		{"/analytics?linkId=" + a.ID, 5},
		{"/analytics?domain=localhost", 6},
		{"/analytics?bots=include", 7},
		{"/analytics?bots=only", 1},
		{"/links/" + a.ID + "/analytics", 5},
		{"/links/" + c.ID + "/analytics", 1},
		{"/links/" + a.ID + "/analytics?country=-US", 2},
	} {
		if got := mustTotal(t, b.get(tt.path)); got != tt.want {
			t.Errorf("GET %s: %d clicks, want %d", tt.path, got, tt.want)
		}
	}

	p := b.get("/analytics")
	for _, want := range []string{
		`aria-label="Countries, 6 clicks: United States 3 clicks (50%), Germany 2 clicks (33%), France 1 click (17%)"`,
		`aria-label="Devices, 6 clicks: desktop 3 clicks (50%), mobile 3 clicks (50%)"`,
		`<title>Direct: 3 clicks (50%)</title>`,
		`<title>news.example: 3 clicks (50%)</title>`,
		`<title>QR code: 1 click (17%)</title>`,
		`<title>` + d.Format("Jan 2") + `: 6 clicks</title>`,
		`href="/links/` + a.ID + `/analytics?interval=30d">localhost/a</a>`,
		`<td class="num">5</td>`,
		`href="/analytics/events?interval=30d"`, `href="/analytics/export?interval=30d"`,
		`<a href="/analytics" aria-current="page">Analytics</a>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the analytics page has no %s\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, "style=") || strings.Contains(p.body, "<script>") {
		t.Errorf("inline style or script in the page")
	}
	if p := b.get("/links/" + a.ID); !strings.Contains(p.body, `href="/links/`+a.ID+`/analytics"`) {
		t.Errorf("the link's page does not link its analytics")
	}
	if p := b.get("/links/" + a.ID + "/analytics"); strings.Contains(p.body, "Top links") ||
		!strings.Contains(p.body, "Analytics of localhost/a") {
		t.Errorf("a link's analytics: %d\n%s", p.status, p.body)
	}
	if p := b.get("/analytics?unique=true"); !regexp.MustCompile(`<strong class="total">\d+</strong> visitors`).MatchString(p.body) {
		t.Errorf("no visitors with unique=true")
	}

	// In Tokyo, the late clicks are on the next day.
	u, _ := url.Parse(s.url)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "h0p_tz", Value: url.QueryEscape("Asia/Tokyo"), Path: "/"}})
	p = b.get("/analytics?interval=7d")
	for _, want := range []string{"<title>" + d.Format("Jan 2") + ": 3 clicks</title>",
		"<title>" + d.AddDate(0, 0, 1).Format("Jan 2") + ": 3 clicks</title>", "read in Asia/Tokyo"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("in Tokyo, no %s in\n%s", want, p.body)
		}
	}
	if got := mustTotal(t, p); got != 6 {
		t.Errorf("in Tokyo: %d clicks", got)
	}

	// The API's refusals: beside the field, or the page's message.
	for _, tt := range []struct {
		path, want string
		status     int
	}{
		{"/analytics?trigger=email", `id="trigger-err"`, http.StatusBadRequest},
		{"/analytics?interval=forever", `<span class="field-error">`, http.StatusBadRequest},
		{"/analytics?start=yesterday", `id="start-err"`, http.StatusBadRequest},
		{"/analytics?key=nope", "nope", http.StatusNotFound},
		{"/links/link_NOPE/analytics", "Not found", http.StatusNotFound},
	} {
		p := b.get(tt.path)
		if p.status != tt.status || !strings.Contains(p.body, tt.want) || strings.Contains(p.body, "<svg") {
			t.Errorf("GET %s: %d, want %d with %s\n%s", tt.path, p.status, tt.status, tt.want, p.body)
		}
	}
	// Without a session: to sign in.
	if p := s.browser(t).get("/analytics"); p.status != http.StatusSeeOther ||
		!strings.HasPrefix(p.location(), "/login?next=") {
		t.Errorf("signed out: %d %s", p.status, p.location())
	}
}

// A range beyond the plan's retention is the API's PLAN_LIMIT_REACHED,
// said on the page, whose form stays to choose another.
func TestAnalyticsRetention(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "member")
	org, err := s.mustOrgOf(t, "Ada's", "ada@example.com").GetOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := b.submit("/links", "/org/switch", url.Values{"org": {org.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("switch: %d\n%s", p.status, p.body)
	}
	if got := mustTotal(t, b.get("/analytics")); got != 0 {
		t.Errorf("a new org: %d clicks", got)
	}
	for _, path := range []string{"/analytics?interval=90d", "/analytics?interval=1y"} {
		p := b.get(path)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "Beyond your plan: the free plan keeps 30 days of clicks") ||
			!strings.Contains(p.body, `<select id="interval"`) || strings.Contains(p.body, "<svg") {
			t.Errorf("GET %s: %d\n%s", path, p.status, p.body)
		}
	}
	if p := b.get("/analytics/events?interval=90d"); p.status != http.StatusForbidden ||
		!strings.Contains(p.body, "free plan keeps 30 days") {
		t.Errorf("events beyond retention: %d\n%s", p.status, p.body)
	}
	if p := b.get("/analytics/export?interval=90d"); p.status != http.StatusForbidden ||
		strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
		t.Errorf("export beyond retention: %d %s", p.status, p.header.Get("Content-Type"))
	}
}

var (
	eventRowRe = regexp.MustCompile(`<td><time datetime="([^"]+)">`)
	nextRe     = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	prevRe     = regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)
)

// TestEventsAndExport: each click, newest first, a page at a time, with
// the filters of the charts; the CSV export of the same clicks, through
// the session only.
func TestEventsAndExport(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "member")
	l := s.mustLink(t, "e")
	start := time.Now().UTC().Add(-3 * time.Hour)
	var cs []clicks.Click
	for i := range 55 {
		country := "US"
		if i%5 == 0 {
			country = "DE"
		}
		cs = append(cs, clicks.Click{Time: start.Add(time.Duration(i) * time.Minute), LinkID: l.ID,
			Domain: "localhost", Country: country})
	}
	s.mustClicks(t, cs...)

	unescape := func(href string) string { return strings.ReplaceAll(href, "&amp;", "&") }
	p := b.get("/analytics/events")
	rows := eventRowRe.FindAllStringSubmatch(p.body, -1)
	next := nextRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || len(rows) != 50 || next == nil || prevRe.MatchString(p.body) {
		t.Fatalf("first page: %d, %d rows, next %v\n%s", p.status, len(rows), next, p.body)
	}
	if rows[0][1] != cs[54].Time.Truncate(time.Second).Format(time.RFC3339) || rows[0][1] < rows[49][1] {
		t.Errorf("not newest first: %s … %s", rows[0][1], rows[49][1])
	}
	p = b.get(unescape(next[1]))
	rows2 := eventRowRe.FindAllStringSubmatch(p.body, -1)
	prev := prevRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || len(rows2) != 5 || nextRe.MatchString(p.body) || prev == nil ||
		rows2[4][1] != cs[0].Time.Truncate(time.Second).Format(time.RFC3339) || rows2[0][1] > rows[49][1] {
		t.Fatalf("second page: %d, %d rows, prev %v\n%s", p.status, len(rows2), prev, p.body)
	}
	if p := b.get(unescape(prev[1])); len(eventRowRe.FindAllString(p.body, -1)) != 50 {
		t.Errorf("back to the first page: %d", p.status)
	}
	p = b.get("/analytics/events?country=DE")
	if n := len(eventRowRe.FindAllString(p.body, -1)); n != 11 || nextRe.MatchString(p.body) ||
		!strings.Contains(p.body, "country DE") || !strings.Contains(p.body, `href="/analytics/export?country=DE&amp;interval=30d"`) {
		t.Errorf("DE clicks: %d rows\n%s", n, p.body)
	}
	if p := b.get("/analytics/events?cursor=garbage"); p.status != http.StatusSeeOther ||
		p.location() != "/analytics/events?interval=30d" {
		t.Errorf("a bad cursor: %d %s", p.status, p.location())
	}

	for _, tt := range []struct {
		path string
		rows int
	}{{"/analytics/export", 55}, {"/analytics/export?country=-DE", 44}, {"/analytics/export?linkId=" + l.ID + "&country=DE", 11}} {
		p := b.get(tt.path)
		recs, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
		if p.status != http.StatusOK || err != nil || len(recs) != tt.rows+1 || recs[0][0] != "timestamp" ||
			!strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("GET %s: %d %v, %d records\n%.300s", tt.path, p.status, err, len(recs), p.body)
		}
	}
	if p := s.browser(t).get("/analytics/export"); p.status != http.StatusSeeOther ||
		!strings.HasPrefix(p.location(), "/login") || strings.Contains(p.body, "timestamp") {
		t.Errorf("export signed out: %d %s", p.status, p.location())
	}
}

// The export's transport hands the answer over while the API still
// writes it, and a reader that stops ends the writer.
func TestExportTransportStreams(t *testing.T) {
	more, wrote := make(chan struct{}), make(chan error, 1)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, "timestamp\n")
		<-more
		_, err := io.WriteString(w, "more\n")
		wrote <- err
	})
	hc := &http.Client{Transport: apiclient.InProcessStream(api, "127.0.0.1:1")}
	resp, err := hc.Get(apiclient.InProcessURL + "/v1/stats/export")
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("timestamp\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "timestamp\n" ||
		resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv" {
		t.Fatalf("first line before the end: %d %q %v", resp.StatusCode, line, err)
	}
	resp.Body.Close()
	close(more)
	if err := <-wrote; err == nil {
		t.Errorf("a write after the reader left: no error")
	}

	// A refusal before any row: its status and envelope, whole.
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":"PLAN_LIMIT_REACHED","message":"beyond"}}`)
	})
	hc = &http.Client{Transport: apiclient.InProcessStream(refuse, "127.0.0.1:1")}
	resp, err = hc.Get(apiclient.InProcessURL + "/v1/stats/export")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "PLAN_LIMIT_REACHED") {
		t.Errorf("refusal: %d %s", resp.StatusCode, body)
	}
}
