// Package edge is the redirect server: it reads the Host and path of a
// request, finds the link in the local edge store (Pebble, written by the
// replication FSM) and answers with a redirect. It never calls control or
// raft on the request path, so it keeps serving whatever happens to them
// (static stability); staleness shows in metrics, never as an error page.
//
// # Decisions
//
//   - Host is lowercased and its port and trailing dot removed. A host that
//     is not a known domain falls back to the default domain when
//     FallbackToDefault is set (h0p dev); otherwise it is a plain 404. Until
//     custom domains exist, the default domain is the only known one.
//   - The slug is the decoded, normalised path without its leading '/' and
//     at most one trailing '/'. Lookups are case-sensitive.
//   - Only GET and HEAD are served (405 otherwise); HEAD gets the same
//     status and headers without a body.
//   - Redirects are 302 with Cache-Control: no-store (a link can change at
//     any time) and X-Robots-Tag: noindex.
//   - Nothing is logged per request; outcomes and latency are metrics.
//
// The edge must not import control: what it knows of a link is kv.Link.
package edge
