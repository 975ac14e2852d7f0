// Package webhooks is the webhooks service: the endpoints an org registers
// to receive its events, their secrets, and deliveries signed by the
// Standard Webhooks spec, sent through control/egress. It validates input,
// decides every field (ID, secret, version, timestamps), enforces the
// org's plan (the webhooks feature, and the webhooks limit at create),
// and writes each change (create, update, delete, rotate-secret, enable)
// with its audit entry in one transaction. HTTP handlers call it; it
// knows nothing of HTTP. The dispatcher that delivers events from the
// outbox, with retries, is still to come: the store's webhook_messages and
// webhook_attempts are its delivery log, and the test ping already writes
// there.
//
// Endpoints. A URL is checked when saved by the egress policy (https, a
// public address, unless the operator's --webhook-allow-* flags say
// otherwise): a refused URL is VALIDATION_ERROR on url with the policy's
// reason; a host whose lookup fails (timeout, SERVFAIL) is UNAVAILABLE, as
// it says nothing of the URL. Events are link.created, link.updated,
// link.deleted and link.clicked, at least one, none twice. The scope is
// one of linkIds (the org's links), tags (the org's tag IDs, not names:
// a renamed tag keeps its endpoints) or allLinks: true, at most 100 IDs;
// without one, link.created/updated/deleted cover every link, and
// link.clicked, which can be many, is refused. A PATCH that sends any
// scope member replaces the whole scope. Another org's endpoint is
// NOT_FOUND.
//
// Secrets. whsec_ + base64 of 24 random bytes, shown once (create,
// rotate-secret), never in views, audit entries or logs. The store keeps
// the 24 bytes sealed (shared/sealed) under a key derived from the API-key
// pepper with SecretPurpose: every control node holds the pepper, it never
// enters the store, and control must read secrets back to sign, so a
// digest (as for API keys) cannot serve. Rotating keeps the replaced
// secret signing beside the new one for RotationOverlap (24 h); rotating
// again within it drops the older one at once.
//
// Signing. Each attempt carries webhook-id (the message's msg_ ID, the
// same on every attempt), webhook-timestamp (the attempt's Unix seconds),
// webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>" per
// signing secret, the current one first, space-separated), content-type
// application/json and user-agent H0p-Webhooks/<version>.
//
// Test. POST …/test sends {"type":"ping","timestamp":…,"data":
// {"webhookId":…}} now, synchronously, disabled endpoint or not (so it
// can be checked before it is enabled again), and answers with the
// attempt: success is a 2xx within the client's timeout (15 s); a 3xx is
// answered, not followed, and fails. It keeps the first 2 KiB of the
// body, and an error that names no address (control's view of DNS is not
// the client's). The ping is a message of one attempt, delivered or
// failed, never retried. It needs the webhooks update permission: it
// makes control send a request, which a read-only key should not.
//
// Enable clears disabledAt and disabledReason (the dispatcher will set
// them on an endpoint that keeps failing or answers 410); on an enabled
// endpoint it changes nothing and writes no audit entry.
package webhooks
