// Package analyticstest is the test suite every analytics.Store engine
// must pass, and Model, the in-memory reference it checks engines
// against. Engines call Run from their own tests with a constructor for an
// empty store.
package analyticstest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clicks"
)

// Run runs the suite; open must return a new, empty store each call.
func Run(t *testing.T, open func(t *testing.T) analytics.Store) {
	t.Run("ExactlyOnce", func(t *testing.T) { testExactlyOnce(t, open(t)) })
	t.Run("Ingested", func(t *testing.T) { testIngested(t, open(t)) })
	t.Run("GroupBys", func(t *testing.T) { testGroupBys(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("Timeseries", func(t *testing.T) { testTimeseries(t, open(t)) })
	t.Run("DaylightSaving", func(t *testing.T) { testDaylightSaving(t, open(t)) })
	t.Run("HalfHourZone", func(t *testing.T) { testHalfHourZone(t, open(t)) })
	t.Run("Unique", func(t *testing.T) { testUnique(t, open(t)) })
	t.Run("Bots", func(t *testing.T) { testBots(t, open(t)) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("Validation", func(t *testing.T) { testValidation(t, open(t)) })
	t.Run("AgreesWithModel", func(t *testing.T) { testAgreesWithModel(t, open(t)) })
}

// OrgsOf owns links link_a* by org_a, link_b* by org_b, and no other.
func OrgsOf(_ context.Context, ids []string) (map[string]string, error) {
	m := map[string]string{}
	for _, id := range ids {
		switch {
		case len(id) > 6 && id[:6] == "link_a":
			m[id] = "org_a"
		case len(id) > 6 && id[:6] == "link_b":
			m[id] = "org_b"
		}
	}
	return m, nil
}

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

// Click is a click of link at t; IPHash stands for visitor as the edge
// hashes it on t's UTC day. Options set the other fields.
func Click(link string, t time.Time, visitor string, opts ...func(*clicks.Click)) clicks.Click {
	c := clicks.Click{Time: t, LinkID: link, Domain: "h0p.to", Country: "US", Device: "Desktop",
		Browser: "Chrome", OS: "Windows"}
	id := sha256.Sum256(fmt.Appendf(nil, "%s %d %s %d", link, t.UnixNano(), visitor, rand.Uint64()))
	copy(c.ID[:], id[:])
	ip := sha256.Sum256(fmt.Appendf(nil, "%s %s", t.UTC().Format(time.DateOnly), visitor))
	copy(c.IPHash[:], ip[:])
	for _, o := range opts {
		o(&c)
	}
	return c
}

func country(s string) func(*clicks.Click) { return func(c *clicks.Click) { c.Country = s } }
func device(s string) func(*clicks.Click)  { return func(c *clicks.Click) { c.Device = s } }
func referer(s string) func(*clicks.Click) { return func(c *clicks.Click) { c.RefererHost = s } }
func domain(s string) func(*clicks.Click)  { return func(c *clicks.Click) { c.Domain = s } }
func bot(c *clicks.Click)                  { c.Bot = true }
func qr(c *clicks.Click)                   { c.QR = true }

// ingester feeds batches to a store, numbering them per edge.
type ingester struct {
	t   *testing.T
	s   analytics.Store
	seq map[string]uint64
}

func newIngester(t *testing.T, s analytics.Store) *ingester {
	return &ingester{t: t, s: s, seq: map[string]uint64{}}
}

func (in *ingester) send(edge string, cs ...clicks.Click) analytics.Ingested {
	in.t.Helper()
	in.seq[edge]++
	got, err := in.s.Ingest(context.Background(), &clicks.Batch{Edge: edge, Seq: in.seq[edge], Clicks: cs}, OrgsOf)
	if err != nil {
		in.t.Fatal(err)
	}
	if got.Duplicate {
		in.t.Fatalf("batch %d of %s is a duplicate", in.seq[edge], edge)
	}
	return got
}

func mustQuery(t *testing.T, s analytics.Store, q analytics.Query) analytics.Result {
	t.Helper()
	r, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return r
}

func count(t *testing.T, s analytics.Store, q analytics.Query) int64 {
	t.Helper()
	q.GroupBy = analytics.GroupCount
	return mustQuery(t, s, q).Clicks
}

// all is org_a's whole range in these tests.
func all(org string) analytics.Query {
	return analytics.Query{Org: org, Start: day0.AddDate(0, -1, 0), End: day0.AddDate(0, 11, 0)}
}

func rows(r analytics.Result) map[string]int64 {
	m := map[string]int64{}
	for _, row := range r.Rows {
		m[row.Value] = row.Clicks
	}
	return m
}

func testExactlyOnce(t *testing.T, s analytics.Store) {
	defer s.Close()
	ctx := context.Background()
	batch := func(edge string, seq uint64, n int) *clicks.Batch {
		b := &clicks.Batch{Edge: edge, Seq: seq}
		for i := range n {
			b.Clicks = append(b.Clicks, Click("link_a1", day0.Add(time.Duration(seq)*time.Hour+time.Duration(i)*time.Second), "v"))
		}
		return b
	}
	steps := []struct {
		b   *clicks.Batch
		dup bool
	}{
		{batch("e1", 1, 3), false},
		{batch("e1", 1, 3), true}, // acknowledgement lost, shipped again
		{batch("e1", 2, 2), false},
		{batch("e1", 3, 1), false},
		{batch("e1", 2, 2), true},
		{batch("e1", 5, 4), false}, // a gap is accepted
		{batch("e1", 4, 4), true},  // below the last: stored nothing
		{batch("e2", 1, 5), false}, // edges are independent
		{batch("e2", 0, 5), true},
		{&clicks.Batch{Edge: "e1", Seq: 6}, false}, // an empty batch moves the sequence on
		{batch("e1", 6, 1), true},
	}
	for i, st := range steps {
		got, err := s.Ingest(ctx, st.b, OrgsOf)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.Duplicate != st.dup {
			t.Fatalf("step %d (%s %d): duplicate %v, want %v", i, st.b.Edge, st.b.Seq, got.Duplicate, st.dup)
		}
		if st.dup && !reflect.DeepEqual(got, analytics.Ingested{Duplicate: true}) {
			t.Errorf("step %d: a duplicate carries %+v", i, got)
		}
	}
	if got, want := count(t, s, all("org_a")), int64(3+2+1+4+5); got != want {
		t.Errorf("clicks stored %d, want %d", got, want)
	}

	// A failing org lookup stores nothing and does not move the sequence.
	failing := func(context.Context, []string) (map[string]string, error) { return nil, errors.New("store down") }
	if _, err := s.Ingest(ctx, batch("e1", 7, 3), failing); err == nil {
		t.Fatal("ingest with a failing org lookup succeeded")
	}
	if got, err := s.Ingest(ctx, batch("e1", 7, 3), OrgsOf); err != nil || got.Duplicate || got.Stored != 3 {
		t.Fatalf("retry after a failed lookup: %+v %v", got, err)
	}
	if got, want := count(t, s, all("org_a")), int64(18); got != want {
		t.Errorf("clicks stored %d, want %d", got, want)
	}
}

func testIngested(t *testing.T, s analytics.Store) {
	defer s.Close()
	in := newIngester(t, s)
	end := time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)
	got := in.send("e1",
		Click("link_a1", end, "v1"),
		Click("link_a1", end.Add(2*time.Minute), "v2"), // April
		Click("link_a1", end.Add(5*time.Minute), "v3", bot),
		Click("link_a2", end.Add(-time.Hour), "v1"),
		Click("link_b1", end, "v1"),
		Click("link_b2", end, "v1", bot), // stored, counted nowhere
		Click("link_gone", end, "v1"),
	)
	want := analytics.Ingested{
		Links: []analytics.LinkClicks{
			{LinkID: "link_a1", Org: "org_a", Clicks: 2, LastClick: end.Add(2 * time.Minute)},
			{LinkID: "link_a2", Org: "org_a", Clicks: 1, LastClick: end.Add(-time.Hour)},
			{LinkID: "link_b1", Org: "org_b", Clicks: 1, LastClick: end},
		},
		Usage: []analytics.Usage{
			{Org: "org_a", Period: "2026-03", Clicks: 2}, {Org: "org_a", Period: "2026-04", Clicks: 1},
			{Org: "org_b", Period: "2026-03", Clicks: 1},
		},
		Stored:  6,
		Dropped: 1,
	}
	for i := range got.Links {
		got.Links[i].LastClick = got.Links[i].LastClick.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ingested\n got %+v\nwant %+v", got, want)
	}
}

// seedGroups stores org_a's clicks for the grouping and filter tests.
func seedGroups(t *testing.T, s analytics.Store) {
	in := newIngester(t, s)
	h := day0.Add(10 * time.Hour)
	in.send("e1",
		Click("link_a1", h, "v1", country("US"), device("Mobile"), referer("news.example")),
		Click("link_a1", h.Add(time.Minute), "v2", country("US"), qr),
		Click("link_a1", h.Add(26*time.Hour), "v3", country("BR"), device("Tablet")),
		Click("link_a2", h.Add(2*time.Hour), "v1", country("BR"), referer("news.example"), domain("go.example")),
		Click("link_a2", h.Add(50*time.Hour), "v4", country(""), domain("go.example"), qr),
		Click("link_a3", h.Add(75*time.Hour), "v5", country("FR"), device("")),
		Click("link_a1", h, "v9", country("US"), bot),
		Click("link_b1", h, "v1", country("DE")),
	)
}

func testGroupBys(t *testing.T, s analytics.Store) {
	defer s.Close()
	seedGroups(t, s)
	tags := map[string][]string{"link_a1": {"sale", "spring"}, "link_a2": {"sale"}}
	utm := map[string][]string{"link_a1": {"newsletter"}, "link_a3": {"twitter"}}
	tests := []struct {
		g      analytics.GroupBy
		values map[string][]string
		want   map[string]int64
	}{
		{analytics.GroupCountries, nil, map[string]int64{"US": 2, "BR": 2, "FR": 1, analytics.Unknown: 1}},
		{analytics.GroupDevices, nil, map[string]int64{"Desktop": 3, "Mobile": 1, "Tablet": 1, analytics.Unknown: 1}},
		{analytics.GroupBrowsers, nil, map[string]int64{"Chrome": 6}},
		{analytics.GroupOS, nil, map[string]int64{"Windows": 6}},
		{analytics.GroupReferers, nil, map[string]int64{"news.example": 2, analytics.Direct: 4}},
		{analytics.GroupTriggers, nil, map[string]int64{"link": 4, "qr": 2}},
		{analytics.GroupTopLinks, nil, map[string]int64{"link_a1": 3, "link_a2": 2, "link_a3": 1}},
		{analytics.GroupTopDomains, nil, map[string]int64{"h0p.to": 4, "go.example": 2}},
		{analytics.GroupTopTags, tags, map[string]int64{"sale": 5, "spring": 3}},
		{analytics.GroupUTMSources, utm, map[string]int64{"newsletter": 3, "twitter": 1}},
		{analytics.GroupUTMMediums, map[string][]string{"link_a2": {"email"}}, map[string]int64{"email": 2}},
		{analytics.GroupUTMCampaigns, map[string][]string{}, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.g), func(t *testing.T) {
			q := all("org_a")
			q.GroupBy, q.LinkValues = tt.g, tt.values
			r := mustQuery(t, s, q)
			if got := rows(r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			for i := 1; i < len(r.Rows); i++ {
				if a, b := r.Rows[i-1], r.Rows[i]; a.Clicks < b.Clicks || a.Clicks == b.Clicks && a.Value > b.Value {
					t.Errorf("rows out of order: %v", r.Rows)
				}
			}
		})
	}
	q := all("org_a")
	q.GroupBy, q.Limit = analytics.GroupCountries, 2
	if got := mustQuery(t, s, q).Rows; len(got) != 2 || got[0].Value != "BR" || got[1].Value != "US" {
		t.Errorf("limit 2: %v", got)
	}
	q = all("org_a")
	q.GroupBy = analytics.GroupTimeseries
	q.Interval = analytics.Month
	if got := mustQuery(t, s, q).Series; len(got) != 13 || got[1].Clicks != 6 || !got[1].Start.Equal(day0.AddDate(0, 0, -1)) {
		t.Errorf("monthly series: %v", got)
	}
	if got := count(t, s, all("org_b")); got != 1 {
		t.Errorf("org_b counts %d", got)
	}
}

func testFilters(t *testing.T, s analytics.Store) {
	defer s.Close()
	seedGroups(t, s)
	in, not := func(v ...string) analytics.Match { return analytics.Match{In: v} },
		func(v ...string) analytics.Match { return analytics.Match{Not: v} }
	tests := []struct {
		name string
		f    analytics.Filter
		g    analytics.GroupBy
		want map[string]int64 // rows, or {"": count}
	}{
		{"country in", analytics.Filter{Country: in("US", "BR")}, analytics.GroupCount, map[string]int64{"": 4}},
		{"country not", analytics.Filter{Country: not("US")}, analytics.GroupCountries,
			map[string]int64{"BR": 2, "FR": 1, analytics.Unknown: 1}},
		{"country in and not", analytics.Filter{Country: analytics.Match{In: []string{"US", "BR"}, Not: []string{"BR"}}},
			analytics.GroupCount, map[string]int64{"": 2}},
		{"case-insensitive", analytics.Filter{Device: in("mobile", "TABLET")}, analytics.GroupCount, map[string]int64{"": 2}},
		{"unknown", analytics.Filter{Country: in(analytics.Unknown)}, analytics.GroupTopLinks, map[string]int64{"link_a2": 1}},
		{"direct", analytics.Filter{Referer: in(analytics.Direct)}, analytics.GroupCount, map[string]int64{"": 4}},
		{"link", analytics.Filter{Link: in("link_a2", "link_a3")}, analytics.GroupCountries,
			map[string]int64{"BR": 1, "FR": 1, analytics.Unknown: 1}},
		{"link not", analytics.Filter{Link: not("link_a1")}, analytics.GroupCount, map[string]int64{"": 3}},
		{"link not, top links", analytics.Filter{Link: not("link_a1")}, analytics.GroupTopLinks,
			map[string]int64{"link_a2": 2, "link_a3": 1}},
		{"no link", analytics.Filter{Link: analytics.Match{In: []string{}}}, analytics.GroupCount, map[string]int64{"": 0}},
		{"other org's link", analytics.Filter{Link: in("link_b1")}, analytics.GroupCount, map[string]int64{"": 0}},
		{"trigger", analytics.Filter{Trigger: in("qr")}, analytics.GroupTopLinks, map[string]int64{"link_a1": 1, "link_a2": 1}},
		{"domain", analytics.Filter{Domain: in("go.example")}, analytics.GroupCount, map[string]int64{"": 2}},
		{"domain, top links", analytics.Filter{Domain: not("go.example")}, analytics.GroupTopLinks,
			map[string]int64{"link_a1": 3, "link_a3": 1}},
		{"two dimensions", analytics.Filter{Country: in("US", "BR"), Referer: in("news.example")}, analytics.GroupDevices,
			map[string]int64{"Mobile": 1, "Desktop": 1}},
		{"link and a dimension", analytics.Filter{Link: in("link_a1"), Country: not("US")}, analytics.GroupTimeseries,
			map[string]int64{"": 1}},
		{"filter on the grouped dimension", analytics.Filter{Device: not("Desktop")}, analytics.GroupDevices,
			map[string]int64{"Mobile": 1, "Tablet": 1, analytics.Unknown: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := all("org_a")
			q.Filter, q.GroupBy = tt.f, tt.g
			r := mustQuery(t, s, q)
			var got map[string]int64
			switch tt.g {
			case analytics.GroupCount:
				got = map[string]int64{"": r.Clicks}
			case analytics.GroupTimeseries:
				var n int64
				for _, p := range r.Series {
					n += p.Clicks
				}
				got = map[string]int64{"": n}
			default:
				got = rows(r)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func testTimeseries(t *testing.T, s analytics.Store) {
	defer s.Close()
	in := newIngester(t, s)
	in.send("e1",
		Click("link_a1", day0.Add(1*time.Hour+10*time.Minute), "v1"),
		Click("link_a1", day0.Add(1*time.Hour+50*time.Minute), "v2"),
		Click("link_a1", day0.Add(4*time.Hour), "v1"),
		Click("link_a2", day0.Add(2*24*time.Hour+5*time.Hour), "v1"),
	)
	series := func(start, end time.Time, iv analytics.Interval) []int64 {
		r := mustQuery(t, s, analytics.Query{Org: "org_a", GroupBy: analytics.GroupTimeseries, Start: start, End: end, Interval: iv})
		var out []int64
		for _, p := range r.Series {
			out = append(out, p.Clicks)
		}
		return out
	}
	if got, want := series(day0, day0.Add(6*time.Hour), analytics.Hour), []int64{0, 2, 0, 0, 1, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("hours: %v, want %v", got, want)
	}
	// A range not on hour boundaries: the first bucket is labelled by its
	// hour, and counts from the start.
	r := mustQuery(t, s, analytics.Query{Org: "org_a", GroupBy: analytics.GroupTimeseries,
		Start: day0.Add(time.Hour + 30*time.Minute), End: day0.Add(4*time.Hour + time.Minute), Interval: analytics.Hour})
	if len(r.Series) != 4 || !r.Series[0].Start.Equal(day0.Add(time.Hour)) || r.Series[0].Clicks != 1 || r.Series[3].Clicks != 1 {
		t.Errorf("unaligned hours: %+v", r.Series)
	}
	if got, want := series(day0, day0.AddDate(0, 0, 4), analytics.Day), []int64{3, 0, 1, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("days: %v, want %v", got, want)
	}
	// The default interval: hours up to two days, then days.
	if got := series(day0, day0.AddDate(0, 0, 2), 0); len(got) != 48 {
		t.Errorf("2 days by default: %d buckets", len(got))
	}
	if got := series(day0, day0.AddDate(0, 0, 30), 0); len(got) != 30 {
		t.Errorf("30 days by default: %d buckets", len(got))
	}
}

func testDaylightSaving(t *testing.T, s analytics.Store) {
	defer s.Close()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	in := newIngester(t, s)
	// 2026-03-08: clocks go from 02:00 EST to 03:00 EDT (07:00 UTC); the
	// local day lasts 23 hours, [05:00Z, 04:00Z next day).
	spring := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	// 2026-11-01: from 02:00 EDT back to 01:00 EST (06:00 UTC); 25 hours.
	fall := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	in.send("e1",
		Click("link_a1", spring.Add(4*time.Hour+30*time.Minute), "v"),  // Mar 7 23:30 EST
		Click("link_a1", spring.Add(27*time.Hour+30*time.Minute), "v"), // Mar 8 23:30 EDT
		Click("link_a1", spring.Add(28*time.Hour+30*time.Minute), "v"), // Mar 9 00:30 EDT
		Click("link_a1", fall.Add(5*time.Hour+30*time.Minute), "v"),    // Nov 1 01:30 EDT
		Click("link_a1", fall.Add(6*time.Hour+30*time.Minute), "v"),    // Nov 1 01:30 EST
		Click("link_a1", fall.Add(28*time.Hour+30*time.Minute), "v"),   // Nov 1 23:30 EST
	)
	q := analytics.Query{Org: "org_a", GroupBy: analytics.GroupTimeseries, Interval: analytics.Day, Location: ny,
		Start: time.Date(2026, 3, 7, 0, 0, 0, 0, ny), End: time.Date(2026, 3, 10, 0, 0, 0, 0, ny)}
	r := mustQuery(t, s, q)
	wantStarts := []time.Time{time.Date(2026, 3, 7, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)}
	checkSeries(t, "spring days", r.Series, wantStarts, []int64{1, 1, 1})

	q.Start, q.End = time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 3, 0, 0, 0, 0, ny)
	r = mustQuery(t, s, q)
	checkSeries(t, "fall days", r.Series, []time.Time{time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC)}, []int64{3, 0})

	// Hours across the fall change: 01:00 comes twice, each its own bucket.
	q.Interval = analytics.Hour
	q.Start, q.End = time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 1, 3, 0, 0, 0, ny)
	r = mustQuery(t, s, q)
	var starts []time.Time
	for h := 4; h < 8; h++ {
		starts = append(starts, fall.Add(time.Duration(h)*time.Hour))
	}
	checkSeries(t, "fall hours", r.Series, starts, []int64{0, 1, 1, 0})
	if _, off := r.Series[1].Start.Zone(); off != -4*3600 {
		t.Errorf("first 01:00 is labelled with offset %d", off)
	}
}

func checkSeries(t *testing.T, what string, got []analytics.Point, starts []time.Time, clicks []int64) {
	t.Helper()
	if len(got) != len(starts) {
		t.Fatalf("%s: %d points, want %d: %+v", what, len(got), len(starts), got)
	}
	for i, p := range got {
		if !p.Start.Equal(starts[i]) || p.Clicks != clicks[i] {
			t.Errorf("%s: point %d = %v %d, want %v %d", what, i, p.Start, p.Clicks, starts[i], clicks[i])
		}
	}
}

func testHalfHourZone(t *testing.T, s analytics.Store) {
	defer s.Close()
	kolkata, err := time.LoadLocation("Asia/Kolkata") // +05:30
	if err != nil {
		t.Fatal(err)
	}
	in := newIngester(t, s)
	d := day0.AddDate(0, 0, 1)
	in.send("e1",
		Click("link_a1", d.Add(18*time.Hour+29*time.Minute), "v"), // 23:59 local
		Click("link_a1", d.Add(18*time.Hour+31*time.Minute), "v"), // 00:01 local, the next day
		Click("link_a1", d.Add(20*time.Hour), "v"),
		Click("link_a1", d.Add(12*time.Hour), "v"),
	)
	q := analytics.Query{Org: "org_a", GroupBy: analytics.GroupTimeseries, Interval: analytics.Day, Location: kolkata,
		Start: time.Date(2026, 3, 3, 0, 0, 0, 0, kolkata), End: time.Date(2026, 3, 5, 0, 0, 0, 0, kolkata)}
	r := mustQuery(t, s, q)
	checkSeries(t, "days", r.Series, []time.Time{d.Add(-5*time.Hour - 30*time.Minute), d.Add(18*time.Hour + 30*time.Minute)},
		[]int64{2, 2})
	q.Interval = analytics.Hour
	q.Start, q.End = d.Add(17*time.Hour), d.Add(21*time.Hour)
	r = mustQuery(t, s, q)
	checkSeries(t, "hours", r.Series, []time.Time{d.Add(16*time.Hour + 30*time.Minute), d.Add(17*time.Hour + 30*time.Minute),
		d.Add(18*time.Hour + 30*time.Minute), d.Add(19*time.Hour + 30*time.Minute), d.Add(20*time.Hour + 30*time.Minute)},
		[]int64{0, 1, 1, 1, 0})
	// A grouping over whole local days also splits UTC hours.
	q = analytics.Query{Org: "org_a", GroupBy: analytics.GroupCountries, Location: kolkata,
		Start: time.Date(2026, 3, 4, 0, 0, 0, 0, kolkata), End: time.Date(2026, 3, 5, 0, 0, 0, 0, kolkata)}
	if got := rows(mustQuery(t, s, q)); got["US"] != 2 {
		t.Errorf("one local day: %v", got)
	}
}

func testUnique(t *testing.T, s analytics.Store) {
	defer s.Close()
	in := newIngester(t, s)
	same := func(c clicks.Click) clicks.Click { c.IPHash = [16]byte{7}; return c }
	in.send("e1",
		Click("link_a1", day0.Add(1*time.Hour), "v1", country("US")),
		Click("link_a1", day0.Add(2*time.Hour), "v1", country("US")),
		Click("link_a2", day0.Add(3*time.Hour), "v1", country("BR")),
		Click("link_a1", day0.Add(3*time.Hour), "v2", country("US")),
		Click("link_a1", day0.Add(26*time.Hour), "v1", country("US")), // the next day: salted anew
		Click("link_a1", day0.Add(4*time.Hour), "v3", bot),
		// The same hash on two UTC days is two visitors all the same.
		same(Click("link_a2", day0.Add(5*time.Hour), "x")),
		same(Click("link_a2", day0.Add(29*time.Hour), "x")),
	)
	q := analytics.Query{Org: "org_a", GroupBy: analytics.GroupCount, Unique: true, Start: day0, End: day0.AddDate(0, 0, 2)}
	if r := mustQuery(t, s, q); r.Clicks != 7 || r.Visitors != 5 {
		t.Errorf("count: %d clicks, %d visitors; want 7, 5", r.Clicks, r.Visitors)
	}
	q.GroupBy = analytics.GroupTopLinks
	r := mustQuery(t, s, q)
	want := []analytics.Row{{Value: "link_a1", Clicks: 4, Visitors: 3}, {Value: "link_a2", Clicks: 3, Visitors: 3}}
	if !reflect.DeepEqual(r.Rows, want) {
		t.Errorf("top links: %+v, want %+v", r.Rows, want)
	}
	q.GroupBy, q.Interval = analytics.GroupTimeseries, analytics.Day
	r = mustQuery(t, s, q)
	if len(r.Series) != 2 || r.Series[0].Visitors != 3 || r.Series[1].Visitors != 2 {
		t.Errorf("daily visitors: %+v", r.Series)
	}
	q.GroupBy, q.Unique = analytics.GroupCount, false
	if r := mustQuery(t, s, q); r.Visitors != 0 {
		t.Errorf("visitors without unique: %d", r.Visitors)
	}
}

func testBots(t *testing.T, s analytics.Store) {
	defer s.Close()
	in := newIngester(t, s)
	in.send("e1",
		Click("link_a1", day0.Add(time.Hour), "v1"),
		Click("link_a1", day0.Add(time.Hour), "crawler", bot),
		Click("link_a1", day0.Add(time.Hour), "crawler2", bot, country("BR")),
	)
	for _, tt := range []struct {
		bots analytics.Bots
		want int64
	}{{analytics.BotsExclude, 1}, {analytics.BotsInclude, 3}, {analytics.BotsOnly, 2}} {
		q := all("org_a")
		q.Bots = tt.bots
		if got := count(t, s, q); got != tt.want {
			t.Errorf("bots %d: %d clicks, want %d", tt.bots, got, tt.want)
		}
		q.Unique = true
		if got := count(t, s, q); got != tt.want {
			t.Errorf("bots %d, unique: %d clicks, want %d", tt.bots, got, tt.want)
		}
		q.Unique = false
		page, err := s.Events(context.Background(), analytics.EventQuery{Org: "org_a", Start: q.Start, End: q.End, Bots: tt.bots})
		if err != nil || int64(len(page.Events)) != tt.want {
			t.Errorf("bots %d: %d events (%v), want %d", tt.bots, len(page.Events), err, tt.want)
		}
	}
	q := all("org_a")
	q.Bots, q.GroupBy = analytics.BotsOnly, analytics.GroupCountries
	if got := rows(mustQuery(t, s, q)); !reflect.DeepEqual(got, map[string]int64{"US": 1, "BR": 1}) {
		t.Errorf("bots only by country: %v", got)
	}
}

func testRetention(t *testing.T, s analytics.Store) {
	defer s.Close()
	ctx := context.Background()
	in := newIngester(t, s)
	for d := range 5 {
		in.send("e1",
			Click("link_a1", day0.AddDate(0, 0, d).Add(time.Duration(d)*time.Hour), "v"),
			Click("link_a1", day0.AddDate(0, 0, d).Add(23*time.Hour), "v", country("BR")),
			Click("link_b1", day0.AddDate(0, 0, d).Add(time.Hour), "v"))
	}
	orgs, err := s.Orgs(ctx)
	if slices.Sort(orgs); err != nil || !reflect.DeepEqual(orgs, []string{"org_a", "org_b"}) {
		t.Fatalf("orgs %v %v", orgs, err)
	}
	// Days that end at or before t go: day 2 stays whole though t is in it.
	if err := s.DeleteBefore(ctx, "org_a", day0.AddDate(0, 0, 2).Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, all("org_a")); got != 6 {
		t.Errorf("org_a keeps %d clicks, want 6", got)
	}
	for _, g := range []analytics.GroupBy{analytics.GroupCountries, analytics.GroupTopLinks} {
		q := all("org_a")
		q.GroupBy = g
		var n int64
		for _, r := range mustQuery(t, s, q).Rows {
			n += r.Clicks
		}
		if n != 6 {
			t.Errorf("%s after deletion: %d clicks", g, n)
		}
	}
	q := all("org_a")
	q.GroupBy, q.Interval = analytics.GroupTimeseries, analytics.Day
	q.Start, q.End = day0, day0.AddDate(0, 0, 5)
	var series []int64
	for _, p := range mustQuery(t, s, q).Series {
		series = append(series, p.Clicks)
	}
	if !reflect.DeepEqual(series, []int64{0, 0, 2, 2, 2}) {
		t.Errorf("series after deletion: %v", series)
	}
	page, err := s.Events(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.AddDate(0, 0, 5), Limit: 100})
	if err != nil || len(page.Events) != 6 {
		t.Errorf("events after deletion: %d %v", len(page.Events), err)
	}
	if got := count(t, s, all("org_b")); got != 5 {
		t.Errorf("org_b keeps %d clicks, want 5", got)
	}
	if err := s.DeleteBefore(ctx, "org_b", day0.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if orgs, err := s.Orgs(ctx); err != nil || !reflect.DeepEqual(orgs, []string{"org_a"}) {
		t.Errorf("orgs after deleting org_b's clicks: %v %v", orgs, err)
	}

	// The job: org_a keeps 1 day; it runs on a clock set on day 4, 06:00.
	job := &analytics.Retention{Store: s, Now: func() time.Time { return day0.AddDate(0, 0, 4).Add(6 * time.Hour) },
		Keep: func(_ context.Context, org string) (time.Duration, error) { return 24 * time.Hour, nil }}
	if n, err := job.Once(ctx); err != nil || n != 1 {
		t.Fatalf("retention pass: %d orgs, %v", n, err)
	}
	if got := count(t, s, all("org_a")); got != 4 {
		t.Errorf("org_a keeps %d clicks after the job, want 4 (days 3 and 4)", got)
	}
}

func testEvents(t *testing.T, s analytics.Store) {
	defer s.Close()
	ctx := context.Background()
	in := newIngester(t, s)
	var sent []clicks.Click
	for i := range 40 {
		at := day0.Add(time.Duration(i*i) * 17 * time.Minute)
		c := Click(fmt.Sprintf("link_a%d", i%3), at, "v", country([]string{"US", "BR"}[i%2]))
		if i%10 == 5 {
			c.Time = sent[len(sent)-1].Time // clicks at the same time are ordered by id
		}
		sent = append(sent, c)
	}
	for i := 0; i < len(sent); i += 7 {
		in.send("e1", sent[i:min(i+7, len(sent))]...)
	}
	m := NewModel()
	newIngester(t, m).send("e1", sent...)
	for _, q := range []analytics.EventQuery{
		{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Limit: 6},
		{Org: "org_a", Start: day0.Add(5 * time.Hour), End: day0.Add(100 * time.Hour), Limit: 4},
		{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Limit: 3, Filter: analytics.Filter{Country: analytics.Match{Not: []string{"US"}}}},
		{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Limit: 5, Filter: analytics.Filter{Link: analytics.Match{In: []string{"link_a1"}}}},
		{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Limit: 1000},
	} {
		got, want := allPages(t, s, q), allPages(t, m, q)
		if len(got) == 0 || !reflect.DeepEqual(ids(got), ids(want)) {
			t.Errorf("events %+v:\n got %v\nwant %v", q, ids(got), ids(want))
		}
		var exported []clicks.Click
		err := s.Export(ctx, q, func(c *clicks.Click) error { exported = append(exported, *c); return nil })
		slices.Reverse(want)
		if err != nil || !reflect.DeepEqual(ids(exported), ids(want)) {
			t.Errorf("export %+v: %v", q, err)
		}
	}
	page, err := s.Events(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Limit: 1})
	if err != nil || len(page.Events) != 1 {
		t.Fatal(page, err)
	}
	if got, want := page.Events[0], sent[len(sent)-1]; got.Time.UnixNano() != want.Time.UnixNano() || got.ID != want.ID ||
		got.LinkID != want.LinkID || got.Country != want.Country || got.IPHash != want.IPHash || got.Domain != want.Domain {
		t.Errorf("newest event %+v, want %+v", got, want)
	}
	stop := errors.New("stop")
	if err := s.Export(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0)},
		func(*clicks.Click) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("export stopped by its callback: %v", err)
	}
	_, err = s.Events(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.AddDate(1, 0, 0), Cursor: "nope"})
	wantInvalid(t, "cursor", err, "cursor")
}

func allPages(t *testing.T, s analytics.Store, q analytics.EventQuery) []clicks.Click {
	t.Helper()
	var out []clicks.Click
	for range 1000 {
		p, err := s.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(p.Events), q.Limit)
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
	t.Fatal("pages never end")
	return nil
}

func ids(cs []clicks.Click) []string {
	var out []string
	for i := range cs {
		out = append(out, cs[i].IDString()[:12])
	}
	return out
}

func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	e, ok := errors.AsType[*apierror.Error](err)
	if !ok || e.Code != apierror.ValidationError || len(e.Details) != 1 || e.Details[0].Field != field {
		t.Errorf("%s: %v, want a VALIDATION_ERROR naming %s", what, err, field)
	}
}

func testValidation(t *testing.T, s analytics.Store) {
	defer s.Close()
	ctx := context.Background()
	ok := analytics.Query{Org: "org_a", GroupBy: analytics.GroupCount, Start: day0, End: day0.AddDate(0, 0, 3)}
	for _, tt := range []struct {
		field string
		edit  func(q *analytics.Query)
	}{
		{"groupBy", func(q *analytics.Query) { q.GroupBy = "cities" }},
		{"start", func(q *analytics.Query) { q.Start = q.End.Add(time.Hour) }},
		{"start", func(q *analytics.Query) { q.Start = q.End }},
		{"granularity", func(q *analytics.Query) { q.GroupBy, q.Interval = analytics.GroupTimeseries, analytics.Hour }},
		{"granularity", func(q *analytics.Query) {
			q.GroupBy, q.Interval, q.Start = analytics.GroupTimeseries, analytics.Day, q.End.AddDate(-20, 0, 0)
		}},
		{"trigger", func(q *analytics.Query) { q.Filter.Trigger.In = []string{"email"} }},
	} {
		q := ok
		tt.edit(&q)
		_, err := s.Query(ctx, q)
		wantInvalid(t, fmt.Sprintf("%+v", q), err, tt.field)
	}
	_, err := s.Events(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.Add(time.Hour), Limit: 1001})
	wantInvalid(t, "events limit", err, "limit")
}

// testAgreesWithModel asks the store and the model many random queries
// over the same random clicks: every path of an engine (rollups, chunks,
// both in one query) must give the model's answer.
func testAgreesWithModel(t *testing.T, s analytics.Store) {
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	m := NewModel()
	ins, inm := newIngester(t, s), newIngester(t, m)
	links := []string{"link_a0", "link_a1", "link_a2", "link_a3", "link_a4", "link_b0", "link_b1", "link_gone"}
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	start := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC) // spans March's and April's daylight saving changes
	for range 40 {
		var batch []clicks.Click
		for range rng.IntN(150) {
			at := start.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
			c := Click(links[rng.IntN(len(links))], at, fmt.Sprint(rng.IntN(30)),
				country(pick("US", "BR", "FR", "", "IN")), device(pick("Desktop", "Mobile", "")),
				referer(pick("", "news.example", "t.co")), domain(pick("h0p.to", "go.example")))
			c.Browser, c.OS = pick("Chrome", "Safari"), pick("iOS", "Android", "")
			c.Bot, c.QR = rng.IntN(8) == 0, rng.IntN(4) == 0
			batch = append(batch, c)
		}
		edge := pick("e1", "e2", "e3")
		ins.send(edge, batch...)
		inm.send(edge, batch...)
	}
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/Paris"}
	matches := map[analytics.Dimension][]string{
		analytics.DimCountry: {"US", "BR", "FR", "Unknown", "us"}, analytics.DimDevice: {"Desktop", "Mobile", "Unknown"},
		analytics.DimReferer: {"(direct)", "news.example", "t.co"}, analytics.DimDomain: {"h0p.to", "go.example"},
		analytics.DimTrigger: {"link", "qr"}, analytics.DimOS: {"iOS", "Unknown"}, analytics.DimBrowser: {"Chrome"},
		analytics.DimLink: links,
	}
	for i := range 400 {
		loc, _ := time.LoadLocation(zones[rng.IntN(len(zones))])
		q := analytics.Query{Org: pick("org_a", "org_a", "org_b"), GroupBy: analytics.GroupBys[rng.IntN(len(analytics.GroupBys))],
			Location: loc, Unique: rng.IntN(4) == 0, Bots: analytics.Bots(rng.IntN(3)), Limit: rng.IntN(3) * 2}
		q.Start = start.Add(time.Duration(rng.IntN(50*24)) * time.Hour)
		if rng.IntN(3) == 0 {
			q.Start = q.Start.Add(time.Duration(rng.IntN(3600)) * time.Second)
		}
		span := []time.Duration{time.Hour, 7 * time.Hour, 47 * time.Hour, 10 * 24 * time.Hour, 40 * 24 * time.Hour}[rng.IntN(5)]
		q.End = q.Start.Add(span + time.Duration(rng.IntN(2))*time.Duration(rng.IntN(7200))*time.Second)
		if q.GroupBy == analytics.GroupTimeseries {
			q.Interval = analytics.Interval(rng.IntN(4))
			if q.Interval == analytics.Hour && q.End.Sub(q.Start) > analytics.MaxHourRange {
				q.Interval = analytics.Day
			}
		}
		if q.GroupBy.ByLinkValues() {
			q.LinkValues = map[string][]string{"link_a0": {"x", "y"}, "link_a1": {"x"}, "link_a3": {"z"}, "link_b0": {"x"}}
		}
		for range rng.IntN(3) {
			d := analytics.Dimensions[rng.IntN(len(analytics.Dimensions))]
			vs := matches[d]
			mt := analytics.Match{}
			switch rng.IntN(3) {
			case 0:
				mt.In = []string{vs[rng.IntN(len(vs))], vs[rng.IntN(len(vs))]}
			case 1:
				mt.Not = []string{vs[rng.IntN(len(vs))]}
			default:
				mt.In, mt.Not = []string{vs[rng.IntN(len(vs))], vs[rng.IntN(len(vs))]}, []string{vs[rng.IntN(len(vs))]}
			}
			q.Filter.Set(d, mt)
		}
		got, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("query %d %+v: %v", i, q, err)
		}
		want, _ := m.Query(context.Background(), q)
		if !sameResult(got, want) {
			t.Fatalf("query %d %+v\n got %+v\nwant %+v", i, q, got, want)
		}
	}
}

func sameResult(a, b analytics.Result) bool {
	if a.Clicks != b.Clicks || a.Visitors != b.Visitors || len(a.Series) != len(b.Series) || !reflect.DeepEqual(a.Rows, b.Rows) {
		return false
	}
	for i := range a.Series {
		x, y := a.Series[i], b.Series[i]
		if !x.Start.Equal(y.Start) || x.Clicks != y.Clicks || x.Visitors != y.Visitors {
			return false
		}
	}
	return true
}
