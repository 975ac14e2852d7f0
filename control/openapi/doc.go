// Package openapi owns the API's OpenAPI 3.1 contract: the document, the
// loader that assembles it, its renderings (the whole document and the
// ChatGPT actions profile), and the reference page at /docs. control/api
// serves them; its tests check every route against it, and its tests and
// control/apiclient's every request and answer (openapitest.Contract).
//
// Layout: spec/base.yaml is a whole document without paths (info,
// security, tags, and the shared components: the Error envelope and
// ErrorCode, the Limit, Cursor and IdempotencyKey parameters, the
// X-Request-Id, RateLimit, RateLimit-Policy and Retry-After headers, one
// response per error status). Every other spec/*.yaml holds only paths and
// components, one file per resource. The files are embedded in the binary.
//
// The loader (LoadFS) merges the files; a path or a component defined in
// two files is an error naming both, and so is a $ref to no component
// (every $ref is local, #/components/…). It then adds to each operation,
// unless the operation lists that status itself, the errors any request of
// its kind can get: 400 when it has parameters or a body, or is secured (a
// session of a user in several organizations naming none in x-org-id);
// 401 and 403 when it is secured; 404 when its path has parameters or it
// is secured (a session's x-org-id naming an organization not its own);
// 409, 422 and the Idempotency-Key parameter on a secured write; 413 when
// it has a body; 429, 500 and 503 always. Every response that is not a
// $ref gets the X-Request-Id, RateLimit and RateLimit-Policy headers, and
// a secured write's successes Idempotent-Replayed. So a
// resource file lists its successes and its specific errors only
// (base.yaml's comment says the same to its authors).
//
// Render gives the document as JSON with servers set to the API's public
// URL, once per profile and URL, with an ETag. Profile "actions" is what a
// ChatGPT custom action (GPT builder) imports: the operations of
// ActionsOperations (links, tags, stats, events, domains read; each
// answers JSON, an action carrying text, so no QR code images), one
// security scheme (apiKey, the x-api-key header; no Bearer), no header
// parameters (the builder sends no custom headers), no response headers,
// summaries and operation descriptions cut to ActionsMaxDescription (300)
// characters and parameter descriptions to ActionsMaxParamDescription
// (700), the builder's published limits; components and tags nothing kept
// uses are left out.
//
// Docs is the reference page: static HTML, CSS, an icon and a small
// script, no external resource, which fetches /v1/openapi.json and renders
// it; served with a Content-Security-Policy of default-src 'self'.
package openapi
