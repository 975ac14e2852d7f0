package linkcsv

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// owaspPayloads are cells a spreadsheet would run as formulas, after
// OWASP's CSV Injection page: a formula character first, also after
// leading spaces.
var owaspPayloads = []string{
	`=HYPERLINK("http://evil.test","click")`,
	"+1",
	"-2+3",
	"@SUM(A1)",
	"\t=1",
	"\r=1",
	"  =1",
	" +1",
	"   @SUM(A1)",
	"\n=1",
}

// evaluable reports whether a spreadsheet could read cell as a formula:
// its first character after leading spaces is one OWASP lists.
func evaluable(cell string) bool {
	s := strings.TrimLeft(cell, " ")
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// writeCells writes rows with Writer and returns the file's cells as
// encoding/csv reads them, header excluded.
func writeCells(t *testing.T, rows ...ExportRow) [][]string {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	return recs[1:]
}

// TestWriterGuardsFormulas writes each payload in each column and checks
// that its cell gets one leading apostrophe and that no cell of the file
// is left for a spreadsheet to evaluate.
func TestWriterGuardsFormulas(t *testing.T) {
	columns := []struct {
		name string
		col  int // in exportHeader
		set  func(*ExportRow, string)
	}{
		{"url", 0, func(r *ExportRow, s string) { r.URL = s }},
		{"key", 1, func(r *ExportRow, s string) { r.Key = s }},
		{"domain", 2, func(r *ExportRow, s string) { r.Domain = s }},
		{"title", 3, func(r *ExportRow, s string) { r.Title = s }},
		{"tags", 4, func(r *ExportRow, s string) { r.Tags = []string{s, "b"} }},
		{"externalId", 6, func(r *ExportRow, s string) { r.ExternalID = s }},
		{"id", 7, func(r *ExportRow, s string) { r.ID = s }},
		{"shortLink", 8, func(r *ExportRow, s string) { r.ShortLink = s }},
	}
	for _, c := range columns {
		for _, p := range owaspPayloads {
			var row ExportRow
			c.set(&row, p)
			cells := writeCells(t, row)[0]
			want := "'" + p
			if c.name == "tags" {
				want += "|b"
			}
			if got := cells[c.col]; got != want {
				t.Errorf("%s %q: cell %q, want %q", c.name, p, got, want)
			}
			for i, cell := range cells {
				if evaluable(cell) {
					t.Errorf("%s %q: column %s is %q, which a spreadsheet evaluates", c.name, p, exportHeader[i], cell)
				}
			}
		}
	}
	// Negative click counts are numbers, but a cell all the same.
	if got := writeCells(t, ExportRow{Clicks: -1})[0][9]; got != "'-1" {
		t.Errorf("clicks -1: cell %q, want '-1", got)
	}
}

// TestGuardedCellsRoundTrip checks that what Writer escapes the Native
// reader gives back byte for byte: formulas, and cells that start with an
// apostrophe of their own, before or after spaces.
func TestGuardedCellsRoundTrip(t *testing.T) {
	values := append([]string{
		"'", "''", "'=1", "' =1", "'  =1", "''=1", " '", "  'x", " ' =1", "'a", "a'", "' a",
		"a=1", " ", "", "=", "'\t", "'\r", "\r\n=1", " \r\nx", "'\n",
	}, owaspPayloads...)
	var rows []ExportRow
	for _, v := range values {
		rows = append(rows, ExportRow{URL: "https://example.com/", Title: v})
	}
	// Cells the reader does not trim come back exactly; the others come
	// back trimmed, which the link service has done to them already.
	for _, v := range values {
		if strings.TrimSpace(v) == v && !strings.Contains(v, "\r\n") && v != "" {
			rows = append(rows, ExportRow{URL: v, Key: v, Domain: v, ExternalID: v, Tags: []string{v}})
		}
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := mustReadAll(t, newReader(t, buf.String()))
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
	}
	for i, g := range got {
		in := rows[i]
		want := Row{Line: g.Row.Line, URL: in.URL, Key: in.Key, Domain: in.Domain,
			Title: strings.ReplaceAll(in.Title, "\r\n", "\n"), Tags: in.Tags, ExternalID: in.ExternalID}
		if g.Err != nil || !sameRow(g.Row, want) {
			t.Errorf("row %d:\ngot  %v\nwant %+v", i, g, want)
		}
	}
}

// TestForeignFormatsKeepApostrophes: the apostrophe escape is H0p's; a
// Bitly or Shlink file's cells are read as they are.
func TestForeignFormatsKeepApostrophes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Row
	}{
		{"shlink", "longUrl,shortCode,title,tags\nhttps://a.test,'-k,'=1+1,'-x|''y\n",
			Row{Line: 2, URL: "https://a.test", Key: "'-k", Title: "'=1+1", Tags: []string{"'-x", "''y"}}},
		{"shlink spaces", "longUrl,shortCode,title\nhttps://a.test,k,\"' =1\"\n",
			Row{Line: 2, URL: "https://a.test", Key: "k", Title: "' =1"}},
		{"bitly", "long_url,link,title,id\nhttps://a.test,bit.ly/k,''quoted,'@id\n",
			Row{Line: 2, URL: "https://a.test", Key: "k", Domain: "bit.ly", Title: "''quoted", ExternalID: "'@id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertResults(t, mustReadAll(t, newReader(t, tt.in)), []result{{Row: tt.want}})
		})
	}
}
