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
// 256 KiB as an image), list_tags, list_webhooks, get_api_usage. Each has
// an input schema (descriptions, enums, bounds; the SDK refuses arguments
// that break it, naming the property) and annotations: readOnlyHint on
// reads, destructiveHint on update and delete, idempotentHint where a
// repeat changes nothing more. Resources: h0p://links/{id} (a template)
// and h0p://stats/summary (the last 30 days: total, top links, top
// countries). Prompts: campaign_links (UTM variants of a URL, one per
// source, through bulk_create_links) and weekly_report.
//
// Errors: a refusal of the API is a tool error (isError), never a protocol
// error: its text is the code, HTTP status, message, each field at fault,
// what to do next, and the request ID. A FORBIDDEN for a missing
// permission says which one the key lacks ("This API key lacks
// shortLinks:delete"). A resource read of a link that is not found is the
// protocol's resource-not-found error.
//
// Transports:
//
//   - stdio (NewServer; h0p mcp): one client and one key, H0P_API_KEY,
//     calling the API at H0P_API_URL over HTTP.
//   - Streamable HTTP (NewHandler), mounted by control/api at /mcp behind
//     its authentication: a valid API key of an org in x-api-key or
//     Authorization: Bearer, else 401 in the API's error envelope (session
//     tokens are refused there; the /mcp requests themselves spend no rate
//     limit, the tools' API calls do). A request with an Origin header must
//     come from the API's public URL's origin or one of AllowedOrigins
//     (DNS-rebinding protection), else 403 in the envelope; requests without
//     Origin (desktop and CLI clients) pass. The tools call the API in
//     process: the apiclient's transport serves each request with the API's
//     own router, from the MCP caller's address, so the guard, rate limits
//     and usage counts are a direct call's.
//
// Every refusal of the endpoint, the SDK's own included (an unknown
// session, a wrong Accept), is in the API's error envelope with its status.
//
// Sessions (Mcp-Session-Id) are the SDK's stateful ones: bound to the
// SHA-256 of the key that opened them (the same session ID with another
// key is 403 FORBIDDEN), closed after 30 minutes idle, and held in the
// memory of the control node that made them. Behind a load balancer with
// several control nodes, route /mcp with affinity on Mcp-Session-Id; a
// request for a session another node holds is 404, on which MCP clients
// start a new session. The server sends no messages of its own: GET /mcp
// (the standalone SSE stream) is 405.
package mcp
