package links

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/h0p/h0p/control/access"
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
func (s *Service) Import(ctx context.Context, p access.Principal, r io.Reader) ([]ImportResult, error) {
	rd, err := linkcsv.NewReader(r)
	if err != nil {
		return nil, apierror.Invalid("file", err.Error())
	}
	var (
		results []ImportResult
		batch   []Input
		lines   []int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		rs, err := s.CreateMany(ctx, p, batch)
		if err != nil {
			return err
		}
		for i, r := range rs {
			res := ImportResult{Line: lines[i], Err: r.Err}
			if r.Err == nil {
				res.ID = r.Link.ID
			}
			results = append(results, res)
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	now := s.now()
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
			return results, apierror.Invalid("file", err.Error())
		}
		in := Input{URL: Of(row.URL)}
		if row.Key != "" {
			in.Key = Of(row.Key)
		}
		// Bitly's and Shlink's files name their own short domains: the
		// links move to H0p's default domain and keep their keys. H0p's
		// own files must name a domain of the org.
		if row.Domain != "" && rd.Format() == linkcsv.Native {
			in.Domain = Of(strings.ToLower(row.Domain))
		}
		if row.Title != "" {
			in.Title = Of(row.Title)
		}
		if len(row.Tags) > 0 {
			in.Tags = Of(row.Tags)
		}
		if row.ExternalID != "" {
			in.ExternalID = Of(row.ExternalID)
		}
		if !row.CreatedAt.IsZero() && row.CreatedAt.Before(now) {
			in.createdAt = row.CreatedAt.UTC()
		}
		batch, lines = append(batch, in), append(lines, row.Line)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return results, err
			}
		}
	}
	return results, flush()
}
