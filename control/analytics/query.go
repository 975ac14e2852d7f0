package analytics

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clicks"
)

// Query asks for an org's stats over [Start, End).
type Query struct {
	Org        string
	GroupBy    GroupBy
	Start, End time.Time
	// Interval is timeseries' bucket size; 0 chooses from the range
	// (DefaultInterval). Buckets begin at the zone's hour, midnight or
	// first of the month.
	Interval Interval
	Location *time.Location // nil: UTC
	Filter   Filter
	Unique   bool // also count visitors (see the package doc)
	Bots     Bots
	// LinkValues gives each link its values for GroupTopTags and the
	// GroupUTM groupings (its tags, its utm_source…): a click counts once
	// for each value of its link; links absent or without values are left
	// out. Link attributes live in control's SQL store, which supplies them
	// as they are when the query runs.
	LinkValues map[string][]string
	Limit      int // rows kept; 0 keeps all
}

// GroupBy is what a query counts by.
type GroupBy string

// The groupings of the stats API.
const (
	GroupCount        GroupBy = "count"
	GroupTimeseries   GroupBy = "timeseries"
	GroupCountries    GroupBy = "countries"
	GroupDevices      GroupBy = "devices"
	GroupBrowsers     GroupBy = "browsers"
	GroupOS           GroupBy = "os"
	GroupReferers     GroupBy = "referers"
	GroupTriggers     GroupBy = "triggers"
	GroupTopLinks     GroupBy = "top_links"
	GroupTopDomains   GroupBy = "top_domains"
	GroupTopTags      GroupBy = "top_tags"
	GroupUTMSources   GroupBy = "utm_sources"
	GroupUTMMediums   GroupBy = "utm_mediums"
	GroupUTMCampaigns GroupBy = "utm_campaigns"
)

// GroupBys lists every grouping, in the order the API documents them.
var GroupBys = []GroupBy{GroupCount, GroupTimeseries, GroupCountries, GroupDevices, GroupBrowsers, GroupOS,
	GroupReferers, GroupTriggers, GroupTopLinks, GroupTopDomains, GroupTopTags, GroupUTMSources,
	GroupUTMMediums, GroupUTMCampaigns}

// Dimension is the click field g groups by: DimTotal for count and
// timeseries, DimLink for top_links and the link-attribute groupings.
func (g GroupBy) Dimension() Dimension {
	switch g {
	case GroupCountries:
		return DimCountry
	case GroupDevices:
		return DimDevice
	case GroupBrowsers:
		return DimBrowser
	case GroupOS:
		return DimOS
	case GroupReferers:
		return DimReferer
	case GroupTriggers:
		return DimTrigger
	case GroupTopDomains:
		return DimDomain
	case GroupTopLinks, GroupTopTags, GroupUTMSources, GroupUTMMediums, GroupUTMCampaigns:
		return DimLink
	}
	return DimTotal
}

// ByLinkValues reports whether g's rows are Query.LinkValues' values
// rather than a click field's.
func (g GroupBy) ByLinkValues() bool {
	return g == GroupTopTags || g == GroupUTMSources || g == GroupUTMMediums || g == GroupUTMCampaigns
}

// Interval is a timeseries bucket size.
type Interval uint8

const (
	Hour Interval = iota + 1
	Day
	Month
)

func (iv Interval) String() string {
	switch iv {
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return ""
}

// Limits of timeseries buckets.
const (
	MaxHourRange = 48 * time.Hour // hour buckets only for ranges this long or shorter
	MaxBuckets   = 4000           // about 11 years of days
)

// DefaultInterval is the bucket size for a range: hours up to
// MaxHourRange, days up to 92 days, months beyond.
func DefaultInterval(start, end time.Time) Interval {
	switch d := end.Sub(start); {
	case d <= MaxHourRange:
		return Hour
	case d <= 92*24*time.Hour:
		return Day
	}
	return Month
}

// Bots says what a query does with clicks flagged as bots.
type Bots uint8

const (
	BotsExclude Bots = iota // the default
	BotsInclude
	BotsOnly
)

// Keep reports whether a click with the given bot flag is counted.
func (b Bots) Keep(bot bool) bool {
	switch b {
	case BotsInclude:
		return true
	case BotsOnly:
		return bot
	}
	return !bot
}

// Dimension is a click field stats group and filter by.
type Dimension uint8

const (
	DimTotal Dimension = iota // no field: every click has the value ""
	DimDomain
	DimCountry
	DimDevice
	DimBrowser
	DimOS
	DimReferer
	DimTrigger
	DimLink
)

// Dimensions are the click fields, DimTotal excluded.
var Dimensions = []Dimension{DimDomain, DimCountry, DimDevice, DimBrowser, DimOS, DimReferer, DimTrigger, DimLink}

// Values stats show for what a click leaves empty or encodes as a flag.
const (
	Unknown     = "Unknown"  // no country, device, browser, OS or domain
	Direct      = "(direct)" // no referer
	TriggerLink = "link"
	TriggerQR   = "qr"
)

// Value is c's value of d, as rows show it and filters match it.
func Value(d Dimension, c *clicks.Click) string {
	switch d {
	case DimDomain:
		return orUnknown(c.Domain)
	case DimCountry:
		return orUnknown(c.Country)
	case DimDevice:
		return orUnknown(c.Device)
	case DimBrowser:
		return orUnknown(c.Browser)
	case DimOS:
		return orUnknown(c.OS)
	case DimReferer:
		if c.RefererHost == "" {
			return Direct
		}
		return c.RefererHost
	case DimTrigger:
		if c.QR {
			return TriggerQR
		}
		return TriggerLink
	case DimLink:
		return c.LinkID
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// Match selects values of one dimension: those in In (any value when In
// is nil; none when In is empty but not nil) and not in Not. Link ids
// match exactly, other values without regard to ASCII case.
type Match struct {
	In  []string
	Not []string
}

// Any reports whether m selects every value.
func (m Match) Any() bool { return m.In == nil && len(m.Not) == 0 }

// And selects what both m and o select: a caller resolving a key or tag
// filter to link ids ands it with the linkId filter.
func (m Match) And(o Match) Match {
	out := Match{Not: append(slices.Clone(m.Not), o.Not...)}
	switch {
	case m.In == nil:
		out.In = slices.Clone(o.In)
	case o.In == nil:
		out.In = slices.Clone(m.In)
	default:
		out.In = []string{}
		for _, v := range m.In {
			if slices.Contains(o.In, v) {
				out.In = append(out.In, v)
			}
		}
	}
	return out
}

func (m Match) matches(v string, exact bool) bool {
	has := func(list []string) bool {
		for _, s := range list {
			if s == v || !exact && strings.EqualFold(s, v) {
				return true
			}
		}
		return false
	}
	return (m.In == nil || has(m.In)) && !has(m.Not)
}

// Filter selects clicks: every dimension's Match must hold. Key and tag
// filters are link attributes: the caller resolves them to link ids and
// ands them into Link.
type Filter struct {
	Domain, Link, Country, Device, Browser, OS, Referer, Trigger Match
}

// Get is the Match of dimension d (any for DimTotal).
func (f *Filter) Get(d Dimension) Match {
	switch d {
	case DimDomain:
		return f.Domain
	case DimLink:
		return f.Link
	case DimCountry:
		return f.Country
	case DimDevice:
		return f.Device
	case DimBrowser:
		return f.Browser
	case DimOS:
		return f.OS
	case DimReferer:
		return f.Referer
	case DimTrigger:
		return f.Trigger
	}
	return Match{}
}

// Set sets the Match of dimension d (DimTotal: nothing).
func (f *Filter) Set(d Dimension, m Match) {
	switch d {
	case DimDomain:
		f.Domain = m
	case DimLink:
		f.Link = m
	case DimCountry:
		f.Country = m
	case DimDevice:
		f.Device = m
	case DimBrowser:
		f.Browser = m
	case DimOS:
		f.OS = m
	case DimReferer:
		f.Referer = m
	case DimTrigger:
		f.Trigger = m
	}
}

// Matches reports whether value v of dimension d passes f.
func (f *Filter) Matches(d Dimension, v string) bool { return f.Get(d).matches(v, d == DimLink) }

// Keeps reports whether f selects c (bots aside).
func (f *Filter) Keeps(c *clicks.Click) bool {
	for _, d := range Dimensions {
		if m := f.Get(d); !m.Any() && !m.matches(Value(d, c), d == DimLink) {
			return false
		}
	}
	return true
}

// Check validates q and fills its defaults (Location, Interval). Errors
// on what a client sent are apierror VALIDATION_ERRORs naming the
// parameter: groupBy, start, granularity, trigger, limit.
func (q *Query) Check() error {
	if q.Org == "" {
		return errors.New("analytics: query without an org")
	}
	if !slices.Contains(GroupBys, q.GroupBy) {
		return apierror.Invalid("groupBy", "must be one of "+groupByList())
	}
	if err := checkRange(q.Start, q.End); err != nil {
		return err
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	if q.Limit < 0 {
		return apierror.Invalid("limit", "must not be negative")
	}
	if err := checkTrigger(q.Filter.Trigger); err != nil {
		return err
	}
	if q.GroupBy != GroupTimeseries {
		return nil
	}
	if q.Interval == 0 {
		q.Interval = DefaultInterval(q.Start, q.End)
	}
	if q.Interval < Hour || q.Interval > Month {
		return apierror.Invalid("granularity", "must be hour, day or month")
	}
	if q.Interval == Hour && q.End.Sub(q.Start) > MaxHourRange {
		return apierror.Invalid("granularity", "hour buckets need a range of at most 2 days")
	}
	if n := q.End.Sub(q.Start) / (23 * time.Hour); q.Interval == Day && n >= MaxBuckets {
		return apierror.Invalid("granularity", "too many day buckets for this range: use month")
	}
	return nil
}

// Check validates q and fills its Limit.
func (q *EventQuery) Check() error {
	if q.Org == "" {
		return errors.New("analytics: query without an org")
	}
	if err := checkRange(q.Start, q.End); err != nil {
		return err
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultEventLimit
	case q.Limit < 0 || q.Limit > MaxEventLimit:
		return apierror.Invalid("limit", "must be between 1 and 1000")
	}
	return checkTrigger(q.Filter.Trigger)
}

func checkRange(start, end time.Time) error {
	if start.IsZero() || end.IsZero() {
		return apierror.Invalid("start", "a range needs a start and an end")
	}
	if !start.Before(end) {
		return apierror.Invalid("start", "must be before end")
	}
	return nil
}

func checkTrigger(m Match) error {
	for _, v := range append(slices.Clone(m.In), m.Not...) {
		if !strings.EqualFold(v, TriggerLink) && !strings.EqualFold(v, TriggerQR) {
			return apierror.Invalid("trigger", "must be link or qr")
		}
	}
	return nil
}

func groupByList() string {
	s := make([]string, len(GroupBys))
	for i, g := range GroupBys {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

// Buckets returns the bucket boundaries of a checked timeseries query:
// b[0] ≤ Start < b[1] < … < b[n-1] < End ≤ b[n], each the start of an
// hour, day or month in q.Location (days and months follow its daylight
// saving changes: a day may last 23 or 25 hours). A bucket counts the
// clicks of [max(b[i], Start), min(b[i+1], End)). For any other grouping
// the one bucket is [Start, End).
func (q *Query) Buckets() []time.Time {
	if q.GroupBy != GroupTimeseries {
		return []time.Time{q.Start, q.End}
	}
	loc := q.Location
	b := []time.Time{truncate(q.Start.In(loc), q.Interval)}
	for t := b[0]; t.Before(q.End); {
		t = next(t, q.Interval)
		b = append(b, t)
	}
	return b
}

func truncate(t time.Time, iv Interval) time.Time {
	y, m, d := t.Date()
	switch iv {
	case Hour:
		return hourStart(t)
	case Day:
		return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
}

func next(t time.Time, iv Interval) time.Time {
	y, m, d := t.Date()
	switch iv {
	case Hour:
		// The next local hour, unless the offset changes before it: then
		// an hour on (Lord Howe's half-hour change makes a 30-minute
		// hour, whose start is no whole local hour).
		n := hourStart(t.Add(time.Hour))
		if !n.After(t) || !hourStart(n).Equal(n) {
			n = t.Add(time.Hour)
		}
		return n
	case Day:
		return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	}
	return time.Date(y, m+1, 1, 0, 0, 0, 0, t.Location())
}

// hourStart is the start of t's hour in t's zone: a whole UTC hour where
// the zone's offset is, a half past one in India.
func hourStart(t time.Time) time.Time {
	_, off := t.Zone()
	u := t.Unix()
	r := (u + int64(off)) % 3600
	if r < 0 {
		r += 3600
	}
	return time.Unix(u-r, 0).In(t.Location())
}
