package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Filters narrow stats, events and exports to clicks whose values are
// among those given (several values of one filter: any of them); a value
// starting with "-" excludes instead. Key and Tag name the link's key and
// tag as they are now.
type Filters struct {
	Domain, LinkID, Key, Tag, Country, Device, Browser, OS, Referer, Trigger []string
}

func (f Filters) add(v url.Values) {
	for _, p := range []struct {
		name   string
		values []string
	}{{"domain", f.Domain}, {"linkId", f.LinkID}, {"key", f.Key}, {"tag", f.Tag}, {"country", f.Country},
		{"device", f.Device}, {"browser", f.Browser}, {"os", f.OS}, {"referer", f.Referer}, {"trigger", f.Trigger}} {
		if len(p.values) > 0 {
			v.Set(p.name, strings.Join(p.values, ","))
		}
	}
}

// StatsQuery is a GET /v1/stats question. Zero fields are the API's
// defaults: the count of the last 24 hours in UTC, bots excluded.
type StatsQuery struct {
	// GroupBy: count, timeseries, countries, devices, browsers, os,
	// referers, triggers, top_links, top_domains, top_tags, utm_sources,
	// utm_mediums, utm_campaigns.
	GroupBy string
	// Interval (24h, 7d, 30d, 90d, 1y, mtd, ytd, all), or Start and End
	// (RFC 3339, or a date in Timezone).
	Interval, Start, End string
	Timezone             string // IANA name
	Granularity          string // timeseries buckets: hour, day or month
	Unique               bool   // count visitors too
	Bots                 string // include or only
	Limit                int    // rows
	Filters
}

// Values is q as query parameters (GET /v1/stats, and GET
// /v1/stats/export, which takes its range and filters).
func (q StatsQuery) Values() url.Values {
	v := url.Values{}
	set(v, "groupBy", q.GroupBy)
	set(v, "interval", q.Interval)
	set(v, "start", q.Start)
	set(v, "end", q.End)
	set(v, "timezone", q.Timezone)
	set(v, "granularity", q.Granularity)
	if q.Unique {
		v.Set("unique", "true")
	}
	set(v, "bots", q.Bots)
	setInt(v, "limit", q.Limit)
	q.Filters.add(v)
	return v
}

// Stats is an answer of GET /v1/stats: for the count, Clicks (and
// Visitors with Unique); for timeseries, Series; for a grouping, Rows,
// most clicks first.
type Stats struct {
	GroupBy  string
	Clicks   int64
	Visitors *int64
	Series   []StatsPoint
	Rows     []StatsRow
}

// StatsPoint is a timeseries bucket, by its start in the query's zone.
type StatsPoint struct {
	Start    time.Time `json:"start"`
	Clicks   int64     `json:"clicks"`
	Visitors *int64    `json:"visitors"`
}

// StatsRow is a group: its value (a country code, a device, a link's ID,
// …) under the name StatsDimension gives, and its counts. top_links rows
// carry the link's domain, key and URL too.
type StatsRow struct {
	Value    string
	Clicks   int64
	Visitors *int64
	Domain   string
	Key      string
	URL      string
}

// StatsDimension is the member that names a row's value for groupBy
// ("country" for countries, "linkId" for top_links, …); "" for count and
// timeseries.
func StatsDimension(groupBy string) string {
	switch groupBy {
	case "", "count", "timeseries":
		return ""
	case "countries":
		return "country"
	case "devices":
		return "device"
	case "browsers":
		return "browser"
	case "referers":
		return "referer"
	case "triggers":
		return "trigger"
	case "top_links":
		return "linkId"
	case "top_domains":
		return "domain"
	case "top_tags":
		return "tag"
	case "utm_sources":
		return "utm_source"
	case "utm_mediums":
		return "utm_medium"
	case "utm_campaigns":
		return "utm_campaign"
	}
	return groupBy // os
}

// GetStats asks GET /v1/stats.
func (c *Client) GetStats(ctx context.Context, q StatsQuery) (Stats, error) {
	var raw json.RawMessage
	if err := c.Do(ctx, "GET", "/v1/stats", q.Values(), nil, &raw); err != nil {
		return Stats{}, err
	}
	return DecodeStats(q.GroupBy, raw)
}

// DecodeStats reads a GET /v1/stats answer to a query grouped by groupBy.
func DecodeStats(groupBy string, raw []byte) (Stats, error) {
	s := Stats{GroupBy: groupBy}
	if s.GroupBy == "" {
		s.GroupBy = "count"
	}
	var err error
	switch dim := StatsDimension(groupBy); {
	case s.GroupBy == "count":
		var out struct {
			Clicks   int64  `json:"clicks"`
			Visitors *int64 `json:"visitors"`
		}
		err = json.Unmarshal(raw, &out)
		s.Clicks, s.Visitors = out.Clicks, out.Visitors
	case s.GroupBy == "timeseries":
		err = json.Unmarshal(raw, &s.Series)
		for _, p := range s.Series {
			s.Clicks += p.Clicks
		}
	default:
		var rows []map[string]any
		if err = json.Unmarshal(raw, &rows); err != nil {
			break
		}
		s.Rows = make([]StatsRow, len(rows))
		for i, r := range rows {
			row := StatsRow{Value: str(r[dim]), Clicks: num(r["clicks"]),
				Domain: str(r["domain"]), Key: str(r["key"]), URL: str(r["url"])}
			if v, ok := r["visitors"]; ok {
				row.Visitors = Ptr(num(v))
			}
			s.Rows[i] = row
			s.Clicks += row.Clicks
		}
	}
	if err != nil {
		return Stats{}, fmt.Errorf("apiclient: decoding stats: %w", err)
	}
	return s, nil
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	switch v := v.(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// EventQuery selects clicks for ListEvents, newest first: a range and
// filters as StatsQuery's, and a page.
type EventQuery struct {
	Interval, Start, End, Timezone, Bots string
	Filters
	Limit  int
	Cursor string
}

// Values is q as GET /v1/events' query parameters.
func (q EventQuery) Values() url.Values {
	v := url.Values{}
	set(v, "interval", q.Interval)
	set(v, "start", q.Start)
	set(v, "end", q.End)
	set(v, "timezone", q.Timezone)
	set(v, "bots", q.Bots)
	q.Filters.add(v)
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	return v
}

// Event is one click.
type Event struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	LinkID    string    `json:"linkId"`
	Domain    string    `json:"domain"`
	Key       string    `json:"key"`
	Country   string    `json:"country"`
	Device    string    `json:"device"`
	Browser   string    `json:"browser"`
	OS        string    `json:"os"`
	Referer   string    `json:"referer"`
	Trigger   string    `json:"trigger"`
	Bot       bool      `json:"bot"`
}

// ListEvents reads one page of clicks (GET /v1/events).
func (c *Client) ListEvents(ctx context.Context, q EventQuery) (Page[Event], error) {
	var p Page[Event]
	return p, c.Do(ctx, "GET", "/v1/events", q.Values(), nil, &p)
}

// AllEvents yields every click q selects, newest first.
func (c *Client) AllEvents(ctx context.Context, q EventQuery) iter.Seq2[Event, error] {
	return all(ctx, q.Cursor, func(ctx context.Context, cursor string) (Page[Event], error) {
		q.Cursor = cursor
		return c.ListEvents(ctx, q)
	})
}
