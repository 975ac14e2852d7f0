// Package webhooks is the webhooks service: the endpoints an org registers
// to receive its events, their secrets, and deliveries signed by the
// Standard Webhooks spec and sent through control/egress. It validates
// input, decides every field (ID, secret, version, timestamps), enforces
// the org's plan (the webhooks feature; the webhooks limit at create), and
// writes each change (create, update, delete, rotate-secret, enable) with
// its audit entry in one transaction. HTTP handlers call it; it knows
// nothing of HTTP. The Dispatcher delivers events; the store's
// webhook_messages and webhook_attempts are its delivery log.
//
// Endpoints. A URL is checked when saved by the egress policy: a refused
// URL is VALIDATION_ERROR on url with the policy's reason, a failed host
// lookup UNAVAILABLE. Events are link.created, link.updated, link.deleted
// and link.clicked, at least one, none twice (an unknown one is
// VALIDATION_ERROR on events[i]). The scope is one of linkIds, tags (tag
// IDs) or allLinks: true, IDs of the org, at most 100; without one,
// created/updated/deleted cover every link and link.clicked is refused.
// A PATCH sending any scope member replaces the whole scope. Another
// org's endpoint is NOT_FOUND.
//
// Secrets are whsec_ + base64 of 24 random bytes, shown once (create,
// rotate-secret), never in views, audit entries or logs, stored sealed
// (shared/sealed, SecretPurpose, keyed from the pepper). A rotated-out
// secret keeps signing beside the new one for RotationOverlap (24 h).
//
// Each attempt carries webhook-id (the message's msg_ ID), webhook-
// timestamp (the attempt's Unix seconds), webhook-signature ("v1,<base64
// HMAC-SHA256 of id.timestamp.body>" per live secret, the current first,
// space-separated), content-type application/json and user-agent
// H0p-Webhooks/<version>.
//
// Test sends {"type":"ping","timestamp":…,"data":{"webhookId":…}} now and
// answers with the attempt: success is a 2xx within the client's timeout
// (15 s); a 3xx is not followed and fails; the first 2 KiB of the body
// are kept. Enable clears disabledAt and disabledReason; on an enabled
// endpoint it changes nothing.
//
// Dispatch, on the raft leader only, every Period (1 s) and when a link
// write commits (links.Service.Committed), at least once.
// Fan-out turns each event, in ID order, into one message (msg_, body
// {"type","timestamp","data"}, data the link as the API shows it, or the click's
// {"click":…,"link":…}) per enabled endpoint subscribed to its type and
// scope and created before it, and marks the event done, in one
// transaction. An endpoint's link.clicked events of one pass (one Period,
// T) share messages of up to ClickBatch (N = 100): {"clicks":[…]}; a lone
// click keeps its own shape. Delivery sends due messages, an endpoint at
// a time (one request in flight each, oldest first; a message in backoff
// does not hold newer ones back), at most Parallel (16) endpoints at once.
// A failed attempt waits Schedule (5 s … 24 h, ±15%) or the answer's
// Retry-After within [that, 24 h]; after the 10th the message is failed.
// 410 Gone, or failures lasting FailingFor (5 days, counted from the
// endpoint's last success or change), disables the endpoint, audited by
// ActorID; its messages wait until it is enabled. A new leader may send
// an attempt the old one made but had not recorded: receivers dedupe by
// webhook-id. Retry and Replay make messages due now, same IDs, one more
// attempt each. Decisions are in DESIGN.md.
//
// link.clicked events come from click ingestion (control/links), which
// asks Subscriptions, an in-memory index of the endpoints that want clicks
// (DESIGN.md).
package webhooks
