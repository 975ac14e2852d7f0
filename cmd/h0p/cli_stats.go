package main

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

// runStats is `h0p stats`: GET /v1/stats with the API's parameters as
// flags.
func runStats(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c := newAPICommand("stats", "stats [--group-by G] [--interval I | --start T --end T] [filters] [flags]",
		"Prints click counts: the total (default), a timeseries, or the top values of a grouping.\n"+
			"Filters take several values (repeat the flag, or separate with commas); a value\n"+
			"starting with \"-\" excludes it (--country=-US).", stdout, stderr, getenv)
	var (
		q       apiclient.StatsQuery
		filters = []struct {
			name  string
			dst   *[]string
			usage string
		}{
			{"domain", &q.Domain, "short domains"}, {"link-id", &q.LinkID, "link IDs"}, {"key", &q.Key, "link keys"},
			{"tag", &q.Tag, "tags"}, {"country", &q.Country, "country codes (US, FR, …)"},
			{"device", &q.Device, "devices (Desktop, Mobile, Tablet, …)"}, {"browser", &q.Browser, "browsers"},
			{"os", &q.OS, "operating systems"}, {"referer", &q.Referer, "referring hosts"},
			{"trigger", &q.Trigger, "link or qr"},
		}
	)
	c.fs.StringVar(&q.GroupBy, "group-by", "", "count (default), timeseries, countries, devices, browsers, os, referers, triggers, "+
		"top_links, top_domains, top_tags, utm_sources, utm_mediums or utm_campaigns")
	c.fs.StringVar(&q.Interval, "interval", "", "24h (default), 7d, 30d, 90d, 1y, mtd, ytd or all")
	c.fs.StringVar(&q.Start, "start", "", "start of the range instead of --interval: RFC 3339 time, or a date in --timezone")
	c.fs.StringVar(&q.End, "end", "", "end of the range (with --start)")
	c.fs.StringVar(&q.Timezone, "timezone", "", "IANA time zone of dates and timeseries buckets (default UTC)")
	c.fs.StringVar(&q.Granularity, "granularity", "", "timeseries buckets: hour, day or month (default: from the range)")
	c.fs.BoolVar(&q.Unique, "unique", false, "count unique visitors too")
	c.fs.StringVar(&q.Bots, "bots", "", "include or only (bots are left out by default)")
	c.fs.IntVar(&q.Limit, "limit", 0, "rows of a grouping")
	for _, f := range filters {
		c.fs.Var((*listFlag)(f.dst), f.name, "only clicks on these "+f.usage)
	}
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("stats: unexpected argument %q", pos[0])
	}
	raw, err := c.call(ctx, "GET", "/v1/stats", q.Values(), nil)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	s, err := apiclient.DecodeStats(q.GroupBy, raw)
	if err != nil {
		return err
	}
	visitors := func(v *int64) []string {
		if !q.Unique {
			return nil
		}
		if v == nil {
			return []string{"0"}
		}
		return []string{strconv.FormatInt(*v, 10)}
	}
	head := func(cols ...string) []string {
		if q.Unique {
			cols = append(cols, "VISITORS")
		}
		return cols
	}
	switch s.GroupBy {
	case "count":
		fs := []field{{"clicks", strconv.FormatInt(s.Clicks, 10)}}
		if q.Unique {
			fs = append(fs, field{"visitors", visitors(s.Visitors)[0]})
		}
		return c.fields(fs)
	case "timeseries":
		rows := make([][]string, len(s.Series))
		for i, p := range s.Series {
			rows[i] = append([]string{p.Start.Format("2006-01-02 15:04 -07:00"), strconv.FormatInt(p.Clicks, 10)}, visitors(p.Visitors)...)
		}
		return c.table(head("START", "CLICKS"), rows)
	case "top_links":
		rows := make([][]string, len(s.Rows))
		for i, r := range s.Rows {
			rows[i] = append([]string{r.Value, r.Domain + "/" + r.Key, clip(r.URL, 50), strconv.FormatInt(r.Clicks, 10)},
				visitors(r.Visitors)...)
		}
		return c.table(head("LINK", "DOMAIN/KEY", "URL", "CLICKS"), rows)
	}
	rows := make([][]string, len(s.Rows))
	for i, r := range s.Rows {
		v := r.Value
		if v == "" {
			v = "(none)"
		}
		rows[i] = append([]string{v, strconv.FormatInt(r.Clicks, 10)}, visitors(r.Visitors)...)
	}
	return c.table(head(strings.ToUpper(apiclient.StatsDimension(s.GroupBy)), "CLICKS"), rows)
}
