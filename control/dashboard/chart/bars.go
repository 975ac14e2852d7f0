package chart

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Row is one row of a top-N list: a group row of GET /v1/stats
// ({"country":"US","clicks":80}) with its value as Label (a display name,
// e.g. CountryName's).
type Row struct {
	Label  string
	Clicks int64
}

// BarsOptions size and describe a Bars chart.
type BarsOptions struct {
	// Width in px (480 when 0) and RowHeight in px (28 when 0); the
	// height is RowHeight per row.
	Width, RowHeight int
	// Total is what percentages are of, e.g. the count of the same query;
	// the rows' sum when 0 or below it.
	Total int64
	// Title starts the aria-label; "Top values" when empty.
	Title string
	// MaxLabel is the longest label shown, in characters, before it is cut
	// with "…"; from the label column's width (40% of Width) when 0.
	MaxLabel int
}

// maxSpoken is how many rows the aria-label reads out.
const maxSpoken = 10

// Bars draws rows as a horizontal bar list with counts and percentages.
func Bars(rows []Row, opts BarsOptions) template.HTML {
	w, rh := opts.Width, opts.RowHeight
	if w <= 0 {
		w = 480
	}
	if rh <= 0 {
		rh = 28
	}
	title := opts.Title
	if title == "" {
		title = "Top values"
	}
	var sum, peak int64
	for _, r := range rows {
		c := clamp(r.Clicks)
		sum = clamp(sum + c)
		peak = max(peak, c)
	}
	var s svg
	if sum == 0 {
		h := 2 * rh
		s.open("chart-bars", w, h, title+": no clicks in this period")
		s.text("empty", float64(w)/2, float64(h)/2+4, "middle", "No clicks in this period")
		s.b.WriteByte('\n')
		return template.HTML(s.close())
	}
	total := max(clamp(opts.Total), sum)

	spoken := make([]string, 0, min(len(rows), maxSpoken)+1)
	for i, r := range rows {
		if i == maxSpoken {
			spoken = append(spoken, "and "+strconv.Itoa(len(rows)-maxSpoken)+" more")
			break
		}
		spoken = append(spoken, r.Label+" "+clicks(clamp(r.Clicks))+" ("+percent(clamp(r.Clicks), total)+")")
	}
	h := len(rows) * rh
	s.open("chart-bars", w, h, title+", "+clicks(total)+": "+strings.Join(spoken, ", "))

	// Columns: label (40%), bar, value ("1,234 · 42%").
	labelW := math.Floor(float64(w) * 0.4)
	maxLabel := opts.MaxLabel
	if maxLabel <= 0 {
		maxLabel = int((labelW - 8) / charWidth)
	}
	valueW := 0.0
	values := make([]string, len(rows))
	for i, r := range rows {
		values[i] = count(clamp(r.Clicks)) + " · " + percent(clamp(r.Clicks), total)
		valueW = max(valueW, textWidth(values[i]))
	}
	valueW = math.Ceil(valueW) + 8
	barX, barW := labelW, max(float64(w)-labelW-valueW, 1)
	bh := math.Round(float64(rh) * 0.6)

	for i, r := range rows {
		c := clamp(r.Clicks)
		top := float64(i * rh)
		mid := top + float64(rh)/2
		s.b.WriteString("<g>")
		s.title(r.Label + ": " + clicks(c) + " (" + percent(c, total) + ")")
		s.text("label", 0, mid+fontSize*0.35, "start", truncate(r.Label, maxLabel))
		s.rect("track", barX, mid-bh/2, barW, bh, "")
		if c > 0 {
			s.rect("bar", barX, mid-bh/2, max(barW*float64(c)/float64(peak), 1), bh, "")
		}
		s.text("value", float64(w), mid+fontSize*0.35, "end", values[i])
		s.b.WriteString("</g>\n")
	}
	return template.HTML(s.close())
}

// percent is part's share of total: "42%", "4.2%", "<0.1%", "0%".
func percent(part, total int64) string {
	if part <= 0 || total <= 0 {
		return "0%"
	}
	p := float64(part) / float64(total) * 100
	switch {
	case p < 0.05:
		return "<0.1%"
	case p < 9.95:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// CountryName is the English short name of an ISO 3166-1 alpha-2 code
// ("US" → "United States"), or code itself when it is not one (the API's
// "Unknown").
func CountryName(code string) string {
	if n, ok := countryNames[strings.ToUpper(code)]; ok {
		return n
	}
	return code
}
