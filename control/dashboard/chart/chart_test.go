package chart

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/geo"
	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// element is one parsed SVG element: its name, attributes and the text
// directly inside it.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// mustParse decodes out as strict XML and returns its elements in order.
func mustParse(t testing.TB, out string) []element {
	t.Helper()
	els, err := parse(out)
	if err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, out)
	}
	return els
}

func parse(out string) ([]element, error) {
	d := xml.NewDecoder(strings.NewReader(out))
	d.Strict = true
	var els []element
	var open []int
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && len(els) > 0 {
				return nil, errors.New("more than one root element")
			}
			depth++
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			open = append(open, len(els)-1)
		case xml.EndElement:
			depth--
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				els[open[len(open)-1]].text += string(tok)
			}
		case xml.ProcInst, xml.Directive:
			return nil, errors.New("unexpected processing instruction or directive")
		}
	}
	if len(els) == 0 || els[0].name != "svg" {
		return nil, errors.New("no svg root")
	}
	return els, nil
}

func named(els []element, name, class string) []element {
	var out []element
	for _, e := range els {
		if e.name == name && (class == "" || e.attrs["class"] == class) {
			out = append(out, e)
		}
	}
	return out
}

func texts(els []element) []string {
	out := make([]string, len(els))
	for i, e := range els {
		out[i] = e.text
	}
	return out
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// series is n points of size bucket from start, clicks from f.
func series(start time.Time, bucket Bucket, n int, f func(i int) int64) []Point {
	out := make([]Point, n)
	for i := range out {
		var t time.Time
		switch bucket {
		case Hour:
			t = start.Add(time.Duration(i) * time.Hour)
		case Day:
			t = start.AddDate(0, 0, i)
		case Month:
			t = start.AddDate(0, i, 0)
		}
		out[i] = Point{Start: t, Clicks: f(i)}
	}
	return out
}

// mustPoints decodes GET /v1/stats?groupBy=timeseries's answer.
func mustPoints(t testing.TB, body string) []Point {
	t.Helper()
	var pts []Point
	if err := json.Unmarshal([]byte(body), &pts); err != nil {
		t.Fatalf("decode points: %v", err)
	}
	return pts
}

func TestGolden(t *testing.T) {
	utc := time.UTC
	paris := mustZone(t, "Europe/Paris")
	week := series(time.Date(2026, 12, 1, 0, 0, 0, 0, paris), Day, 7, func(i int) int64 { return []int64{12, 40, 7, 0, 99, 42, 3}[i] })
	tests := []struct {
		name string
		out  func() string
	}{
		{"timeseries_day", func() string { return string(TimeSeries(week, TimeSeriesOptions{Bucket: Day})) }},
		{"timeseries_hour", func() string {
			pts := series(time.Date(2026, 12, 6, 15, 0, 0, 0, paris), Hour, 24, func(i int) int64 { return int64(i * i % 17) })
			return string(TimeSeries(pts, TimeSeriesOptions{Bucket: Hour, Title: "Clicks on go.h0p.io/launch"}))
		}},
		{"timeseries_month", func() string {
			pts := series(time.Date(2026, 1, 1, 0, 0, 0, 0, utc), Month, 12, func(i int) int64 { return int64(1000 + 250*i) })
			return string(TimeSeries(pts, TimeSeriesOptions{Bucket: Month, Width: 600, Height: 200}))
		}},
		{"timeseries_one", func() string {
			return string(TimeSeries(week[:1], TimeSeriesOptions{}))
		}},
		{"timeseries_empty", func() string { return string(TimeSeries(nil, TimeSeriesOptions{Bucket: Day})) }},
		{"bars_countries", func() string {
			rows := []Row{{CountryName("US"), 1234}, {CountryName("DE"), 420}, {CountryName("GB"), 97},
				{CountryName("KR"), 8}, {"Unknown", 1}}
			return string(Bars(rows, BarsOptions{Title: "Top countries", Total: 2000}))
		}},
		{"bars_referrers", func() string {
			rows := []Row{{"(direct)", 50}, {"news.ycombinator.com", 31},
				{`https://example.com/a/very/long/path?utm_source="x"&q=<script>alert(1)</script>`, 9}}
			return string(Bars(rows, BarsOptions{Title: "Top referrers", Width: 360}))
		}},
		{"bars_empty", func() string { return string(Bars(nil, BarsOptions{Title: "Top devices"})) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.out()
			mustParse(t, got)
			path := filepath.Join("testdata", tt.name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// TestExamplePage writes testdata/example.html, the charts on one page as
// the dashboard would show them, to open in a browser.
func TestExamplePage(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/example.html")
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<meta charset=\"utf-8\">\n<title>H0p charts</title>\n<style>\n" + CSS +
		"body { font-family: system-ui, sans-serif; max-width: 760px; margin: 2em auto; }\n</style>\n")
	for _, name := range []string{"timeseries_day", "timeseries_hour", "timeseries_month", "timeseries_one",
		"timeseries_empty", "bars_countries", "bars_referrers", "bars_empty"} {
		svg, err := os.ReadFile(filepath.Join("testdata", name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("<h2>" + name + "</h2>\n")
		b.Write(svg)
	}
	if err := os.WriteFile(filepath.Join("testdata", "example.html"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEscaping(t *testing.T) {
	tests := []struct {
		label string
		// valid: the label is valid XML text, so it must come back whole.
		valid bool
	}{
		{`<script>alert(1)</script>`, true},
		{`"><script>alert(1)</script>`, true},
		{`' onmouseover='alert(1)`, true},
		{`</title></g></svg><script>alert(1)</script>`, true},
		{`]]><!-- &amp; &#x3c; <![CDATA[`, true},
		{"tab\tnewline\n\u202eevil", true},
		{"nul\x00 bell\x07 bad\xff utf8 \ufffe", false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.label), func(t *testing.T) {
			for _, out := range []string{
				string(Bars([]Row{{tt.label, 3}, {"ok", 1}}, BarsOptions{Title: tt.label})),
				string(TimeSeries([]Point{{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), 5}}, TimeSeriesOptions{Title: tt.label})),
			} {
				els := mustParse(t, out)
				if strings.Contains(strings.ToLower(out), "<script") {
					t.Errorf("raw <script in output:\n%s", out)
				}
				for _, e := range els {
					if e.name == "script" || e.name == "style" || e.name == "foreignObject" {
						t.Errorf("element %s in output", e.name)
					}
					for a := range e.attrs {
						if strings.HasPrefix(a, "on") || a == "style" || a == "href" || a == "id" {
							t.Errorf("attribute %s on %s", a, e.name)
						}
					}
				}
				if tt.valid && !strings.HasPrefix(els[0].attrs["aria-label"], tt.label) {
					t.Errorf("aria-label %q does not start with the title", els[0].attrs["aria-label"])
				}
				if got := len(named(els, "svg", "")); got != 1 {
					t.Errorf("%d svg elements", got)
				}
			}
			els := mustParse(t, string(Bars([]Row{{tt.label, 3}, {"ok", 1}}, BarsOptions{})))
			titles := texts(named(els, "title", ""))
			if tt.valid && titles[0] != tt.label+": 3 clicks (75%)" {
				t.Errorf("title %q lacks the full label", titles[0])
			}
		})
	}
}

// TestInHTMLPage puts hostile labels in a page through html/template and
// reads it back with an HTML5 parser, as a browser would: one svg, no
// script, the labels as text.
func TestInHTMLPage(t *testing.T) {
	label := `</svg></title><script>alert(1)</script><img src=x onerror=alert(1)>"'&`
	page := template.Must(template.New("p").Parse(`<!doctype html><title>t</title><body>{{.}}</body>`))
	var b strings.Builder
	if err := page.Execute(&b, Bars([]Row{{label, 2}}, BarsOptions{Title: label})); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var titles []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		counts[n.Data]++
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("attribute %s on %s", a.Key, n.Data)
			}
		}
		if n.Data == "title" && n.Namespace == "svg" && n.FirstChild != nil {
			titles = append(titles, n.FirstChild.Data)
		}
	}
	if counts["svg"] != 1 || counts["script"] != 0 || counts["img"] != 0 {
		t.Errorf("elements %v, want one svg, no script, no img", counts)
	}
	if want := label + ": 2 clicks (100%)"; !slices.Equal(titles, []string{want}) {
		t.Errorf("svg titles %q, want %q", titles, want)
	}
}

func TestYTicks(t *testing.T) {
	tests := []struct {
		peak int64
		want []int64
	}{
		{0, []int64{0, 1}},
		{1, []int64{0, 1}},
		{5, []int64{0, 1, 2, 3, 4, 5}},
		{7, []int64{0, 2, 4, 6, 8}},
		{10, []int64{0, 2, 4, 6, 8, 10}},
		{11, []int64{0, 5, 10, 15}},
		{99, []int64{0, 20, 40, 60, 80, 100}},
		{1234, []int64{0, 500, 1000, 1500}},
		{1e6, []int64{0, 200000, 400000, 600000, 800000, 1000000}},
		{-3, []int64{0, 1}},
		{1 << 62, []int64{0, 2e14, 4e14, 6e14, 8e14, 1e15}},
	}
	for _, tt := range tests {
		if got := yTicks(tt.peak); !slices.Equal(got, tt.want) {
			t.Errorf("yTicks(%d) = %v, want %v", tt.peak, got, tt.want)
		}
	}
}

func TestLabels(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, paris)
	midnight := time.Date(2026, 12, 8, 0, 0, 0, 0, paris)
	tokyo := time.Date(2026, 12, 7, 1, 0, 0, 0, time.FixedZone("", 9*3600))
	// mkBar sums points starting at starts into one bar, as a series of its own.
	mkBar := func(bucket Bucket, starts ...time.Time) bar {
		pts := make([]Point, len(starts))
		for i, t := range starts {
			pts[i] = Point{Start: t, Clicks: 1}
		}
		bars, _ := group(pts, bucket, 1)
		return bars[0]
	}
	one := func(t time.Time) bar { return mkBar(Hour, t) }
	santiago := mustZone(t, "America/Santiago") // its clocks change at midnight
	spring := time.Date(2026, 9, 5, 23, 0, 0, 0, santiago)
	tests := []struct {
		name        string
		bucket      Bucket
		size        int     // points per bar
		pitch       float64 // px per bar
		b           bar
		labelled    bool
		axis, title string
	}{
		{"hour", Hour, 1, 50, one(at), true, "15:00", "Dec 7, 15:00"},
		{"hour at midnight", Hour, 1, 30, one(midnight), true, "Dec 8", "Dec 8, 00:00"},
		{"hour off the round hours", Hour, 1, 10, one(at), false, "15:00", "Dec 7, 15:00"},
		{"hours narrow: midnights", Hour, 1, 1, one(midnight), true, "Dec 8", "Dec 8, 00:00"},
		{"hours grouped: the midnight inside", Hour, 4, 4, mkBar(Hour, at.Add(7*time.Hour), at.Add(8*time.Hour), at.Add(9*time.Hour), at.Add(10*time.Hour)), true, "Dec 8", "Dec 7, 22:00"},
		{"hours crowded: a day starting at 01:00", Hour, 2, 4, mkBar(Hour, spring, spring.Add(time.Hour)), true, "Sep 6", "Sep 5, 23:00"},
		{"day", Day, 1, 30, one(at), true, "Dec 7", "Dec 7"},
		{"days grouped by weeks: months", Day, 7, 4, one(at), true, "Dec 2026", "Dec 7"},
		{"month", Month, 1, 30, one(at), true, "Dec 2026", "Dec 2026"},
		// The point's own offset, not UTC nor the machine's zone.
		{"hour in +09:00", Hour, 1, 50, one(tokyo), true, "01:00", "Dec 7, 01:00"},
		{"day in -08:00", Day, 1, 30, one(time.Date(2026, 12, 7, 0, 0, 0, 0, time.FixedZone("", -8*3600))), true, "Dec 7", "Dec 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := xAxisOf(tt.bucket, tt.size, tt.pitch)
			if got := a.labelled(0, tt.b); got != tt.labelled {
				t.Errorf("labelled = %v, want %v (axis %+v)", got, tt.labelled, a)
			}
			if got := a.label(tt.b); tt.labelled && got != tt.axis {
				t.Errorf("label = %q, want %q", got, tt.axis)
			}
			if got := longLabel(tt.b.first, tt.bucket, false); got != tt.title {
				t.Errorf("longLabel = %q, want %q", got, tt.title)
			}
		})
	}
	if got, want := longLabel(at, Day, true), "Dec 7, 2026"; got != want {
		t.Errorf("longLabel with years = %q, want %q", got, want)
	}
}

func TestTimeSeriesTitlesAndLabel(t *testing.T) {
	pts := series(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Day, 7, func(i int) int64 { return []int64{1, 0, 42, 3, 0, 0, 1}[i] })
	els := mustParse(t, string(TimeSeries(pts, TimeSeriesOptions{})))
	want := []string{"Dec 1: 1 click", "Dec 2: 0 clicks", "Dec 3: 42 clicks", "Dec 4: 3 clicks", "Dec 5: 0 clicks",
		"Dec 6: 0 clicks", "Dec 7: 1 click"}
	if got := texts(named(els, "title", "")); !slices.Equal(got, want) {
		t.Errorf("titles = %q, want %q", got, want)
	}
	if got, want := els[0].attrs["aria-label"], "Clicks over time: 47 clicks from Dec 1 to Dec 7; peak 42 clicks on Dec 3"; got != want {
		t.Errorf("aria-label = %q, want %q", got, want)
	}
	if got, want := els[0].attrs["role"], "img"; got != want {
		t.Errorf("role = %q, want %q", got, want)
	}
	if got := len(named(els, "rect", "bar")); got != 4 {
		t.Errorf("%d bars drawn, want 4 (zero buckets have none)", got)
	}
	if got := texts(named(els, "text", "tick")); !slices.Contains(got, "Dec 1") || !slices.Contains(got, "50") {
		t.Errorf("tick labels %q lack Dec 1 or 50", got)
	}
}

func TestTimeSeriesEmpty(t *testing.T) {
	zeros := series(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Day, 7, func(int) int64 { return 0 })
	for _, pts := range [][]Point{nil, {}, zeros} {
		els := mustParse(t, string(TimeSeries(pts, TimeSeriesOptions{})))
		if got := texts(named(els, "text", "empty")); !slices.Equal(got, []string{"No clicks in this period"}) {
			t.Errorf("%d points: empty text = %q", len(pts), got)
		}
		if got, want := els[0].attrs["aria-label"], "Clicks over time: no clicks in this period"; got != want {
			t.Errorf("aria-label = %q, want %q", got, want)
		}
	}
}

// TestDSTDays reads a day series across Europe/Paris' spring change as the
// stats API answers it: the 23-hour day is one bar like the others, and
// each label is the day the API named, not a UTC reading of it.
func TestDSTDays(t *testing.T) {
	pts := mustPoints(t, `[
		{"start":"2026-03-27T00:00:00+01:00","clicks":5},
		{"start":"2026-03-28T00:00:00+01:00","clicks":6},
		{"start":"2026-03-29T00:00:00+01:00","clicks":7},
		{"start":"2026-03-30T00:00:00+02:00","clicks":8},
		{"start":"2026-03-31T00:00:00+02:00","clicks":9}]`)
	els := mustParse(t, string(TimeSeries(pts, TimeSeriesOptions{Bucket: Day})))
	want := []string{"Mar 27: 5 clicks", "Mar 28: 6 clicks", "Mar 29: 7 clicks", "Mar 30: 8 clicks", "Mar 31: 9 clicks"}
	if got := texts(named(els, "title", "")); !slices.Equal(got, want) {
		t.Errorf("titles = %q, want %q", got, want)
	}
	if got := texts(named(els, "text", "tick")); !slices.Contains(got, "Mar 30") || !slices.Contains(got, "Mar 27") {
		t.Errorf("x labels %q lack Mar 27 or Mar 30", got)
	}
	widths := map[string]bool{}
	for _, e := range named(els, "rect", "bar") {
		widths[e.attrs["width"]] = true
	}
	if len(widths) != 1 {
		t.Errorf("bar widths %v, want one width for every day", widths)
	}
	// Without a bucket, the 23-hour spacing still reads as days.
	if got := guessBucket(pts[2:]); got != Day {
		t.Errorf("guessBucket across the change = %s, want day", got)
	}
}

// TestDSTHours checks the autumn change's repeated hour: both 02:00 bars
// exist, and no two x labels land on neighbouring bars.
func TestDSTHours(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	pts := series(time.Date(2026, 10, 24, 12, 0, 0, 0, paris), Hour, 48, func(i int) int64 { return int64(i%5 + 1) })
	els := mustParse(t, string(TimeSeries(pts, TimeSeriesOptions{Bucket: Hour})))
	titles := texts(named(els, "title", ""))
	n := 0
	for _, ti := range titles {
		if strings.HasPrefix(ti, "Oct 25, 02:00") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d bars for Oct 25, 02:00, want 2 (the hour repeats)", n)
	}
	var xs []float64
	for _, e := range named(els, "text", "tick") {
		if e.attrs["text-anchor"] == "middle" {
			x, _ := strconv.ParseFloat(e.attrs["x"], 64)
			xs = append(xs, x)
		}
	}
	for i := 1; i < len(xs); i++ {
		if xs[i]-xs[i-1] < 40 {
			t.Errorf("x labels at %v and %v overlap", xs[i-1], xs[i])
		}
	}
}

// TestManyPoints draws 2,000 points (five and a half years of days, or
// 83 days of hours): bars are grouped to fit, output stays small.
func TestManyPoints(t *testing.T) {
	for _, b := range []Bucket{Hour, Day, Month} {
		t.Run(string(b), func(t *testing.T) {
			pts := series(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), b, 2000, func(i int) int64 { return int64(i%97 + 1) })
			out := string(TimeSeries(pts, TimeSeriesOptions{Bucket: b}))
			els := mustParse(t, out)
			bars := len(named(els, "rect", "bar"))
			if bars > 720/minPitch || bars < 100 {
				t.Errorf("%d bars for 2,000 points in 720px", bars)
			}
			if len(out) > 100_000 {
				t.Errorf("output is %d bytes", len(out))
			}
			var sum int64
			for _, ti := range texts(named(els, "title", "")) {
				f := strings.Fields(ti[strings.LastIndex(ti, ": ")+2:])
				n, _ := strconv.ParseInt(strings.ReplaceAll(f[0], ",", ""), 10, 64)
				sum += n
			}
			var want int64
			for _, p := range pts {
				want += p.Clicks
			}
			if sum != want {
				t.Errorf("titles sum to %d clicks, want %d", sum, want)
			}
			var xs []string
			for _, e := range named(els, "text", "tick") {
				if e.attrs["text-anchor"] == "middle" {
					xs = append(xs, e.text)
				}
			}
			if len(xs) < 3 || len(xs) > 20 || len(slices.Compact(slices.Clone(xs))) != len(xs) {
				t.Errorf("x labels %q: want 3 to 20, none repeated", xs)
			}
		})
	}
}

func TestBars(t *testing.T) {
	long := strings.Repeat("utm-campaign-", 10)
	rows := []Row{{"Chrome", 300}, {long, 100}, {"Firefox", 0}}
	els := mustParse(t, string(Bars(rows, BarsOptions{Title: "Top browsers", Total: 1000})))
	wantTitles := []string{"Chrome: 300 clicks (30%)", long + ": 100 clicks (10%)", "Firefox: 0 clicks (0%)"}
	if got := texts(named(els, "title", "")); !slices.Equal(got, wantTitles) {
		t.Errorf("titles = %q, want %q", got, wantTitles)
	}
	labels := texts(named(els, "text", "label"))
	if labels[0] != "Chrome" || !strings.HasSuffix(labels[1], "…") || len([]rune(labels[1])) != 27 {
		t.Errorf("labels = %q, want Chrome and a cut campaign", labels)
	}
	if got, want := texts(named(els, "text", "value")), []string{"300 · 30%", "100 · 10%", "0 · 0%"}; !slices.Equal(got, want) {
		t.Errorf("values = %q, want %q", got, want)
	}
	bars := named(els, "rect", "bar")
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2", len(bars))
	}
	w0, _ := strconv.ParseFloat(bars[0].attrs["width"], 64)
	w1, _ := strconv.ParseFloat(bars[1].attrs["width"], 64)
	if w0 < 3*w1-0.1 || w0 > 3*w1+0.1 {
		t.Errorf("bar widths %v, %v: want 3:1", w0, w1)
	}
	if got := els[0].attrs["aria-label"]; !strings.HasPrefix(got, "Top browsers, 1,000 clicks: Chrome 300 clicks (30%), ") {
		t.Errorf("aria-label = %q", got)
	}
	if got := els[0].attrs["height"]; got != "84" {
		t.Errorf("height = %s, want 3 rows of 28", got)
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		part, total int64
		want        string
	}{
		{0, 0, "0%"}, {0, 10, "0%"}, {1, 3, "33%"}, {1, 40, "2.5%"}, {1, 100000, "<0.1%"}, {999, 1000, "100%"}, {5, 50, "10%"},
	}
	for _, tt := range tests {
		if got := percent(tt.part, tt.total); got != tt.want {
			t.Errorf("percent(%d, %d) = %q, want %q", tt.part, tt.total, got, tt.want)
		}
	}
}

func TestCountFormats(t *testing.T) {
	tests := []struct {
		n              int64
		count, compact string
	}{
		{0, "0", "0"}, {999, "999", "999"}, {1000, "1,000", "1k"}, {1500, "1,500", "1.5k"},
		{1234567, "1,234,567", "1.2M"}, {-1234, "-1,234", "-1234"},
	}
	for _, tt := range tests {
		if got := count(tt.n); got != tt.count {
			t.Errorf("count(%d) = %q, want %q", tt.n, got, tt.count)
		}
		if got := compact(tt.n); got != tt.compact {
			t.Errorf("compact(%d) = %q, want %q", tt.n, got, tt.compact)
		}
	}
}

func TestCountryName(t *testing.T) {
	tests := map[string]string{"US": "United States", "de": "Germany", "KR": "South Korea", "Unknown": "Unknown", "XX": "XX"}
	for code, want := range tests {
		if got := CountryName(code); got != want {
			t.Errorf("CountryName(%q) = %q, want %q", code, got, want)
		}
	}
	for code := range countryNames {
		if !geo.IsCountry(code) {
			t.Errorf("%s is named but not a country code", code)
		}
	}
	if len(countryNames) != 249 {
		t.Errorf("%d names, want the 249 codes", len(countryNames))
	}
}

func FuzzCharts(f *testing.F) {
	f.Add("Chrome", int64(3), int64(1), uint16(7), uint8(1))
	f.Add(`"><script>alert(1)</script>`, int64(-1), int64(1<<62), uint16(2000), uint8(0))
	f.Add("\x00\xff\ufffe]]>", int64(0), int64(0), uint16(0), uint8(2))
	f.Fuzz(func(t *testing.T, label string, a, b int64, n uint16, bucket uint8) {
		n %= 2500
		bk := []Bucket{Hour, Day, Month, ""}[bucket%4]
		rows := []Row{{label, a}, {label + label, b}, {"", a ^ b}}
		pts := series(time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("", 3600)), Day, int(n), func(i int) int64 {
			return []int64{a, b, a / 3, b - a}[i%4]
		})
		for _, out := range []string{
			string(Bars(rows, BarsOptions{Title: label, Total: a})),
			string(TimeSeries(pts, TimeSeriesOptions{Title: label, Bucket: bk, Width: int(a % 2000), Height: int(b % 800)})),
		} {
			if _, err := parse(out); err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, out)
			}
		}
	})
}

func BenchmarkTimeSeries720(b *testing.B) {
	pts := series(time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC), Hour, 720, func(i int) int64 { return int64(i*37%101 + 1) })
	b.ReportAllocs()
	for b.Loop() {
		_ = TimeSeries(pts, TimeSeriesOptions{Bucket: Hour})
	}
}
