package apiclient

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list: its items and the cursor of the next page
// ("" on the last page; the API sends null).
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor"`
}

// ListQuery pages a list that has no filters (domains, tags, webhooks).
// Limit 0 is the API's default page size; the API bounds it (1 to 100).
type ListQuery struct {
	Limit  int
	Cursor string
}

// Values is q as query parameters.
func (q ListQuery) Values() url.Values {
	v := url.Values{}
	setInt(v, "limit", q.Limit)
	set(v, "cursor", q.Cursor)
	return v
}

// all yields every item of a list from cursor on, one page at a time,
// following nextCursor. An error is yielded once, as the last pair.
func all[T any](ctx context.Context, cursor string, page func(ctx context.Context, cursor string) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := page(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Data {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == "" || p.NextCursor == cursor {
				return
			}
			cursor = p.NextCursor
		}
	}
}

func set(v url.Values, name, value string) {
	if value != "" {
		v.Set(name, value)
	}
}

func setInt(v url.Values, name string, n int) {
	if n != 0 {
		v.Set(name, strconv.Itoa(n))
	}
}

func setBool(v url.Values, name string, b *bool) {
	if b != nil {
		v.Set(name, strconv.FormatBool(*b))
	}
}

// Ptr is a pointer to v, for the optional fields of inputs and queries.
func Ptr[T any](v T) *T { return &v }
