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
// Settings (rootUrl, notFoundUrl, expiredUrl, doNotTrack) go to the edges
// in the kv.Domain record. redirectStatus (301, 302, 307 or 308; default
// 302, the edges' own) and indexable (default false: robots.txt forbids
// crawling) are stored and shown; the edge record does not carry them yet.
//
// Primary: at most one domain per org; only a verified domain can become
// primary. Links created without a domain go to the primary domain while
// it is verified, else to the default domain. A domain keeps the flag
// through a lapse so it is primary again once it verifies.
//
// Delete refuses a domain that still has links (409 with their count)
// unless force, which first deletes its links through the links service
// (each with its audit entry and link.deleted event) and then the domain.
// A link created on it meanwhile makes the delete fail again with 409.
package domains
