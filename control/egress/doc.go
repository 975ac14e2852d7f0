// Package egress is how control dials out to URLs its users give it
// (webhook endpoints; later imports and previews): the guard against
// server-side request forgery. It owns the table of refused address
// ranges (ranges.go), the check of a URL when a user saves it, the check
// of every address at connect time, and the HTTP client built from them.
// It does not send webhooks, sign, retry or log: its callers do.
//
// A Policy is the whole configuration; its zero value is production's.
//
//   - CheckURL, at create and update: https only (http too if AllowHTTP),
//     no credentials, a host, a valid port, at most MaxURLLen bytes; the
//     host read as browsers read it (shared/urlhost: 0x7f.1 is
//     127.0.0.1); an IP host must pass CheckAddr, a name must resolve and
//     every address it has must pass. It returns the URL normalised, to be
//     stored. A *URLError is the user's mistake (VALIDATION_ERROR, its
//     Reason the detail); any other error is a failed lookup, which says
//     nothing of the URL.
//   - Control / Dialer, at send: the address actually dialled, after the
//     lookup, must pass CheckAddr, so a name that resolved to a public
//     address when saved and to a private one when sent (DNS rebinding)
//     is refused with an *AddrError inside the request's error.
//   - CheckAddr refuses loopback, private, link-local, CGNAT, multicast,
//     unspecified, broadcast, reserved, benchmarking, IETF and cloud
//     metadata addresses, and the IPv6 forms that carry a refused IPv4
//     address (mapped, compatible, NAT64, 6to4, Teredo). AllowNetworks
//     (tests, private deployments; unsafe elsewhere) pass whatever the
//     table says.
//   - Client: the guarded dialer, no proxy (not even the environment's),
//     redirects answered not followed, plain http refused unless allowed,
//     a total Timeout, system roots plus ExtraRoots, HTTP/2, a small idle
//     pool per host. ReadBody keeps at most a bounded prefix of a body.
//
// Decisions the spec left open are in DESIGN.md beside this file.
package egress
