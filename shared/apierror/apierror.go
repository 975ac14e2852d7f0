// Package apierror is the error vocabulary of H0p's HTTP surfaces: the
// codes of the product spec, one Error type that carries a code, a message
// safe to show a client and optional field-level details, and the one JSON
// envelope every error answer has.
//
// It knows no HTTP. Each surface maps codes to statuses where it writes its
// answers: the API in control/api (every code), the cluster endpoints in
// replication/cluster (the few they use). Handlers return *Error values
// (wrapped or not); anything that is not an *Error is INTERNAL and its text
// is never shown to the client.
package apierror

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code.
type Code string

const (
	Unauthorized        Code = "UNAUTHORIZED"
	Forbidden           Code = "FORBIDDEN"
	NotFound            Code = "NOT_FOUND"
	MethodNotAllowed    Code = "METHOD_NOT_ALLOWED"
	AlreadyExist        Code = "ALREADY_EXIST"
	PlanLimitReached    Code = "PLAN_LIMIT_REACHED"
	FeatureNotAvailable Code = "FEATURE_NOT_AVAILABLE"
	ValidationError     Code = "VALIDATION_ERROR"
	PayloadTooLarge     Code = "PAYLOAD_TOO_LARGE"
	// UnsupportedMediaType: an upload's bytes are of a type not accepted.
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	RateLimited          Code = "RATE_LIMITED"
	Internal             Code = "INTERNAL"
	Unavailable          Code = "UNAVAILABLE"
	// IdempotencyKeyInUse: a request with the same Idempotency-Key is still
	// running; IdempotencyKeyReused: the key was used with another request.
	IdempotencyKeyInUse  Code = "IDEMPOTENCY_KEY_IN_USE"
	IdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
)

// ErrNothingWritten marks an error answered before the request wrote
// anything (e.g. UNAVAILABLE because the server is too busy right now):
// running the request again is safe, so an Idempotency-Key is not held to
// this answer. Wrap it beside the *Error: fmt.Errorf("%w: %w", e, ErrNothingWritten).
var ErrNothingWritten = errors.New("nothing was written")

// Detail names one invalid field and why.
type Detail struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is an error a client may see.
type Error struct {
	Code    Code
	Message string
	Details []Detail
	// RetryAfter, for RATE_LIMITED and UNAVAILABLE, is how long the client
	// should wait before retrying (0: not known); surfaces send it in
	// their own way (the API: Retry-After).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is a VALIDATION_ERROR naming one field.
func Invalid(field, reason string) *Error {
	return &Error{
		Code:    ValidationError,
		Message: field + ": " + reason,
		Details: []Detail{{Field: field, Reason: reason}},
	}
}

// From returns the *Error in err's chain, or an INTERNAL error that hides
// err's text.
func From(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return &Error{Code: Internal, Message: "internal error"}
}

// Envelope is the body of every error answer of H0p's HTTP surfaces (the
// API, the cluster endpoints, the admin status):
// {"error":{"code","details"?,"message","requestId"?}}.
type Envelope struct {
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is what Envelope carries; fields in the order they marshal.
type EnvelopeError struct {
	Code      Code     `json:"code"`
	Details   []Detail `json:"details,omitempty"`
	Message   string   `json:"message"`
	RequestID string   `json:"requestId,omitempty"`
}

// NewEnvelope is the envelope of e for the request requestID ("" for none).
func NewEnvelope(e *Error, requestID string) Envelope {
	return Envelope{EnvelopeError{Code: e.Code, Details: e.Details, Message: e.Message, RequestID: requestID}}
}
