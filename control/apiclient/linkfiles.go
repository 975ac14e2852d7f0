package apiclient

import (
	"context"
	"io"

	"github.com/h0p/h0p/shared/apierror"
)

// bulkAnswer is the answer of the bulk calls: a result per link named,
// in order.
type bulkAnswer struct {
	Data []struct {
		Index int   `json:"index"`
		Link  *Link `json:"link"`
		Error *struct {
			Code    apierror.Code     `json:"code"`
			Message string            `json:"message"`
			Details []apierror.Detail `json:"details"`
		} `json:"error"`
	} `json:"data"`
}

func (a bulkAnswer) results() []BulkResult {
	res := make([]BulkResult, len(a.Data))
	for i, d := range a.Data {
		res[i] = BulkResult{Index: d.Index, Link: d.Link}
		if e := d.Error; e != nil {
			res[i].Err = &Error{Code: e.Code, Message: e.Message, Details: e.Details}
		}
	}
	return res
}

// BulkUpdateLinks applies in to every link of ids (PATCH
// /v1/links/bulk). Items fail alone; the error returned is the call's.
func (c *Client) BulkUpdateLinks(ctx context.Context, ids []string, in LinkInput) ([]BulkResult, error) {
	body := struct {
		IDs  []string  `json:"ids"`
		Data LinkInput `json:"data"`
	}{ids, in}
	var out bulkAnswer
	if err := c.Do(ctx, "PATCH", "/v1/links/bulk", nil, body, &out); err != nil {
		return nil, err
	}
	return out.results(), nil
}

// BulkDeleteLinks deletes every link of ids (DELETE /v1/links/bulk); a
// result's Link has only the deleted link's ID.
func (c *Client) BulkDeleteLinks(ctx context.Context, ids []string) ([]BulkResult, error) {
	body := struct {
		IDs []string `json:"ids"`
	}{ids}
	var out bulkAnswer
	if err := c.Do(ctx, "DELETE", "/v1/links/bulk", nil, body, &out); err != nil {
		return nil, err
	}
	return out.results(), nil
}

// ImportRow is the outcome of one row of an import: the link it made,
// or why not.
type ImportRow struct {
	Line  int    `json:"line"`
	ID    string `json:"id"`
	Error *struct {
		Code    apierror.Code     `json:"code"`
		Message string            `json:"message"`
		Details []apierror.Detail `json:"details"`
	} `json:"error"`
}

// ImportReport is the answer of an import: a row for each of the file's.
type ImportReport struct {
	Imported int         `json:"imported"`
	Failed   int         `json:"failed"`
	Rows     []ImportRow `json:"rows"`
}

// ImportLinks creates links from csv, a CSV file in H0p's, Bitly's or
// Shlink's format (POST /v1/links/import). Rows fail alone.
func (c *Client) ImportLinks(ctx context.Context, csv io.Reader) (ImportReport, error) {
	var rep ImportReport
	err := c.Do(ctx, "POST", "/v1/links/import", nil, Raw{ContentType: "text/csv", Body: csv}, &rep)
	return rep, err
}
