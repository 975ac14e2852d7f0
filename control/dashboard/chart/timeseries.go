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
	span := " on " + longLabel(points[0].Start, bucket)
	if len(points) > 1 {
		span = " from " + longLabel(points[0].Start, bucket) + " to " + longLabel(points[len(points)-1].Start, bucket)
	}
	s.open("chart-timeseries", w, h, title+": "+clicks(total)+span+"; peak "+clicks(peak)+" on "+
		longLabel(points[peakAt].Start, bucket))

	// Group for the widest y labels any bar could need (the total's), then
	// scale to the tallest bar: the plot only widens, bars stay ≥ minPitch.
	widest := leftMargin(yTicks(total))
	bars := group(points, bucket, int((float64(w)-widest-tsRight)/minPitch))
	var tallest int64
	for _, b := range bars {
		tallest = max(tallest, b.clicks)
	}
	ticks := yTicks(tallest)
	top := ticks[len(ticks)-1]
	left := leftMargin(ticks)
	pw, ph := max(float64(w)-left-tsRight, 1), float64(h-tsTop-tsBottom)
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
		s.title(longLabel(b.first, bucket) + rangeEnd(b, bucket) + ": " + clicks(b.clicks))
		s.rect("hit", x, tsTop, pitch, ph, `fill="transparent"`)
		if b.clicks > 0 {
			bh := max(base-y(b.clicks), 1)
			s.rect("bar", x+(pitch-bw)/2, base-bh, bw, bh, "")
		}
		s.b.WriteString("</g>\n")
	}
	s.line("axis", left, base, left+pw, base)

	every, onHours := labelEvery(bars, bucket, pitch)
	last := -every
	for i, b := range bars {
		if i-last < every || !labelled(i, b.first, every, onHours) {
			continue
		}
		last = i
		s.text("tick", left+(float64(i)+0.5)*pitch, float64(h-6), "middle", axisLabel(b.first, bucket))
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
func group(points []Point, bucket Bucket, maxBars int) []bar {
	maxBars = max(maxBars, 1)
	size := 0
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
		for _, p := range points[i:j] {
			b.clicks = clamp(b.clicks + clamp(p.Clicks))
		}
		out = append(out, b)
	}
	return out
}

// longLabel names a bucket start in titles and the aria-label.
func longLabel(t time.Time, bucket Bucket) string {
	switch bucket {
	case Hour:
		return t.Format("Jan 2, 15:04")
	case Month:
		return t.Format("Jan 2006")
	}
	return t.Format("Jan 2")
}

// rangeEnd is " – <last>" for a bar summing several buckets.
func rangeEnd(b bar, bucket Bucket) string {
	if b.last.Equal(b.first) {
		return ""
	}
	return " – " + longLabel(b.last, bucket)
}

// axisLabel is an x axis label: the hour, or the day at midnight; the day;
// the month and year.
func axisLabel(t time.Time, bucket Bucket) string {
	switch bucket {
	case Hour:
		if t.Hour() == 0 && t.Minute() == 0 {
			return t.Format("Jan 2")
		}
		return t.Format("15:04")
	case Month:
		return t.Format("Jan 2006")
	}
	return t.Format("Jan 2")
}

// labelEvery is how many bars apart x labels must be not to overlap.
// Single hours get a divisor of 24 and onHours, so labels fall on round
// hours.
func labelEvery(bars []bar, bucket Bucket, pitch float64) (n int, onHours bool) {
	widest := 0.0
	for _, b := range bars {
		widest = max(widest, textWidth(axisLabel(b.first, bucket)))
	}
	need := max(int(math.Ceil((widest+8)/pitch)), 1)
	if bucket == Hour && len(bars) > 0 && bars[0].last.Equal(bars[0].first) {
		for _, d := range []int{1, 2, 3, 4, 6, 12, 24} {
			if d >= need {
				return d, true
			}
		}
	}
	return need, false
}

// labelled reports whether bar i, starting at t, may get an x label: on
// hours a multiple of n, or every n bars from the first.
func labelled(i int, t time.Time, n int, onHours bool) bool {
	if onHours {
		return t.Minute() == 0 && t.Hour()%n == 0
	}
	return i%n == 0
}
