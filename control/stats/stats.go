// Package stats is the stats resource: GET /v1/stats, GET /v1/events and
// GET /v1/stats/export. It reads the query parameters, checks the range
// against the org's plan retention, resolves what clicks do not carry — a
// link's key, its tags, its UTM parameters, as they are now — from the
// control store, and asks the click store (control/analytics).
//
// Parameters: groupBy (count, timeseries, countries, devices, browsers, os,
// referers, triggers, top_links, top_domains, top_tags, utm_sources,
// utm_mediums, utm_campaigns); interval (24h, 7d, 30d, 90d, 1y, mtd, ytd,
// all) or start and end (RFC 3339 or a date in timezone); timezone (IANA);
// granularity (hour, day, month: timeseries buckets, chosen from the range
// when absent); the filters domain, linkId, key, tag, country, device,
// browser, os, referer, trigger, each taking several values, comma-separated
// or repeated, a value after "-" excluding it; unique (true: visitors too);
// bots (include, only; excluded by default); limit (rows, events). Any other
// parameter is a VALIDATION_ERROR naming it. A link id, key or tag the org
// does not have is NOT_FOUND; a range starting before the plan's retention
// is PLAN_LIMIT_REACHED.
//
// A group row names its dimension: {"country":"US","clicks":80}; top_links
// rows carry the link's id, domain and key. Timeseries points start at
// their bucket's start in the query's zone.
package stats

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/linkcsv"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clicks"
)

// Service answers stats requests.
type Service struct {
	Store  store.Store
	Clicks analytics.Store
	Now    func() time.Time
}

// Stats answers GET /v1/stats: {"clicks"[,"visitors"]} for count, a list
// of points or rows otherwise.
func (s *Service) Stats(ctx context.Context, p access.Principal, v url.Values) (any, error) {
	if err := known(v, statsParams); err != nil {
		return nil, err
	}
	q, err := s.query(ctx, p, v)
	if err != nil {
		return nil, err
	}
	if q.Limit, err = limit(v.Get("limit"), 0, 1000); err != nil {
		return nil, err
	}
	if q.GroupBy.ByLinkValues() {
		if err = s.linkValues(ctx, &q); err != nil {
			return nil, err
		}
	}
	res, err := s.Clicks.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	switch q.GroupBy {
	case analytics.GroupCount:
		out := map[string]int64{"clicks": res.Clicks}
		if q.Unique {
			out["visitors"] = res.Visitors
		}
		return out, nil
	case analytics.GroupTimeseries:
		out := make([]map[string]any, len(res.Series))
		for i, pt := range res.Series {
			out[i] = map[string]any{"start": pt.Start.In(q.Location).Format(time.RFC3339), "clicks": pt.Clicks}
			if q.Unique {
				out[i]["visitors"] = pt.Visitors
			}
		}
		return out, nil
	}
	rows, err := s.rows(ctx, q, res.Rows)
	return rows, err
}

// rowNames is the field that names a row's value, per grouping.
var rowNames = map[analytics.GroupBy]string{
	analytics.GroupCountries: "country", analytics.GroupDevices: "device", analytics.GroupBrowsers: "browser",
	analytics.GroupOS: "os", analytics.GroupReferers: "referer", analytics.GroupTriggers: "trigger",
	analytics.GroupTopLinks: "linkId", analytics.GroupTopDomains: "domain", analytics.GroupTopTags: "tag",
	analytics.GroupUTMSources: "utm_source", analytics.GroupUTMMediums: "utm_medium", analytics.GroupUTMCampaigns: "utm_campaign",
}

func (s *Service) rows(ctx context.Context, q analytics.Query, rows []analytics.Row) ([]map[string]any, error) {
	var byID map[string]store.Link
	if q.GroupBy == analytics.GroupTopLinks {
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.Value
		}
		var err error
		if byID, err = s.linksByID(ctx, q.Org, ids); err != nil {
			return nil, err
		}
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		row := map[string]any{rowNames[q.GroupBy]: r.Value, "clicks": r.Clicks}
		if q.Unique {
			row["visitors"] = r.Visitors
		}
		if l, ok := byID[r.Value]; ok {
			row["domain"], row["key"], row["url"] = l.Domain, l.Key, l.URL
		}
		out[i] = row
	}
	return out, nil
}

// utmParams are the UTM parameter each UTM grouping reads.
var utmParams = map[analytics.GroupBy]string{analytics.GroupUTMSources: "source",
	analytics.GroupUTMMediums: "medium", analytics.GroupUTMCampaigns: "campaign"}

// linkValues gives q the org's links that have a value for its grouping
// (tag names, or a UTM parameter) and narrows its link filter to them:
// links without one count in no row, so the click store reads only the
// links that have one (none: nothing).
func (s *Service) linkValues(ctx context.Context, q *analytics.Query) error {
	var (
		vs  []store.LinkValue
		err error
	)
	if q.GroupBy == analytics.GroupTopTags {
		vs, err = s.Store.LinkTagNames(ctx, q.Org)
	} else {
		vs, err = s.Store.LinkUTMValues(ctx, q.Org, utmParams[q.GroupBy])
	}
	if err != nil {
		return err
	}
	q.LinkValues = make(map[string][]string)
	ids := []string{}
	for _, v := range vs {
		if _, ok := q.LinkValues[v.LinkID]; !ok {
			ids = append(ids, v.LinkID)
		}
		q.LinkValues[v.LinkID] = append(q.LinkValues[v.LinkID], v.Value)
	}
	if in := q.Filter.Link.In; in != nil { // a linkId, key or tag filter too
		sel := make(map[string]bool, len(in))
		for _, id := range in {
			sel[id] = true
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return !sel[id] })
	}
	q.Filter.Link.In = ids
	return nil
}

// linksByID reads the org's links of ids (others are left out).
func (s *Service) linksByID(ctx context.Context, org string, ids []string) (map[string]store.Link, error) {
	out := map[string]store.Link{}
	for chunk := range slices.Chunk(ids, 500) {
		ls, err := s.Store.LinksByID(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if l.OrgID == org {
				out[l.ID] = l
			}
		}
	}
	return out, nil
}

// EventsPage is GET /v1/events' answer.
type EventsPage struct {
	Data       []Event `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// Event is one click as the API shows it, as link.clicked events do.
type Event = links.ClickView

// Events answers GET /v1/events: an org's clicks, newest first.
func (s *Service) Events(ctx context.Context, p access.Principal, v url.Values) (EventsPage, error) {
	if err := known(v, eventParams); err != nil {
		return EventsPage{}, err
	}
	q, err := s.query(ctx, p, v)
	if err != nil {
		return EventsPage{}, err
	}
	eq := analytics.EventQuery{Org: q.Org, Start: q.Start, End: q.End, Filter: q.Filter, Bots: q.Bots, Cursor: v.Get("cursor")}
	if eq.Limit, err = limit(v.Get("limit"), analytics.DefaultEventLimit, analytics.MaxEventLimit); err != nil {
		return EventsPage{}, err
	}
	page, err := s.Clicks.Events(ctx, eq)
	if err != nil {
		return EventsPage{}, err
	}
	ids := make([]string, 0, len(page.Events))
	for _, c := range page.Events {
		ids = append(ids, c.LinkID)
	}
	byID, err := s.linksByID(ctx, q.Org, slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return EventsPage{}, err
	}
	out := EventsPage{Data: make([]Event, len(page.Events))}
	for i := range page.Events {
		out.Data[i] = eventOf(&page.Events[i], byID[page.Events[i].LinkID].Key)
	}
	if page.Next != "" {
		out.NextCursor = &page.Next
	}
	return out, nil
}

func eventOf(c *clicks.Click, key string) Event { return links.ClickViewOf(c, key) }

// ExportColumns are the columns of GET /v1/stats/export.
var ExportColumns = []string{"timestamp", "id", "linkId", "domain", "key", "country", "device", "browser", "os",
	"referer", "trigger", "bot"}

// Export writes GET /v1/stats/export: the org's clicks matching the
// query, oldest first, as CSV, flushing every 1,000 rows. Parameters are
// checked before anything is written.
func (s *Service) Export(ctx context.Context, p access.Principal, v url.Values, w io.Writer) error {
	if err := known(v, exportParams); err != nil {
		return err
	}
	q, err := s.query(ctx, p, v)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	keys := map[string]string{}
	n := 0
	write := func(rec []string) error {
		for i := range rec {
			rec[i] = linkcsv.Guard(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	}
	if err := write(slices.Clone(ExportColumns)); err != nil {
		return err
	}
	err = s.Clicks.Export(ctx, analytics.EventQuery{Org: q.Org, Start: q.Start, End: q.End, Filter: q.Filter, Bots: q.Bots},
		func(c *clicks.Click) error {
			key, ok := keys[c.LinkID]
			if !ok {
				byID, err := s.linksByID(ctx, q.Org, []string{c.LinkID})
				if err != nil {
					return err
				}
				key = byID[c.LinkID].Key
				keys[c.LinkID] = key
			}
			e := eventOf(c, key)
			return write([]string{e.Timestamp, e.ID, e.LinkID, e.Domain, e.Key, e.Country, e.Device, e.Browser, e.OS,
				e.Referer, e.Trigger, strconv.FormatBool(e.Bot)})
		})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// The parameters each endpoint takes.
var (
	filterParams = []string{"domain", "linkId", "key", "tag", "country", "device", "browser", "os", "referer", "trigger"}
	rangeParams  = []string{"interval", "start", "end", "timezone", "bots"}
	statsParams  = append(append([]string{"groupBy", "granularity", "unique", "limit"}, rangeParams...), filterParams...)
	eventParams  = append(append([]string{"limit", "cursor"}, rangeParams...), filterParams...)
	exportParams = append(slices.Clone(rangeParams), filterParams...)
)

func known(v url.Values, params []string) error {
	for name := range v {
		if !slices.Contains(params, name) {
			return apierror.Invalid(name, "is not a parameter of this endpoint")
		}
	}
	return nil
}

func limit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, apierror.Invalid("limit", fmt.Sprintf("must be 1 to %d", max))
	}
	return n, nil
}

// query reads what every endpoint shares: the range (within the plan's
// retention), the zone, bots, groupBy, granularity, unique and the
// filters, key and tag resolved to the org's link ids.
func (s *Service) query(ctx context.Context, p access.Principal, v url.Values) (analytics.Query, error) {
	q := analytics.Query{Org: p.OrgID}
	org, err := s.Store.Org(ctx, p.OrgID)
	if err != nil {
		return q, err
	}
	plan := plans.Get(org.Plan)
	now := s.Now().UTC()
	if q.Location, err = analytics.ParseTimezone(v.Get("timezone")); err != nil {
		return q, err
	}
	keepFrom := now.Add(-plan.Retention)
	if q.Start, q.End, err = analytics.ParseRange(v.Get("interval"), v.Get("start"), v.Get("end"), q.Location, now, keepFrom); err != nil {
		return q, err
	}
	if err := analytics.CheckRetention(q.Start, now, plan.Retention, string(plan.Name)); err != nil {
		return q, err
	}
	if q.GroupBy, err = analytics.ParseGroupBy(v.Get("groupBy")); err != nil {
		return q, err
	}
	if q.Interval, err = analytics.ParseGranularity(v.Get("granularity")); err != nil {
		return q, err
	}
	if q.Unique, err = analytics.ParseUnique(v.Get("unique")); err != nil {
		return q, err
	}
	if q.Bots, err = analytics.ParseBots(v.Get("bots")); err != nil {
		return q, err
	}
	if q.Filter, err = analytics.ParseFilter(func(param string) []string { return v[param] }); err != nil {
		return q, err
	}
	if err := s.ownLinks(ctx, p.OrgID, q.Filter.Link); err != nil {
		return q, err
	}
	for _, param := range []string{"key", "tag"} {
		m, err := analytics.ParseMatch(param, v[param])
		if err != nil || m.Any() {
			if err != nil {
				return q, err
			}
			continue
		}
		if m, err = s.resolve(ctx, p.OrgID, param, m); err != nil {
			return q, err
		}
		q.Filter.Link = q.Filter.Link.And(m)
	}
	return q, q.Check()
}

// ownLinks refuses link ids that are not the org's: NOT_FOUND, as for
// every object of another org.
func (s *Service) ownLinks(ctx context.Context, org string, m analytics.Match) error {
	ids := append(slices.Clone(m.In), m.Not...)
	if len(ids) == 0 {
		return nil
	}
	byID, err := s.linksByID(ctx, org, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			return apierror.New(apierror.NotFound, "link %s not found", id)
		}
	}
	return nil
}

// resolve turns a key or tag Match into one of the org's link ids; a key
// or tag the org does not have is NOT_FOUND.
func (s *Service) resolve(ctx context.Context, org, param string, m analytics.Match) (analytics.Match, error) {
	ids := func(values []string) ([]string, error) {
		if len(values) == 0 {
			return nil, nil
		}
		if param == "key" {
			ls, err := s.Store.LinksByKeys(ctx, org, values)
			if err != nil {
				return nil, err
			}
			out := make([]string, len(ls))
			found := map[string]bool{}
			for i, l := range ls {
				out[i], found[l.Key] = l.ID, true
			}
			for _, k := range values {
				if !found[k] {
					return nil, apierror.New(apierror.NotFound, "no link with key %q", k)
				}
			}
			return out, nil
		}
		var tagIDs []string
		for _, name := range values {
			t, err := s.Store.TagByName(ctx, org, name)
			if isNotFound(err) {
				return nil, apierror.New(apierror.NotFound, "tag %q not found", name)
			}
			if err != nil {
				return nil, err
			}
			tagIDs = append(tagIDs, t.ID)
		}
		return s.Store.LinkIDsByTags(ctx, org, tagIDs)
	}
	in, err := ids(m.In)
	if err != nil {
		return m, err
	}
	not, err := ids(m.Not)
	if err != nil {
		return m, err
	}
	out := analytics.Match{Not: not}
	if m.In != nil {
		out.In = append([]string{}, in...) // none found: selects nothing
	}
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
