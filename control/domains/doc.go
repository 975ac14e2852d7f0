// Package domains is the domains service: an org's custom short domains,
// their settings, their verification by DNS and their publication to the
// edges. It validates input, decides every field (ID, token, status,
// version, timestamps), enforces the org's plan, and writes a change with
// its audit entry and, when the edges must see it, its replicated command
// (kv.Domain) in one transaction, returning once raft committed it, as
// control/links does for links. HTTP handlers call it; it knows nothing of
// HTTP.
//
// Names are lowercased, IDNs turned to punycode (UTS #46, lookup rules),
// a trailing dot dropped. A name must be a host name longer than its public
// suffix (ICANN or private section of the Public Suffix List; a TLD the
// list does not know is refused, but for the operator's LocalSuffixes,
// e.g. "test" in h0p dev), not an IP literal, not the platform's
// default or shared domains or a name under them, at most 253 characters.
// Names are unique across orgs, first come first served: the DNS check is
// what proves ownership, and a pending claim does not block the rightful
// owner for long because the org that made it can be asked to delete it.
//
// Verification: the owner publishes TXT _h0p-challenge.<name> holding the
// domain's token, and points the name at the edges: a CNAME to the edge
// host name, or A/AAAA records that are all edge addresses. Both are
// needed. Status is pending until the first check passes, then verified.
// A verified domain whose check fails stays verified, and served, for
// Grace (72 h by default) after its last passing check, so a DNS hiccup or
// a migration between providers does not take links down; past it the
// domain becomes misconfigured and its record is removed from the edges. A
// later passing check verifies it again. A check whose DNS lookups fail
// (timeout, SERVFAIL, not "no such record") decides nothing: verify answers
// 503 and the background recheck tries again next period. Every control
// node runs the recheck; two nodes checking one domain at once decide the
// same and at worst bump its version twice.
//
// Settings go to the edges in the kv.Domain record, published when the
// domain becomes verified and on each change while it is served: rootUrl
// ("/"; without it a custom domain shows a placeholder page naming it),
// notFoundUrl, expiredUrl, doNotTrack, and:
//   - redirectStatus (301, 302, 307 or 308; default 302): the status of
//     the domain's links that set none. Links store no status unless their
//     creator gave one (kv.Link.Status 0), so the edges apply the domain's
//     at answer time: changing it changes those links at once, and a link
//     with its own status keeps it. A link's view shows 302 for a link
//     that set none, whatever its domain says.
//   - indexable (default false): robots.txt allows crawling and answers
//     carry no X-Robots-Tag: noindex; otherwise robots.txt forbids
//     crawling and only links with doIndex are indexable.
//   - httpsRedirect (default true): once the edges hold a certificate for
//     the domain, plain HTTP requests get 308 to the same URL over HTTPS
//     (ACME HTTP-01 requests excepted). Stored and replicated as its
//     negation (noHttpsRedirect, kv.Domain.NoHTTPSRedirect) so that
//     settings and records written before it existed read as on; null sets
//     the default again.
//   - hsts (default false): answers over HTTPS carry
//     Strict-Transport-Security: max-age=31536000. It needs httpsRedirect:
//     a request that would leave hsts on and the redirect off is refused
//     (VALIDATION_ERROR), so turning both off takes one request.
//
// Certificate: a domain's view tells its TLS certificate, from what the
// certificate manager (control/certs, through Certificates) knows: the
// certificate it keeps for the name and the last failed attempt, never key
// material. The manager obtains one for every served domain, whatever its
// httpsRedirect (HTTPS is served either way), and renews it from renewsAt.
// Status is
//   - none: control obtains no certificates (no ACME directory), or the
//     domain is not served (pending, misconfigured), so none is obtained or
//     renewed for it; every other field is null;
//   - pending: served, no valid certificate yet and no failed attempt;
//   - issued: a valid certificate, not yet due for renewal;
//   - renewing: a valid certificate past renewsAt: a new one is being
//     obtained (lastError says why it is late, if it is);
//   - failed: no valid certificate (none or expired) and the last attempt
//     failed: lastError holds its message, when, and the next attempt.
//
// Dates are the certificate's own; an expired one stays shown until it is
// replaced. The leader's manager keeps each failure (message, when, next
// attempt) in the replicated store, so every control node shows the same
// lastError, and a new leader keeps the backoff; a success clears it.
//
// Primary: at most one domain per org; only a verified domain can become
// primary. Links created without a domain go to the primary domain while
// it is verified, else to the default domain. A domain keeps the flag
// through a lapse so it is primary again once it verifies.
//
// Delete refuses a domain that still has links (409 with their count)
// unless force, which first deletes its links through the links service
// (each with its audit entry and link.deleted event) and then the domain,
// with its certificate and failed attempts (control/certs) in the same
// replicated command.
// A link created on it meanwhile makes the delete fail again with 409.
package domains
