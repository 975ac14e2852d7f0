package analytics

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even where the host has no zoneinfo

	"github.com/h0p/h0p/shared/apierror"
)

// The parse helpers read the stats API's query parameters. Each error is an
// apierror VALIDATION_ERROR naming the parameter.

// ParseGroupBy reads groupBy; "" is count.
func ParseGroupBy(s string) (GroupBy, error) {
	if s == "" {
		return GroupCount, nil
	}
	if g := GroupBy(s); slices.Contains(GroupBys, g) {
		return g, nil
	}
	return "", apierror.Invalid("groupBy", fmt.Sprintf("unknown grouping %q: use one of %s", s, groupByList()))
}

// ParseGranularity reads granularity, timeseries' bucket size (hour, day
// or month); "" is 0, the default for the range (DefaultInterval).
func ParseGranularity(s string) (Interval, error) {
	for _, iv := range []Interval{Hour, Day, Month} {
		if s == iv.String() {
			return iv, nil
		}
	}
	if s == "" {
		return 0, nil
	}
	return 0, apierror.Invalid("granularity", fmt.Sprintf("unknown granularity %q: use hour, day or month", s))
}

// ParseTimezone reads timezone, an IANA zone name; "" is UTC.
func ParseTimezone(s string) (*time.Location, error) {
	if s == "" || s == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "Local" {
		return nil, apierror.Invalid("timezone", fmt.Sprintf("unknown time zone %q: use an IANA name such as Europe/Paris", s))
	}
	return loc, nil
}

// ParseBots reads bots: "" or exclude, include, only.
func ParseBots(s string) (Bots, error) {
	switch s {
	case "", "exclude":
		return BotsExclude, nil
	case "include":
		return BotsInclude, nil
	case "only":
		return BotsOnly, nil
	}
	return 0, apierror.Invalid("bots", fmt.Sprintf("unknown value %q: use include or only (bots are excluded by default)", s))
}

// ParseTime reads a range end named param: RFC 3339, or a date
// (2026-12-01), which is that day's midnight in loc.
func ParseTime(param, s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, apierror.Invalid(param, fmt.Sprintf("%q is not an RFC 3339 time or a date (2026-12-01)", s))
}

// Intervals are the range presets of the interval parameter.
var Intervals = []string{"24h", "7d", "30d", "90d", "1y", "mtd", "ytd", "all"}

// ParseRange reads the range: interval (one of Intervals: the last 24
// hours, 7, 30 or 90 days, a year; the month or year to date in loc; all
// of what the plan keeps, back to keepFrom) or start and end. end defaults
// to now; without either, the range is the last 24 hours. interval with
// start or end, and start not before end, are refused.
func ParseRange(interval, start, end string, loc *time.Location, now, keepFrom time.Time) (time.Time, time.Time, error) {
	if interval != "" {
		if start != "" || end != "" {
			return time.Time{}, time.Time{}, apierror.Invalid("interval", "give interval, or start and end, not both")
		}
		local := now.In(loc)
		var s time.Time
		switch interval {
		case "24h":
			s = now.Add(-24 * time.Hour)
		case "7d", "30d", "90d":
			days := map[string]int{"7d": 7, "30d": 30, "90d": 90}[interval]
			s = now.Add(-time.Duration(days) * 24 * time.Hour)
		case "1y":
			s = now.AddDate(-1, 0, 0)
		case "mtd":
			s = time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
		case "ytd":
			s = time.Date(local.Year(), 1, 1, 0, 0, 0, 0, loc)
		case "all":
			s = keepFrom
		default:
			return time.Time{}, time.Time{}, apierror.Invalid("interval",
				fmt.Sprintf("unknown interval %q: use one of %s", interval, strings.Join(Intervals, ", ")))
		}
		return s, now, nil
	}
	e := now
	if end != "" {
		var err error
		if e, err = ParseTime("end", end, loc); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	s := e.Add(-24 * time.Hour)
	if start != "" {
		var err error
		if s, err = ParseTime("start", start, loc); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if err := checkRange(s, e); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return s, e, nil
}

// ParseMatch reads a filter parameter's values (repeated, or
// comma-separated): a value selects, a value after "-" (or "!") excludes
// ("country=US,BR", "country=-US"). No values selects everything.
// Trigger values must be link or qr; countries are upper-cased.
func ParseMatch(param string, values []string) (Match, error) {
	var m Match
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			not := strings.HasPrefix(item, "-") || strings.HasPrefix(item, "!")
			if not {
				item = strings.TrimSpace(item[1:])
			}
			if item == "" {
				continue
			}
			if param == "country" {
				item = strings.ToUpper(item)
			}
			if not {
				m.Not = append(m.Not, item)
			} else {
				m.In = append(m.In, item)
			}
		}
	}
	if param == "trigger" {
		if err := checkTrigger(m); err != nil {
			return Match{}, err
		}
	}
	return m, nil
}

// FilterParams are the stats API's filter parameters and the dimension
// each filters. key and tag, link attributes, are not among them: the
// caller resolves them to link ids and ands them into Filter.Link.
var FilterParams = map[string]Dimension{"domain": DimDomain, "linkId": DimLink, "country": DimCountry,
	"device": DimDevice, "browser": DimBrowser, "os": DimOS, "referer": DimReferer, "trigger": DimTrigger}

// ParseFilter reads every parameter of FilterParams with ParseMatch;
// values gives a parameter's values (url.Values.Get's plural).
func ParseFilter(values func(param string) []string) (Filter, error) {
	var f Filter
	for param, d := range FilterParams {
		m, err := ParseMatch(param, values(param))
		if err != nil {
			return Filter{}, err
		}
		f.Set(d, m)
	}
	return f, nil
}

// ParseUnique reads unique: "", false or true.
func ParseUnique(s string) (bool, error) {
	switch s {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, apierror.Invalid("unique", "must be true or false")
}

// CheckRetention refuses a range starting before what plan keeps (keep,
// its retention; 0 keeps everything): PLAN_LIMIT_REACHED naming it.
func CheckRetention(start, now time.Time, keep time.Duration, plan string) error {
	if keep <= 0 || !start.Before(now.Add(-keep)) {
		return nil
	}
	days := int(keep / (24 * time.Hour))
	return &apierror.Error{Code: apierror.PlanLimitReached,
		Message: fmt.Sprintf("the %s plan keeps %d days of clicks: start must be on or after %s",
			plan, days, now.Add(-keep).UTC().Format(time.RFC3339)),
		Details: []apierror.Detail{{Field: "start", Reason: fmt.Sprintf("beyond the %d-day retention of the %s plan", days, plan)}}}
}

// Cursors of Events: the time and id of the last click of a page, opaque
// to clients.

// EncodeCursor is the cursor after a click at t with id.
func EncodeCursor(t time.Time, id [16]byte) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	copy(b[8:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(s string) (time.Time, [16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return time.Time{}, id, apierror.Invalid("cursor", "not a cursor this API gave")
	}
	copy(id[:], b[8:])
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))).UTC(), id, nil
}
