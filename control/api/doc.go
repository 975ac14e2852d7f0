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
// # Routes and permissions
//
// Every endpoint is one entry of routes() with the access.Need it requires;
// guard (auth.go) is the one middleware that enforces it: it resolves the
// caller (API key, or session token plus x-org-id), spends from their rate
// limit (per key, per signed-in user, or per client IP without valid
// credentials), and asks control/access. TestEveryRouteDeclaresItsPermission
// fails for a route served outside that table; TestPermissionMatrix walks
// every route × role × principal kind × grants.
//
// Rate limits are GCRA (control/ratelimit): a window of q per period admits
// a burst of q, then one every period/q — at a steady 5/s a key makes 149
// requests in its first 30 s before the minute window refuses. Each control
// node limits on its own until the Redis limiter (a later issue) is wired.
//
// # Decisions
//
//   - Request bodies are JSON whatever the Content-Type says, so `curl -d`
//     works; unknown fields are refused.
//   - Trailing-slash and fixed-path redirects are off: /v1/links/ is a 404 in
//     the envelope, not a redirect.
//   - The request ID is generated here (req_<ULID>), returned in the
//     X-Request-Id header and in every error body.
//   - The client IP is the TCP peer: X-Forwarded-For is not trusted until
//     trusted proxies are configurable (the edge issue adds them there).
//   - Deletes answer 200 with the deleted object's id; lists answer
//     {"data": [...], "nextCursor": …}. Links, audit logs and tags take a
//     limit of 1 to 100 (default 50) and a cursor. Tags list by name,
//     case-insensitively, then ID; their cursor is the last tag's name and
//     ID, so a tag renamed between two pages may show up twice or not at
//     all.
//   - A call that sets link passwords is checked (validation, plan, quota,
//     tag limit) before any is hashed: hashing is argon2id at 19 MiB. One
//     call hashes at most links.MaxPasswordsPerCall (100) of them: a bulk
//     create with more links that would get a password is refused with 400
//     VALIDATION_ERROR on "password", nothing created. When the process's
//     hashing slots stay busy past the call's hashing time (5 s), the call
//     gets 503 UNAVAILABLE and nothing is written.
//   - Link destinations (url, expiredUrl, ios, android, geo, rules[].url,
//     variants[].url) onto a short domain, or onto an edge's address and
//     port in any form a browser reads (127.1, 0x7f000001, [::ffff:7f00:1]),
//     are refused with 400 VALIDATION_ERROR naming the field: they loop.
//     Control learns the edges' addresses from --edge-addrs; h0p dev passes
//     its edge's own.
//   - Every request's context ends RequestTimeout after it reaches the
//     router; control sets 25 s, 5 s inside the server's 30 s write
//     timeout. Work still running then (hashing, waiting for the store's
//     writer, a raft apply, the next batch of an import) stops with 503
//     instead of committing a change whose answer could not be written.
package api
