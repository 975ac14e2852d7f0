// Package chart draws the dashboard's analytics charts as SVG on the
// server, so pages need no script: TimeSeries for clicks over time
// (GET /v1/stats?groupBy=timeseries) and Bars for top-N lists (countries,
// devices, browsers, OS, referrers, triggers, UTM values).
//
// Contract:
//
//   - Output is one <svg> element, safe to place in an html/template page
//     as is (template.HTML) and well-formed XML for any input: every text
//     that comes from data (labels, titles) is escaped, characters XML
//     forbids become U+FFFD, and nothing is emitted that a strict
//     Content-Security-Policy blocks — no script, no style attribute, no
//     <style>, no id (several charts may share a page).
//   - Colours are the page's: elements carry classes (chart, bar, hit,
//     grid, axis, tick, label, value, track, empty) and CSS is a starting
//     stylesheet to copy into the dashboard's own. Only layout travels as
//     presentation attributes, which CSP does not govern: text-anchor,
//     font-size on the root, fill="transparent" on the hover areas.
//   - The caller sizes a chart (Width, Height, RowHeight; viewBox and
//     width/height are set from them), so CSS may also scale it.
//   - TimeSeries draws one bar per bucket, in order, equal widths: buckets
//     are the API's, already in the viewer's zone, so a 23- or 25-hour day
//     is one bar like any other. Labels are read in each point's own
//     offset, never converted: hour "15:00" ("Dec 8" at midnight), day
//     "Dec 7", month "Dec 2026". When buckets would be narrower than 3px,
//     neighbours are summed into groups of a round size (hours dividing a
//     day, weeks, quarters…), so output is bounded by the width. X labels
//     never overlap: hours on round hours, or by day when crowded; days by
//     month once labels are four weeks apart. Titles name the year when a
//     series spans more than 300 days.
//   - The y axis starts at 0 and ends on a round tick: steps of 1, 2 or 5
//     times a power of ten, at most five intervals, never below 1.
//   - Every bar or row has a <title> ("Dec 7: 42 clicks") for hover and
//     screen readers; the chart has role="img" and an aria-label with the
//     total and the peak (TimeSeries) or the rows (Bars). No clicks at all
//     draws "No clicks in this period".
//   - Bars draws rows in the order given; bar lengths are relative to the
//     largest row, percentages to Total (the rows' sum when 0). Long labels
//     are cut with "…" and kept whole in the row's title. CountryName turns
//     a country code into its name for the countries list.
//   - Counts below 0 draw as 0 and above 10^15 as 10^15.
//
// The package uses the standard library only and holds no state.
package chart
