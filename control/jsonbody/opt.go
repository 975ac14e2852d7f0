package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"time"
)

// Opt is a member of a body that may be absent, null or a value, so a
// change (PATCH) touches only the members a client sent and null clears
// one: absent leaves the zero Opt, null sets Set and Null, a value sets
// Set and V.
//
// Check walks an Opt's value as a T, so names inside it are checked like
// any other. Its value is decoded with unknown names refused.
type Opt[T any] struct {
	Set, Null bool
	V         T
}

// Of is a present, non-null Opt.
func Of[T any](v T) Opt[T] { return Opt[T]{Set: true, V: v} }

// UnmarshalJSON reads null or a T. A value that is not a T is reported as
// a *json.UnmarshalTypeError, which encoding/json completes with the
// member's path: one inside the value keeps its own path below it; the
// value as a whole (a string for an array, a time that does not parse)
// is named with the type T, or time.Time for a time anywhere inside it,
// for which encoding/json gives no path.
func (o *Opt[T]) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*o = Opt[T]{Set: true, Null: true}
		return nil
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return te
		}
		typ := reflect.TypeFor[T]()
		if _, ok := errors.AsType[*time.ParseError](err); ok {
			typ = reflect.TypeFor[time.Time]()
		}
		return &json.UnmarshalTypeError{Value: valueKind(data), Type: typ}
	}
	*o = Opt[T]{Set: true, V: v}
	return nil
}

// optValue is the type an Opt holds, for Check.
func (Opt[T]) optValue() reflect.Type { return reflect.TypeFor[T]() }

// optional is implemented by Opt alone.
type optional interface{ optValue() reflect.Type }

var optionalType = reflect.TypeFor[optional]()

// valueKind names the JSON value data starts with, as encoding/json's
// errors do.
func valueKind(data []byte) string {
	switch data = bytes.TrimLeft(data, " \t\r\n"); {
	case len(data) == 0:
		return "nothing"
	case data[0] == '{':
		return "object"
	case data[0] == '[':
		return "array"
	case data[0] == '"':
		return "string"
	case data[0] == 't' || data[0] == 'f':
		return "bool"
	}
	return "number"
}
