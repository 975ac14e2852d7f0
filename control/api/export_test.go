package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
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
