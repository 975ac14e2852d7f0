// Package linkcsv reads and writes links as CSV: the format layer under
// GET /v1/links/export and POST /v1/links/import. It reads three formats,
// recognised from a file's header (Detect): Native, H0p's own, which Writer
// writes; Shlink's export; and Bitly's. Their columns, with the sources of
// the names, the dates accepted and the export's escaping are in FORMATS.md
// beside this file.
//
// It owns the column layouts, the per-row error reports, the limits on an
// import file and the formula-injection guard of exported cells. It does
// not touch a store, HTTP, accounts or the clock, and it does not validate
// what a link means: whether a URL is acceptable, a key a valid slug or a
// domain one the workspace owns is the link service's call. It checks
// structure only (the column count, the quoting, dates, counts, short URLs
// split into a domain and a key); keys, domains, titles and URLs pass
// through as written, with surrounding space trimmed from every cell but
// the title.
//
// Reading streams: NewReader reads the header, then each Next returns one
// Row or one *RowError, and a bad row does not stop the file; a Row is never
// half-filled. Memory stays bounded whatever the file (MaxColumns,
// MaxRowBytes, MaxRows). Rows already returned stay returned when Next
// reaches ErrTooManyRows, so a caller that wants a file refused whole reads
// it to the end before applying anything.
//
// Writer prefixes with an apostrophe every cell a spreadsheet would run as
// a formula, and the Native reader removes exactly that prefix: export then
// import gives every value back, but for what the CSV format itself changes.
package linkcsv
