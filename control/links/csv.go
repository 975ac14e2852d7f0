package links

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/linkcsv"
	"github.com/h0p/h0p/shared/apierror"
)

// Export calls fn with every link of the org, oldest first, a page at a
// time, so the caller can stream them.
func (s *Service) Export(ctx context.Context, p access.Principal, fn func(Link) error) error {
	q := Query{Sort: "createdAt", Order: "asc", Limit: 100}
	for {
		page, next, err := s.List(ctx, p, q)
		if err != nil {
			return err
		}
		for _, l := range page {
			if err := fn(l); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		q.Cursor = next
	}
}

// ImportResult is the outcome of one row of an import.
type ImportResult struct {
	Line int
	ID   string // the created link's ID
	Err  error
}

// importBatch is how many rows go into one transaction and raft entry.
const importBatch = 500

// Import creates a link for every row of a CSV file in one of the formats
// linkcsv reads (H0p's, Bitly's and Shlink's exports). Rows are independent:
// a row either becomes a link (with its tags) or reports why not, and the
// others go on. The file's createdAt is kept when it is in the past. Links
// from Bitly and Shlink files land on the default domain with their keys.
//
// The whole file is read first: a file refused as a whole (malformed, too
// many rows) creates nothing. Rows are then created importBatch at a time;
// once ctx ends (the API's request timeout) no further batch starts, and
// the rows left report that they were not imported, so the answer says
// exactly what was. Results are in line order.
func (s *Service) Import(ctx context.Context, p access.Principal, r io.Reader) ([]ImportResult, error) {
	rd, err := linkcsv.NewReader(r)
	if err != nil {
		return nil, apierror.Invalid("file", err.Error())
	}
	var (
		results []ImportResult
		rows    []linkcsv.Row // kept as read: a fifth of an Input's size
	)
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rowErr *linkcsv.RowError
		if errors.As(err, &rowErr) {
			results = append(results, ImportResult{Line: rowErr.Line, Err: apierror.Invalid(rowErr.Field, rowErr.Reason)})
			continue
		}
		if err != nil {
			return nil, apierror.Invalid("file", err.Error())
		}
		rows = append(rows, row)
	}
	now := s.now()
	ins := make([]Input, 0, min(len(rows), importBatch))
	for start := 0; start < len(rows); start += importBatch {
		batch := rows[start:min(start+importBatch, len(rows))]
		ins = ins[:0]
		for _, row := range batch {
			ins = append(ins, importInput(row, rd.Format(), now))
		}
		var rs []Result
		if err = ctx.Err(); err == nil {
			rs, err = s.CreateMany(ctx, p, ins)
		}
		if err != nil && rs == nil && ctx.Err() != nil {
			notImported := apierror.New(apierror.Unavailable,
				"not imported: the import ran out of time at line %d; import the rows from there on again", batch[0].Line)
			for _, row := range rows[start:] {
				results = append(results, ImportResult{Line: row.Line, Err: notImported})
			}
			break
		}
		for i, r := range rs {
			res := ImportResult{Line: batch[i].Line, Err: r.Err}
			if r.Err == nil {
				res.ID = r.Link.ID
			}
			results = append(results, res)
		}
		if err != nil {
			return results, err
		}
	}
	slices.SortStableFunc(results, func(a, b ImportResult) int { return a.Line - b.Line })
	return results, nil
}

// importInput is the link a row of a file in format f asks for.
func importInput(row linkcsv.Row, f linkcsv.Format, now time.Time) Input {
	in := Input{URL: jsonbody.Of(row.URL)}
	if row.Key != "" {
		in.Key = jsonbody.Of(row.Key)
	}
	// Bitly's and Shlink's files name their own short domains: the links
	// move to H0p's default domain and keep their keys. H0p's own files
	// must name a domain of the org.
	if row.Domain != "" && f == linkcsv.Native {
		in.Domain = jsonbody.Of(strings.ToLower(row.Domain))
	}
	if row.Title != "" {
		in.Title = jsonbody.Of(row.Title)
	}
	if len(row.Tags) > 0 {
		in.Tags = jsonbody.Of(row.Tags)
	}
	if row.ExternalID != "" {
		in.ExternalID = jsonbody.Of(row.ExternalID)
	}
	if !row.CreatedAt.IsZero() && row.CreatedAt.Before(now) {
		in.createdAt = row.CreatedAt.UTC()
	}
	return in
}
