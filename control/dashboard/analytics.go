package dashboard

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/dashboard/chart"
	"github.com/h0p/h0p/shared/apierror"
)

// The analytics pages (/analytics, /links/{id}/analytics) cost one GET
// /v1/stats per chart, run concurrently: the count first, alone, since it
// checks the range and the filters for all the others (a refusal there is
// the page's message and no other call is made), then the rest, each of
// whose refusals is shown in its own panel. A chart's call refused by the
// API's per-second rate limit waits as told (at most rateWait) and tries
// again, at most twice: a page is a burst of a dozen calls.

// intervals are the ranges the form offers, as GET /v1/stats names them.
var intervals = []struct{ Value, Label string }{
	{"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"},
	{"1y", "Last 12 months"}, {"mtd", "Month to date"}, {"ytd", "Year to date"}, {"all", "All kept"},
}

// defaultInterval fits within every plan's retention (the free plan keeps
// 30 days).
const defaultInterval = "30d"

// statsFields are the form's fields, named as GET /v1/stats names its
// parameters, beside which its validation errors are shown.
var statsFields = []string{"interval", "start", "end", "domain", "linkId", "key", "tag", "country", "device",
	"browser", "os", "referer", "trigger", "bots", "unique"}

// topRows is how many rows a top-N chart shows.
const topRows = 10

// statsForm is the analytics pages' GET form as typed: a range (an
// interval, or dates in the browser's timezone), filters whose values go
// to the API as they are (comma-separated, "-US" excluding) and options.
type statsForm struct {
	Interval, Start, End                                                     string
	Domain, LinkID, Key, Tag, Country, Device, Browser, OS, Referer, Trigger string
	Bots                                                                     string
	Unique                                                                   bool
	// Zone is the timezone the dates and buckets are read in.
	Zone string
}

func statsFormOf(r *http.Request) statsForm {
	q := r.URL.Query()
	v := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := statsForm{Interval: v("interval"), Start: v("start"), End: v("end"), Domain: v("domain"),
		LinkID: v("linkId"), Key: v("key"), Tag: v("tag"), Country: v("country"), Device: v("device"),
		Browser: v("browser"), OS: v("os"), Referer: v("referer"), Trigger: v("trigger"), Bots: v("bots"),
		Unique: v("unique") == "true", Zone: timezone(r).String()}
	if f.Bots != "include" && f.Bots != "only" {
		f.Bots = ""
	}
	if f.Interval == "" && f.Start == "" && f.End == "" {
		f.Interval = defaultInterval
	}
	return f
}

// Dates reports whether the range is the form's dates, which then
// replace the interval.
func (f statsForm) Dates() bool { return f.Start != "" || f.End != "" }

// Intervals are the interval menu's choices.
func (f statsForm) Intervals() []struct{ Value, Label string } { return intervals }

// Filtered reports whether any filter or option is set.
func (f statsForm) Filtered() bool {
	return f.Domain != "" || f.LinkID != "" || f.Key != "" || f.Tag != "" || f.Country != "" || f.Device != "" ||
		f.Browser != "" || f.OS != "" || f.Referer != "" || f.Trigger != "" || f.Bots != "" || f.Unique || f.Dates()
}

// Shown are the filters and options set, named for a sentence.
func (f statsForm) Shown() []struct{ Name, Value string } {
	var out []struct{ Name, Value string }
	for _, p := range []struct{ name, value string }{{"domain", f.Domain}, {"link", f.LinkID}, {"key", f.Key},
		{"tag", f.Tag}, {"country", f.Country}, {"device", f.Device}, {"browser", f.Browser}, {"OS", f.OS},
		{"referrer", f.Referer}, {"trigger", f.Trigger}, {"bots", f.Bots}} {
		if p.value != "" {
			out = append(out, struct{ Name, Value string }{p.name, p.value})
		}
	}
	return out
}

// timezone is the zone as the API takes it ("": UTC, its default).
func (f statsForm) timezone() string {
	if f.Zone == "UTC" {
		return ""
	}
	return f.Zone
}

// apiRange is the range as the API takes it. An end date is the last day
// shown, so the API's end (an instant, a date being its midnight) is the
// next day's midnight; a date that is not one goes as typed, for the API
// to name it.
func (f statsForm) apiRange() (interval, start, end string) {
	if !f.Dates() {
		return f.Interval, "", ""
	}
	end = f.End
	if d, err := time.Parse(time.DateOnly, f.End); err == nil {
		end = d.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	return "", f.Start, end
}

func (f statsForm) filters() apiclient.Filters {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	return apiclient.Filters{Domain: one(f.Domain), LinkID: one(f.LinkID), Key: one(f.Key), Tag: one(f.Tag),
		Country: one(f.Country), Device: one(f.Device), Browser: one(f.Browser), OS: one(f.OS),
		Referer: one(f.Referer), Trigger: one(f.Trigger)}
}

func (f statsForm) stats(groupBy string) apiclient.StatsQuery {
	interval, start, end := f.apiRange()
	q := apiclient.StatsQuery{GroupBy: groupBy, Interval: interval, Start: start, End: end, Timezone: f.timezone(),
		Bots: f.Bots, Filters: f.filters()}
	switch groupBy {
	case "count":
		q.Unique = f.Unique
	case "timeseries":
	default:
		q.Limit = topRows
	}
	return q
}

// export is the form as GET /v1/stats/export's parameters: the range and
// the filters.
func (f statsForm) export() url.Values {
	interval, start, end := f.apiRange()
	return apiclient.StatsQuery{Interval: interval, Start: start, End: end, Timezone: f.timezone(), Bots: f.Bots,
		Filters: f.filters()}.Values()
}

func (f statsForm) events(cursor string) apiclient.EventQuery {
	interval, start, end := f.apiRange()
	return apiclient.EventQuery{Interval: interval, Start: start, End: end, Timezone: f.timezone(), Bots: f.Bots,
		Filters: f.filters(), Limit: pageSize, Cursor: cursor}
}

// Query is the form as the dashboard's URL query, for the links between
// the analytics pages, the events and the export.
func (f statsForm) Query() string {
	v := url.Values{}
	for _, p := range []struct{ name, value string }{{"start", f.Start}, {"end", f.End}, {"domain", f.Domain},
		{"linkId", f.LinkID}, {"key", f.Key}, {"tag", f.Tag}, {"country", f.Country}, {"device", f.Device},
		{"browser", f.Browser}, {"os", f.OS}, {"referer", f.Referer}, {"trigger", f.Trigger}, {"bots", f.Bots}} {
		if p.value != "" {
			v.Set(p.name, p.value)
		}
	}
	if !f.Dates() {
		v.Set("interval", f.Interval)
	}
	if f.Unique {
		v.Set("unique", "true")
	}
	return v.Encode()
}

// panel is one chart of the page, or the API's refusal of its call.
type panel struct {
	Title string
	Chart template.HTML
	Err   string
}

// topLink is a row of the org's top links.
type topLink struct {
	// Href is the link's analytics with the page's range and filters.
	Href, Domain, Key, URL string
	Clicks                 int64
	Visitors               *int64
}

type analyticsData struct {
	Form statsForm
	// Link is the link of a link's analytics (nil: the org's).
	Link *apiclient.Link
	// Action is the form's URL.
	Action         string
	Clicks         int64
	Visitors       *int64
	Series         panel
	Panels         []panel
	TopLinks       []topLink
	TopLinksErr    string
	HasTopLinks    bool
	Failed         bool
	EventsURL, CSV string
}

// breakdowns are the top-N charts, by the API's groupBy, in page order.
var breakdowns = []struct{ groupBy, title string }{
	{"countries", "Countries"}, {"devices", "Devices"}, {"browsers", "Browsers"}, {"os", "Operating systems"},
	{"referers", "Referrers"}, {"triggers", "Triggers"}, {"utm_sources", "UTM sources"},
	{"utm_mediums", "UTM mediums"}, {"utm_campaigns", "UTM campaigns"},
}

func (h *Handler) analyticsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	h.analytics(w, r, s, statsFormOf(r), nil)
}

func (h *Handler) linkAnalyticsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	l, err := s.api.GetLink(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	f := statsFormOf(r)
	f.LinkID, f.Domain, f.Key, f.Tag = l.ID, "", "", ""
	h.analytics(w, r, s, f, &l)
}

func (h *Handler) analytics(w http.ResponseWriter, r *http.Request, s *session, f statsForm, l *apiclient.Link) {
	ctx := r.Context()
	d := analyticsData{Form: f, Link: l, Action: "/analytics", HasTopLinks: l == nil,
		EventsURL: "/analytics/events?" + f.Query(), CSV: "/analytics/export?" + f.Query()}
	title := "Analytics"
	if l != nil {
		d.Action = "/links/" + url.PathEscape(l.ID) + "/analytics"
		title = "Analytics of " + l.ShortLink
	}
	v := view{Title: title, Session: s, Section: "analytics"}

	total, err := h.stats(ctx, s.api, f.stats("count"))
	if err != nil {
		if !h.refused(w, r, s, err, &v) {
			return
		}
		d.Failed = true
		v.Data = d
		h.render(w, r, statusOf(err), "analytics", v)
		return
	}
	d.Clicks, d.Visitors = total.Clicks, total.Visitors

	// Only the API calls run at once: the charts are drawn after, on the
	// request's goroutine, where a panic is the server's to recover.
	type answer struct {
		st  apiclient.Stats
		err error
	}
	groupBys := []string{"timeseries"}
	if l == nil {
		groupBys = append(groupBys, "top_links")
	}
	for _, b := range breakdowns {
		groupBys = append(groupBys, b.groupBy)
	}
	answers := make([]answer, len(groupBys))
	var wg sync.WaitGroup
	for i, groupBy := range groupBys {
		wg.Go(func() {
			answers[i].st, answers[i].err = h.stats(ctx, s.api, f.stats(groupBy))
		})
	}
	wg.Wait()

	series := answers[0]
	d.Series = panel{Title: "Clicks over time"}
	if series.err != nil {
		d.Series.Err = h.message(r, series.err)
	} else {
		points := make([]chart.Point, len(series.st.Series))
		for i, p := range series.st.Series {
			points[i] = chart.Point{Start: p.Start, Clicks: p.Clicks}
		}
		d.Series.Chart = chart.TimeSeries(points, chart.TimeSeriesOptions{Width: 960, Height: 240})
	}
	answers = answers[1:]
	if l == nil {
		top := answers[0]
		if top.err != nil {
			d.TopLinksErr = h.message(r, top.err)
		}
		for _, row := range top.st.Rows {
			href := "/links/" + url.PathEscape(row.Value) + "/analytics?" + f.Query()
			d.TopLinks = append(d.TopLinks, topLink{Href: href, Domain: row.Domain, Key: row.Key, URL: row.URL,
				Clicks: row.Clicks, Visitors: row.Visitors})
		}
		answers = answers[1:]
	}
	d.Panels = make([]panel, len(breakdowns))
	for i, b := range breakdowns {
		d.Panels[i] = panel{Title: b.title}
		if err := answers[i].err; err != nil {
			d.Panels[i].Err = h.message(r, err)
			continue
		}
		rows := make([]chart.Row, len(answers[i].st.Rows))
		for j, row := range answers[i].st.Rows {
			rows[j] = chart.Row{Label: rowLabel(b.groupBy, row.Value), Clicks: row.Clicks}
		}
		d.Panels[i].Chart = chart.Bars(rows, chart.BarsOptions{Title: b.title, Total: d.Clicks})
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "analytics", v)
}

// refused puts the API's refusal of the page's range or filters in v (a
// validation error beside the field it names) and reports true; for the
// refusals that are not the form's (a session that ended, a failure), it
// answers the request itself and reports false.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, s *session, err error, v *view) bool {
	e, ok := errors.AsType[*apiclient.Error](err)
	switch {
	case !ok || e.Status == http.StatusUnauthorized || e.Status == http.StatusTooManyRequests || e.Status >= 500:
		h.fail(w, r, s, err)
		return false
	case e.Code == apierror.ValidationError:
		v.FieldErrors, v.Error, _ = fieldErrors(err, statsFields...)
	default:
		// The plan's retention names the API's start, which the form's
		// interval may have set: its message says it whole.
		v.Error = h.message(r, err)
	}
	return true
}

func statusOf(err error) int {
	if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Status >= 400 {
		return e.Status
	}
	return http.StatusInternalServerError
}

// message is what a panel says of its call's refusal.
func (h *Handler) message(r *http.Request, err error) string {
	e, ok := errors.AsType[*apiclient.Error](err)
	switch {
	case !ok || e.Status >= 500:
		h.logFailure(r, err)
		return "Something went wrong on our side."
	case e.Status == http.StatusTooManyRequests:
		return fmt.Sprintf("Too many requests: wait %s and reload the page.", e.RetryAfter)
	case e.Code == apierror.PlanLimitReached:
		return "Beyond your plan: " + e.Message + "."
	case e.Status == http.StatusForbidden:
		return "You may not see this: " + e.Message + "."
	}
	return e.Message
}

// rateWait bounds how long a chart's call waits for the API's rate limit
// (Retry-After) before its refusal is shown instead: a page's charts are
// a burst of calls, which a per-second limit may cut.
const rateWait = 2 * time.Second

// stats asks GET /v1/stats, once more after a rate-limit refusal that
// asks to wait no longer than rateWait.
func (h *Handler) stats(ctx context.Context, api *apiclient.Client, q apiclient.StatsQuery) (apiclient.Stats, error) {
	for try := 0; ; try++ {
		st, err := api.GetStats(ctx, q)
		e, ok := errors.AsType[*apiclient.Error](err)
		if !ok || e.Status != http.StatusTooManyRequests || e.RetryAfter > rateWait || try == 2 {
			return st, err
		}
		if h.cfg.Sleep(ctx, max(e.RetryAfter, 100*time.Millisecond)) != nil {
			return st, err
		}
	}
}

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rowLabel is how a chart names a row's value.
func rowLabel(groupBy, value string) string {
	switch {
	case groupBy == "countries":
		return chart.CountryName(value)
	case groupBy == "triggers" && value == "qr":
		return "QR code"
	case groupBy == "triggers" && value == "link":
		return "Link"
	case groupBy == "referers" && (value == "" || value == "(direct)"):
		return "Direct"
	case value == "":
		return "(none)"
	}
	return value
}

type eventsData struct {
	Form   statsForm
	Events []apiclient.Event
	// Next, Prev and First are URLs of the table's other pages ("": none).
	Next, Prev, First string
	AnalyticsURL, CSV string
}

func (h *Handler) eventsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	f := statsFormOf(r)
	q := r.URL.Query()
	cursor, back := q.Get("cursor"), q["back"]
	d := eventsData{Form: f, AnalyticsURL: "/analytics?" + f.Query(), CSV: "/analytics/export?" + f.Query()}
	if f.LinkID != "" {
		d.AnalyticsURL = "/links/" + url.PathEscape(f.LinkID) + "/analytics?" + f.Query()
	}
	v := view{Title: "Clicks", Session: s, Section: "analytics"}
	p, err := s.api.ListEvents(r.Context(), f.events(cursor))
	if staleCursor(w, r, err, cursor, "/analytics/events?"+f.Query()) {
		return
	}
	if err != nil {
		if !h.refused(w, r, s, err, &v) {
			return
		}
		v.Data = d
		h.render(w, r, statusOf(err), "events", v)
		return
	}
	d.Events = p.Data
	pageURL := func(cursor string, back []string) string {
		v, _ := url.ParseQuery(f.Query())
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		if len(back) > 0 {
			v["back"] = back
		}
		return "/analytics/events?" + v.Encode()
	}
	d.Next, d.Prev, d.First = paging(cursor, back, p.NextCursor, pageURL)
	v.Data = d
	h.render(w, r, http.StatusOK, "events", v)
}

// exportClicks answers the clicks the form selects as a CSV download:
// GET /v1/stats/export, streamed.
func (h *Handler) exportClicks(w http.ResponseWriter, r *http.Request, s *session) {
	f := statsFormOf(r)
	name := "clicks.csv"
	if f.LinkID != "" {
		name = "clicks-" + safeName(f.LinkID) + ".csv"
	}
	h.download(w, r, s, "/v1/stats/export", f.export(), name)
}

// download streams the API's CSV answer to path?query to the browser as
// the file name, as the API writes it (the session's client, through a
// transport that hands the answer over rather than holding it whole). A
// download that fails once it began is cut: the browser shows it failed
// rather than keep a short file that looks whole.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, s *session, path string, query url.Values, name string) {
	api := *s.api
	api.HTTPClient = &http.Client{Transport: apiclient.InProcessStream(h.cfg.API, r.RemoteAddr),
		CheckRedirect: apiclient.RefuseRedirect}
	body, err := api.Stream(r.Context(), "GET", path, query, nil)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := io.Copy(w, body); err != nil {
		h.cfg.Logger.Warn("dashboard: download", "path", path, "err", redact(err.Error()))
		panic(http.ErrAbortHandler)
	}
}
