package usage

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// intervals a report may cover, by name.
var intervals = map[string]time.Duration{
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// DefaultInterval is the interval of a report that names none.
const DefaultInterval = "30d"

// TopRoutes bounds the routes of a caller's report.
const TopRoutes = 10

// Groupings of an org's report, as the API names them.
var groupings = map[string]string{
	"key":    store.UsageByCaller,
	"route":  store.UsageByRoute,
	"status": store.UsageByStatus,
}

// Span is the days a report covers, both included ("2006-01-02", UTC).
type Span struct {
	Interval string `json:"interval"`
	From     string `json:"from"`
	To       string `json:"to"`
}

// Totals are the counts of a set of requests.
type Totals struct {
	Requests    int64 `json:"requests"`
	Errors      int64 `json:"errors"`
	RateLimited int64 `json:"rateLimited"`
}

// Row is one group of a report: a day, a route, a status class or a caller
// (the API names the caller), with its counts and last request.
type Row struct {
	Day    string `json:"day,omitempty"`
	Route  string `json:"route,omitempty"`
	Status string `json:"status,omitempty"`
	Kind   string `json:"-"`
	ID     string `json:"-"`
	Totals
	LastUsedAt *string `json:"lastUsedAt"`
}

// CallerReport is one caller's usage over a span: totals, the last
// request, every day (zeros included), the most used routes and the
// status classes.
type CallerReport struct {
	Span
	Totals
	LastUsedAt *string `json:"lastUsedAt"`
	Days       []Row   `json:"days"`
	Routes     []Row   `json:"routes"`
	Statuses   []Row   `json:"statuses"`
}

// ParseInterval reads an interval's name ("" is DefaultInterval) into the
// days it covers at now.
func ParseInterval(name string, now time.Time) (Span, error) {
	if name == "" {
		name = DefaultInterval
	}
	d, ok := intervals[name]
	if !ok {
		return Span{}, apierror.Invalid("interval", "must be one of 24h, 7d, 30d, 90d")
	}
	now = now.UTC()
	return Span{Interval: name, From: now.Add(-d).Format(time.DateOnly), To: now.Format(time.DateOnly)}, nil
}

// ParseGroupBy checks an org report's grouping: key, route or status.
func ParseGroupBy(name string) (string, error) {
	if _, ok := groupings[name]; !ok {
		return "", apierror.Invalid("groupBy", "must be one of key, route, status")
	}
	return name, nil
}

// Caller is c's report over span. It flushes this node's counts first.
func (r *Recorder) Caller(ctx context.Context, c Caller, span Span) (CallerReport, error) {
	if err := r.Flush(ctx); err != nil {
		return CallerReport{}, err
	}
	f := store.APIUsageFilter{OrgID: c.OrgID, From: span.From, To: span.To, PrincipalKind: c.Kind, PrincipalID: c.ID}
	rep := CallerReport{Span: span}
	total, err := r.Store.SumAPIUsage(ctx, f, store.UsageTotal)
	if err != nil {
		return rep, err
	}
	if len(total) == 1 {
		rep.Totals, rep.LastUsedAt = totals(total[0]), timeOf(total[0].LastUsedAt)
	}
	days, err := r.Store.SumAPIUsage(ctx, f, store.UsageByDay)
	if err != nil {
		return rep, err
	}
	byDay := map[string]store.APIUsageSum{}
	for _, d := range days {
		byDay[d.Group] = d
	}
	rep.Days = []Row{}
	for day, _ := time.Parse(time.DateOnly, span.From); day.Format(time.DateOnly) <= span.To; day = day.AddDate(0, 0, 1) {
		name := day.Format(time.DateOnly)
		rep.Days = append(rep.Days, Row{Day: name, Totals: totals(byDay[name]), LastUsedAt: timeOf(byDay[name].LastUsedAt)})
	}
	routes, err := r.Store.SumAPIUsage(ctx, f, store.UsageByRoute)
	if err != nil {
		return rep, err
	}
	rep.Routes = rows(routes, store.UsageByRoute)
	rep.Routes = rep.Routes[:min(len(rep.Routes), TopRoutes)]
	statuses, err := r.Store.SumAPIUsage(ctx, f, store.UsageByStatus)
	if err != nil {
		return rep, err
	}
	rep.Statuses = rows(statuses, store.UsageByStatus)
	return rep, nil
}

// Org is an org's usage over span grouped by groupBy (ParseGroupBy), most
// requests first. Rows by key carry the caller's Kind and ID. It flushes
// this node's counts first.
func (r *Recorder) Org(ctx context.Context, orgID, groupBy string, span Span) ([]Row, error) {
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	g, ok := groupings[groupBy]
	if !ok {
		return nil, apierror.Invalid("groupBy", "must be one of key, route, status")
	}
	sums, err := r.Store.SumAPIUsage(ctx, store.APIUsageFilter{OrgID: orgID, From: span.From, To: span.To}, g)
	if err != nil {
		return nil, err
	}
	return rows(sums, g), nil
}

// Month is an org's totals of the current month (UTC). It flushes this
// node's counts first.
func (r *Recorder) Month(ctx context.Context, orgID string) (Totals, error) {
	if err := r.Flush(ctx); err != nil {
		return Totals{}, err
	}
	now := r.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	sums, err := r.Store.SumAPIUsage(ctx, store.APIUsageFilter{OrgID: orgID, From: first.Format(time.DateOnly),
		To: now.Format(time.DateOnly)}, store.UsageTotal)
	if err != nil || len(sums) != 1 {
		return Totals{}, err
	}
	return totals(sums[0]), nil
}

// rows are sums as report rows, most requests first, then by group.
func rows(sums []store.APIUsageSum, groupBy string) []Row {
	out := make([]Row, 0, len(sums))
	for _, s := range sums {
		row := Row{Totals: totals(s), LastUsedAt: timeOf(s.LastUsedAt)}
		switch groupBy {
		case store.UsageByRoute:
			row.Route = s.Group
		case store.UsageByStatus:
			row.Status = s.Group
		case store.UsageByCaller:
			row.Kind, row.ID = s.Kind, s.Group
		}
		out = append(out, row)
	}
	if groupBy != store.UsageByStatus {
		slices.SortStableFunc(out, func(a, b Row) int { return cmp.Compare(b.Requests, a.Requests) })
	}
	return out
}

func totals(s store.APIUsageSum) Totals {
	return Totals{Requests: s.Requests, Errors: s.Errors, RateLimited: s.RateLimited}
}

// timeOf is t in RFC 3339, nil when zero.
func timeOf(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(accounts.TimeFormat)
	return &s
}
