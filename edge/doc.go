// Package edge is the redirect server: it reads the Host and path of a
// request, finds the link (and the domain's settings) in the local edge
// store (Pebble, written by the replication FSM) and answers. It never calls
// control or raft on the request path, so it keeps serving whatever happens
// to them (static stability); staleness shows in metrics, never as an error
// page.
//
// # Decision order (decide.go)
//
// disabled → 404; before validSince → 404; expired (expiresAt passed, or
// control marked the link's clicks exhausted) → the link's expiredUrl, else
// the domain's expired URL, else a 410 page; password → a form (POST checks
// the argon2id hash in constant time and sets a cookie for an hour, signed
// with an HMAC keyed by the link's password hash, so every edge can check it
// and changing the password logs everyone out; attempts limited per client
// IP, an IPv6 client's /64, and link; checks running at once bounded, a
// 503 beyond: each takes 19 MiB); a social or chat preview bot and a
// preview set → an Open Graph page; then the rules in order (device, OS,
// browser from the User-Agent; country from the client IP with the
// embedded phuslu/iploc database; language from Accept-Language by
// preference; query parameters; time); then weighted A/B variants, sticky
// for 30 days by cookie; then url.
//
// # Decisions
//
//   - Host is lowercased, its port and trailing dot removed, and an
//     internationalised name converted to punycode. A host with a domain
//     record is served as itself; the default domain needs no record; any
//     other host is a plain 404, or the default domain with
//     FallbackToDefault (h0p dev).
//   - The slug is the decoded, normalised path without its leading '/' and
//     at most one trailing '/'. Lookups are case-sensitive. Paths over 2 KiB,
//     NUL bytes (raw or %00) and invalid UTF-8 are 400; never 5xx.
//   - "/" goes to the domain's root URL; unknown slugs to its not-found URL;
//     otherwise small HTML pages. /robots.txt allows crawling (every answer
//     carries X-Robots-Tag: noindex unless the link opts in with doIndex);
//     /favicon.ico is 204.
//   - GET and HEAD (fasthttp drops the body) everywhere; POST only for the
//     password form.
//   - Cache-Control: public, max-age=3600 for 301/308 links without rules,
//     variants or expiry; no-store for everything else.
//   - Query forwarding merges the request's parameters into the
//     destination (the request wins), drops the edge's own (qr), then sets
//     the link's UTM parameters.
//   - The client IP is the TCP peer unless it is a trusted proxy; then the
//     rightmost X-Forwarded-For (or Forwarded for=) hop that is not trusted.
//   - Every redirect hands a Click to a bounded channel without waiting; a
//     full channel drops and counts. The IP is kept only as a salted hash.
//   - Nothing is logged per request; outcomes and latency are metrics.
//   - Requests are framed by CRLF lines, alike on both servers
//     (internal/framing; fasthttp's server reads through its Listener, since its
//     parser takes a bare LF as a line end and joins folded lines): empty
//     lines before a request line are skipped (RFC 9112 2.2); a bare LF, a
//     request line without an HTTP version (HTTP/0.9) or a header line
//     beginning with a space or tab (obs-fold) gets a 400 at once and the
//     connection closes, so nothing after it is answered.
//   - Location is ASCII: a destination's Unicode host goes as punycode,
//     mapped as control checked it (shared/urlhost), and other bytes
//     outside ASCII percent-encoded (the API shows what was typed). The
//     conversion happens once, when a link's answer is prepared (compile),
//     never per request; a host the mapping refuses (a record control did
//     not check) is percent-encoded with the rest, never sent as UTF-8.
//
// # The hot path (answers.go, cache.go, agent.go)
//
// A plain redirect allocates nothing (BenchmarkResolve: 0 allocs/op). A link
// with no password, rules, variants, preview, expiry or validity window is
// "plain": its status, Location and Cache-Control are computed once and a
// request without a query string is answered from them.
//
// Every plain link's answer is held in memory, in the answer table: byte
// chunks and a hash index the garbage collector does not scan, about 130
// bytes a link (AnswerTableBytes, 256 MiB by default: about two million
// links; h0p edge --answer-table-mib). The edge fills it from the store in
// the background when it starts (a million links: about 2 s; requests read
// the store meanwhile) and again after a snapshot restore; the FSM hands it
// every changed record, so it is never older than the store. Decision: it is
// not a cache of what was asked lately but a copy of every plain link,
// because a uniformly random million keys missed any cache that fits an
// edge's memory and each miss read Pebble (≈15 µs). A full table is logged
// and the links beyond it are served as before. Other links — and plain
// ones asked with a query string, which need the whole record — are decoded
// from the store into a bounded, sharded cache (CacheEntries, 100,000 by
// default); the FSM tells it which keys each apply changed, and a reader
// inserts only if the store's generation did not move since before its
// read. h0p_edge_link_cache_lookups_total{result="table"|"hit"|"miss"} says
// where requests found their link; h0p_edge_answer_table_links and
// h0p_edge_answer_table_bytes the table's size.
//
// User-Agent classification (device, OS, browser, bot, preview bot) is
// cached per header value (16,384 entries): parsing costs more than the rest
// of a redirect and traffic repeats a few thousand values. Clicks are plain
// structs with fixed-size ID and IP hash. A connection remembers its last
// User-Agent's class and its last client address's country and hash
// (visitorMemo): a kept-alive connection's next request nearly always
// comes from the same browser and address, and then costs neither the
// agent cache's lookup nor a SHA-256. Behind a proxy the address changes
// per request and the memo with it.
// Whoever drains Clicks() should do it in batches (a receiver parked on the
// channel costs a goroutine wake-up per click).
//
// # Operations
//
// The server (internal/evloop): on Linux the edge serves from one epoll event
// loop per CPU, each with its own SO_REUSEPORT socket, as nginx's workers
// do; requests and responses are fasthttp's and the handler is the same.
// A loop's system calls are raw (the scheduler never sees them) and an idle
// loop sleeps in a raw epoll_wait for 1 ms before it blocks in one the
// runtime sees (which frees its P): blocking system calls alone made the
// runtime's monitor take and hand back the loop's P ≈10,000 times a second
// (26 µs of CPU a request against 19 µs), and parking the goroutine on Go's
// netpoller lost wake-ups for up to 20 ms (nobody polls while the other
// loop runs), which set the edge's p99.9. A process whose main work is the
// edge (h0p edge, h0p dev) runs one loop per P and gives the runtime one P
// more (edgeLoops in cmd/h0p): with a loop on every P, raft's applies, the admin
// server and the click shipper ran only when the runtime preempted a busy
// loop, every 10 ms, and link propagation at ≈5,000 requests/s an edge
// took ≈20 ms p50 instead of ≈17 (edge/DESIGN.md); measured, the spare P
// costs no CPU a request, though at saturation on a machine shared with
// the load generator it may cost a few per cent of the rate. A loop that
// accepts a connection
// hands it to the loop with the fewest (the kernel's hash over the sockets
// left one loop 38 of wrk's 64 connections and the other 26, and the
// busier loop's clients set the p99). Plain redirects are written by the
// loop itself, the bytes fasthttp would send, and the usual request for one
// is read by the loop itself too (plain.go: a GET or HEAD of a path with
// nothing to decode, a plain Host, printable header values, no body):
// fasthttp's parse of the request and its URI was ≈8% of the edge's CPU.
// Anything else, and every answer but a plain link's redirect, goes to
// fasthttp and the handler; FuzzPlainPath checks that both paths give the
// same answer and click wherever the plain path answers. Decision: fasthttp's own server (a
// goroutine per connection on Go's netpoller: after every response one more
// read returns EAGAIN, the goroutine parks, two deadlines are set) cost the
// edge ≈13% of its rate and some p99 against nginx in A/B runs (bench/edge
// with H0P_BENCH_FASTHTTP); it stays available (Config.FasthttpServer, h0p edge
// --event-loops=false) and is the server outside Linux. POSTs (the password
// form: argon2id takes milliseconds) are answered on a goroutine so they
// never stall a loop. Both servers: read and write timeouts 10 s, idle
// keep-alive 60 s, headers up to 8 KiB, a 4 KiB body limit (bodies by
// Content-Length only: a chunked body gets 411, two lengths 400),
// MaxConns connections (100,000; beyond that a 503). An HTTP/1.1 request
// with Expect: 100-continue gets 100 Continue once its headers are in and
// its framing is accepted (a body over the limit gets 413 instead), as
// fasthttp's server answers it; without it curl waits a second before it
// sends the body.
//
// Restarts: a new process binds the same address (SO_REUSEPORT; with
// fasthttp's server only under ReusePort) before the old one drains: h0p
// edge then fails /readyz for --drain-delay, stops accepting (the loops first
// take the connections the kernel queued for them), answers what is in
// flight or already sent on a kept-alive connection with Connection: close,
// waits up to a second from its accept for the first request of a
// connection still silent (closing it would fail a request no client
// retries; one silent longer was opened ahead of need and closes), and
// closes idle kept-alive connections, whose clients retry on a new
// connection to the new process. TestFaultEdgeRestartUnderLoadFailsNothing
// restarts edges both ways under 16 clients without a failed request. Left
// to the kernel: a connection completing its handshake in the microseconds
// between a loop's last accept and the listener's close is reset, unless
// net.ipv4.tcp_migrate_req=1 (Linux 5.14+), which hands it to the new
// process's socket; edges behind a load balancer that honours /readyz get
// no new connections by then.
//
// The edge must not import control: what it knows of a link is kv.Link; the
// password check is shared/password.
package edge
