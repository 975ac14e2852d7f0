package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/store"
)

// mustBot adds a bot key id with grants to org and returns it.
func mustBot(t *testing.T, e *env, org, id string, grants access.Set) string {
	t.Helper()
	key := apikey.Generate(apikey.Bot)
	err := e.store.CreateAPIKey(context.Background(), store.APIKey{ID: id, OrgID: org, Type: identity.KeyBot, Name: id,
		Prefix: apikey.Prefix(key), Digest: apikey.Digest(pepper, key), CreatedBy: "usr_1", CreatedAt: e.now,
		Permissions: grants.Permissions()})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// mustSession signs user in and returns the session token.
func mustSession(t *testing.T, e *env, user string) string {
	t.Helper()
	token := apikey.Generate(apikey.Session)
	if err := e.store.CreateSession(context.Background(), store.Session{ID: "ses_" + user, UserID: user,
		Digest: apikey.Digest(pepper, token), CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return token
}

// 50 requests of one key over 3 routes, some refused (404) and some rate
// limited (429): its usage, the org's by key, route and status, the
// month's totals in /v1/org and the Prometheus counter all say exactly
// that.
func TestUsageCountsEveryRequestOfAKey(t *testing.T) {
	reg := prometheus.NewRegistry()
	// 45 a minute, and the clock stands still: requests 46 to 50 are 429.
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 45}, func(c *api.Config) { c.Registerer = reg })
	reader := mustSession(t, e, "usr_1")
	for i := range 20 {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, fmt.Sprintf(`{"url":"https://example.com/%d"}`, i))
	}
	for range 10 {
		e.mustCall(t, 404, "GET", "/v1/links/link_none", e.key, "")
	}
	for range 15 {
		e.mustCall(t, 200, "GET", "/v1/links", e.key, "")
	}
	for range 5 {
		e.mustCall(t, 429, "GET", "/v1/links", e.key, "")
	}

	org := e.mustCall(t, 200, "GET", "/v1/org", reader, "")
	if got := fmt.Sprint(org["usage"].(map[string]any)["apiRequestsThisMonth"]); got != "map[errors:15 rateLimited:5 requests:50]" {
		t.Errorf("/v1/org month totals %s", got)
	}

	u := e.mustCall(t, 200, "GET", "/v1/api-keys/key_1/usage?interval=24h", reader, "")
	for _, c := range []struct{ field, want string }{
		{"id", "key_1"},
		{"interval", "24h"},
		{"from", "2026-11-24"},
		{"to", "2026-11-25"},
		{"requests", "50"},
		{"errors", "15"},
		{"rateLimited", "5"},
		{"lastUsedAt", "2026-11-25T12:00:00.000Z"},
		{"days", "[map[day:2026-11-24 errors:0 lastUsedAt:<nil> rateLimited:0 requests:0] " +
			"map[day:2026-11-25 errors:15 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:5 requests:50]]"},
		{"routes", "[map[errors:5 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:5 requests:20 route:GET /v1/links] " +
			"map[errors:0 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:0 requests:20 route:POST /v1/links] " +
			"map[errors:10 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:0 requests:10 route:GET /v1/links/:id]]"},
		{"statuses", "[map[errors:0 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:0 requests:35 status:2xx] " +
			"map[errors:15 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:5 requests:15 status:4xx]]"},
	} {
		if got := fmt.Sprint(u[c.field]); got != c.want {
			t.Errorf("key usage %s = %s, want %s", c.field, got, c.want)
		}
	}

	// The org's usage by key counts the reader's (a session's) two reads
	// too: this read flushes before it is counted itself.
	byKey := e.mustCall(t, 200, "GET", "/v1/usage?groupBy=key&interval=7d", reader, "")
	want := "[map[errors:15 key:key_1 lastUsedAt:2026-11-25T12:00:00.000Z name: rateLimited:5 requests:50] " +
		"map[errors:0 lastUsedAt:2026-11-25T12:00:00.000Z name:owner1@example.com rateLimited:0 requests:2 user:usr_1]]"
	if got := fmt.Sprint(byKey["data"]); got != want || byKey["from"] != "2026-11-18" {
		t.Errorf("by key %v\n got %s\nwant %s", byKey, got, want)
	}
	byStatus := e.mustCall(t, 200, "GET", "/v1/usage?groupBy=status", reader, "")
	if got := fmt.Sprint(byStatus["data"]); !strings.HasPrefix(got, "[map[errors:0 lastUsedAt:2026-11-25T12:00:00.000Z rateLimited:0 requests:38 status:2xx] map[errors:15") ||
		byStatus["interval"] != "30d" {
		t.Errorf("by status %v", byStatus)
	}
	byRoute := e.mustCall(t, 200, "GET", "/v1/usage?groupBy=route&interval=90d", reader, "")
	routes := map[string]float64{}
	for _, r := range byRoute["data"].([]any) {
		m := r.(map[string]any)
		routes[m["route"].(string)] = m["requests"].(float64)
	}
	if fmt.Sprint(routes) != "map[GET /v1/api-keys/:id/usage:1 GET /v1/links:20 GET /v1/links/:id:10 GET /v1/org:1 GET /v1/usage:2 POST /v1/links:20]" {
		t.Errorf("by route %v", routes)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "h0p_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			counts[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	for label, want := range map[string]float64{
		"route=GET /v1/links,status=200":     15,
		"route=GET /v1/links,status=429":     5,
		"route=GET /v1/links/:id,status=404": 10,
		"route=POST /v1/links,status=201":    20,
	} {
		if counts[label] != want {
			t.Errorf("h0p_api_requests_total{%s} = %v, want %v (all: %v)", label, counts[label], want, counts)
		}
	}
}

// Who may read usage, and what is refused: another org's key is 404, a
// Member without apiKeys:read is 403, bad parameters are 400 naming them.
func TestUsageAccessAndParameters(t *testing.T) {
	e := mustStart(t)
	other := mustBootstrap(t, e.store, "2", time.Time{})
	member := mustMember(t, e, "org_1", "usr_member")
	// Unknown routes and refusals of an identified key count too.
	e.mustCall(t, 404, "GET", "/v1/nowhere", e.key, "")
	e.mustCall(t, 403, "GET", "/v1/usage", member, "")

	for _, c := range []struct {
		cred, path  string
		status      int
		code, field string
	}{
		{other, "/v1/api-keys/key_1/usage", 404, "NOT_FOUND", ""},
		{member, "/v1/api-keys/key_1/usage", 403, "FORBIDDEN", ""},
		{member, "/v1/usage?groupBy=route", 403, "FORBIDDEN", ""},
		{e.key, "/v1/api-keys/key_1/usage?interval=1y", 400, "VALIDATION_ERROR", "interval"},
		{e.key, "/v1/usage?interval=24", 400, "VALIDATION_ERROR", "interval"},
		{e.key, "/v1/usage?groupBy=org", 400, "VALIDATION_ERROR", "groupBy"},
	} {
		status, m, r := e.call(t, "GET", c.path, c.cred, "")
		if status != c.status || errCode(m) != c.code {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, status, r.body, c.status, c.code)
			continue
		}
		if c.field != "" && !strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
			t.Errorf("GET %s: %s does not name %s", c.path, r.body, c.field)
		}
	}
	// The Member's refusals count in their key's usage.
	own := e.mustCall(t, 200, "GET", "/v1/api-keys/key_usr_member/usage", e.key, "")
	if own["requests"] != float64(3) || own["errors"] != float64(3) || len(own["days"].([]any)) != 31 {
		t.Errorf("own key usage %v", own)
	}
	byKey := e.mustCall(t, 200, "GET", "/v1/usage", e.key, "")
	if got := fmt.Sprint(byKey["data"]); !strings.Contains(got, "key:key_usr_member") || !strings.Contains(got, "errors:4 key:key_1") {
		t.Errorf("by key %s", got)
	}
	byRoute := e.mustCall(t, 200, "GET", "/v1/usage?groupBy=route", e.key, "")
	if got := fmt.Sprint(byRoute["data"]); !strings.Contains(got, "route:* unmatched") {
		t.Errorf("by route %s", got)
	}
}

// A signed-in user's requests count under the user, named; a bot key
// sees the usage of the keys it may read only.
func TestUsageOfSessionsAndWhatBotsSee(t *testing.T) {
	e := mustStart(t)
	token := mustSession(t, e, "usr_1")
	bot := mustBot(t, e, "org_1", "key_bot", access.OfRole(identity.RoleAdmin))
	e.mustCall(t, 200, "GET", "/v1/links", token, "")
	e.mustCall(t, 200, "GET", "/v1/links", token, "")
	e.mustCall(t, 200, "GET", "/v1/links", e.key, "")

	people := e.mustCall(t, 200, "GET", "/v1/usage", token, "")
	want := "[map[errors:0 lastUsedAt:2026-11-25T12:00:00.000Z name:owner1@example.com rateLimited:0 requests:2 user:usr_1] " +
		"map[errors:0 key:key_1 lastUsedAt:2026-11-25T12:00:00.000Z name: rateLimited:0 requests:1]]"
	if got := fmt.Sprint(people["data"]); got != want {
		t.Errorf("by key, for a person:\n got %s\nwant %s", got, want)
	}
	bots := e.mustCall(t, 200, "GET", "/v1/usage", bot, "")
	if got := fmt.Sprint(bots["data"]); got != "[]" {
		t.Errorf("by key, for a bot: %s", got)
	}
	e.mustCall(t, 200, "GET", "/v1/usage", bot, "")
	bots = e.mustCall(t, 200, "GET", "/v1/usage", bot, "")
	if got := fmt.Sprint(bots["data"]); !strings.Contains(got, "key:key_bot") || strings.Contains(got, "usr_1") || strings.Contains(got, "key_1") {
		t.Errorf("by key, for a bot: %s", got)
	}
}
