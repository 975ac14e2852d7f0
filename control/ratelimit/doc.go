// Package ratelimit is the control API's rate limiter: per key, a request
// rate per second and per minute, both checked in one atomic step, and the
// RateLimit headers that describe the outcome.
//
// It owns the limiting arithmetic, the per-key state of the in-process
// implementation (Memory) and the header format. It does not know what a key
// is: callers pass an opaque string ("key:key_123", "user:usr_1",
// "ip:1.2.3.4") and the Limits of that key's plan. It does not write
// responses or error bodies (the API maps a refusal to 429 RATE_LIMITED), and
// it never sleeps: callers and tests inject the clock.
//
// # Algorithm
//
// Each window is a GCRA (generic cell rate algorithm) with one theoretical
// arrival time (TAT) per key. A window of quota q over period w has an
// emission interval T = w/q (rounded up to the nanosecond, so the rate never
// exceeds q/w). A request at time now is due at TAT; it may arrive early by
// up to w-T, so it fits when max(TAT, now) + T - w <= now, and then
// TAT = max(TAT, now) + T. A key unseen or idle for a whole window may thus
// send q requests at once, then one every T: 5 at once and one every 200 ms
// for 5/s; 100 at once and one every 600 ms for 100/min. Remaining is
// floor((now + w - max(TAT, now)) / T); the time until the whole quota is back
// is TAT - now.
//
// GCRA limits a rate with a burst, not a count per calendar or sliding
// window: a client held to 5/s and 100/min that sends exactly 5 a second gets
// 149 requests through before the minute window refuses, because the minute
// window refills one request every 600 ms meanwhile. In any span of w, one
// window alone lets up to 2q-1 requests through (a burst of q, then q-1
// refills); a strict count per minute would need another algorithm.
//
// # Atomicity
//
// Allow computes both windows' verdicts from the same state and the same
// instant, and updates both TATs only when both allow the request. A request
// refused by either window changes neither. Memory does this under one mutex;
// the Redis implementation will do it in one Lua script.
//
// # Headers
//
// SetHeaders follows draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026),
// whose fields are Structured Field Lists of Items whose value is a String:
//
//	RateLimit-Policy: "second";q=5;w=1, "minute";q=100;w=60
//	RateLimit: "second";r=4;t=1
//	Retry-After: 1                      (refused requests only)
//
// RateLimit names one policy, the one closest to refusing (fewest remaining;
// on a tie the slower to refill), as the draft's multiple-window example does.
// r is the number of requests that would be allowed now; t is the seconds
// until that window's whole quota is available again, rounded up. Retry-After
// is the seconds until this request would be allowed, rounded up, at least 1.
// Go canonicalises header names, so they go out as "Ratelimit-Policy" and
// "Ratelimit"; field names are case-insensitive.
//
// # Decisions
//
//   - Limits are an argument of Allow, not of the limiter: one limiter serves
//     every plan, and a plan change applies to the next request. The state a
//     key already has is kept across a change (a TAT is a time, not a count).
//   - The state is a map behind one mutex. Memory stays bounded by forgetting
//     keys whose TATs have all passed: such state reads exactly like a fresh
//     key, so forgetting it changes no decision. An Allow call sweeps the whole
//     map once a minute (no goroutine to stop); between sweeps an idle key
//     costs its map entry. The map holds at most the keys seen in the last two
//     minutes or so.
//   - t means "until the whole quota is back", as the product asks. The draft
//     calls t the "effective window" and says Retry-After SHOULD NOT point
//     earlier than its end; when the minute window refuses, Retry-After (the
//     next slot, under a second) is earlier than t (the whole minute). The
//     client loses nothing: the draft makes Retry-After take precedence.
//   - No partition key (pk) is sent: it would echo the key or IP back.
//   - A zero Decision (returned with an error) writes no headers; whether to
//     fail open or closed when a limiter errs is the caller's choice.
package ratelimit
