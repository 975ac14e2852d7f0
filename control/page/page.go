// Package page is how the API's lists page: a page holds 1 to Max items
// (Default when no limit is given), and the next page starts at a cursor,
// opaque to clients: the base64url of the JSON of a position in the list
// (an ID, or a sort value and an ID), which only this API reads back. A
// cursor this API did not give is refused (VALIDATION_ERROR on "cursor").
package page

import (
	"encoding/base64"
	"encoding/json"

	"github.com/h0p/h0p/shared/apierror"
)

// Page sizes.
const (
	Default = 50
	Max     = 100
)

// ErrBadCursor refuses a cursor this API did not give.
var ErrBadCursor = apierror.Invalid("cursor", "is not a cursor this API gave")

// Limit is a page's size: limit, or Default when it is 0.
func Limit(limit int) (int, error) {
	switch {
	case limit == 0:
		return Default, nil
	case limit < 1 || limit > Max:
		return 0, apierror.Invalid("limit", "must be 1 to 100")
	}
	return limit, nil
}

// Encode writes a position in a list as a cursor.
func Encode(position any) string {
	b, _ := json.Marshal(position)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads cursor s, which Encode wrote, into position.
func Decode(s string, position any) error {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, position) != nil {
		return ErrBadCursor
	}
	return nil
}

// AfterID reads the cursor of a list in ID order: the ID its page starts
// after, "" for the first page.
func AfterID(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	var id string
	if err := Decode(cursor, &id); err != nil || id == "" {
		return "", ErrBadCursor
	}
	return id, nil
}

// TrimByID cuts rows, read with a limit of limit+1, to a page of a list in
// ID order, and gives the next page's cursor ("" at the end).
func TrimByID[T any](rows []T, limit int, id func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, Encode(id(rows[limit-1]))
}

// ListByID reads a page of a list in ID order after cursor: read gets up
// to n rows after an ID, and view turns each row into what the page holds.
func ListByID[S, T any](limit int, cursor string, read func(afterID string, n int) ([]S, error),
	id func(S) string, view func(S) (T, error)) ([]T, string, error) {
	limit, err := Limit(limit)
	if err != nil {
		return nil, "", err
	}
	after, err := AfterID(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := read(after, limit+1)
	if err != nil {
		return nil, "", err
	}
	rows, next := TrimByID(rows, limit, id)
	out := make([]T, len(rows))
	for i, r := range rows {
		if out[i], err = view(r); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}
