package chart

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fontSize is the root's font size in px; label widths are estimated from
// it, so a stylesheet that changes it much should also change the sizes.
const fontSize = 11

// charWidth is the estimated advance of one character at fontSize: a bit
// above the average of a sans-serif's digits and lowercase letters.
const charWidth = 6.6

// maxCount is the largest count drawn; larger counts draw as this.
const maxCount = 1e15

// CSS is a starting stylesheet for the charts' classes, to copy into the
// dashboard's own (a style attribute or element would break its CSP).
const CSS = `.chart { font-family: system-ui, sans-serif; color: #1f2937; }
.chart .bar { fill: #4f46e5; }
.chart g:hover .bar { fill: #3730a3; }
.chart .track { fill: #eef2ff; }
.chart .grid { stroke: #e5e7eb; stroke-width: 1; }
.chart .axis { stroke: #9ca3af; stroke-width: 1; }
.chart .tick, .chart .value { fill: #6b7280; }
.chart .label { fill: currentColor; }
.chart .empty { fill: #6b7280; font-size: 13px; }
`

// svg builds one SVG document. Every text and attribute value from data
// goes through esc.
type svg struct{ b strings.Builder }

func (s *svg) open(class string, w, h int, label string) {
	s.b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart `)
	s.b.WriteString(class)
	s.b.WriteString(`" viewBox="0 0 `)
	s.b.WriteString(strconv.Itoa(w) + " " + strconv.Itoa(h))
	s.b.WriteString(`" width="` + strconv.Itoa(w) + `" height="` + strconv.Itoa(h))
	s.b.WriteString(`" font-size="` + strconv.Itoa(fontSize) + `" role="img" aria-label="`)
	s.esc(label)
	s.b.WriteString("\">\n")
}

func (s *svg) close() string {
	s.b.WriteString("</svg>\n")
	return s.b.String()
}

// esc writes v escaped for XML text and attribute values alike; it also
// escapes quotes and turns characters XML forbids into U+FFFD.
func (s *svg) esc(v string) {
	_ = xml.EscapeText(&s.b, []byte(v)) // a strings.Builder never fails
}

func (s *svg) title(v string) {
	s.b.WriteString("<title>")
	s.esc(v)
	s.b.WriteString("</title>")
}

// rect writes a rect of class; attrs are trusted (constants).
func (s *svg) rect(class string, x, y, w, h float64, attrs string) {
	s.b.WriteString(`<rect class="` + class + `" x="` + num(x) + `" y="` + num(y) +
		`" width="` + num(w) + `" height="` + num(h) + `"`)
	if attrs != "" {
		s.b.WriteString(" " + attrs)
	}
	s.b.WriteString("/>")
}

func (s *svg) line(class string, x1, y1, x2, y2 float64) {
	s.b.WriteString(`<line class="` + class + `" x1="` + num(x1) + `" y1="` + num(y1) +
		`" x2="` + num(x2) + `" y2="` + num(y2) + "\"/>\n")
}

// text writes a text element; anchor is start, middle or end.
func (s *svg) text(class string, x, y float64, anchor, v string) {
	s.b.WriteString(`<text class="` + class + `" x="` + num(x) + `" y="` + num(y) + `"`)
	if anchor != "start" {
		s.b.WriteString(` text-anchor="` + anchor + `"`)
	}
	s.b.WriteString(`>`)
	s.esc(v)
	s.b.WriteString("</text>")
}

// num formats a coordinate with at most two decimals.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// clamp bounds a count to what is drawn.
func clamp(n int64) int64 { return max(0, min(n, maxCount)) }

// count formats n with thousands separators: "1,234".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// clicks is "1 click", "1,234 clicks".
func clicks(n int64) string {
	if n == 1 {
		return "1 click"
	}
	return count(n) + " clicks"
}

// compact formats an axis value: 900, 1.5k, 20k, 1M.
func compact(n int64) string {
	units := []struct {
		size   int64
		suffix string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}}
	for _, u := range units {
		if n >= u.size {
			return strconv.FormatFloat(math.Round(float64(n)/float64(u.size)*10)/10, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// truncate cuts v to at most n runes, the last being "…" when cut.
func truncate(v string, n int) string {
	if n < 1 {
		n = 1
	}
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	r := []rune(v)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// textWidth estimates the rendered width of v in px.
func textWidth(v string) float64 { return float64(utf8.RuneCountInString(v)) * charWidth }
