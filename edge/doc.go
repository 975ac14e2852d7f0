// Package edge is the redirect server. It answers a request's Host and
// path from the local edge store (a LinkReader: Pebble, written by the
// replication FSM) and from nothing else: it never calls control or raft
// on the request path, so it keeps serving whatever happens to them
// (static stability; staleness shows in metrics, never as an error page).
//
// Contract:
//
//   - New listens on Config.Addr; Run serves until its context ends, then
//     drains (requests in flight are answered with Connection: close, for
//     up to 10 s) and returns once the answer table's load has stopped, so
//     the store may be closed after it; Close releases the listener.
//   - On Linux it serves from Config.Loops event loops (internal/evloop);
//     elsewhere, or with Config.FasthttpServer, from fasthttp's server.
//     Both frame requests alike (internal/framing), decide alike (resolve,
//     decide.go) and send the same bytes.
//   - It changes no process-wide setting. The process running it chooses
//     GOMAXPROCS and the number of loops (h0p edge runs a loop per P and
//     gives the runtime one P more).
//   - Every redirect to a link's destination hands a clicks.Click
//     (shared/clicks) to the Clicks queue without waiting; a full queue
//     drops the click and counts it. A click holds no IP, only a hash
//     salted with its UTC day's salt from the replicated store (salt.go),
//     the same on every edge that day. Drain the queue in batches, on a
//     ticker: edge/clickspool does, into a spool on disk that it ships to
//     control.
//   - Opting out: a redirect of a link or on a domain with doNotTrack, or
//     asked with h0p-no-track=1 (which the destination never sees), is
//     answered the same and captures no click; it is counted in
//     h0p_edge_clicks_untracked_total. A doNotTrack link stays plain.
//   - A plain redirect (a link without password, rules, variants,
//     preview, expiry or validity window, asked without a query it
//     forwards) allocates nothing (BenchmarkResolve, BenchmarkPlainPath).
//   - Nothing is logged per request: outcomes and latency are metrics
//     (h0p_edge_…). A panic while answering is a 500 for that request
//     alone, its connection closed, and an error log.
//   - A LinkReader that also reports the links each apply changed
//     (OnLinksChanged) keeps what the edge holds in memory exact; one that
//     can also list them (EachLink) lets the edge hold every plain link's
//     answer in memory (Config.AnswerTableBytes).
//   - The edge must not import control: what it knows of a link is
//     kv.Link, and the password check is shared/password.
//
// For a link the answer is decided in the product's order (decide.go):
// disabled, or before validSince → 404; expired (expiresAt passed, or
// control marked its clicks exhausted) → its expiredUrl, else the
// domain's, else a 410 page; password → a form; a social preview bot and a
// preview → an Open Graph page; then the rules in order (device, OS,
// browser, country, language, query, time); then weighted A/B variants,
// sticky by cookie; then url. The decisions, limits and figures behind
// all this are in edge/DESIGN.md.
package edge
