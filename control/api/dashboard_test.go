package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/dashboard"
	"github.com/h0p/h0p/control/ratelimit"
)

// Requests to the dashboard count in h0p_api_requests_total under one
// route, "* dashboard", whatever their path; an unknown API path stays
// "* unmatched". A dashboard request is no API usage, even with a key.
func TestDashboardRequestsMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	var e *env
	e = mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000}, func(c *api.Config) {
		c.Registerer = reg
		d, err := dashboard.New(dashboard.Config{
			API:    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.router.ServeHTTP(w, r) }),
			Pepper: pepper, PublicURL: "https://api.example.com", Logger: quiet, Now: func() time.Time { return e.now },
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Dashboard = d
	})
	reader := mustSession(t, e, "usr_1")

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/login", 200},
		{"/static/app.js", 200},
		{"/invite/h0p_i_whatever-a-client-sends", 200},
		{"/wp-login.php", 404},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("x-api-key", e.key)
		rec := httptest.NewRecorder()
		e.router.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, rec.Code, tc.status)
		}
	}
	e.mustCall(t, 404, "GET", "/v1/nowhere", e.key, "")

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
	want := map[string]float64{
		"route=* dashboard,status=200": 3,
		"route=* dashboard,status=404": 1,
		"route=* unmatched,status=404": 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("h0p_api_requests_total\n got %v\nwant %v", counts, want)
	}

	// The key's usage is its one API request.
	u := e.mustCall(t, 200, "GET", "/v1/api-keys/key_1/usage?interval=24h", reader, "")
	if got := fmt.Sprint(u["requests"], " ", u["routes"]); !strings.HasPrefix(got, "1 [map[errors:1 ") ||
		!strings.HasSuffix(got, "route:* unmatched]]") {
		t.Errorf("the key's usage: %s", got)
	}
}

// The dashboard gets every path that is not the API's, with its body
// unbounded by the API's 1 MiB (it bounds its own forms: a CSV import is
// up to 20 MiB); the API's paths keep their envelope and their limits.
func TestDashboardPaths(t *testing.T) {
	var got int
	dash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = len(b)
		fmt.Fprint(w, "page")
	})
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000}, func(c *api.Config) { c.Dashboard = dash })
	big := bytes.Repeat([]byte("a"), 2<<20)
	if r := e.do(t, "POST", "/links/import", "", bytes.NewReader(big)); r.status != 200 || got != len(big) {
		t.Errorf("a 2 MiB dashboard upload: %d, the dashboard read %d bytes", r.status, got)
	}
	if r := e.do(t, "GET", "/links", "", nil); r.status != 200 || string(r.body) != "page" {
		t.Errorf("GET /links: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/nope", e.key, nil); r.status != 404 || !bytes.Contains(r.body, []byte(`"NOT_FOUND"`)) {
		t.Errorf("an unknown API path: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/links", e.key, bytes.NewReader(big)); r.status != 413 {
		t.Errorf("a 2 MiB API body: %d", r.status)
	}
}
