package api_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
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
