package chart_test

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strings"

	"github.com/h0p/h0p/control/dashboard/chart"
)

// A dashboard page decodes GET /v1/stats answers and puts the charts in
// its template as they are: they are template.HTML. The page's stylesheet
// (served from 'self') carries chart.CSS or its own rules for the classes.
func Example() {
	// GET /v1/stats?groupBy=timeseries&interval=7d&timezone=Europe/Paris
	var points []chart.Point
	if err := json.Unmarshal([]byte(`[
		{"start":"2026-12-01T00:00:00+01:00","clicks":12},
		{"start":"2026-12-02T00:00:00+01:00","clicks":40},
		{"start":"2026-12-03T00:00:00+01:00","clicks":7}]`), &points); err != nil {
		panic(err)
	}
	// GET /v1/stats?groupBy=countries&limit=10
	var countries []struct {
		Country string `json:"country"`
		Clicks  int64  `json:"clicks"`
	}
	if err := json.Unmarshal([]byte(`[{"country":"US","clicks":40},{"country":"DE","clicks":19}]`), &countries); err != nil {
		panic(err)
	}
	rows := make([]chart.Row, len(countries))
	for i, c := range countries {
		rows[i] = chart.Row{Label: chart.CountryName(c.Country), Clicks: c.Clicks}
	}

	page := template.Must(template.New("analytics").Parse(`<section class="analytics">
<h2>Clicks</h2>
{{.Clicks}}
<h2>Countries</h2>
{{.Countries}}
</section>
`))
	var out strings.Builder
	err := page.Execute(&out, map[string]template.HTML{
		"Clicks":    chart.TimeSeries(points, chart.TimeSeriesOptions{Bucket: chart.Day, Width: 640, Height: 200}),
		"Countries": chart.Bars(rows, chart.BarsOptions{Title: "Top countries", Total: 59}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "<svg") {
			fmt.Println(line[strings.Index(line, "aria-label"):])
		}
	}
	// Output:
	// aria-label="Clicks over time: 59 clicks from Dec 1 to Dec 3; peak 40 clicks on Dec 2">
	// aria-label="Top countries, 59 clicks: United States 40 clicks (68%), Germany 19 clicks (32%)">
}
