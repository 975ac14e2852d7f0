package edge_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/kv"
)

// A link's or its domain's doNotTrack, or a request's h0p-no-track=1,
// answers the same redirect (without the parameter in Location) and
// captures no click, on the plain path and on the full one (rules, or a
// query to forward), from either server; each is counted by reason.
func TestDoNotTrack(t *testing.T) {
	rules := []kv.Rule{{URL: "https://ios.example/", Devices: []string{"ios"}}}
	ops := []kv.Op{
		{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "quiet.example", Version: 1, DoNotTrack: true}},
		put(kv.Link{Slug: "plain", URL: "https://example.com/p?a=1"}),
		put(kv.Link{Slug: "nofwd", URL: "https://example.com/n", NoForwardQuery: true}),
		put(kv.Link{Slug: "rules", URL: "https://example.com/r", Rules: rules}),
		put(kv.Link{Slug: "quiet", URL: "https://example.com/q", DoNotTrack: true}),
		put(kv.Link{Slug: "quiet-rules", URL: "https://example.com/qr", Rules: rules, DoNotTrack: true}),
		put(kv.Link{ID: "link_d", Domain: "quiet.example", Slug: "d", URL: "https://example.com/d"}),
		put(kv.Link{ID: "link_drules", Domain: "quiet.example", Slug: "d-rules", URL: "https://example.com/dr", Rules: rules}),
	}
	for _, server := range []struct {
		name     string
		fasthttp bool
	}{{"event loops", false}, {"fasthttp", true}} {
		t.Run(server.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			te := startEngine(t, func(*testEdge) edge.Config {
				return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
					Registerer: reg, ClickSalt: []byte("salt"), FasthttpServer: server.fasthttp}
			}, ops...)
			for _, tc := range []struct {
				path, host, location string
				click                string // the click's link, "" for none
			}{
				{"/plain", "", "https://example.com/p?a=1", "link_plain"},
				{"/plain?b=2", "", "https://example.com/p?a=1&b=2", "link_plain"},
				{"/rules", "", "https://example.com/r", "link_rules"},
				{"/quiet", "", "https://example.com/q", ""},
				{"/quiet?b=2", "", "https://example.com/q?b=2", ""},
				{"/quiet-rules", "", "https://example.com/qr", ""},
				{"/d", "quiet.example", "https://example.com/d", ""},
				{"/d-rules", "quiet.example", "https://example.com/dr", ""},
				{"/plain?h0p-no-track=1", "", "https://example.com/p?a=1", ""},
				{"/plain?b=2&h0p-no-track=1", "", "https://example.com/p?a=1&b=2", ""},
				{"/nofwd?h0p-no-track=1", "", "https://example.com/n", ""},
				{"/rules?h0p-no-track=1", "", "https://example.com/r", ""},
				{"/plain?h0p-no-track=0", "", "https://example.com/p?a=1", "link_plain"}, // consumed, counted
			} {
				r := req{path: tc.path}
				if tc.host != "" {
					r.headers = map[string]string{"Host": tc.host}
				}
				a := te.do(t, r)
				if a.status != 302 || a.location != tc.location {
					t.Errorf("%s%s: %d %q, want 302 %q", tc.host, tc.path, a.status, a.location, tc.location)
				}
				var got string
				if cs := te.takeClicks(t, 0); len(cs) > 0 {
					got = cs[len(cs)-1].LinkID
				}
				if got != tc.click {
					t.Errorf("%s%s: click of %q, want %q", tc.host, tc.path, got, tc.click)
				}
			}
			for reason, want := range map[string]float64{"link": 3, "domain": 2, "query": 4} {
				if got := metricValue(t, reg, "h0p_edge_clicks_untracked_total", "reason", reason); got != want {
					t.Errorf("h0p_edge_clicks_untracked_total{reason=%q} = %v, want %v", reason, got, want)
				}
			}
		})
	}
}
