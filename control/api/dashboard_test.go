package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/ratelimit"
)

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
