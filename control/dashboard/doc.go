// Package dashboard is H0p's web dashboard: server-rendered pages for the
// members of an organization, served by control at / on the API address
// (api.Config.Dashboard mounts it on every path that is not the API's).
//
// Contract:
//
//   - Every read and write goes through the REST API in process
//     (apiclient.InProcess over the API's own router), as the signed-in
//     person: their session token (Authorization: Bearer) and the chosen
//     organization (x-org-id). Permissions, plan limits, validation and
//     rate limits are the API's; the dashboard re-implements none of them.
//     It hides the actions the person's permissions (GET /v1/me) do not
//     allow, so as not to offer what the API would refuse, and shows the
//     API's refusals (403, 404, 429, validation errors beside the field
//     they name) as pages and messages. A person's own user key is theirs
//     whatever their permissions (the API's rule): they may create (a user
//     key only, without apiKeys:create), rotate and revoke it; another's
//     user key is never offered to rotate (only its person may).
//   - Its API calls are interactive (ratelimit.Interactive on their
//     contexts): a person clicking through pages has ten times a key's
//     rate budget; the same session token used over the network has a
//     key's.
//   - Sessions: signing in (POST /v1/auth/login) sets the cookie
//     h0p_session to the session token (HttpOnly, SameSite=Lax, Path=/,
//     Secure when the request came over TLS or Config.PublicURL is https,
//     expiring with the session); h0p_org holds the chosen organization.
//     Signing out clears both, always, and ends the session on the server
//     (POST /v1/auth/logout), saying so when it could not; signing in over
//     a session ends the old one too. Accepting an invitation while
//     signed in keeps the organization the person works in.
//   - CSRF: every POST carries a token in a hidden field: an HMAC of the
//     session token under a key derived (HKDF) from control's pepper, so
//     every control node accepts it; before sign-in, of a random cookie
//     (h0p_csrf). A POST without a valid token is 403 and changes nothing.
//   - Secrets (an API key's, a webhook's signing secret, an invitation's
//     link) are rendered only in the answer to the POST whose API call
//     returned them (create, rotate, invite), never kept by the
//     dashboard: no GET page has them, nothing after that call keeps them
//     from being shown, and every page is Cache-Control: no-store.
//     Invitation tokens are never logged (routes, not paths; errors
//     redacted).
//   - A download (the clicks' or links' CSV) that fails once it began is
//     cut, never ended as if whole.
//   - Every answer carries a strict Content-Security-Policy (no inline
//     script or style: the script and the stylesheet are static files),
//     X-Frame-Options: DENY, X-Content-Type-Options: nosniff and
//     Referrer-Policy: same-origin.
//   - Pages cost a bounded number of API calls and never count a whole
//     list: the links table and the audit log are one cursor page of
//     the API each (next and previous through its cursors), so their
//     time does not grow with the number of links or changes.
//   - A link's page designs its QR code with a GET form (format, size,
//     colours, margin, error correction, a logo among the org's first
//     100 files that are PNG, JPEG, GIF or WebP images): the API draws it
//     once to accept the options, whose refusals are shown beside their
//     fields; the image and its download are the QR route
//     (/links/{id}/qr) with the same options, passed through to the API.
//   - A link's page shows the card social networks show of it (its
//     preview's title, description and image); the image is loaded only
//     from this origin (the page's img-src 'self'): a file of the org
//     through /links/{id}/preview-image (read through the API, PNG, JPEG,
//     GIF or WebP only), a public file URL of this server by its path;
//     an image elsewhere is shown as its URL, never fetched. The link
//     form draws the same card from its fields (an org file through
//     /files/{id}/image), and static/app.js redraws it as they are typed.
//   - The link form edits the link's targeting rules (the API's rules,
//     every condition, in order) beside the device and country
//     shorthands. Its Add, Move and Remove buttons post the form, which
//     comes back with what was typed and the rules changed, saving
//     nothing; Enter in a field saves. A rule left blank is left out.
//     A rule left as shown is saved as the API holds it, with what its
//     fields do not show (a time's seconds and its side of a daylight
//     saving change, spaces around a query value, the devices' order).
//
// Templates and assets are embedded (go:embed); there is no build step.
// JavaScript (static/app.js) only copies short links, shows times in the
// browser's timezone and tells the server that timezone (cookie h0p_tz),
// and redraws the link form's preview card: every page works without it,
// in UTC. Every main page passes axe-core's WCAG 2 A and AA rules of
// serious and critical impact (TestAccessibility, in light and dark).
package dashboard
