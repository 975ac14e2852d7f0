package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/shared/apierror"
)

const (
	ctxPrincipal = "h0p.principal"
	// ctxCaller is the usage.Caller of a request whose caller in an org
	// guard identified, allowed or not: observe counts its usage.
	ctxCaller = "h0p.caller"
)

// guard is the one middleware that enforces a route's need: it finds who is
// calling, spends from their rate limit, and checks the need against
// control/access. Handlers then read the principal with principalOf.
//
// Credentials: `x-api-key: <key>` or `Authorization: Bearer <key or session
// token>`. A session of a user in several orgs names one with `x-org-id`.
// Requests without valid credentials are limited per client IP, so guessing
// keys or passwords costs the guesser their quota.
func (h *handler) guard(need access.Need) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, authErr := h.authenticate(c, need)
		if caller, ok := callerOf(p, need); ok {
			c.Set(ctxCaller, caller)
		}
		if !h.rateLimit(c, p, authErr) {
			return
		}
		if authErr != nil {
			h.fail(c, authErr)
			return
		}
		switch access.Check(p, need) {
		case access.Denied:
			h.fail(c, denied(p, need))
			return
		case access.OwnKeyOnly:
			// The handler and service restrict it to the caller's own key.
		}
		if !need.Public && !need.SessionOnly && p.OrgID == "" {
			h.fail(c, apierror.New(apierror.Forbidden, "you are not a member of any organization; create one with POST /v1/orgs or accept an invitation"))
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

// identify finds the caller of a request to no route, for its usage, and
// spends from its rate limit as guard would (a credential costs a lookup
// on every route), answering 429 and saying false when it is spent.
// Requests without credentials cost no lookup.
func (h *handler) identify(c *gin.Context) bool {
	if h.Usage == nil || credential(c) == "" {
		return true
	}
	// A refused credential has no org (an expired key's is kept), and a
	// store error leaves the request uncounted, as its answer is the same.
	need := access.Need{Member: true}
	p, authErr := h.authenticate(c, need)
	if caller, ok := callerOf(p, need); ok {
		c.Set(ctxCaller, caller)
	}
	return h.rateLimit(c, p, authErr)
}

// callerOf is whose usage a request counts in: its API key, or its
// signed-in user, in its org. Public routes count in nobody's.
func callerOf(p access.Principal, need access.Need) (usage.Caller, bool) {
	switch {
	case need.Public || p.OrgID == "":
		return usage.Caller{}, false
	case p.KeyID != "":
		return usage.Caller{OrgID: p.OrgID, Kind: usage.KindKey, ID: p.KeyID}, true
	case p.UserID != "":
		return usage.Caller{OrgID: p.OrgID, Kind: usage.KindUser, ID: p.UserID}, true
	}
	return usage.Caller{}, false
}

func denied(p access.Principal, need access.Need) error {
	switch {
	case need.SessionOnly:
		return apierror.New(apierror.Forbidden, "this needs a signed-in user (a session token), not an API key")
	case need.Person:
		return apierror.New(apierror.Forbidden, "this needs a person (a session or a user key), not a bot key")
	case need.MinRole != "" && !p.IsPerson():
		return apierror.New(apierror.Forbidden, "this needs a person with the %s role or higher, not a bot key", need.MinRole)
	case need.MinRole != "":
		return apierror.New(apierror.Forbidden, "this needs the %s role or higher; you are %s", need.MinRole, p.Role)
	}
	if need.Also != "" && p.Effective().Has(need.Resource, need.Action) {
		return apierror.New(apierror.Forbidden, "missing permission %s:%s", need.Resource, need.Also)
	}
	return apierror.New(apierror.Forbidden, "missing permission %s:%s", need.Resource, need.Action)
}

// principalOf is the principal guard stored.
func principalOf(c *gin.Context) access.Principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(access.Principal)
	pr.RequestID = c.GetString(ctxRequestID)
	pr.IP = c.ClientIP()
	return pr
}

// principalFor is the principal of a fresh session (login answers with the
// user's memberships).
func principalFor(sess store.Session) access.Principal {
	return access.Principal{Kind: access.Session, UserID: sess.UserID, SessionID: sess.ID}
}

// credential reads x-api-key or a bearer token.
func credential(c *gin.Context) string {
	if key := c.GetHeader("x-api-key"); key != "" {
		return key
	}
	if auth := c.GetHeader("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

var errInvalidCredential = apierror.New(apierror.Unauthorized, "invalid API key or session token")

// authenticate resolves the caller. Public routes take no credentials (and
// ignore any), but for a session on OptionalSession routes. Malformed
// credentials are refused before any lookup.
func (h *handler) authenticate(c *gin.Context, need access.Need) (access.Principal, error) {
	cred := credential(c)
	typ, err := apikey.Parse(cred)
	if need.Public {
		if !need.OptionalSession || typ != apikey.Session {
			return access.Principal{}, nil
		}
		return h.sessionPrincipal(c.Request.Context(), apikey.Digest(h.Pepper, cred), "", access.Need{SessionOnly: true})
	}
	if cred == "" {
		return access.Principal{}, apierror.New(apierror.Unauthorized, "missing API key: send it in the x-api-key header")
	}
	if err != nil {
		return access.Principal{}, errInvalidCredential
	}
	ctx := c.Request.Context()
	digest := apikey.Digest(h.Pepper, cred)
	switch typ {
	case apikey.User, apikey.Bot:
		return h.keyPrincipal(ctx, digest)
	case apikey.Session:
		return h.sessionPrincipal(ctx, digest, c.GetHeader("x-org-id"), need)
	}
	return access.Principal{}, errInvalidCredential
}

func (h *handler) keyPrincipal(ctx context.Context, digest []byte) (access.Principal, error) {
	k, err := h.Store.APIKeyByDigest(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, errInvalidCredential
	}
	if err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	now := h.Now()
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		// The key is known: its refusals count in its usage (guard uses
		// no more of the principal than its org and key).
		return access.Principal{Kind: access.BotKey, OrgID: k.OrgID, KeyID: k.ID},
			apierror.New(apierror.Unauthorized, "API key expired")
	}
	grants, err := access.Parse(k.Permissions)
	if err != nil {
		return access.Principal{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	p := access.Principal{Kind: access.BotKey, OrgID: k.OrgID, KeyID: k.ID, Grants: grants}
	if k.Type == identity.KeyUser {
		// A user key acts with its user's current role.
		m, err := h.Store.Member(ctx, k.OrgID, k.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return access.Principal{}, errInvalidCredential // left the org; the key goes with them
		}
		if err != nil {
			return access.Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		p.Kind, p.UserID, p.Role = access.UserKey, k.UserID, m.Role
	}
	if now.Sub(k.LastUsedAt) >= time.Minute {
		if err := h.Store.TouchAPIKey(ctx, k.ID, now, time.Minute); err != nil {
			h.Logger.Warn("could not record key use", "keyId", k.ID, "err", err)
		}
	}
	return p, nil
}

func (h *handler) sessionPrincipal(ctx context.Context, digest []byte, orgID string, need access.Need) (access.Principal, error) {
	sess, err := h.Store.SessionByDigest(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, errInvalidCredential
	}
	if err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !h.Now().Before(sess.ExpiresAt) {
		return access.Principal{}, apierror.New(apierror.Unauthorized, "session expired; log in again")
	}
	p := access.Principal{Kind: access.Session, UserID: sess.UserID, SessionID: sess.ID}
	ms, err := h.Store.Memberships(ctx, sess.UserID)
	if err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	switch {
	case orgID != "":
		for _, m := range ms {
			if m.OrgID == orgID {
				p.OrgID, p.Role = m.OrgID, m.Role
			}
		}
		if p.OrgID == "" {
			return access.Principal{}, apierror.New(apierror.NotFound, "organization %s not found", orgID)
		}
	case len(ms) == 1:
		p.OrgID, p.Role = ms[0].OrgID, ms[0].Role
	case len(ms) > 1 && !need.SessionOnly:
		return access.Principal{}, &apierror.Error{Code: apierror.ValidationError,
			Message: "you belong to several organizations: name one in the x-org-id header",
			Details: []apierror.Detail{{Field: "x-org-id", Reason: "is required"}}}
	}
	return p, nil
}
