package linkcsv

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExportRow is one link as Writer writes it.
type ExportRow struct {
	ID         string // the link's H0p id; informational, not re-imported
	Domain     string
	Key        string
	URL        string
	ShortLink  string // the full short URL; informational, not re-imported
	Title      string
	Tags       []string // may not contain '|', the separator in the tags cell
	ExternalID string
	Clicks     int64
	CreatedAt  time.Time // written in UTC; zero writes an empty cell
}

// exportHeader is the Native header Writer writes: the columns the Native
// reader imports first, then the informational ones.
var exportHeader = []string{
	"url", "key", "domain", "title", "tags", "createdAt", "externalId",
	"id", "shortLink", "clicks",
}

// Writer writes links in the Native format, guarding every cell against
// formula injection (FORMATS.md gives the rule). It buffers: call Flush to
// push what was written to the underlying writer, for instance every few
// hundred rows of a streamed response, and at the end.
type Writer struct {
	cw     *csv.Writer
	record []string
}

// NewWriter returns a Writer to w and writes the header row.
func NewWriter(w io.Writer) *Writer {
	cw := csv.NewWriter(w)
	cw.Write(exportHeader) // an error stays in cw and comes back from Write or Flush
	return &Writer{cw: cw, record: make([]string, len(exportHeader))}
}

// Write writes one link. It refuses, writing nothing, a link with a tag
// that contains '|'.
func (w *Writer) Write(r ExportRow) error {
	for _, t := range r.Tags {
		if strings.Contains(t, "|") {
			return fmt.Errorf("link %s: tag %q contains '|'", r.ID, t)
		}
	}
	var created string
	if !r.CreatedAt.IsZero() {
		created = r.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	rec := w.record
	rec[0] = r.URL
	rec[1] = r.Key
	rec[2] = r.Domain
	rec[3] = r.Title
	rec[4] = strings.Join(r.Tags, "|")
	rec[5] = created
	rec[6] = r.ExternalID
	rec[7] = r.ID
	rec[8] = r.ShortLink
	rec[9] = strconv.FormatInt(r.Clicks, 10)
	for i := range rec {
		rec[i] = Guard(rec[i])
	}
	if err := w.cw.Write(rec); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return w.cw.Error()
}

// Flush writes buffered rows to the underlying writer and returns the first
// error met since NewWriter.
func (w *Writer) Flush() error {
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// formulaStart reports whether a spreadsheet could read a cell starting
// with c as a formula (OWASP's list), or c is a line feed: encoding/csv
// reads CR LF as LF, and a cell guarded for its CR must still read as
// guarded.
func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return true
	}
	return false
}

// needsGuard reports whether s, after any leading spaces, starts with a
// formula character or with an apostrophe. The second case keeps the escape
// reversible: a cell of its own starting with an apostrophe gets a second one,
// so the reader can tell it from the one guard adds.
func needsGuard(s string) bool {
	s = strings.TrimLeft(s, " ")
	return s != "" && (formulaStart(s[0]) || s[0] == '\'')
}

// Guard prefixes a cell a spreadsheet could run as a formula with an
// apostrophe, which makes spreadsheets show it as text.
func Guard(s string) string {
	if needsGuard(s) {
		return "'" + s
	}
	return s
}

// unguard undoes guard: it removes one leading apostrophe when what follows
// is a cell guard would have prefixed. Every other cell is left alone, so
// for every s, unguard(Guard(s)) == s.
func unguard(s string) string {
	if s != "" && s[0] == '\'' && needsGuard(s[1:]) {
		return s[1:]
	}
	return s
}
