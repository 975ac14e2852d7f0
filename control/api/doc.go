// Package api is the control plane's HTTP API (gin): routing, the error
// envelope, request IDs, body limits, authentication and the handlers, which
// stay short and call the services (control/links, …).
//
// # Errors
//
// Every error on every path — unknown route, wrong method, bad JSON, oversize
// body, missing or invalid key, panic — is written by writeError as
// {"error":{"code","message","requestId"[,"details"]}}. Codes are those of
// DESIGN.md §5; where HTTP has a more precise status than that list, the API
// uses it with its own code: 405 METHOD_NOT_ALLOWED (with Allow), 413
// PAYLOAD_TOO_LARGE (bodies over 1 MiB), 503 UNAVAILABLE (the change could
// not be replicated; the outbox will finish it).
//
// # Decisions
//
//   - Request bodies are JSON whatever the Content-Type says, so `curl -d`
//     works; unknown fields are refused.
//   - Trailing-slash and fixed-path redirects are off: /v1/links/ is a 404 in
//     the envelope, not a redirect.
//   - The request ID is generated here (req_<ULID>), returned in the
//     X-Request-Id header and in every error body.
package api
