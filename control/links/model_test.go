package links

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/shared/apierror"
)

// TestDecodeInputErrors: one walk of the body (control/jsonbody) names the
// first name problem in it, then decoding names a value of the wrong type;
// each error is one VALIDATION_ERROR detail with the field's JSON path.
func TestDecodeInputErrors(t *testing.T) {
	deepTags := func(depth int) string {
		return `{"tags":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	}
	tests := []struct {
		doc           string
		field, reason string // "": accepted
	}{
		{`{"url":"https://example.com/a","url":"https://example.com/b"}`, "url", jsonbody.Duplicate},
		{`{"\u0075rl":"a","url":"b"}`, "url", jsonbody.Duplicate},
		{`{"url":"https://example.com/a","utm":{"Source":"x"}}`, "utm.Source", jsonbody.Unknown},
		{`{"utm":{"source":"x","source":"y"}}`, "utm.source", jsonbody.Duplicate},
		{`{"rules":[{"url":"u","Device":["ios"]}]}`, "rules[0].Device", jsonbody.Unknown},
		{`{"rules":[{"url":"u","query":{"q":"1","q":"2"}}]}`, "rules[0].query.q", jsonbody.Duplicate},
		{`{"rules":[{"url":"u","after":"2024-01-01T00:00:00Z","Before":"x"}]}`, "rules[0].Before", jsonbody.Unknown},
		{`{"rules":[{"url":"u","after":{"x":1,"x":2}}]}`, "rules[0].after.x", jsonbody.Duplicate},
		{`{"geo":{"US":"a","US":"b"}}`, "geo.US", jsonbody.Duplicate},
		{`{"preview":{"TITLE":"x"}}`, "preview.TITLE", jsonbody.Unknown},
		{`{"variants":[{"url":"a","weight":50},{"url":"b","Weight":50}]}`, "variants[1].Weight", jsonbody.Unknown},
		{`{"URL":"x"}`, "URL", jsonbody.Unknown},
		{`{"nope":{"a":1}}`, "nope", jsonbody.Unknown},
		{`{"":1}`, "", jsonbody.Unknown},
		{`[{"a":1,"a":2}]`, "[0].a", jsonbody.Duplicate},

		{`{"tags":"x"}`, "tags", "must be an array"},
		{`{"tags":[1]}`, "tags", "must be an array"},
		{`{"expiresAt":"yesterday"}`, "expiresAt", "must be an RFC 3339 time"},
		{`{"expiresAt":5}`, "expiresAt", "must be an RFC 3339 time"},
		{`{"rules":[{"url":5}]}`, "rules.url", "has the wrong type"},
		{`{"variants":[{"url":"a","weight":"x"}]}`, "variants.weight", "has the wrong type"},
		{`{"utm":{"source":1}}`, "utm.source", "has the wrong type"},
		{`{"maxClicks":"x"}`, "maxClicks", "must be an integer"},
		{`{"archived":1}`, "archived", "must be true or false"},
		{`{"utm":[]}`, "utm", "must be an object"},
		{`null`, "body", "must be a JSON object"},
		{`[]`, "body", "must be a JSON object"},
		{`"x"`, "body", "must be a JSON object"},
		{`{"url":null,"tags":null,"utm":{"source":"s"}}`, "", ""},

		// The body is the document: its root is level 1.
		{deepTags(63), "tags", "must be an array"},
		{deepTags(64), "tags" + strings.Repeat("[0]", 63), jsonbody.TooDeep},
		{`{"rules":[{"query":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}]}`,
			"rules[0].query" + strings.Repeat(".a", 61), jsonbody.TooDeep},

		// Of two problems, the first in the body.
		{`{"url":"a","url":"b","utm":{"Source":1}}`, "url", jsonbody.Duplicate},
		{`{"utm":{"Source":1},"url":"a","url":"b"}`, "utm.Source", jsonbody.Unknown},
		{`{"archived":1,"preview":{"TITLE":"x"}}`, "preview.TITLE", jsonbody.Unknown},
	}
	for _, tt := range tests {
		_, err := DecodeInput([]byte(tt.doc))
		if tt.reason == "" {
			if err != nil {
				t.Errorf("DecodeInput(%.80s) = %v, want nil", tt.doc, err)
			}
			continue
		}
		ae, ok := errors.AsType[*apierror.Error](err)
		want := []apierror.Detail{{Field: tt.field, Reason: tt.reason}}
		if !ok || ae.Code != apierror.ValidationError || !slices.Equal(ae.Details, want) {
			t.Errorf("DecodeInput(%.80s) = %v, want %v", tt.doc, err, want)
		}
	}
}
