package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

type utm struct {
	Source string `json:"source,omitempty"`
	Medium string `json:"medium"`
}

type rule struct {
	URL    string            `json:"url"`
	Device []string          `json:"device"`
	Query  map[string]string `json:"query"`
	After  *time.Time        `json:"after"`
}

type Base struct {
	ID      string `json:"id"`
	Comment string // no tag: the Go name
}

type inner struct{ Hidden string }

type body struct {
	Base                          // promoted: id, Comment
	inner                         // unexported but embedded: Hidden promoted
	Type     string               `json:"type"`
	Name     *string              `json:"name"`
	UTM      *utm                 `json:"utm"`
	Rules    []rule               `json:"rules"`
	Pairs    [2]utm               `json:"pairs"`
	Perms    *map[string][]string `json:"permissions"`
	Data     json.RawMessage      `json:"data"`
	Any      any                  `json:"any"`
	When     time.Time            `json:"when"`
	Skipped  string               `json:"-"`
	Dash     string               `json:"-,"`
	Count    int                  `json:",string"`
	private  string
	Conflict string         `json:"id"` // shallower than Base.ID: this is "id"
	OptUTM   Opt[utm]       `json:"optUtm"`
	OptRules Opt[[]rule]    `json:"optRules"`
	OptTime  Opt[time.Time] `json:"optTime"`
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *FieldError // nil: accepted
	}{
		{"exact", `{"type":"bot","name":null,"utm":{"source":"x"},"rules":[{"url":"u","device":["ios"],"query":{"A":"1","a":"2"}}]}`, nil},
		{"go name without tag", `{"Comment":"c","Hidden":"h","Count":"3","-":"d"}`, nil},
		{"empty", `{}`, nil},
		{"not an object", `[1,2]`, nil},
		{"scalar", `"s"`, nil},
		{"escaped name", `{"\u0074ype":"bot"}`, nil},
		{"embedded struct tag wins over nothing", `{"id":"x"}`, nil},
		{"opaque values", `{"data":{"Any":1,"x":{"Y":2}},"any":{"Whatever":[{"a":1}]},"when":"2024-01-01T00:00:00Z"}`, nil},
		{"opts", `{"optUtm":{"source":"s"},"optRules":[{"url":"u","query":{"A":"1","a":"2"}}],"optTime":"2024-01-01T00:00:00Z"}`, nil},
		{"null opts", `{"optUtm":null,"optRules":null,"optTime":null}`, nil},

		{"case differs", `{"Type":"bot"}`, &FieldError{"Type", Unknown}},
		{"unknown", `{"nope":1}`, &FieldError{"nope", Unknown}},
		{"tag minus", `{"Skipped":"x"}`, &FieldError{"Skipped", Unknown}},
		{"unexported", `{"private":"x"}`, &FieldError{"private", Unknown}},
		{"go name of a tagged field", `{"UTM":{}}`, &FieldError{"UTM", Unknown}},
		{"nested case", `{"utm":{"Source":"x"}}`, &FieldError{"utm.Source", Unknown}},
		{"in array", `{"rules":[{"url":"a"},{"URL":"b"}]}`, &FieldError{"rules[1].URL", Unknown}},
		{"in fixed array", `{"pairs":[{},{"MEDIUM":"m"}]}`, &FieldError{"pairs[1].MEDIUM", Unknown}},
		{"embedded promoted by tag only", `{"ID":"x"}`, &FieldError{"ID", Unknown}},
		{"in an opt", `{"optUtm":{"Source":"x"}}`, &FieldError{"optUtm.Source", Unknown}},
		{"in an opt's array", `{"optRules":[{"url":"a"},{"URL":"b"}]}`, &FieldError{"optRules[1].URL", Unknown}},
		{"an opt's name", `{"OptUtm":{}}`, &FieldError{"OptUtm", Unknown}},

		{"duplicate", `{"type":"a","type":"b"}`, &FieldError{"type", Duplicate}},
		{"duplicate escaped", `{"type":"a","\u0074ype":"b"}`, &FieldError{"type", Duplicate}},
		{"duplicate nested", `{"utm":{"source":"a","source":"b"}}`, &FieldError{"utm.source", Duplicate}},
		{"duplicate map key", `{"permissions":{"shortLinks":["read"],"shortLinks":["delete"]}}`, &FieldError{"permissions.shortLinks", Duplicate}},
		{"duplicate in map in array", `{"rules":[{"query":{"a":"1","a":"2"}}]}`, &FieldError{"rules[0].query.a", Duplicate}},
		{"duplicate in opaque", `{"data":{"x":{"y":1,"y":2}}}`, &FieldError{"data.x.y", Duplicate}},
		{"duplicate in interface", `{"any":[{"k":1,"k":1}]}`, &FieldError{"any[0].k", Duplicate}},
		{"duplicate in unknown-typed array", `[{"a":1},{"a":1,"a":2}]`, &FieldError{"[1].a", Duplicate}},
		{"duplicate in an opt", `{"optRules":[{"query":{"a":"1","a":"2"}}]}`, &FieldError{"optRules[0].query.a", Duplicate}},
		{"opt too deep", `{"optRules":[{"query":` + objects(MaxDepth) + `}]}`, &FieldError{"optRules[0].query" + strings.Repeat(".a", MaxDepth-3), TooDeep}},
		{"first problem wins", `{"Type":1,"type":2,"type":3}`, &FieldError{"Type", Unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.doc), &body{})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.doc, err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || *fe != *tt.want {
				t.Fatalf("Check(%s) = %v, want %v", tt.doc, err, tt.want)
			}
		})
	}
}

func TestCheckMapsAndNil(t *testing.T) {
	var m map[string]json.RawMessage
	if err := Check([]byte(`{"Url":1,"url":{"A":1,"a":2}}`), &m); err != nil {
		t.Errorf("map keys: %v", err)
	}
	if err := Check([]byte(`{"url":{"a":1,"a":2}}`), &m); err == nil || err.Error() != "url.a: appears more than once" {
		t.Errorf("duplicate under a RawMessage: %v", err)
	}
	if err := Check([]byte(`{"a":[{"b":{}, "b":[]}]}`), nil); err == nil || err.Error() != "a[0].b: appears more than once" {
		t.Errorf("nil destination: %v", err)
	}
	var ss []string
	if err := Check([]byte(`{"a":1}`), &ss); err != nil { // the decoder's type error, not ours
		t.Errorf("object for a slice: %v", err)
	}
}

func TestCheckSyntax(t *testing.T) {
	for _, doc := range []string{``, ` `, `{`, `{"a":1,}`, `{"a":1}{}`, `{"a":1} x`, `[1,]`, `{"a" 1}`, `tru`, `01`,
		`{"a":1,"a":2`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001)} {
		if err := Check([]byte(doc), &body{}); err != ErrSyntax {
			t.Errorf("Check(%.40q) = %v, want ErrSyntax", doc, err)
		}
	}
	for _, doc := range []string{`1e400`, `{"count":123456789012345678901234567890}`, " \t\n{}\n", `"\ud800"`, "\"\xff\""} {
		if err := Check([]byte(doc), nil); err != nil {
			t.Errorf("Check(%.40q) = %v, want nil", doc, err)
		}
	}
}

// nest returns a document of depth objects and arrays, each holding the
// next: open(i) begins level i (from 1) and close ends it.
func nest(depth int, open func(i int) string, close func(i int) string, inner string) string {
	var b strings.Builder
	for i := 1; i <= depth; i++ {
		b.WriteString(open(i))
	}
	b.WriteString(inner)
	for i := depth; i >= 1; i-- {
		b.WriteString(close(i))
	}
	return b.String()
}

func arrays(depth int) string {
	return nest(depth, func(int) string { return "[" }, func(int) string { return "]" }, "")
}

func objects(depth int) string {
	return nest(depth, func(int) string { return `{"a":` }, func(int) string { return "}" }, "1")
}

// mixed alternates objects (odd levels) and arrays (even levels).
func mixed(depth int) string {
	return nest(depth, func(i int) string {
		if i%2 == 1 {
			return `{"a":`
		}
		return "["
	}, func(i int) string {
		if i%2 == 1 {
			return "}"
		}
		return "]"
	}, "1")
}

// TestCheckDepth: objects and arrays nest at most MaxDepth levels; the
// error names the value that would be one level deeper, and Check looks no
// further.
func TestCheckDepth(t *testing.T) {
	if want := fmt.Sprintf("is nested more than %d levels deep", MaxDepth); TooDeep != want {
		t.Fatalf("TooDeep = %q, want %q", TooDeep, want)
	}
	objectsPath := strings.Repeat(".a", MaxDepth)[1:] // a.a.…: 64 names
	mixedPath := strings.Repeat("a[0].", MaxDepth/2)
	mixedPath = mixedPath[:len(mixedPath)-1] // a[0].a[0]…: 32 of each
	type tree map[string][]tree
	tests := []struct {
		name string
		doc  string
		v    any
		want *FieldError // nil: accepted
	}{
		{"arrays 63", arrays(63), nil, nil},
		{"arrays 64", arrays(64), nil, nil},
		{"arrays 65", arrays(65), nil, &FieldError{strings.Repeat("[0]", 64), TooDeep}},
		{"objects 63", objects(63), nil, nil},
		{"objects 64", objects(64), nil, nil},
		{"objects 65", objects(65), nil, &FieldError{objectsPath, TooDeep}},
		{"objects 65 typed", objects(65), &map[string]any{}, &FieldError{objectsPath, TooDeep}},
		{"mixed 63", mixed(63), nil, nil},
		{"mixed 64", mixed(64), new(tree), nil},
		{"mixed 65", mixed(65), new(tree), &FieldError{mixedPath, TooDeep}},
		{"arrays 10000", arrays(10000), nil, &FieldError{strings.Repeat("[0]", 64), TooDeep}},
		{"later element", "[1,[]," + arrays(64) + "]", nil, &FieldError{"[2]" + strings.Repeat("[0]", 63), TooDeep}},
		{"duplicate below the limit", `[` + nest(64, func(int) string { return `{"a":1,"a":` }, func(int) string { return "}" }, "1") + `]`,
			nil, &FieldError{"[0].a", Duplicate}},
		{"duplicate beyond the limit", arrays(65)[:65] + `{"a":1,"a":2}` + arrays(65)[65:], nil, &FieldError{strings.Repeat("[0]", 64), TooDeep}},
		{"unknown name first", `{"Type":` + arrays(70) + `}`, &body{}, &FieldError{"Type", Unknown}},
		{"in opaque", `{"any":` + arrays(64) + `}`, &body{}, &FieldError{"any" + strings.Repeat("[0]", 63), TooDeep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.doc), tt.v)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check(%.60s…) = %v, want nil", tt.doc, err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || *fe != *tt.want {
				t.Fatalf("Check(%.60s…) = %v, want %v", tt.doc, err, tt.want)
			}
		})
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCheckMemory: what Check allocates grows with the size of the body
// (the decoder buffers it), never with the square of its depth or with
// depth times name length. A walk that spelt out the path at every level
// would allocate about 150 MiB for the first body and 35 MiB for the third.
func TestCheckMemory(t *testing.T) {
	longName := strings.Repeat("n", 16<<10)
	longNames := nest(MaxDepth, func(int) string { return `{"` + longName + `":` }, func(int) string { return "}" }, "1")
	tests := []struct {
		name  string
		doc   string
		limit uint64
	}{
		{"arrays 9999 deep", arrays(9999), 4 << 20},       // 20 KB
		{"objects 9999 deep", objects(9999), 4 << 20},     // 50 KB
		{"64 levels of 16 KiB names", longNames, 8 << 20}, // 1 MiB, accepted
		{"duplicate under 16 KiB names", longNames[:len(longNames)-64] + `,"` + longName + `":2` + longNames[len(longNames)-64:], 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			var err error
			got := allocated(func() { err = Check(doc, nil) })
			reason := "accepted"
			if fe, ok := errors.AsType[*FieldError](err); ok {
				reason = fe.Reason
			}
			t.Logf("%d bytes (%s): %d bytes allocated", len(doc), reason, got)
			if got > tt.limit {
				t.Errorf("Check of %d bytes allocated %d bytes, want at most %d", len(tt.doc), got, tt.limit)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	for _, tt := range []struct{ parent, path, want string }{
		{"", "a", "a"}, {"a", "", "a"}, {"utm", "Source", "utm.Source"}, {"rules", "[0].url", "rules[0].url"},
	} {
		if got := Join(tt.parent, tt.path); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.parent, tt.path, got, tt.want)
		}
	}
}

// FuzzCheck: Check never panics, accepts exactly the documents encoding/json
// finds valid, refuses as too deep exactly the documents nested more than
// MaxDepth levels (when it finds nothing else first), finds a duplicate
// exactly when decoding into maps loses a member, and a document it accepts
// for a struct has no member the decoder would call unknown.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"type":"bot","utm":{"source":"x"},"rules":[{"url":"u","query":{"a":"b"}}]}`,
		`{"Type":"bot"}`, `{"a":1,"a":2}`, `[{"x":{"y":[1,2,{"z":null}]}}]`, `{"data":{"k":1,"k":2}}`,
		`{"\u0074ype":1,"type":2}`, "{\"\xff\":1,\"\xfe\":2}", `1e400`, `{"a":1}{}`, `{`, `"\ud800"`, ``,
		arrays(MaxDepth), arrays(MaxDepth + 1), mixed(MaxDepth + 1), `{"any":` + objects(MaxDepth) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, &body{})
		var fe *FieldError
		switch {
		case errors.Is(err, ErrSyntax):
			if json.Valid(data) {
				t.Fatalf("Check(%q) = ErrSyntax on a valid document", data)
			}
			return
		case err != nil && !errors.As(err, &fe):
			t.Fatalf("Check(%q) = %v, want nil, a *FieldError or ErrSyntax", data, err)
		case !json.Valid(data):
			t.Fatalf("Check(%q) = %v on an invalid document", data, err)
		}
		members, depth := shape(data)
		deep := depth > MaxDepth
		if tooDeep := err != nil && fe.Reason == TooDeep; tooDeep && !deep || deep && err == nil {
			t.Fatalf("Check(%q) = %v, but the document is %d levels deep", data, err, depth)
		}

		// Duplicates, against encoding/json itself: decoding into maps
		// keeps one member per name, so a document loses members exactly
		// when some object repeats a name. Beyond MaxDepth, Check stops
		// at the first value too deep, so a duplicate further on goes
		// unseen.
		dupErr := Check(data, nil)
		if dupErr != nil && (!errors.As(dupErr, &fe) || fe.Reason != Duplicate && fe.Reason != TooDeep) {
			t.Fatalf("Check(%q, nil) = %v, want nil, a duplicate or too deep", data, dupErr)
		}
		tooDeep := dupErr != nil && fe.Reason == TooDeep
		if tooDeep && !deep || deep && dupErr == nil {
			t.Fatalf("Check(%q, nil) = %v, but the document is %d levels deep", data, dupErr, depth)
		}
		var tree any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			t.Fatalf("decode %q: %v", data, err)
		}
		lost := members != countKept(tree)
		if found := dupErr != nil && !tooDeep; found && !lost || !deep && lost != found {
			t.Fatalf("Check(%q, nil) = %v, but decoding into maps lost members: %v", data, dupErr, lost)
		}

		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body{}); err != nil && strings.HasPrefix(err.Error(), "json: unknown field") {
				t.Fatalf("Check(%q) = nil, but the decoder says %v", data, err)
			}
		}
	})
}

// shape counts the object members of a valid document and how deep its
// objects and arrays nest.
func shape(data []byte) (members, depth int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var inObject []bool // per open container: whether it is an object
	expectName := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return members, depth
		}
		switch tok {
		case json.Delim('{'):
			inObject = append(inObject, true)
			depth = max(depth, len(inObject))
			expectName = true
			continue
		case json.Delim('['):
			inObject = append(inObject, false)
			depth = max(depth, len(inObject))
			continue
		case json.Delim('}'), json.Delim(']'):
			inObject = inObject[:len(inObject)-1]
		default:
			if expectName {
				members++
				expectName = false
				continue
			}
		}
		expectName = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

// countKept counts the map entries of a decoded document.
func countKept(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, e := range v {
			n += countKept(e)
		}
	case []any:
		for _, e := range v {
			n += countKept(e)
		}
	}
	return n
}
