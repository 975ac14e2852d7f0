package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/clicks"
)

// Stats name what they refuse: another org's link, an unknown key or tag
// (404), a range beyond the plan's retention (403 PLAN_LIMIT_REACHED).
func TestStatsRefusals(t *testing.T) {
	e := mustStart(t)
	mine := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/mine","key":"mine"}`)
	other := mustBootstrap(t, e.store, "other", time.Time{})
	theirs := e.mustCall(t, 201, "POST", "/v1/links", other, `{"url":"https://example.com/theirs","key":"theirs"}`)
	for path, want := range map[string]string{
		"/v1/stats?linkId=" + theirs["id"].(string):  "404 NOT_FOUND",
		"/v1/stats?linkId=-" + theirs["id"].(string): "404 NOT_FOUND",
		"/v1/events?linkId=" + theirs["id"].(string): "404 NOT_FOUND",
		"/v1/stats?key=nothing":                      "404 NOT_FOUND",
		"/v1/stats?tag=nothing":                      "404 NOT_FOUND",
		"/v1/stats?linkId=" + mine["id"].(string):    "200",
		"/v1/stats?groupBy=timeseries&interval=2w":   "400 VALIDATION_ERROR",
		"/v1/events?limit=5000":                      "400 VALIDATION_ERROR",
		"/v1/stats/export?groupBy=count":             "400 VALIDATION_ERROR",
	} {
		r := e.do(t, "GET", path, e.key, nil)
		if got := strconv.Itoa(r.status); !strings.HasPrefix(want, got) || len(want) > 3 && !strings.Contains(string(r.body), want[4:]) {
			t.Errorf("%s: %s %s, want %s", path, got, r.body, want)
		}
	}
	free := mustOrgOnPlan(t, e, "free", "free")
	start := e.now.AddDate(0, 0, -45).Format(time.RFC3339)
	r := e.do(t, "GET", "/v1/stats?start="+start, free, nil)
	if body := string(r.body); r.status != 403 || !strings.Contains(body, "PLAN_LIMIT_REACHED") || !strings.Contains(body, `"field":"start"`) {
		t.Errorf("beyond retention: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/stats?interval=all", free, nil); r.status != 200 {
		t.Errorf("interval=all on free: %d %s", r.status, r.body)
	}
}

// TestStatsByLinkValues: the UTM and tag groupings count each click under
// its link's values as the link holds them now; links without a value,
// and values of links without clicks, make no row; filters narrow them.
func TestStatsByLinkValues(t *testing.T) {
	var store analytics.Store
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100_000}, func(c *api.Config) {
		store = c.Stats.Clicks
	})
	for _, name := range []string{"t1", "t2", "unused"} {
		e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"`+name+`"}`)
	}
	ids := map[string]string{}
	orgsOf := map[string]string{}
	b := &clicks.Batch{Edge: "e1", Seq: 1}
	for _, l := range []struct {
		key, body string
		clicks    int
	}{
		{"a", `"utm":{"source":"news","medium":"email"},"tags":["t1","t2"]`, 3},
		{"b", `"utm":{"source":"ads","campaign":"spring"},"tags":["t1"]`, 2},
		{"c", `"utm":{"source":"news","term":"x"}`, 4},
		{"d", `"description":"no utm"`, 10},
		{"e", `"utm":{"source":"unclicked"},"tags":["t2"]`, 0},
	} {
		id := mustCreate(t, e, e.key, `{"url":"https://example.com/`+l.key+`","key":"`+l.key+`",`+l.body+`}`)["id"].(string)
		ids[l.key], orgsOf[id] = id, "org_1"
		for i := range l.clicks + 1 { // and a bot's click
			c := clicks.Click{Time: e.now.Add(-time.Hour + time.Duration(len(b.Clicks))*time.Second), LinkID: id,
				Domain: "localhost", Country: "FR", Bot: i == l.clicks}
			c.ID[0], c.IPHash[0] = byte(len(b.Clicks)), byte(len(b.Clicks))
			b.Clicks = append(b.Clicks, c)
		}
	}
	if _, err := store.Ingest(context.Background(), b, func(context.Context, []string) (map[string]string, error) {
		return orgsOf, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ query, want string }{
		{"groupBy=utm_sources", `[{"clicks":7,"utm_source":"news"},{"clicks":2,"utm_source":"ads"}]`},
		{"groupBy=utm_mediums", `[{"clicks":3,"utm_medium":"email"}]`},
		{"groupBy=utm_campaigns", `[{"clicks":2,"utm_campaign":"spring"}]`},
		{"groupBy=top_tags", `[{"clicks":5,"tag":"t1"},{"clicks":3,"tag":"t2"}]`},
		{"groupBy=utm_sources&bots=include", `[{"clicks":9,"utm_source":"news"},{"clicks":3,"utm_source":"ads"},{"clicks":1,"utm_source":"unclicked"}]`},
		{"groupBy=utm_sources&unique=true", `[{"clicks":7,"utm_source":"news","visitors":7},{"clicks":2,"utm_source":"ads","visitors":2}]`},
		{"groupBy=utm_sources&limit=1", `[{"clicks":7,"utm_source":"news"}]`},
		{"groupBy=utm_sources&linkId=" + ids["a"] + "," + ids["d"], `[{"clicks":3,"utm_source":"news"}]`},
		{"groupBy=utm_sources&linkId=-" + ids["a"], `[{"clicks":4,"utm_source":"news"},{"clicks":2,"utm_source":"ads"}]`},
		{"groupBy=utm_sources&tag=t1", `[{"clicks":3,"utm_source":"news"},{"clicks":2,"utm_source":"ads"}]`},
		{"groupBy=utm_sources&key=b,d&country=FR", `[{"clicks":2,"utm_source":"ads"}]`},
		{"groupBy=utm_campaigns&linkId=" + ids["d"], `[]`},
		{"groupBy=top_tags&key=c,d", `[]`},
		{"groupBy=utm_sources&country=US", `[]`},
	} {
		r := e.do(t, "GET", "/v1/stats?interval=24h&"+tt.query, e.key, nil)
		if got := strings.TrimSpace(string(r.body)); r.status != 200 || got != tt.want {
			t.Errorf("%s: %d %s, want %s", tt.query, r.status, got, tt.want)
		}
	}
}
