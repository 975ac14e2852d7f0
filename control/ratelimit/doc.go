// Package ratelimit is the control API's rate limiter: per key, a number of
// requests per second and per minute, both checked in one atomic step, and
// the RateLimit headers that describe the outcome.
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
// Each window is a sliding log. A request at instant t is allowed when fewer
// than q of the key's allowed requests fall in (t-w, t]: the w before it, its
// own instant included. A request allowed at s thus counts against the
// requests in [s, s+w) and no others: 5 requests at t leave a 6th refused up
// to t+1s-1ns and allowed at t+1s exactly. So no span [a, a+w) ever holds
// more than q allowed requests, wherever it starts (a closed span [a, a+w]
// may hold q+1: one at a, q at a+w). At a steady 5/s a key gets 100 requests
// in its first 20 s, then is refused (Retry-After: 40) until its first
// request leaves the minute window at 60 s.
//
// A key's state is the instants of its requests allowed in the last minute,
// oldest first: while the limits stand, at most PerMinute of them (and
// 60×PerSecond), 8 bytes each (append's slack may double it), 800 B at the
// product's limits; raised limits cost in proportion. Both windows read that one log with a binary search: a
// window holding n >= q requests frees a place when its q-th newest leaves,
// at that request's instant + w, and that is when a refused request would be
// allowed (the latest such moment if both windows are full). Remaining is
// max(q-n, 0); it next grows when the oldest request holding it down leaves.
//
// # Atomicity
//
// Allow reads both windows from the same log at the same instant, and
// appends the request only when both have room: a request refused by either
// window spends from neither. Memory does this under one mutex. The clock it
// reads never goes back: an instant earlier than one already seen counts as
// that one (time.Now's monotonic reading never steps back; an injected clock
// may), which keeps every log in order.
//
// # Redis
//
// A Redis Limiter keeps the same log as one sorted set per key and runs the
// whole of Allow in one Lua script, which makes check and spend one step
// across control nodes:
//
//	now := TIME                       (one clock for every node)
//	ZREMRANGEBYSCORE k -inf now-60s   (the trim: older counts in no window)
//	allowed := ZCOUNT k (now-1s +inf < PerSecond and ZCARD k < PerMinute
//	if allowed: ZADD k now member; PEXPIRE k 60000
//	return allowed, now, ZRANGE k -m -1 WITHSCORES   (m = max of the quotas)
//
// The newest m instants are all a window needs, so the Decision follows from
// them as in Memory. Scores are microseconds (a float64 holds them exactly,
// not nanoseconds); members must be unique per request (the instant and a
// random suffix). PEXPIRE does the sweep's work, and a set holds at most
// PerMinute members.
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
// on a tie the one whose remaining grows later), as the draft's multiple-
// window example does. r is the number of requests that window would allow
// now; t is the seconds until it allows more, rounded up: the draft's
// effective window, within which the client can make no more than r
// requests. Retry-After is the seconds until this request would be allowed,
// rounded up, at least 1; on a refusal it equals t, as the draft asks
// (Retry-After no earlier than the end of the effective window). Go
// canonicalises header names, so they go out as "Ratelimit-Policy" and
// "Ratelimit"; field names are case-insensitive.
//
// # Decisions
//
//   - Exact windows, not GCRA or a token bucket: those admit a burst of q and
//     then refill, so any span of w may see up to 2q-1 requests; the product's
//     limits are counts over any second and any minute.
//   - Limits are an argument of Allow, not of the limiter: one limiter serves
//     every plan, and a plan change applies to the next request. The log a
//     key has is kept across a change (it holds instants, not counts), so new
//     limits count the requests already made.
//   - The state is a map behind one mutex. Memory stays bounded by forgetting
//     keys whose requests have all left the minute window: such a key reads
//     exactly like a new one, so forgetting it changes no decision. An Allow
//     call sweeps the whole map once a minute (no goroutine to stop); between
//     sweeps an idle key costs its map entry and log. The map holds at most
//     the keys seen in the last two minutes or so.
//   - t is until remaining next grows, not until the whole quota is back: in
//     a sliding window the whole quota may be a minute away while a place
//     frees in 200 ms, the draft defines t as the span within which no more
//     than r requests may be made, and a longer t would put Retry-After
//     before its end.
//   - No partition key (pk) is sent: it would echo the key or IP back.
//   - A zero Decision (returned with an error) writes no headers; whether to
//     fail open or closed when a limiter errs is the caller's choice.
package ratelimit
