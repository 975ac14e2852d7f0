package chart

import (
	"html/template"
	"math"
	"time"
)

// Point is one bucket of GET /v1/stats?groupBy=timeseries; the API's JSON
// ({"start":"2026-12-07T00:00:00+01:00","clicks":42}) decodes into it,
// keeping the offset.
type Point struct {
	Start  time.Time `json:"start"`
	Clicks int64     `json:"clicks"`
}

// Bucket is a timeseries bucket size, named as the API's granularity.
type Bucket string

// The bucket sizes.
const (
	Hour  Bucket = "hour"
	Day   Bucket = "day"
	Month Bucket = "month"
)

// TimeSeriesOptions size and describe a TimeSeries chart.
type TimeSeriesOptions struct {
	// Width and Height in px; 720×240 when 0.
	Width, Height int
	// Bucket is the points' bucket size; when empty it is read from the
	// first two points' spacing (Day for one point).
	Bucket Bucket
	// Title starts the aria-label; "Clicks over time" when empty.
	Title string
}

// Margins of the plot inside the chart, in px.
const (
	tsTop    = 8
	tsRight  = 20
	tsBottom = 22
	minPitch = 3  // narrowest bucket drawn, bar and gap
	maxBar   = 64 // widest bar drawn
)

// bar is what one drawn bar shows: one bucket, or a group of neighbours.
type bar struct {
	first, last time.Time
	clicks      int64
	// newDay and newMonth are the first of its buckets that starts a day
	// (a date the previous bucket did not have, or the series' first if at
	// midnight) or a month (or the series' first), if any.
	newDay, newMonth time.Time
}

// TimeSeries draws points as a bar chart of clicks over time.
func TimeSeries(points []Point, opts TimeSeriesOptions) template.HTML {
	w, h := opts.Width, opts.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 240
	}
	title := opts.Title
	if title == "" {
		title = "Clicks over time"
	}
	bucket := opts.Bucket
	if bucket != Hour && bucket != Day && bucket != Month {
		bucket = guessBucket(points)
	}

	var total, peak int64
	peakAt := 0
	for i, p := range points {
		c := clamp(p.Clicks)
		total = clamp(total + c)
		if c > peak {
			peak, peakAt = c, i
		}
	}
	var s svg
	if total == 0 {
		s.open("chart-timeseries", w, h, title+": no clicks in this period")
		s.line("axis", tsRight, float64(h-tsBottom), float64(w-tsRight), float64(h-tsBottom))
		s.text("empty", float64(w)/2, float64(h)/2, "middle", "No clicks in this period")
		s.b.WriteByte('\n')
		return template.HTML(s.close())
	}
	first, last := points[0].Start, points[len(points)-1].Start
	years := last.Sub(first) > yearSpan
	span := " on " + longLabel(first, bucket, years)
	if len(points) > 1 {
		span = " from " + longLabel(first, bucket, years) + " to " + longLabel(last, bucket, years)
	}
	s.open("chart-timeseries", w, h, title+": "+clicks(total)+span+"; peak "+clicks(peak)+" on "+
		longLabel(points[peakAt].Start, bucket, years))

	// Group for the widest y labels any bar could need (the total's), then
	// scale to the tallest bar: the plot only widens, bars stay ≥ minPitch.
	widest := leftMargin(yTicks(total))
	bars, size := group(points, bucket, int((float64(w)-widest-tsRight)/minPitch))
	var tallest int64
	for _, b := range bars {
		tallest = max(tallest, b.clicks)
	}
	ticks := yTicks(tallest)
	top := ticks[len(ticks)-1]
	left := leftMargin(ticks)
	pw, ph := max(float64(w)-left-tsRight, 1), max(float64(h-tsTop-tsBottom), 1)
	base := float64(tsTop) + ph
	y := func(v int64) float64 { return base - float64(v)/float64(top)*ph }

	for _, t := range ticks {
		s.line("grid", left, y(t), left+pw, y(t))
		s.text("tick", left-6, y(t)+fontSize*0.35, "end", compact(t))
		s.b.WriteByte('\n')
	}

	pitch := pw / float64(len(bars))
	// Bars keep a gap, and a few buckets do not make slabs.
	bw := min(pitch*0.8, maxBar)
	if pitch < 4 {
		bw = pitch - 1
	}
	for i, b := range bars {
		x := left + float64(i)*pitch
		s.b.WriteString("<g>")
		name := longLabel(b.first, bucket, years)
		if !b.last.Equal(b.first) {
			name += " – " + longLabel(b.last, bucket, years)
		}
		s.title(name + ": " + clicks(b.clicks))
		s.rect("hit", x, tsTop, pitch, ph, `fill="transparent"`)
		if b.clicks > 0 {
			bh := max(base-y(b.clicks), 1)
			s.rect("bar", x+(pitch-bw)/2, base-bh, bw, bh, "")
		}
		s.b.WriteString("</g>\n")
	}
	s.line("axis", left, base, left+pw, base)

	axis := xAxisOf(bucket, size, pitch)
	prev := -axis.every
	for i, b := range bars {
		if i-prev < axis.every || !axis.labelled(i, b) {
			continue
		}
		prev = i
		s.text("tick", left+(float64(i)+0.5)*pitch, float64(h-6), "middle", axis.label(b))
		s.b.WriteByte('\n')
	}
	return template.HTML(s.close())
}

// leftMargin is the room the y labels of ticks take.
func leftMargin(ticks []int64) float64 {
	widest := 0.0
	for _, t := range ticks {
		widest = max(widest, textWidth(compact(t)))
	}
	return math.Ceil(widest) + 12
}

// guessBucket reads the bucket size from the first two points' spacing.
func guessBucket(points []Point) Bucket {
	if len(points) < 2 {
		return Day
	}
	switch d := points[1].Start.Sub(points[0].Start); {
	case d <= 2*time.Hour:
		return Hour
	case d <= 26*time.Hour:
		return Day
	}
	return Month
}

// yTicks are the y axis ticks for a peak: 0 to the first multiple of a
// 1-2-5 step at or above it, in at most five steps of at least 1.
func yTicks(peak int64) []int64 {
	peak = clamp(peak)
	step := int64(1)
	for mag := int64(1); ; mag *= 10 {
		found := false
		for _, m := range []int64{1, 2, 5} {
			if (peak+m*mag-1)/(m*mag) <= 5 {
				step, found = m*mag, true
				break
			}
		}
		if found {
			break
		}
	}
	top := max((peak+step-1)/step*step, step)
	out := make([]int64, 0, 6)
	for t := int64(0); t <= top; t += step {
		out = append(out, t)
	}
	return out
}

// groupSizes are the round numbers of buckets a bar may sum, per size:
// hours that divide a day, then days; days, weeks, then ~months; months.
var groupSizes = map[Bucket][]int{
	Hour:  {1, 2, 3, 4, 6, 12, 24, 48, 168, 336, 720},
	Day:   {1, 2, 7, 14, 28, 91, 182, 364},
	Month: {1, 2, 3, 6, 12, 24, 60, 120},
}

// group sums neighbouring points so there are at most maxBars bars.
// size is how many points a bar sums.
func group(points []Point, bucket Bucket, maxBars int) (bars []bar, size int) {
	maxBars = max(maxBars, 1)
	for _, g := range groupSizes[bucket] {
		if (len(points)+g-1)/g <= maxBars {
			size = g
			break
		}
	}
	if size == 0 {
		size = (len(points) + maxBars - 1) / maxBars
	}
	out := make([]bar, 0, (len(points)+size-1)/size)
	for i := 0; i < len(points); i += size {
		j := min(i+size, len(points))
		b := bar{first: points[i].Start, last: points[j-1].Start}
		for k := i; k < j; k++ {
			t := points[k].Start
			b.clicks = clamp(b.clicks + clamp(points[k].Clicks))
			if b.newDay.IsZero() && (k == 0 && midnight(t) || k > 0 && !sameDay(points[k-1].Start, t)) {
				b.newDay = t
			}
			if b.newMonth.IsZero() && (k == 0 || !sameMonth(points[k-1].Start, t)) {
				b.newMonth = t
			}
		}
		out = append(out, b)
	}
	return out, size
}

// yearSpan is the span beyond which titles name the year of days and
// hours.
const yearSpan = 300 * 24 * time.Hour

// longLabel names a bucket start in titles and the aria-label.
func longLabel(t time.Time, bucket Bucket, years bool) string {
	switch {
	case bucket == Month:
		return t.Format("Jan 2006")
	case bucket == Hour && years:
		return t.Format("Jan 2 2006, 15:04")
	case bucket == Hour:
		return t.Format("Jan 2, 15:04")
	case years:
		return t.Format("Jan 2, 2006")
	}
	return t.Format("Jan 2")
}

// Formats of x labels, and the width they are given (their longest).
const (
	hourFormat  = "15:04"    // at midnight, dayFormat
	dayFormat   = "Jan 2"    // "Dec 30"
	monthFormat = "Jan 2006" // "Sep 2026"
)

// xAxis says which bars get an x label and what it reads.
type xAxis struct {
	format string
	every  int // bars at least this far apart
	// align is the bucket boundary labels sit on: Hour (hours that are a
	// multiple of every), Day (midnights), Month (a new month), or ""
	// (every bars from the first).
	align Bucket
}

// xAxisOf chooses labels that do not overlap: hours on round hours while
// they fit (days at midnight), then days at midnight; days every few
// bars, then months once labels are four weeks apart; months every few.
func xAxisOf(bucket Bucket, size int, pitch float64) xAxis {
	need := func(format string) int {
		return max(int(math.Ceil((textWidth(format)+charWidth+8)/pitch)), 1)
	}
	switch bucket {
	case Hour:
		n := need(hourFormat)
		if size == 1 && n <= 24 {
			for _, d := range []int{1, 2, 3, 4, 6, 12, 24} {
				if d >= n {
					return xAxis{format: hourFormat, every: d, align: Hour}
				}
			}
		}
		return xAxis{format: dayFormat, every: need(dayFormat), align: Day}
	case Day:
		if n := need(dayFormat); n*size < 28 {
			return xAxis{format: dayFormat, every: n}
		}
		return xAxis{format: monthFormat, every: need(monthFormat), align: Month}
	}
	return xAxis{format: monthFormat, every: need(monthFormat)}
}

// labelled reports whether bar i, b, sits on the axis' boundary.
func (a xAxis) labelled(i int, b bar) bool {
	switch a.align {
	case Hour:
		return b.first.Minute() == 0 && b.first.Hour()%a.every == 0
	case Day:
		return !b.newDay.IsZero()
	case Month:
		return !b.newMonth.IsZero()
	}
	return i%a.every == 0
}

// label is bar b's x label, read in its own offset: its start, or the
// day or month it starts.
func (a xAxis) label(b bar) string {
	switch {
	case a.align == Day:
		return b.newDay.Format(dayFormat)
	case a.align == Month:
		return b.newMonth.Format(monthFormat)
	case a.format == hourFormat && midnight(b.first):
		return b.first.Format(dayFormat)
	}
	return b.first.Format(a.format)
}

func midnight(t time.Time) bool { return t.Hour() == 0 && t.Minute() == 0 }

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func sameMonth(a, b time.Time) bool {
	ay, am, _ := a.Date()
	by, bm, _ := b.Date()
	return ay == by && am == bm
}
