package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/h0p/h0p/control/openapi"
	"github.com/h0p/h0p/shared/apierror"
)

// TestDocumentErrorStatuses: each error response of the OpenAPI document
// allows exactly the codes httpStatus answers with its status.
func TestDocumentErrorStatuses(t *testing.T) {
	d, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	tree := d.Tree()
	at := func(v any, path ...any) any {
		for _, p := range path {
			switch p := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[p]
			case int:
				l, _ := v.([]any)
				if p >= len(l) {
					return nil
				}
				v = l[p]
			}
		}
		return v
	}
	var codes []apierror.Code
	for _, c := range at(tree, "components", "schemas", "ErrorCode", "enum").([]any) {
		codes = append(codes, apierror.Code(c.(string)))
	}
	for name, status := range map[string]int{
		"ValidationError": http.StatusBadRequest, "Unauthorized": http.StatusUnauthorized, "Forbidden": http.StatusForbidden,
		"NotFound": http.StatusNotFound, "Conflict": http.StatusConflict, "IdempotencyKeyReused": http.StatusUnprocessableEntity,
		"TooLarge": http.StatusRequestEntityTooLarge, "UnsupportedMediaType": http.StatusUnsupportedMediaType,
		"RateLimited": http.StatusTooManyRequests, "Unavailable": http.StatusServiceUnavailable, "Internal": http.StatusInternalServerError,
	} {
		var got, want []string
		for _, c := range at(tree, "components", "responses", name, "content", "application/json", "schema", "allOf", 1,
			"properties", "error", "properties", "code", "enum").([]any) {
			got = append(got, c.(string))
		}
		for _, c := range codes {
			if httpStatus(c) == status {
				want = append(want, string(c))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("response %s (%d): codes %v, want %v", name, status, got, want)
		}
	}
}
