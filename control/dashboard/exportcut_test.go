package dashboard_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/h0p/h0p/control/dashboard"
)

// TestExportCutWhenTheAPICutsIt: when the API cuts an export it had begun
// (it panics http.ErrAbortHandler after rows, as control/api does on a
// store's failure), the dashboard cuts its download too: the browser
// reads an error, not a short file that ends like a whole one. The API
// here is a stand-in that does only that.
func TestExportCutWhenTheAPICutsIt(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		io.WriteString(w, "timestamp,id\n")
		// Rows enough that the browser has some before the cut.
		for range 1000 {
			io.WriteString(w, "2026-12-07T10:00:00Z,clk_1\n")
		}
		panic(http.ErrAbortHandler)
	})
	d, err := dashboard.New(dashboard.Config{API: api, Pepper: bytes.Repeat([]byte("p"), 32), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("GET", srv.URL+"/analytics/export", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "h0p_session", Value: "a session"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil || len(body) == 0 {
		t.Fatalf("export: %d, err %v, %d bytes; want 200, rows and a read error", resp.StatusCode, err, len(body))
	}
}
