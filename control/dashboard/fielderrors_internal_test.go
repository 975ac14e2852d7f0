package dashboard

import (
	"reflect"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// TestFieldErrors: the API's validation details go beside the fields
// they name, parts of a field named as people count, several of one
// field together; the rest is the form's message.
func TestFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		details []apierror.Detail
		fields  map[string]string
		msg     string
	}{
		{"a field", []apierror.Detail{{Field: "url", Reason: "is required"}},
			map[string]string{"url": "is required"}, "Please correct the fields marked below."},
		{"parts", []apierror.Detail{{Field: "geo.DE", Reason: "must be a URL"}, {Field: "events[1]", Reason: "is unknown"},
			{Field: "variants[0].url", Reason: "must be a URL"}, {Field: "variants[2].weight", Reason: "must be positive"}},
			map[string]string{"geo": "DE must be a URL", "events": "item 2 is unknown",
				"variants": "item 1 url must be a URL; item 3 weight must be positive"},
			"Please correct the fields marked below."},
		{"the rest", []apierror.Detail{{Field: "sort", Reason: "is unknown"}, {Reason: "too many filters"}},
			map[string]string{}, "sort is unknown; too many filters"},
	} {
		err := &apiclient.Error{Status: 400, Code: apierror.ValidationError, Message: "invalid", Details: tc.details}
		fields, msg, ok := fieldErrors(err, "url", "geo", "events", "variants")
		if !ok || !reflect.DeepEqual(fields, tc.fields) || msg != tc.msg {
			t.Errorf("%s: %v %q %v, want %v %q", tc.name, fields, msg, ok, tc.fields, tc.msg)
		}
	}
}
