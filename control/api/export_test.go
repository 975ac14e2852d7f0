package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/clicks"
)

// TestExportNeutralisesFormulas: GET /v1/links/export leaves no cell a
// spreadsheet would evaluate, whatever the links hold, and importing the
// file gives every value back exactly.
func TestExportNeutralisesFormulas(t *testing.T) {
	e := mustStart(t)
	titles := []string{
		`=HYPERLINK("http://evil.test","click")`, "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "  =1",
		"'=already quoted", "' =1", " 'a", "'plain", "plain",
	}
	type linkIn struct {
		Key        string   `json:"key"`
		URL        string   `json:"url"`
		Title      string   `json:"title"`
		Tags       []string `json:"tags,omitempty"`
		ExternalID string   `json:"externalId,omitempty"`
	}
	var in []linkIn
	for i, title := range titles {
		in = append(in, linkIn{Key: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("https://example.com/%d", i), Title: title})
	}
	in = append(in, linkIn{Key: "-dash", URL: "https://example.com/dash", Title: "-dash",
		Tags: []string{"-promo", "@team"}, ExternalID: "=crm+1"})
	ids := map[string]string{} // key → id
	for _, l := range in {
		b, _ := json.Marshal(l)
		ids[l.Key] = mustCreate(t, e, e.key, string(b))["id"].(string)
	}

	r := e.do(t, "GET", "/v1/links/export", e.key, nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(in)+1 {
		t.Fatalf("export has %d rows for %d links", len(rows)-1, len(in))
	}
	header, byKey := rows[0], map[string][]string{}
	for _, row := range rows[1:] {
		for i, cell := range row {
			if s := strings.TrimLeft(cell, " "); s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
				t.Errorf("column %s is %q, which a spreadsheet evaluates", header[i], cell)
			}
		}
		byKey[strings.TrimPrefix(row[1], "'")] = row
	}
	if got := byKey["f6"][3]; got != "'  =1" {
		t.Errorf("title cell %q, want %q", got, "'  =1")
	}
	if got := byKey["-dash"]; got[1] != "'-dash" || got[4] != "'-promo|@team" || got[6] != "'=crm+1" {
		t.Errorf("row %q", got)
	}

	// Re-imported, every value comes back as it was.
	for _, id := range ids {
		e.mustCall(t, 200, "DELETE", "/v1/links/"+id, e.key, "")
	}
	_, m, ir := e.call(t, "POST", "/v1/links/import", e.key, string(r.body), "Content-Type", "text/csv")
	if m["imported"] != float64(len(in)) {
		t.Fatalf("import: %s", ir.body)
	}
	for _, want := range in {
		var got linkIn
		_, _, gr := e.call(t, "GET", "/v1/links/info?key="+want.Key, e.key, "")
		if err := json.Unmarshal(gr.body, &got); err != nil {
			t.Fatalf("info %s: %s", want.Key, gr.body)
		}
		if len(got.Tags) == 0 {
			got.Tags = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after export and import:\ngot  %+q\nwant %+q", got, want)
		}
	}
}

// failingClicks is the real click store whose Export fails after its
// first n clicks: a store that breaks in the middle of a download.
type failingClicks struct {
	analytics.Store
	n int
}

func (f failingClicks) Export(ctx context.Context, q analytics.EventQuery, fn func(*clicks.Click) error) error {
	sent := 0
	return f.Store.Export(ctx, q, func(c *clicks.Click) error {
		if sent == f.n {
			return errors.New("the click store failed")
		}
		sent++
		return fn(c)
	})
}

// TestExportFailureCutsTheDownload: when the click store fails once rows
// of GET /v1/stats/export are out, the connection is cut, so the client
// reads an error, never a short file that ends like a whole one.
func TestExportFailureCutsTheDownload(t *testing.T) {
	var store analytics.Store
	e := mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100_000}, func(c *api.Config) {
		st := *c.Stats
		store = st.Clicks
		st.Clicks = failingClicks{Store: store, n: 2500}
		c.Stats = &st
	})
	id := mustCreate(t, e, e.key, `{"url":"https://example.com/x","key":"x"}`)["id"].(string)
	b := &clicks.Batch{Edge: "e1", Seq: 1}
	for i := range 3000 {
		c := clicks.Click{Time: e.now.Add(-time.Hour + time.Duration(i)*time.Millisecond), LinkID: id, Domain: "localhost",
			Country: "FR", Device: "desktop", Browser: "Firefox", OS: "Linux"}
		c.ID[0], c.ID[1] = byte(i>>8), byte(i)
		b.Clicks = append(b.Clicks, c)
	}
	orgsOf := func(context.Context, []string) (map[string]string, error) { return map[string]string{id: "org_1"}, nil }
	if _, err := store.Ingest(context.Background(), b, orgsOf); err != nil {
		t.Fatal(err)
	}

	req, err := http.NewRequest("GET", e.url+"/v1/stats/export?interval=24h", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err == nil {
		t.Fatalf("export: %d, %d bytes read, err %v; want 200 and a read error", resp.StatusCode, len(body), err)
	}
	if rows := strings.Count(string(body), "\n"); rows < 1000 || rows > 2501 {
		t.Errorf("%d lines before the cut", rows)
	}
}
