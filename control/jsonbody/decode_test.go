package jsonbody

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

type optBody struct {
	Count Opt[int]       `json:"count"`
	Tags  Opt[[]string]  `json:"tags"`
	UTM   Opt[utm]       `json:"utm"`
	Rules Opt[[]rule]    `json:"rules"`
	When  Opt[time.Time] `json:"when"`
}

// TestOpt: absent leaves the zero Opt, null sets Set and Null, a value
// sets Set and V, whatever T is.
func TestOpt(t *testing.T) {
	var absent, null, value optBody
	if err := json.Unmarshal([]byte(`{}`), &absent); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(absent, optBody{}) {
		t.Errorf("absent: %+v", absent)
	}
	if err := json.Unmarshal([]byte(`{"count":null,"tags":null,"utm":null,"rules":null,"when":null}`), &null); err != nil {
		t.Fatal(err)
	}
	if want := (optBody{Opt[int]{Set: true, Null: true}, Opt[[]string]{Set: true, Null: true}, Opt[utm]{Set: true, Null: true},
		Opt[[]rule]{Set: true, Null: true}, Opt[time.Time]{Set: true, Null: true}}); !reflect.DeepEqual(null, want) {
		t.Errorf("null: %+v", null)
	}
	err := json.Unmarshal([]byte(`{"count":0,"tags":[],"utm":{"source":"s"},"rules":[{"url":"u"}],"when":"2024-01-02T03:04:05Z"}`), &value)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if want := (optBody{Of(0), Of([]string{}), Of(utm{Source: "s"}), Of([]rule{{URL: "u"}}), Of(when)}); !reflect.DeepEqual(value, want) {
		t.Errorf("value: %+v, want %+v", value, want)
	}
}

// TestOptErrors: a value that is not a T is a *json.UnmarshalTypeError
// with the path encoding/json gives it.
func TestOptErrors(t *testing.T) {
	tests := []struct {
		doc, field string
		typ        reflect.Type
	}{
		{`{"count":"x"}`, "count", reflect.TypeFor[int]()},
		{`{"tags":"x"}`, "tags", reflect.TypeFor[[]string]()},
		{`{"tags":[1]}`, "tags", reflect.TypeFor[[]string]()}, // the member's type, not the element's
		{`{"utm":[]}`, "utm", reflect.TypeFor[utm]()},
		{`{"utm":{"source":1}}`, "utm.source", reflect.TypeFor[string]()},
		{`{"rules":[{"url":"u"},{"device":"ios"}]}`, "rules.device", reflect.TypeFor[[]string]()},
		{`{"rules":[{"after":"yesterday"}]}`, "rules", reflect.TypeFor[time.Time]()},
		{`{"when":"yesterday"}`, "when", reflect.TypeFor[time.Time]()},
		{`{"when":5}`, "when", reflect.TypeFor[time.Time]()},
	}
	for _, tt := range tests {
		var b optBody
		err := json.Unmarshal([]byte(tt.doc), &b)
		te, ok := errors.AsType[*json.UnmarshalTypeError](err)
		if !ok || te.Field != tt.field || te.Type != tt.typ {
			t.Errorf("%s: %v, want a type error at %s of %v", tt.doc, err, tt.field, tt.typ)
		}
	}
	// Unknown names inside are refused even without Check.
	var b optBody
	if err := json.Unmarshal([]byte(`{"utm":{"sauce":"x"}}`), &b); err == nil {
		t.Error("an unknown name inside an Opt decoded")
	}
}

type decodeBody struct {
	Name  string              `json:"name"`
	Count int                 `json:"count"`
	Ratio float64             `json:"ratio"`
	On    bool                `json:"on"`
	IDs   *[]string           `json:"ids"`
	UTM   *utm                `json:"utm"`
	Perms map[string][]string `json:"permissions"`
	Rules Opt[[]rule]         `json:"rules"`
	When  Opt[time.Time]      `json:"when"`
}

// TestDecode: whatever Check or the decoder refuses is one
// VALIDATION_ERROR detail, worded the same for every body.
func TestDecode(t *testing.T) {
	tests := []struct {
		doc           string
		field, reason string // "": accepted
	}{
		{`{"name":"n","count":1,"ratio":0.5,"on":true,"ids":["a"],"utm":{"source":"s"},"rules":[{"url":"u"}],"when":null}`, "", ""},
		{`null`, "", ""}, // a body of null decodes to nothing: the caller decides

		{``, "body", "is empty; send a JSON object"},
		{" \r\n\t", "body", "is empty; send a JSON object"},
		{`{`, "body", "is not valid JSON"},
		{`{"name":"a"}{}`, "body", "is not valid JSON"},
		{`{"name":"a"} x`, "body", "is not valid JSON"},
		{`[]`, "body", "must be a JSON object"},
		{`"x"`, "body", "must be a JSON object"},

		{`{"Name":"x"}`, "Name", Unknown},
		{`{"nope":1}`, "nope", Unknown},
		{`{"utm":{"Source":"x"}}`, "utm.Source", Unknown},
		{`{"rules":[{"URL":"x"}]}`, "rules[0].URL", Unknown},
		{`{"name":"a","name":"b"}`, "name", Duplicate},
		{`{"permissions":{"a":[],"a":[]}}`, "permissions.a", Duplicate},
		{`{"ids":` + arrays(MaxDepth) + `}`, "ids" + strings.Repeat("[0]", MaxDepth-1), TooDeep},
		{`{"on":1,"Name":"x"}`, "Name", Unknown}, // names first, anywhere in the body

		{`{"name":1}`, "name", "must be a string"},
		{`{"count":"1"}`, "count", "must be an integer"},
		{`{"count":1.5}`, "count", "must be an integer"},
		{`{"ratio":"x"}`, "ratio", "must be a number"},
		{`{"on":"yes"}`, "on", "must be true or false"},
		{`{"ids":"x"}`, "ids", "must be an array"},
		{`{"utm":[]}`, "utm", "must be an object"},
		{`{"permissions":[]}`, "permissions", "must be an object"},
		{`{"utm":{"source":1}}`, "utm.source", "has the wrong type"},
		{`{"rules":{}}`, "rules", "must be an array"},
		{`{"rules":[{"url":1}]}`, "rules.url", "has the wrong type"},
		{`{"when":"tomorrow"}`, "when", "must be an RFC 3339 time"},
		{`{"on":1,"count":"x"}`, "on", "must be true or false"}, // the first in the body
	}
	for _, tt := range tests {
		var b decodeBody
		err := Decode([]byte(tt.doc), &b)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("Decode(%.80s) = %v, want nil", tt.doc, err)
			}
			continue
		}
		want := []apierror.Detail{{Field: tt.field, Reason: tt.reason}}
		if e, ok := errors.AsType[*apierror.Error](err); !ok || e.Code != apierror.ValidationError || !slices.Equal(e.Details, want) {
			t.Errorf("Decode(%.80s) = %v, want %v", tt.doc, err, want)
		}
	}

	var ids []string
	if err := Decode([]byte(`{}`), &ids); err == nil || err.Error() != "VALIDATION_ERROR: body: must be a JSON array" {
		t.Errorf("an object for an array body: %v", err)
	}
}

// TestInvalidUnknownField: a decoder that refuses an unknown name itself
// (where Check cannot look) is mapped the same way as Check.
func TestInvalidUnknownField(t *testing.T) {
	err := invalid(errors.New(`json: unknown field "sauce"`))
	want := []apierror.Detail{{Field: "sauce", Reason: Unknown}}
	if e, ok := errors.AsType[*apierror.Error](err); !ok || !slices.Equal(e.Details, want) {
		t.Errorf("invalid = %v, want %v", err, want)
	}
}
