// Package api is the control plane's HTTP API (gin): routing, the error
// envelope, request IDs, body limits, authentication and the handlers, which
// stay short and call the services (control/links, …).
//
// # Errors
//
// Every error on every path — unknown route, wrong method, bad JSON, oversize
// body, missing or invalid key, panic — is written by fail as
// {"error":{"code","message","requestId"[,"details"]}}. Codes are those of
// DESIGN.md §5; where HTTP has a more precise status than that list, the API
// uses it with its own code: 405 METHOD_NOT_ALLOWED (with Allow), 413
// PAYLOAD_TOO_LARGE (bodies over 1 MiB), 503 UNAVAILABLE (the change could
// not be replicated; the outbox will finish it), 409 IDEMPOTENCY_KEY_IN_USE
// and 422 IDEMPOTENCY_KEY_REUSED (Idempotency-Key, below).
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
// Rate limits are sliding windows (control/ratelimit): never more than q
// requests in any span of the period, wherever it starts. At a steady 5/s a
// key makes 100 requests in its first 20 s, then gets 429 with Retry-After:
// 40 until its first request leaves the minute window, 60 s after it was
// made. Each control node limits on its own (no shared limiter yet).
//
// # Idempotency-Key
//
// Every write route with a caller (POST, PUT, PATCH, DELETE of the route
// table) takes an optional Idempotency-Key header of 1 to 255 printable
// ASCII characters (otherwise 400 VALIDATION_ERROR naming the header), with
// Stripe's semantics. One middleware after guard does it (idempotency.go):
//
//   - The first request with a key claims it — one atomic insert in the
//     control store, so control nodes sharing PostgreSQL cannot both run it
//     — and runs. Its answer (status, body, Content-Type and Location) is
//     kept for 24 hours: the same key with the same request (method, path
//     with query, and body, compared by HMAC-SHA256) gets that answer again,
//     with Idempotent-Replayed: true, and runs nothing. A replay has its own
//     X-Request-Id and rate-limit headers; a replayed error body keeps the
//     first request's requestId. After 24 hours the key is free again.
//   - The same key with another request: 422 IDEMPOTENCY_KEY_REUSED. While
//     the first request runs: 409 IDEMPOTENCY_KEY_IN_USE with Retry-After: 1.
//     A request still running after 5 minutes is taken for lost (its
//     control node stopped): retries get 500 INTERNAL saying its outcome is
//     unknown — should it finish after all, its answer is replayed.
//   - Keys belong to the credential that calls, in its org: a person's
//     sessions share theirs, each API key has its own (a replay skips the
//     handler's checks, so a narrower key must not replay what its person's
//     session was allowed to do); creating an org, which is outside any
//     org, is scoped by the person alone. Two callers never see each
//     other's answers, whatever keys they choose. Fingerprints are HMACs
//     under a key derived from the pepper (bodies may hold passwords), and
//     saved answers are encrypted (some carry a secret shown once).
//   - Saved: the answer of every request that reached its handler, 2xx and
//     5xx alike, since a 5xx may follow a commit (503 UNAVAILABLE, saved but
//     not replicated yet; a panic after a write): a retry replays it rather
//     than making the change twice. Not saved, and the key freed for a
//     corrected request: 4xx answers, refusals that changed nothing (body
//     validation, not found, conflicts, plan limits). A 4xx that follows a
//     change (an import whose later batch fails) is saved (changedAnyway);
//     the 5xx that comes
//     before any write (503 when link passwords cannot be hashed in time,
//     apierror.ErrNothingWritten) is not. Guard's refusals
//     (authentication, permission, rate limit) come before the key is read.
//   - A keyed request does not depend on its client: its handler runs on the
//     request's context without cancellation (nor RequestTimeout's
//     deadline) and its answer is saved when it ends, so a dropped connection or a write timeout during a long bulk
//     create never loses the answer of a commit — the retry waits (409),
//     then gets it. A request that fails before its handler runs (the claim
//     itself, an unreadable body) keeps no key.
//   - Public routes (login, accepting an invitation) ignore the header: they
//     have no caller to scope a key to, repeating them is harmless (a second
//     login opens a second session, an accepted invitation answers 409
//     ALREADY_EXIST), and a login's answer is a session token.
//   - Saved bodies are sealed with AES-GCM under a key derived from the
//     pepper and bound to their entry: some carry a secret shown once (a new
//     API key, an invitation token) that the store otherwise keeps only as a
//     digest.
//   - Expired entries count as absent; one keyed request in 32 also deletes
//     up to 256 of them, oldest first, by an index on creation time.
//   - The body is read whole before the handler runs (it is fingerprinted),
//     within the route's body limit.
//   - In cluster mode a follower forwards writes to the leader before guard,
//     so the key is claimed, and the handler run, once: on the leader.
//
// # Decisions
//
//   - Request bodies are JSON whatever the Content-Type says, so `curl -d`
//     works; unknown fields are refused.
//   - Field names match exactly, case included, and a name given twice in
//     one object, at any depth, is refused: {"Type":"bot"} or
//     {"url":"a","url":"b"} answer 400 VALIDATION_ERROR whose details name
//     the JSON path ("Type", "utm.Source", "rules[0].device",
//     "permissions.shortLinks"). encoding/json alone would match names
//     case-insensitively and keep the last of two, so a body could mean
//     something else to the API than to a proxy or a client library that
//     read it. Every body is read by jsonbody.Decode (through decodeJSON
//     here, links.DecodeInput for links), which checks it before decoding
//     it and maps whatever it refuses to one detail. A bulk create reports
//     such an item in its own result, as its other errors.
//   - Objects and arrays in a body nest at most 64 levels deep (no body
//     needs more); deeper answers 400 VALIDATION_ERROR at the path where
//     the limit is hit, "is nested more than 64 levels deep", and the
//     check reads nothing below it.
//   - Bulk bodies: POST /v1/links/bulk takes a JSON array of link objects;
//     PATCH /v1/links/bulk {"ids"|"linkIds"|"externalIds": [...], "data":
//     {changes}}; DELETE /v1/links/bulk {"ids"|"linkIds"|"externalIds":
//     [...]}. linkIds is Dub's name for ids. A call gives exactly one of
//     the three lists, non-empty, at most links.MaxBulk (1,000) long; a
//     body with two (ids and linkIds included) is 400 VALIDATION_ERROR
//     naming the second in that order, so the index of each result is a
//     position in the one list given. (Dub takes linkIds and externalIds
//     together, linkIds winning, and deletes by query string.) data may not
//     set key or externalId, which are per link; a DELETE body has no data.
//     Every call answers 200 with {"data": [{"index", "link" | "error"}]}
//     in order (a deleted link as {"id"} alone, as DELETE /v1/links/{id}
//     answers); one item's error does not stop the others.
//   - GET /v1/org shows the org, its plan's limits (null: no limit, 0:
//     not in the plan), its features (each true or false) and its usage,
//     of the limits and features H0p has endpoints for today only
//     (plans.Plan.Served); those of endpoints still to come stay in the
//     plan table (control/plans) and appear with their endpoints.
//   - Trailing-slash and fixed-path redirects are off: /v1/links/ is a 404 in
//     the envelope, not a redirect.
//   - The request ID is generated here (req_<ULID>), returned in the
//     X-Request-Id header and in every error body.
//   - The client IP is the TCP peer: X-Forwarded-For is not trusted (the
//     API has no trusted-proxy setting yet; the edge has --trusted-proxies).
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
