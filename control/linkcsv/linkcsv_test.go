package linkcsv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		want   Format
	}{
		{"native", []string{"url", "key", "domain", "title", "tags", "createdAt"}, Native},
		{"native export", exportHeader, Native},
		{"native url only", []string{"url"}, Native},
		{"native BOM, case, order, space", []string{"\uFEFF Title ", "KEY", "URL", "created_at"}, Native},
		{"shlink web client", []string{"createdAt", "domain", "shortCode", "shortUrl", "longUrl", "title", "tags", "visits"}, Shlink},
		{"shlink BOM and case", []string{"\uFEFFCREATEDAT", "LongUrl", "ShortUrl"}, Shlink},
		{"shlink importer", []string{"Long URL", "Short Code", "Domain", "Title", "Tags"}, Shlink},
		{"shlink api names", []string{"shortCode", "longUrl", "dateCreated", "visitsCount"}, Shlink},
		{"bitly dashboard", []string{"Title", "Link", "Custom Link", "Destination URL", "Date created", "Tags", "Engagements"}, Bitly},
		{"bitly bitlink long url", []string{"Bitlink", "Long URL", "Created", "Total Clicks"}, Bitly},
		{"bitly api", []string{"id", "link", "long_url", "title", "created_at", "tags", "custom_bitlinks", "archived"}, Bitly},
		{"bitly BOM and order", []string{"\uFEFFdestination url", "CUSTOM BITLINK"}, Bitly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.header)
			if err != nil {
				t.Fatalf("Detect(%q): %v", tt.header, err)
			}
			if got != tt.want {
				t.Errorf("Detect(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestDetectUnknown(t *testing.T) {
	for _, header := range [][]string{
		nil,
		{""},
		{"name", "email"},
		{"longUrl"},                 // Shlink needs shortCode or shortUrl
		{"long_url", "title"},       // Bitly needs a short link
		{"link", "custom link"},     // ... and a long URL
		{"shortCode", "shortUrl"},   // Shlink needs longUrl
		{"u r l x", "destination"},  // near misses
		{"\uFEFF", "key", "domain"}, // no url
	} {
		if f, err := Detect(header); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Detect(%q) = %q, %v; want ErrUnknownFormat", header, f, err)
		}
	}
}

// result is what one Next call gave: a row or an error.
type result struct {
	Row Row
	Err error
}

func (r result) String() string {
	if r.Err != nil {
		return fmt.Sprintf("error %v", r.Err)
	}
	return fmt.Sprintf("%+v", r.Row)
}

// mustReadAll reads rows until io.EOF or another error that is not a
// *RowError, and returns every result including that last error (io.EOF
// excepted).
func mustReadAll(t *testing.T, r *Reader) []result {
	t.Helper()
	var out []result
	for i := 0; ; i++ {
		if i > MaxRows+10 {
			t.Fatal("Next does not stop")
		}
		row, err := r.Next()
		if err == io.EOF {
			return out
		}
		out = append(out, result{row, err})
		var re *RowError
		if err != nil && !errors.As(err, &re) {
			return out
		}
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestReadFixtures(t *testing.T) {
	tests := []struct {
		file   string
		format Format
		want   []result
	}{
		{"native.csv", Native, []result{
			{Row: Row{Line: 2, URL: "https://example.com/docs?a=1&b=2", Key: "docs", Domain: "h0p.test",
				Title: "Docs, part 1", Tags: []string{"docs", "product"},
				CreatedAt: date("2024-05-01T12:00:00Z"), ExternalID: "crm-17", Clicks: 42}},
			{Row: Row{Line: 3, URL: "https://example.com/sale", Key: "summer/sale", Domain: "go.example.org",
				Title: `=HYPERLINK("http://evil.test","click")`, Tags: []string{"-promo", "sale"},
				CreatedAt: date("2024-06-02T08:30:00.25+02:00")}},
			{Row: Row{Line: 4, URL: "https://example.com/plain"}},
			{Row: Row{Line: 6, URL: "https://example.com/multi", Key: "multi", Domain: "h0p.test",
				Title: "Line one\nline two", Clicks: 7}},
		}},
		{"shlink.csv", Shlink, []result{
			{Row: Row{Line: 2, URL: "https://example.com/docs?a=1&b=2", Key: "abc123", Domain: "s.test",
				Title: "Docs, part 1", Tags: []string{"docs", "product"},
				CreatedAt: date("2023-05-01T10:20:30+02:00"), Clicks: 42}},
			{Row: Row{Line: 3, URL: "https://shop.example.org/sale", Key: "summer-sale", Domain: "go.example.org",
				CreatedAt: date("2023-06-02T08:00:00Z")}},
			{Row: Row{Line: 4, URL: "https://example.com/q", Key: "q/1", Domain: "s.test",
				Title: `Say "hi"`, Tags: []string{"a"}, CreatedAt: date("2023-07-15T23:59:59Z"), Clicks: 3}},
		}},
		{"shlink_importer.csv", Shlink, []result{
			{Row: Row{Line: 2, URL: "https://example.com/one", Key: "one", Title: "First", Tags: []string{"alpha", "beta"}}},
			{Row: Row{Line: 3, URL: "https://example.com/two", Key: "two", Domain: "links.example.com"}},
		}},
		{"bitly.csv", Bitly, []result{
			{Row: Row{Line: 2, URL: "https://acme.com/launch?utm_source=x", Key: "spring", Domain: "go.acme.com",
				Title: "Spring launch", Tags: []string{"launch", "spring"},
				CreatedAt: date("2024-03-01T09:15:00Z"), Clicks: 1532}},
			{Row: Row{Line: 3, URL: "https://acme.com/pricing", Key: "4AbCdEf", Domain: "bit.ly",
				CreatedAt: date("2024-03-02T00:00:00Z")}},
			{Err: &RowError{Line: 4, Field: "Link", Reason: `"not a url/" is not a short URL`}},
		}},
		{"bitly_api.csv", Bitly, []result{
			{Row: Row{Line: 2, URL: "https://acme.com/launch", Key: "spring", Domain: "go.acme.com",
				Title: "Spring launch", Tags: []string{"launch", "spring"},
				CreatedAt: date("2019-07-24T19:06:39Z"), ExternalID: "bit.ly/3xYz9Ab"}},
			{Row: Row{Line: 3, URL: "https://acme.com/about", Key: "2kLmNoP", Domain: "bit.ly",
				Title: "About", CreatedAt: date("2019-07-25T08:00:00Z"), ExternalID: "bit.ly/2kLmNoP"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f)
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			if got := r.Format(); got != tt.format {
				t.Errorf("Format() = %q, want %q", got, tt.format)
			}
			assertResults(t, mustReadAll(t, r), tt.want)
		})
	}
}

func assertResults(t *testing.T, got, want []result) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("result %d: missing, want %v", i, want[i])
		case i >= len(want):
			t.Errorf("result %d: got %v, want none", i, got[i])
		case !sameResult(got[i], want[i]):
			t.Errorf("result %d:\ngot  %v\nwant %v", i, got[i], want[i])
		}
	}
}

func sameResult(a, b result) bool {
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil {
		return reflect.DeepEqual(a.Err, b.Err) || a.Err.Error() == b.Err.Error()
	}
	return sameRow(a.Row, b.Row)
}

// sameRow compares rows with time.Time.Equal, as locations differ.
func sameRow(a, b Row) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return false
	}
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func newReader(t *testing.T, s string) *Reader {
	t.Helper()
	r, err := NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r
}

func TestRowErrorsDoNotStopTheReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []result
	}{{
		name: "native",
		in: "url,key,createdAt,clicks\n" +
			"https://a.test,a,,\n" +
			"https://b.test,b\n" + // too few columns
			"https://c.test,c,yesterday,\n" + // bad date
			"https://d.test,d,,many\n" + // bad count
			"https://e.test,e,,,extra\n" + // too many columns
			"https://f.test,\"f\"x,,\n" + // bad quoting
			"https://g.test,\"g\n" + // quoted cell over two lines...
			"g\",2024-01-02,\n" + // ...is one row
			"https://h.test,h,,\xff\n" + // not UTF-8
			"https://i.test,i,2024-01-02T03:04:05+01:00,9",
		want: []result{
			{Row: Row{Line: 2, URL: "https://a.test", Key: "a"}},
			{Err: &RowError{Line: 3, Reason: "has 2 columns, the header has 4"}},
			{Err: &RowError{Line: 4, Field: "createdAt", Reason: `"yesterday" is not a date (want RFC 3339, e.g. 2024-05-01T12:00:00Z)`}},
			{Err: &RowError{Line: 5, Field: "clicks", Reason: `"many" is not a whole number`}},
			{Err: &RowError{Line: 6, Reason: "has 5 columns, the header has 4"}},
			{Err: &RowError{Line: 7, Reason: `extraneous or missing " in quoted-field`}},
			{Row: Row{Line: 8, URL: "https://g.test", Key: "g\ng", CreatedAt: date("2024-01-02T00:00:00Z")}},
			{Err: &RowError{Line: 10, Reason: "not valid UTF-8"}},
			{Row: Row{Line: 11, URL: "https://i.test", Key: "i", CreatedAt: date("2024-01-02T02:04:05Z"), Clicks: 9}},
		},
	}, {
		name: "shlink short URL",
		in: "longUrl,shortUrl\n" +
			"https://a.test,https://s.test/a\n" +
			"https://b.test,https://s.test/\n" +
			"https://c.test,http://[::1\n" +
			"https://d.test,s.test/d/e/\n",
		want: []result{
			{Row: Row{Line: 2, URL: "https://a.test", Key: "a", Domain: "s.test"}},
			{Err: &RowError{Line: 3, Field: "shortUrl", Reason: `"https://s.test/" has no key after the domain`}},
			{Err: &RowError{Line: 4, Field: "shortUrl", Reason: `"http://[::1" is not a short URL`}},
			{Row: Row{Line: 5, URL: "https://d.test", Key: "d/e", Domain: "s.test"}},
		},
	}, {
		name: "unterminated quote at the end",
		in:   "url,title\nhttps://a.test,ok\nhttps://b.test,\"open\n\nstill open",
		want: []result{
			{Row: Row{Line: 2, URL: "https://a.test", Title: "ok"}},
			{Err: &RowError{Line: 3, Reason: `extraneous or missing " in quoted-field`}},
		},
	}, {
		name: "CRLF and blank lines",
		in:   "\r\n\r\nurl,key\r\n\r\nhttps://a.test,a\r\n\r\n\r\nhttps://b.test,b\r\n",
		want: []result{
			{Row: Row{Line: 5, URL: "https://a.test", Key: "a"}},
			{Row: Row{Line: 8, URL: "https://b.test", Key: "b"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertResults(t, mustReadAll(t, newReader(t, tt.in)), tt.want)
		})
	}
}

func TestNewReaderErrors(t *testing.T) {
	wide := strings.Repeat("c,", MaxColumns) + "url"
	tests := []struct {
		name string
		in   string
		want error // nil: any error
	}{
		{"empty", "", ErrNoHeader},
		{"blank lines only", "\n\r\n\n", ErrNoHeader},
		{"BOM only", "\uFEFF", ErrNoHeader},
		{"unknown", "name,email\n", ErrUnknownFormat},
		{"too many columns", wide + "\n", ErrTooManyColumns},
		{"header too long", "url," + strings.Repeat("x", MaxRowBytes) + "\n", nil},
		{"bad header quoting", "url,\"key\"x\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("NewReader = %v, nil; want an error", r)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("NewReader: %v, want %v", err, tt.want)
			}
		})
	}
	// MaxColumns itself is fine.
	newReader(t, strings.Repeat("c,", MaxColumns-1)+"url\n")
}

func TestLongRows(t *testing.T) {
	long := strings.Repeat("x", MaxRowBytes)
	in := "url,title\n" +
		"https://a.test," + long + "\n" + // one long line
		"https://b.test,fine\n" +
		"https://c.test,\"" + strings.Repeat("y\n", MaxRowBytes) + "\"\n" + // long quoted cell over many lines
		"https://d.test,\"with \"\"quotes\"\", fine\"\n" +
		"https://e.test," + long[:MaxRowBytes-len("https://e.test,\n")] + "\n" // exactly at the limit
	want := []result{
		{Err: &RowError{Line: 2, Reason: "longer than 16384 bytes"}},
		{Row: Row{Line: 3, URL: "https://b.test", Title: "fine"}},
		{Err: &RowError{Line: 4, Reason: "longer than 16384 bytes"}},
		{Row: Row{Line: 4 + MaxRowBytes + 1, URL: "https://d.test", Title: `with "quotes", fine`}},
		{Row: Row{Line: 4 + MaxRowBytes + 2, URL: "https://e.test", Title: long[:MaxRowBytes-len("https://e.test,\n")]}},
	}
	assertResults(t, mustReadAll(t, newReader(t, in)), want)
}

func TestMaxRows(t *testing.T) {
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString("url\n")
		for i := range n {
			if i%1000 == 0 {
				b.WriteString("\n") // blank lines do not count
			}
			fmt.Fprintf(&b, "https://x.test/%d\n", i)
		}
		return b.String()
	}

	t.Run("at the limit", func(t *testing.T) {
		got := mustReadAll(t, newReader(t, rows(MaxRows)))
		if len(got) != MaxRows {
			t.Fatalf("got %d results, want %d", len(got), MaxRows)
		}
		for _, g := range got {
			if g.Err != nil {
				t.Fatalf("unexpected error: %v", g.Err)
			}
		}
	})

	t.Run("over the limit", func(t *testing.T) {
		r := newReader(t, rows(MaxRows+5))
		for i := range MaxRows {
			if _, err := r.Next(); err != nil {
				t.Fatalf("row %d: %v", i+1, err)
			}
		}
		for range 3 { // the error sticks
			if _, err := r.Next(); !errors.Is(err, ErrTooManyRows) {
				t.Fatalf("Next after %d rows: %v, want ErrTooManyRows", MaxRows, err)
			}
		}
	})

	t.Run("bad rows count", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("url,key\n")
		for range MaxRows {
			b.WriteString("https://x.test\n") // each a RowError
		}
		b.WriteString("https://x.test,k\n")
		r := newReader(t, b.String())
		for range MaxRows {
			var re *RowError
			if _, err := r.Next(); !errors.As(err, &re) {
				t.Fatalf("Next: %v, want a RowError", err)
			}
		}
		if _, err := r.Next(); !errors.Is(err, ErrTooManyRows) {
			t.Fatalf("Next: %v, want ErrTooManyRows", err)
		}
	})
}

func TestReadErrorSticks(t *testing.T) {
	boom := errors.New("boom")
	in := io.MultiReader(strings.NewReader("url\nhttps://a.test\nhttps://b"), iotest.ErrReader(boom))
	r, err := NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	if row, err := r.Next(); err != nil || row.URL != "https://a.test" {
		t.Fatalf("Next = %+v, %v", row, err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next: %v, want %v", err, boom)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	in := []ExportRow{
		{ID: "lnk_1", Domain: "h0p.test", Key: "docs", URL: "https://example.com/docs?a=1&b=2",
			ShortLink: "https://h0p.test/docs", Title: "Docs, \"part\" 1\nsecond line",
			Tags: []string{"docs", "product"}, ExternalID: "crm-17", Clicks: 42,
			CreatedAt: date("2024-05-01T12:00:00.123456789+02:00")},
		{ID: "lnk_2", Domain: "go.example.org", Key: "-dash", URL: "https://example.com/x",
			Title: "=1+1", Tags: []string{"+plus", "@at", "=eq"}, ExternalID: "@ext"},
		{Key: "k", URL: "https://example.com/y", Title: "'=already quoted", Tags: []string{"''two"}, ExternalID: "'"},
		{Key: "t", URL: "https://example.com/z", Title: "\tstarts with a tab", Clicks: -1},
		{Key: "r", URL: "https://example.com/r", Title: "\rcarriage", CreatedAt: date("0001-01-01T00:00:01Z")},
		{URL: "https://example.com/empty"},
		{URL: "https://example.com/unicode", Title: "Привет, 世界 🎉", Tags: []string{"ünï"}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range in {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	r := newReader(t, buf.String())
	if r.Format() != Native {
		t.Fatalf("Format() = %q, want native", r.Format())
	}
	got := mustReadAll(t, r)
	if len(got) != len(in) {
		t.Fatalf("read %d rows, wrote %d:\n%s", len(got), len(in), buf.String())
	}
	for i, g := range got {
		if g.Err != nil {
			t.Fatalf("row %d: %v", i, g.Err)
		}
		want := Row{Line: g.Row.Line, URL: in[i].URL, Key: in[i].Key, Domain: in[i].Domain,
			Title: in[i].Title, Tags: in[i].Tags, CreatedAt: in[i].CreatedAt,
			ExternalID: in[i].ExternalID, Clicks: in[i].Clicks}
		if !sameRow(g.Row, want) {
			t.Errorf("row %d:\ngot  %+v\nwant %+v", i, g.Row, want)
		}
	}
}

func TestWriterGuardsCells(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	err := w.Write(ExportRow{ID: "@id", URL: "=cmd|' /C calc'!A0", Key: "+k", Domain: "-d",
		Title: "\tt", Tags: []string{"@a", "b"}, ExternalID: "'=x", ShortLink: "\rs", Clicks: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "url,key,domain,title,tags,createdAt,externalId,id,shortLink,clicks\n" +
		"'=cmd|' /C calc'!A0,'+k,'-d,'\tt,'@a|b,,''=x,'@id,\"'\rs\",5\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestWriterRefusesTagWithSeparator(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(ExportRow{ID: "lnk_1", Tags: []string{"a|b"}}); err == nil {
		t.Fatal("Write accepted a tag with '|'")
	}
}

func TestWriterReportsWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(errWriter{boom})
	w.Write(ExportRow{URL: "https://a.test"})
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v, want %v", err, boom)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestUnguard(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"'", "'"},
		{"'a", "'a"},
		{"'=1", "=1"},
		{"'+1", "+1"},
		{"'-1", "-1"},
		{"'@a", "@a"},
		{"'\ta", "\ta"},
		{"'\ra", "\ra"},
		{"''", "'"},
		{"''=", "'="},
		{"=1", "=1"},
		{"a'=1", "a'=1"},
		{"' =1", " =1"},
		{"'  @a", "  @a"},
		{"' '", " '"},
		{"'  ''", "  ''"},
		{"' a", "' a"},
		{"'\n=1", "\n=1"},
		{"' ", "' "},
		{" '=1", " '=1"},
	}
	for _, tt := range tests {
		if got := unguard(tt.in); got != tt.want {
			t.Errorf("unguard(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := unguard(Guard(tt.in)); got != tt.in {
			t.Errorf("unguard(Guard(%q)) = %q", tt.in, got)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"},
		{"2024-05-01T12:00:00.5+02:00", "2024-05-01T10:00:00.5Z"},
		{"2019-07-24T19:06:39+0000", "2019-07-24T19:06:39Z"},
		{"2024-05-01 12:00:00+02:00", "2024-05-01T10:00:00Z"},
		{"2024-05-01 12:00:00 -0100", "2024-05-01T13:00:00Z"},
		{"2024-05-01T12:00:00", "2024-05-01T12:00:00Z"},
		{"2024-05-01 12:00:00", "2024-05-01T12:00:00Z"},
		{"2024-05-01 12:00", "2024-05-01T12:00:00Z"},
		{"2024-05-01", "2024-05-01T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if err != nil {
			t.Errorf("parseTime(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(date(tt.want)) {
			t.Errorf("parseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"yesterday", "1714564800", "05/01/2024", "2024-13-01", "2024-05-01T25:00:00Z"} {
		if got, err := parseTime(in); err == nil {
			t.Errorf("parseTime(%q) = %v, want an error", in, got)
		}
	}
}
