// Package api is the control plane's HTTP API (gin): routing, the error
// envelope, request IDs, body limits, authentication, rate limits,
// Idempotency-Key, and the handlers, which stay short and call the services
// (control/links, control/accounts, …).
//
// Contract:
//
//   - Every endpoint is one entry of routes() with the access.Need it
//     requires, and guard (auth.go) is the one middleware that enforces it:
//     it resolves the caller (API key, or session token plus x-org-id),
//     spends from their rate limit and asks control/access.
//   - Every answer that is not a success — unknown route, wrong method, bad
//     JSON, oversize body, refused credentials, panic — is the envelope of
//     shared/apierror with a request ID, written by fail with the status
//     httpStatus (status.go) maps its code to.
//   - Bodies are JSON, read strictly (control/jsonbody): unknown, duplicate
//     or case-folded fields and nesting beyond 64 levels are 400
//     VALIDATION_ERROR naming the JSON path.
//   - A write with an Idempotency-Key runs once per credential and key; its
//     answer is replayed for 24 hours (idempotency.go).
//   - Objects of another org answer NOT_FOUND; lists page with limit and
//     cursor; every request's work ends at Config.RequestTimeout.
//
// The decisions behind these rules (statuses beyond the product's codes,
// Idempotency-Key in full, bulk bodies, passwords, loops, time limits) are
// in DESIGN.md beside this file.
package api
