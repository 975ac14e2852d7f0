package linkcsv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func addFixtures(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzReader checks that arbitrary input never panics, that Next always
// ends (each call consumes input or returns a final error), and that what
// comes out respects the limits.
func FuzzReader(f *testing.F) {
	addFixtures(f)
	for _, s := range []string{
		"url\n\"",
		"url,key\n\"a\"\"b\",\"c\nd\"\n",
		"longUrl,shortUrl\nx,\"\"\n",
		"link,long_url,custom_bitlinks,created_at,clicks\nbit.ly/a,x,[],2024-01-01,1\n",
		"\uFEFFurl\r\n\r\n'=1\r\n",
		"url,title\n" + strings.Repeat("a", MaxRowBytes) + "\nb,c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		lastLine, rows := 0, 0
		// Every call that returns a row or a RowError consumes at least one
		// byte, so len(data)+1 calls must reach the end.
		for calls := 0; ; calls++ {
			if calls > len(data)+1 {
				t.Fatalf("Next did not end after %d calls on %d bytes", calls, len(data))
			}
			row, err := r.Next()
			var re *RowError
			switch {
			case err == io.EOF, errors.Is(err, ErrTooManyRows):
				if _, again := r.Next(); again != err {
					t.Fatalf("Next after %v: %v", err, again)
				}
				return
			case errors.As(err, &re):
				if re.Line <= lastLine {
					t.Fatalf("RowError at line %d after line %d", re.Line, lastLine)
				}
				lastLine = re.Line
			case err != nil:
				t.Fatalf("Next: unexpected error %v", err)
			default:
				if row.Line <= lastLine {
					t.Fatalf("row at line %d after line %d", row.Line, lastLine)
				}
				lastLine = row.Line
				checkRow(t, row)
			}
			if rows++; rows > MaxRows {
				t.Fatalf("more than %d rows", MaxRows)
			}
		}
	})
}

func checkRow(t *testing.T, row Row) {
	t.Helper()
	size := len(row.URL) + len(row.Key) + len(row.Domain) + len(row.Title) + len(row.ExternalID)
	for _, tag := range row.Tags {
		size += len(tag)
		if tag == "" || strings.TrimSpace(tag) != tag || strings.Contains(tag, "|") {
			t.Fatalf("bad tag %q", tag)
		}
	}
	if size > MaxRowBytes {
		t.Fatalf("row of %d bytes, limit %d", size, MaxRowBytes)
	}
}

// FuzzRoundTrip checks that export and import are exact for any strings:
// the escape of a cell is undone byte for byte and leaves nothing for a
// spreadsheet to evaluate, and the Native reader reads back what Writer
// wrote, changed only as the format documents: cells but the title
// trimmed, tags split on '|' and trimmed, CR LF read as LF.
func FuzzRoundTrip(f *testing.F) {
	f.Add("https://example.com/a?b=c", "key/1", "h0p.test", "Title, \"quoted\"\nline", "a|b", "ext", "lnk_1", int64(3), int64(1714564800))
	f.Add("=1+1", "-k", "@d", "'=x", "''|+t", "'", "@id", int64(-1), int64(0))
	f.Add("\tx", "\ry", "", "\r", "", "", "", int64(0), int64(-62135596800))
	f.Add("  =1", " '", "' =1", " \r\n=1", "  -x| @y", " 'a ", "\n=1", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, url, key, domain, title, tags, ext, id string, clicks, unix int64) {
		// The escape alone, on arbitrary bytes.
		for _, s := range []string{url, key, domain, title, tags, ext, id} {
			g := Guard(s)
			if got := unguard(g); got != s {
				t.Fatalf("unguard(Guard(%q)) = %q", s, got)
			}
			if evaluable(g) {
				t.Fatalf("Guard(%q) = %q, which a spreadsheet evaluates", s, g)
			}
		}

		in := ExportRow{URL: url, Key: key, Domain: domain, Title: title, ExternalID: ext,
			ID: id, ShortLink: id, Clicks: clicks}
		if unix != 0 {
			in.CreatedAt = time.Unix(unix, 0).UTC()
		}
		// Outside what the format carries: invalid UTF-8 (the reader
		// refuses the row; values from the API are valid UTF-8) and dates
		// RFC 3339 cannot write.
		for _, s := range []string{url, key, domain, title, tags, ext, id} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if y := in.CreatedAt.Year(); y < 0 || y > 9999 {
			return
		}
		if tags != "" {
			in.Tags = strings.Split(tags, "|")
		}

		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Write(in); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv cannot read the file: %v", err)
		}
		for _, rec := range recs {
			for i, cell := range rec {
				if evaluable(cell) {
					t.Fatalf("column %d is %q, which a spreadsheet evaluates", i, cell)
				}
			}
		}
		if buf.Len() > MaxRowBytes*2 {
			return // the header plus a row the reader would refuse as too long
		}
		r, err := NewReader(&buf)
		if err != nil {
			t.Fatalf("NewReader: %v", err)
		}
		got, err := r.Next()
		if err != nil {
			var re *RowError
			if errors.As(err, &re) && strings.HasPrefix(re.Reason, "longer than") {
				return
			}
			t.Fatalf("Next: %v", err)
		}
		lf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		trim := func(s string) string { return strings.TrimSpace(lf(s)) }
		want := Row{Line: got.Line, URL: trim(url), Key: trim(key), Domain: trim(domain), Title: lf(title),
			CreatedAt: in.CreatedAt, ExternalID: trim(ext), Clicks: clicks}
		for _, tag := range in.Tags {
			if tag = trim(tag); tag != "" {
				want.Tags = append(want.Tags, tag)
			}
		}
		if !sameRow(got, want) {
			t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, want)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("second Next: %v, want EOF", err)
		}
	})
}
