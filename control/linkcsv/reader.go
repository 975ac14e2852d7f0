package linkcsv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what a Reader accepts. They bound the memory and time one
// import can take; the HTTP layer should also cap the request body.
const (
	// MaxRows is the most data rows (header excluded, blank lines not
	// counted) a file may have.
	MaxRows = 100_000
	// MaxRowBytes is the longest row, in bytes, line ending included. A
	// quoted cell may span lines; the limit is on the whole row.
	MaxRowBytes = 16 << 10
	// MaxColumns is the most columns a header may have.
	MaxColumns = 50
)

var (
	// ErrNoHeader is returned by NewReader for an input with no header row.
	ErrNoHeader = errors.New("no header row")
	// ErrTooManyColumns is returned by NewReader for a header of more than
	// MaxColumns columns.
	ErrTooManyColumns = fmt.Errorf("more than %d columns", MaxColumns)
	// ErrTooManyRows is returned by Next, for good, when the file has more
	// than MaxRows data rows.
	ErrTooManyRows = fmt.Errorf("more than %d rows", MaxRows)
)

// Row is one link as read from a file. Fields the file's format does not
// have stay zero.
type Row struct {
	Line       int // 1-based line of the file where the row starts
	URL        string
	Key        string
	Domain     string
	Title      string
	Tags       []string // nil when none
	CreatedAt  time.Time
	ExternalID string
	Clicks     int64
}

// RowError is a row that cannot be read. The Reader stays usable: the next
// call to Next reads the next row.
type RowError struct {
	Line   int    // 1-based line where the row starts
	Field  string // the column at fault, as the header names it; "" for the whole row
	Reason string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// Reader reads links from a CSV file in one of the known formats.
type Reader struct {
	src  *bufio.Reader
	line int // lines consumed so far
	rows int // data rows returned so far, errors included
	plan *plan
	rec  []byte // the current raw row
	err  error  // sticky: io.EOF, ErrTooManyRows or a read error
}

// NewReader reads the header row of r and recognises its format (see
// Detect). A UTF-8 byte order mark before the header is skipped; blank lines
// before it are too.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{src: bufio.NewReaderSize(r, 64<<10)}
	if b, err := rd.src.Peek(len(bom)); err == nil && string(b) == bom {
		rd.src.Discard(len(bom))
	}
	var header []string
	for header == nil {
		start, tooLong, err := rd.readRecord()
		if err == io.EOF {
			return nil, ErrNoHeader
		}
		if err != nil {
			return nil, fmt.Errorf("read header: %w", err)
		}
		if tooLong {
			return nil, fmt.Errorf("header: line %d: longer than %d bytes", start, MaxRowBytes)
		}
		header, err = parseRecord(rd.rec)
		if err != nil {
			return nil, fmt.Errorf("header: line %d: %w", start, err)
		}
	}
	if len(header) > MaxColumns {
		return nil, fmt.Errorf("header: %w (%d)", ErrTooManyColumns, len(header))
	}
	p, err := newPlan(header)
	if err != nil {
		return nil, err
	}
	rd.plan = p
	return rd, nil
}

// Format is the format NewReader recognised.
func (r *Reader) Format() Format { return r.plan.format }

// Next returns the next row. At the end of the file it returns io.EOF. A
// row that cannot be read gives a *RowError, and the following call reads
// on. Any other error (ErrTooManyRows, a read error) ends the file: every
// later call returns it again.
func (r *Reader) Next() (Row, error) {
	for r.err == nil {
		start, tooLong, err := r.readRecord()
		if err != nil {
			r.err = err
			if err != io.EOF {
				r.err = fmt.Errorf("read line %d: %w", r.line+1, err)
			}
			break
		}
		if !tooLong && isBlank(r.rec) {
			continue // as encoding/csv does, blank lines are not rows
		}
		if r.rows++; r.rows > MaxRows {
			r.err = fmt.Errorf("line %d: %w", start, ErrTooManyRows)
			break
		}
		if tooLong {
			return Row{}, &RowError{Line: start, Reason: fmt.Sprintf("longer than %d bytes", MaxRowBytes)}
		}
		cells, err := parseRecord(r.rec)
		if err != nil {
			return Row{}, &RowError{Line: start, Reason: err.Error()}
		}
		return r.plan.row(start, cells)
	}
	return Row{}, r.err
}

// readRecord reads one row's bytes into r.rec and returns the line it starts
// on. A row ends at a newline outside a quoted cell, so a quoted cell may
// span lines, as in encoding/csv. A row of more than MaxRowBytes is read to
// its end but not kept (tooLong): the next row starts where encoding/csv
// would start it, and memory stays bounded.
func (r *Reader) readRecord() (start int, tooLong bool, err error) {
	r.rec = r.rec[:0]
	start = r.line + 1
	st := atFieldStart
	read := 0
	for {
		chunk, err := r.src.ReadSlice('\n')
		if len(chunk) == 0 { // only at the end of the input or on a read error
			if err == io.EOF && read > 0 {
				// The last row, without a final newline, after a long line
				// or a newline in quotes: encoding/csv judges the quoting.
				return start, tooLong, nil
			}
			return start, tooLong, err
		}
		read += len(chunk)
		for _, c := range chunk {
			st = st.next(c)
		}
		if tooLong = tooLong || read > MaxRowBytes; !tooLong {
			r.rec = append(r.rec, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue // a line longer than the buffer: read on
		case err == io.EOF:
			return start, tooLong, nil // the last row, without a final newline
		case err != nil:
			return start, tooLong, err
		}
		r.line++
		if st != inQuotes { // a newline inside quotes is part of the cell
			return start, tooLong, nil
		}
	}
}

// quoteState follows encoding/csv's quoting rules just far enough to know
// whether a newline ends the row: a quote opens a quoted cell only at the
// start of a cell, and "" inside one is a literal quote.
type quoteState uint8

const (
	atFieldStart quoteState = iota
	unquoted
	inQuotes
	quoteInQuotes // a quote inside a quoted cell: its end, or half of ""
)

func (s quoteState) next(c byte) quoteState {
	switch s {
	case atFieldStart:
		switch c {
		case '"':
			return inQuotes
		case ',', '\n':
			return atFieldStart
		}
		return unquoted
	case unquoted:
		if c == ',' || c == '\n' {
			return atFieldStart
		}
		return unquoted
	case inQuotes:
		if c == '"' {
			return quoteInQuotes
		}
		return inQuotes
	default: // quoteInQuotes
		switch c {
		case '"':
			return inQuotes
		case ',', '\n':
			return atFieldStart
		}
		return unquoted // a malformed cell; encoding/csv will say so
	}
}

func isBlank(rec []byte) bool {
	return len(bytes.TrimRight(rec, "\r\n")) == 0
}

// parseRecord parses one row's bytes with encoding/csv.
func parseRecord(rec []byte) ([]string, error) {
	if !utf8.Valid(rec) {
		return nil, errors.New("not valid UTF-8")
	}
	cr := csv.NewReader(bytes.NewReader(rec))
	cr.FieldsPerRecord = -1
	cells, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.Err // the line and column in pe are relative to the row
		}
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	if _, err := cr.Read(); err != io.EOF {
		// readRecord and encoding/csv disagree on where the row ends; this is
		// only reachable on malformed quoting, so say that.
		return nil, errors.New("malformed quoting")
	}
	return cells, nil
}

// row turns the cells of a data row into a Row.
func (p *plan) row(line int, cells []string) (Row, error) {
	if len(cells) != len(p.names) {
		return Row{}, &RowError{Line: line,
			Reason: fmt.Sprintf("has %d columns, the header has %d", len(cells), len(p.names))}
	}
	cell := func(f field) string {
		i := p.col[f]
		switch {
		case i < 0:
			return ""
		case p.format == Native:
			return unguard(cells[i]) // Writer's escape; Bitly and Shlink have none
		}
		return cells[i]
	}
	fail := func(f field, format string, args ...any) (Row, error) {
		return Row{}, &RowError{Line: line, Field: p.names[p.col[f]], Reason: fmt.Sprintf(format, args...)}
	}

	row := Row{
		Line:       line,
		URL:        strings.TrimSpace(cell(fURL)),
		Key:        strings.TrimSpace(cell(fKey)),
		Domain:     strings.TrimSpace(cell(fDomain)),
		Title:      cell(fTitle),
		ExternalID: strings.TrimSpace(cell(fExternalID)),
	}

	seps := "|"
	if p.format == Bitly {
		seps = "|,;" // not documented by Bitly; see FORMATS.md
	}
	row.Tags = splitTags(cell(fTags), seps)

	if s := strings.TrimSpace(cell(fCreatedAt)); s != "" {
		t, err := parseTime(s)
		if err != nil {
			return fail(fCreatedAt, "%v", err)
		}
		row.CreatedAt = t
	}
	if s := strings.TrimSpace(cell(fClicks)); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fail(fClicks, "%q is not a whole number", s)
		}
		row.Clicks = n
	}

	// The short link gives the domain and key the format has no column for.
	// Bitly's custom link, when there is one, is the name people use.
	for _, f := range []field{fCustomLink, fShortLink} {
		s := strings.TrimSpace(cell(f))
		if f == fCustomLink {
			s = firstLink(s)
		}
		if s == "" {
			continue
		}
		domain, key, err := parseShortLink(s)
		if err != nil {
			return fail(f, "%v", err)
		}
		if row.Domain == "" {
			row.Domain = domain
		}
		if row.Key == "" {
			row.Key = key
		}
	}
	return row, nil
}

func splitTags(s, seps string) []string {
	var tags []string
	for t := range strings.FieldsFuncSeq(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// firstLink returns the first short link of a cell that may hold several
// (the API's custom_bitlinks is a list).
func firstLink(s string) string {
	s = strings.Trim(s, "[] ")
	for l := range strings.FieldsFuncSeq(s, func(r rune) bool { return strings.ContainsRune(",;| ", r) }) {
		if l = strings.Trim(l, `"'`); l != "" {
			return l
		}
	}
	return ""
}

// parseShortLink splits "https://bit.ly/abc" or "bit.ly/abc" into a domain
// and a key (the path without its leading and trailing slash).
func parseShortLink(s string) (domain, key string, err error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q is not a short URL", raw)
	}
	key = strings.Trim(u.Path, "/")
	if key == "" {
		return "", "", fmt.Errorf("%q has no key after the domain", raw)
	}
	return u.Host, key, nil
}

// timeLayouts are the date forms accepted, tried in order: RFC 3339 (Native,
// Shlink), Bitly's API form with a colon-less offset, and plain forms read as
// UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a date in one of timeLayouts.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want RFC 3339, e.g. 2024-05-01T12:00:00Z)", s)
}
