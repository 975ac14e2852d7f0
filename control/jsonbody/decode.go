package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/apierror"
)

// Decode decodes data, a request body, into v (a pointer): Check first,
// then encoding/json with unknown names refused. Its errors are
// VALIDATION_ERRORs of one detail:
//
//   - "body": "is empty; send a JSON object", "is not valid JSON" (also
//     for more than one value), "must be a JSON object" (or array) for a
//     value of another kind;
//   - a name Check refuses, with its path and Check's reason;
//   - a member of the wrong type: "must be a string" (an integer, a
//     number, true or false, an array, an object, an RFC 3339 time), or
//     "has the wrong type" below the top, where encoding/json gives the
//     path of struct fields only ("rules.url" for rules[0].url).
func Decode(data []byte, v any) error {
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return apierror.Invalid("body", "is empty; send a JSON object")
	}
	if err := Check(data, v); err != nil {
		return invalid(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(err)
	}
	return nil
}

// invalid is the VALIDATION_ERROR for an error of Check or of
// encoding/json decoding a body: the one place that reads them.
func invalid(err error) error {
	if fe, ok := errors.AsType[*FieldError](err); ok {
		return apierror.Invalid(fe.Path, fe.Reason)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		switch {
		case te.Field == "":
			return apierror.Invalid("body", "must be "+bodyKind(te.Type))
		case strings.Contains(te.Field, "."):
			return apierror.Invalid(te.Field, "has the wrong type")
		}
		return apierror.Invalid(te.Field, "must be "+typeName(te.Type))
	}
	// Check refuses unknown names first; a decoder refusing one anyway
	// (inside a type that decodes itself) still names it.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return apierror.Invalid(strings.Trim(name, `"`), Unknown)
	}
	return apierror.Invalid("body", "is not valid JSON")
}

// typeName names a Go type the way a JSON client thinks of it.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// bodyKind is what a whole body must be to decode into t.
func bodyKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	}
	return typeName(t)
}
