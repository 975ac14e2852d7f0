package links

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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
		{`{"url":42}`, "url", "must be a string"},
		{`{"geo":{"US":5}}`, "geo", "must be an object"},
		{`{"geo":[]}`, "geo", "must be an object"},
		{`{"rules":{}}`, "rules", "must be an array"},
		{`{"rules":[{"url":"u","device":"ios"}]}`, "rules.device", "has the wrong type"},
		{`{"rules":[{"url":"u","query":{"ref":1}}]}`, "rules.query", "has the wrong type"},
		{`{"rules":[{"url":"u","after":"tomorrow"}]}`, "rules", "must be an RFC 3339 time"},
		{`{"validSince":true}`, "validSince", "must be an RFC 3339 time"},
		{`{"redirectStatus":1.5}`, "redirectStatus", "must be an integer"},
		{`{"maxClicks":1e30}`, "maxClicks", "must be an integer"},
		{`{"preview":"x"}`, "preview", "must be an object"},
		{`{"variants":[1]}`, "variants", "must be an array"},
		{`{"flavour":"x"}`, "flavour", jsonbody.Unknown},
		{`{"rules":[{"url":"u","countri":["US"]}]}`, "rules[0].countri", jsonbody.Unknown},
		{``, "body", "is empty; send a JSON object"},
		{" \n", "body", "is empty; send a JSON object"},
		{`{"url":`, "body", "is not valid JSON"},
		{`{}{}`, "body", "is not valid JSON"},
		{`{"url":"a"} x`, "body", "is not valid JSON"},
		// Of two values of the wrong type, the first in the body.
		{`{"archived":1,"maxClicks":"x"}`, "archived", "must be true or false"},
		{`{"maxClicks":"x","archived":1}`, "maxClicks", "must be an integer"},

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

// member returns the Opt of in whose json tag is name, as its Set, Null
// and V.
func member(t *testing.T, in Input, name string) (set, null bool, v any) {
	t.Helper()
	rv := reflect.ValueOf(in)
	for i := range rv.NumField() {
		if rv.Type().Field(i).Tag.Get("json") == name {
			f := rv.Field(i)
			return f.FieldByName("Set").Bool(), f.FieldByName("Null").Bool(), f.FieldByName("V").Interface()
		}
	}
	t.Fatalf("Input has no member %q", name)
	return false, false, nil
}

// TestDecodeInputMembers: every member of a link input, of every kind,
// tells absent (the zero Opt), null (Set and Null) and a value (Set, V)
// apart.
func TestDecodeInputMembers(t *testing.T) {
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, value string
		want        any
	}{
		{"url", `"https://example.com/a"`, "https://example.com/a"},
		{"domain", `"Localhost."`, "Localhost."},
		{"key", `"spring"`, "spring"},
		{"title", `"T"`, "T"},
		{"description", `""`, ""}, // an empty string is a value
		{"image", `"https://example.com/i.png"`, "https://example.com/i.png"},
		{"externalId", `"crm-1"`, "crm-1"},
		{"comments", `"c"`, "c"},
		{"tags", `["a","B"]`, []string{"a", "B"}},
		{"expiresAt", `"2027-01-02T03:04:05Z"`, at},
		{"validSince", `"2027-01-02T04:04:05+01:00"`, at.In(time.FixedZone("", 3600))},
		{"expiredUrl", `"https://example.com/over"`, "https://example.com/over"},
		{"password", `"pw"`, "pw"},
		{"ios", `"https://apps.apple.com/x"`, "https://apps.apple.com/x"},
		{"android", `"https://play.google.com/x"`, "https://play.google.com/x"},
		{"geo", `{"de":"https://example.de/"}`, map[string]string{"de": "https://example.de/"}},
		{"rules", `[{"url":"https://example.com/fr","device":["ios"],"os":["iOS"],"browser":["Safari"],"country":["fr"],` +
			`"language":["fr"],"query":{"ref":""},"after":"2027-01-02T03:04:05Z"}]`,
			[]RuleInput{{URL: "https://example.com/fr", Device: []string{"ios"}, OS: []string{"iOS"}, Browser: []string{"Safari"},
				Country: []string{"fr"}, Language: []string{"fr"}, Query: map[string]string{"ref": ""}, After: &at}}},
		{"variants", `[{"url":"https://a.example/","weight":60},{"url":"https://b.example/","weight":40}]`,
			[]Variant{{URL: "https://a.example/", Weight: 60}, {URL: "https://b.example/", Weight: 40}}},
		{"utm", `{"source":"news","content":"c"}`, UTM{Source: "news", Content: "c"}},
		{"forwardQuery", `false`, false}, // false is a value
		{"archived", `true`, true},
		{"disabled", `true`, true},
		{"doIndex", `false`, false},
		{"doNotTrack", `true`, true},
		{"redirectStatus", `301`, 301},
		{"maxClicks", `1000`, int64(1000)},
		{"preview", `{"title":"P","image":"https://example.com/p.png"}`, Preview{Title: "P", Image: "https://example.com/p.png"}},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.name)
		t.Run(tt.name, func(t *testing.T) {
			absent, err := DecodeInput([]byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if set, null, _ := member(t, absent, tt.name); set || null {
				t.Errorf("absent: Set %v, Null %v", set, null)
			}
			null, err := DecodeInput([]byte(`{"` + tt.name + `":null}`))
			if err != nil {
				t.Fatal(err)
			}
			if set, isNull, _ := member(t, null, tt.name); !set || !isNull {
				t.Errorf("null: Set %v, Null %v", set, isNull)
			}
			value, err := DecodeInput([]byte(`{"` + tt.name + `": ` + tt.value + `}`))
			if err != nil {
				t.Fatal(err)
			}
			set, isNull, v := member(t, value, tt.name)
			if !set || isNull || !reflect.DeepEqual(v, tt.want) {
				t.Errorf("value: Set %v, Null %v, V %#v; want %#v", set, isNull, v, tt.want)
			}
		})
	}
	// Every member is above.
	for i := range reflect.TypeFor[Input]().NumField() {
		f := reflect.TypeFor[Input]().Field(i)
		if name := f.Tag.Get("json"); f.IsExported() && !slices.Contains(names, name) {
			t.Errorf("member %q (%s) is not tested", name, f.Name)
		}
	}
}

// TestInputChanges: an upsert updates its link when the input sets any
// member but url and domain, which pick the link.
func TestInputChanges(t *testing.T) {
	if (Input{URL: jsonbody.Of("https://example.com/"), Domain: jsonbody.Of("localhost")}).changes() {
		t.Error("url and domain alone change the link")
	}
	typ := reflect.TypeFor[Input]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Name == "URL" || f.Name == "Domain" {
			continue
		}
		var in Input
		reflect.ValueOf(&in).Elem().Field(i).FieldByName("Set").SetBool(true)
		if !in.changes() {
			t.Errorf("an input setting %s changes nothing", f.Name)
		}
	}
}
