// Package jsonbody checks a JSON request body before encoding/json decodes
// it, for the two things encoding/json lets through: an object member whose
// name matches a struct field only case-insensitively ({"Type":"bot"} sets
// Type `json:"type"`), and a name given twice in one object, of which the
// last silently wins.
//
// Check walks the document's tokens alongside the Go type it will be
// decoded into and refuses, with the JSON path of the value in question:
//   - a name given twice in one object, anywhere in the document (also
//     inside values whose type it cannot see into);
//   - in an object decoded into a struct, a name that is not exactly the
//     name encoding/json gives one of its fields (the json tag, else the Go
//     name; embedded structs promoted as encoding/json does). Unknown names
//     are refused too, so a caller needs no second rule for them;
//   - an object or array nested more than MaxDepth (64) levels deep ([[1]]
//     is two), with the path of the value where the limit is hit: no body
//     needs that depth, and Check looks no deeper. What a check holds
//     grows with the body's size and its depth, never with their product.
//
// Map keys are not names: any key is accepted once. A value whose type
// implements json.Unmarshaler or encoding.TextUnmarshaler, or is an
// interface, is opaque: its names are its own business (duplicates are
// still refused). Opt is the exception: its value is checked as a T.
// Check says nothing of value types (a string where a number is due): the
// decoder does, with its own error.
//
// Paths join member names with '.' and give array elements as [i]:
// "utm.Source", "rules[0].device", "[2].url" for an array at the top.
//
// For a document json.Valid refuses (anything but one JSON value) Check
// returns ErrSyntax, and the caller's decoder can say what is wrong.
//
// Decode is how the API reads every JSON body: Check, then encoding/json
// with unknown names refused, and one mapping of what either refuses to a
// VALIDATION_ERROR naming the field (apierror). Opt is a member that may
// be absent, null or a value.
package jsonbody

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// ErrSyntax is returned by Check for a document that is not one valid JSON
// value.
var ErrSyntax = errors.New("not valid JSON")

// MaxDepth is how deep Check lets objects and arrays nest: [[1]] is two
// levels deep.
const MaxDepth = 64

// FieldError is a member or element Check refuses.
type FieldError struct {
	Path   string // its JSON path, e.g. "utm.Source" or "rules[0]"
	Reason string // Duplicate, Unknown or TooDeep
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Reason }

// Reasons of a FieldError.
const (
	Duplicate = "appears more than once"
	Unknown   = "is not a known field"
	TooDeep   = "is nested more than 64 levels deep" // MaxDepth
)

// Check checks data, a JSON document about to be decoded into v (what one
// would pass to json.Unmarshal; nil checks duplicates only). It returns
// nil, a *FieldError, or ErrSyntax.
func Check(data []byte, v any) error {
	if !json.Valid(data) {
		return ErrSyntax
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a valid number too large for a float64 is no error here
	c := checker{dec: dec}
	return c.value(reflect.TypeOf(v))
}

// Join returns path as seen from parent, the path of the value it was
// found in: Join("utm", "Source") is "utm.Source", Join("rules", "[0].url")
// is "rules[0].url".
func Join(parent, path string) string {
	switch {
	case parent == "":
		return path
	case path == "":
		return parent
	case path[0] == '[':
		return parent + path
	}
	return parent + "." + path
}

// A checker walks the document with the path of the value it is at as a
// stack of segments; the path is spelt out only for an error. Spelling it
// at every level would cost memory growing with the square of the depth
// (or with depth times name length) for a body of a few kilobytes.
type checker struct {
	dec  *json.Decoder
	path []segment
}

// segment is a member name, or an array index when index >= 0.
type segment struct {
	name  string
	index int
}

// fail returns a FieldError at the current path, spelt as Join would, in
// one buffer.
func (c *checker) fail(reason string) error {
	n := 0
	for _, s := range c.path {
		n += 1 + len(s.name) // '.' and a name
		if s.index >= 0 {
			n += 21 // '[', up to 19 digits, ']'
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range c.path {
		switch {
		case s.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case s.name == "":
		case b.Len() == 0 || s.name[0] == '[':
			b.WriteString(s.name)
		default:
			b.WriteByte('.')
			b.WriteString(s.name)
		}
	}
	return &FieldError{Path: b.String(), Reason: reason}
}

// value checks the next value of the document, to be decoded into t (nil:
// opaque). c.path is its path, so len(c.path) objects and arrays hold it.
func (c *checker) value(t reflect.Type) error {
	tok, err := c.dec.Token()
	if err != nil {
		return ErrSyntax // not reached: json.Valid accepted the document
	}
	switch tok {
	case json.Delim('{'), json.Delim('['):
		if len(c.path) >= MaxDepth {
			return c.fail(TooDeep)
		}
		if tok == json.Delim('{') {
			return c.object(concrete(t))
		}
		return c.array(concrete(t))
	}
	return nil
}

func (c *checker) object(t reflect.Type) error {
	var (
		fields map[string]reflect.Type // a struct's names; nil for any other type
		elem   reflect.Type            // a map's values
	)
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = structFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := make(map[string]bool)
	c.path = append(c.path, segment{index: -1})
	top := len(c.path) - 1
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return ErrSyntax
		}
		name, _ := tok.(string)
		c.path[top].name = name
		if seen[name] {
			return c.fail(Duplicate)
		}
		seen[name] = true
		vt := elem
		if fields != nil {
			ft, ok := fields[name]
			if !ok {
				return c.fail(Unknown)
			}
			vt = ft
		}
		if err := c.value(vt); err != nil {
			return err
		}
	}
	c.path = c.path[:top]
	if _, err := c.dec.Token(); err != nil { // '}'
		return ErrSyntax
	}
	return nil
}

func (c *checker) array(t reflect.Type) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	c.path = append(c.path, segment{})
	top := len(c.path) - 1
	for i := 0; c.dec.More(); i++ {
		c.path[top].index = i
		if err := c.value(elem); err != nil {
			return err
		}
	}
	c.path = c.path[:top]
	if _, err := c.dec.Token(); err != nil { // ']'
		return ErrSyntax
	}
	return nil
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// concrete returns the type encoding/json decodes an object or array into
// when the destination is of type t, or nil when that type decodes itself
// or is an interface: pointers are followed, as the decoder allocates them,
// and so are Opts, which decode their value as a T.
func concrete(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Kind() != reflect.Pointer && t.Implements(optionalType) {
			t = reflect.Zero(t).Interface().(optional).optValue()
			continue
		}
		if implements(t) || t.Kind() != reflect.Pointer && implements(reflect.PointerTo(t)) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

func implements(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields returns the JSON names of a struct's fields and their types,
// by encoding/json's rules: exported fields (and the exported fields of
// embedded structs, promoted), named by their json tag or else their Go
// name, "-" left out; of several fields with one name the shallowest wins,
// then a tagged one, and a tie hides them all.
func structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	type field struct {
		name   string
		typ    reflect.Type
		depth  int
		tagged bool
	}
	var all []field
	visited := map[reflect.Type]bool{}
	current := []reflect.Type{t}
	for depth := 0; len(current) > 0; depth++ {
		var next []reflect.Type
		for _, st := range current {
			if visited[st] {
				continue
			}
			for i := range st.NumField() {
				sf := st.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, ft)
					continue
				}
				f := field{name: name, typ: sf.Type, depth: depth, tagged: name != ""}
				if f.name == "" {
					f.name = sf.Name
				}
				all = append(all, f)
			}
		}
		// A struct embedded twice at one depth is walked twice, so its
		// fields tie and hide each other, as in encoding/json.
		for _, st := range current {
			visited[st] = true
		}
		current = next
	}

	slices.SortStableFunc(all, func(a, b field) int {
		switch {
		case a.name != b.name:
			return strings.Compare(a.name, b.name)
		case a.depth != b.depth:
			return a.depth - b.depth
		case a.tagged != b.tagged:
			if a.tagged {
				return -1
			}
			return 1
		}
		return 0
	})
	fields := make(map[string]reflect.Type)
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		if j-i == 1 || all[i].depth != all[i+1].depth || all[i].tagged != all[i+1].tagged {
			fields[all[i].name] = all[i].typ
		}
		i = j
	}
	f, _ := fieldCache.LoadOrStore(t, fields)
	return f.(map[string]reflect.Type)
}

// validTag reports whether encoding/json takes s as a field name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
