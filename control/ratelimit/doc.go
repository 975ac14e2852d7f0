// Package ratelimit is the control API's rate limiter: per key, a number of
// requests per second and per minute, both checked in one atomic step, and
// the RateLimit headers that describe the outcome.
//
// It owns the limiting arithmetic (Decide), the per-key state of the
// in-process implementation (Memory) and the header format. Memory limits
// one process: N control nodes give a key N times its limits unless they
// share redislimit's Limiter, the same logs in one Redis, decided in one
// Lua script by Redis's clock. limitertest is the suite both pass. It does not know what a key
// is: callers pass an opaque string ("key:key_123", "user:usr_1",
// "ip:1.2.3.4") and, on every call, the Limits to hold it to. It does not
// write responses or error bodies (the API maps a refusal to 429
// RATE_LIMITED), and it never sleeps: callers and tests inject the clock.
//
// Invariants:
//   - Windows are exact: no span [a, a+w) of a window's length w, wherever
//     it starts, holds more than its quota q of allowed requests.
//   - Check and spend are one step: a request refused by either window
//     spends from neither.
//   - A key's state is the instants of its requests allowed in the last
//     minute, so new Limits count the requests already made, and a key
//     whose requests have all left the minute reads exactly like a new one.
//   - Time never goes back: an instant earlier than one already seen counts
//     as that one.
//   - SetHeaders writes the fields of draft-ietf-httpapi-ratelimit-headers;
//     a zero Decision (returned with an error) writes none. Whether to fail
//     open or closed when a limiter errs (Redis down) is the caller's
//     choice: the API's --redis-fail, open (let through) by default,
//     closed answering 503 UNAVAILABLE with Retry-After.
//
// The algorithm, the headers' values and the decisions behind them are in
// DESIGN.md beside this file.
package ratelimit
