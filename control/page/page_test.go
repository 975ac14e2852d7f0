package page

import (
	"errors"
	"testing"

	"github.com/h0p/h0p/shared/apierror"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, Default}, {1, 1}, {Max, Max}} {
		if got, err := Limit(tc.in); err != nil || got != tc.want {
			t.Errorf("Limit(%d) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []int{-1, Max + 1} {
		if _, err := Limit(in); apierror.From(err).Code != apierror.ValidationError {
			t.Errorf("Limit(%d): %v, want a validation error", in, err)
		}
	}
}

func TestCursorsByID(t *testing.T) {
	rows := []string{"a", "b", "c"}
	got, next := TrimByID(rows, 2, func(s string) string { return s })
	if len(got) != 2 || next == "" {
		t.Fatalf("TrimByID: %v %q", got, next)
	}
	if after, err := AfterID(next); err != nil || after != "b" {
		t.Fatalf("AfterID(%q) = %q, %v", next, after, err)
	}
	if got, next := TrimByID(rows, 3, func(s string) string { return s }); len(got) != 3 || next != "" {
		t.Fatalf("last page: %v %q", got, next)
	}
	for _, bad := range []string{"!", "bm90IGpzb24", Encode("")} {
		if _, err := AfterID(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("AfterID(%q): %v", bad, err)
		}
	}
}
