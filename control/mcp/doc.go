// Package mcp is H0p's MCP server (Model Context Protocol, on the official
// Go SDK) for AI clients: Claude Desktop and Claude Code, Cursor, Windsurf,
// remote connectors.
//
// Every tool, resource and prompt step is a call of H0p's HTTP API through
// control/apiclient, with the caller's API key: the same permissions, plan
// limits, rate limits and validation as a direct call. Tools answer the
// API's JSON object as their structured output (an array, as get_stats's
// groupings, as {"data": […]}), and its text as their content.
//
// Tools: create_link, get_link (id, or domain+key, or externalId),
// update_link, delete_link, list_links, bulk_create_links (at most 100),
// get_stats, list_events, list_domains, add_domain, verify_domain,
// create_qr_code (the saved file with its contentUrl, and a PNG of at most
// 256 KiB as an image; once the file is saved the tool succeeds, an image
// it could not read back replaced by a note saying why), list_tags,
// list_webhooks, get_api_usage. Each has an input schema (descriptions,
// enums, bounds; the SDK refuses arguments that break it, naming the
// property) and annotations: readOnlyHint on reads, destructiveHint on
// update and delete, idempotentHint where a repeat changes nothing more.
// Resources: h0p://links/{id} (a template) and h0p://stats/summary (the
// last 30 days: total, top links, top countries). Prompts: campaign_links
// (UTM variants of a URL, one per source, through bulk_create_links) and
// weekly_report.
//
// Errors: a refusal of the API is a tool error (isError), never a protocol
// error: its text is the code, HTTP status, message, each field at fault,
// what to do next, and the request ID. A FORBIDDEN for a missing
// permission says which one the key lacks ("This API key lacks
// shortLinks:delete"). An id goes into the API's path as it is: one not of
// its kind (link_…, dom_…) is a VALIDATION_ERROR naming the field, never a
// call. A resource read of a link that is not found is the protocol's
// resource-not-found error.
//
// Transports:
//
//   - stdio (NewServer; h0p mcp): one client and one key, H0P_API_KEY,
//     calling the API at H0P_API_URL over HTTP.
//   - Streamable HTTP (NewHandler), mounted by control/api at /mcp behind
//     its authentication: a valid API key of an org in x-api-key or
//     Authorization: Bearer, else 401 in the API's error envelope (session
//     tokens are refused there). A request with an Origin header must come
//     from the API's public URL's origin or one of AllowedOrigins
//     (DNS-rebinding protection), else 403 in the envelope; requests
//     without Origin (desktop and CLI clients) pass. AdmitOrigin, which the
//     API runs before authentication, answers an allowed origin's CORS
//     preflight (OPTIONS, no key) with 204 and what it may send, and its
//     other answers carry Access-Control-Allow-Origin. The tools call the
//     API in process: the apiclient's transport serves each request with
//     the API's own router, from the MCP caller's address, so the guard,
//     rate limits and usage counts are a direct call's.
//
// Rate limits and usage: a request that opens a session (a POST without
// Mcp-Session-Id) spends from the key's rate limit; the session's other
// messages spend nothing; each tool's API call spends as a direct call
// does. /mcp requests are not API usage (control/usage): a tool call
// counts once, as its API route.
//
// The endpoint's own refusals (key, origin, method, session cap) and the
// SDK's HTTP refusals (an unknown session, a wrong Accept) are in the
// API's error envelope with their status. A JSON-RPC error the SDK
// answers as JSON-RPC (an unknown method, a malformed message) stays a
// JSON-RPC error, as MCP clients expect.
//
// Sessions (Mcp-Session-Id) are the SDK's stateful ones: bound to the
// SHA-256 of the key that opened them (the same session ID with another
// key is 403 FORBIDDEN), closed after 30 minutes idle or on DELETE, and
// held in the memory of the control node that made them. A key holds at
// most MaxSessionsPerKey (10) open: past it, initialize is 429
// RATE_LIMITED saying to reuse or close sessions (refused rather than
// evicting another, which may be in use). Close ends every session, and
// the endpoint refuses new ones (503). Behind a load balancer with
// several control nodes, route /mcp with affinity on Mcp-Session-Id; a
// request for a session another node holds is 404, on which MCP clients
// start a new session. The server sends no messages of its own: GET /mcp
// (the standalone SSE stream) is 405.
package mcp
