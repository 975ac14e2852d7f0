// Package accounts is the people side of the control plane: users and their
// passwords, sessions, organizations, memberships and roles, invitations,
// and API keys. It enforces the rules that depend on data (the last Owner,
// who may grant Owner, a key's grants against its creator's role, one user
// key per user per org); the route-level permission check happens before,
// in the API (control/access decides, control/api enforces).
//
// Every mutation writes its audit entry in the same transaction.
//
// Decisions where the product docs are silent:
//   - Sessions last 12 hours and are not extended by use; logging in again
//     makes a new one.
//   - Invitations last 7 days and can be accepted once. Accepting for an
//     existing account takes a session of that account (Accept).
//   - Keys are managed with the apiKeys permission, within the rules of
//     access.CheckKey: a user key belongs to its person (only they change or
//     rotate it; others with apiKeys may see it and revoke it), a bot key
//     never acts on a user key, and nobody acts on a key that holds more
//     than they do.
//   - A key made or changed through another key can hold no more than that
//     key's own effective permissions (on top of the role, for people).
//   - Emails are compared lowercase.
//   - Password hashes and checks take turns, a few at once (passwords.go):
//     each holds 64 MiB, and sign-ins from many addresses must not run the
//     node out of memory.
//   - Accounts made through an invitation are unverified until their
//     holder, signed in, sends the code mailed to the address (email.go);
//     they may not create organizations or accept further invitations. A
//     password reset by mailed code verifies the address and ends every
//     session, and for a never-verified account revokes its user keys.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Service implements the accounts operations.
type Service struct {
	Store          store.Store
	Pepper         []byte
	Now            func() time.Time
	PasswordParams password.Params // zero: password.Default
	SessionTTL     time.Duration   // zero: 12h
	InvitationTTL  time.Duration   // zero: 7 days
	// Turns bounds the password hashes and checks running at once, the
	// node's across services (nil: GOMAXPROCS for this Service alone);
	// PasswordWait is how long a caller waits for a turn (passwords.go).
	Turns        *password.Turns
	PasswordWait time.Duration
	// Mailer sends verification, password-reset and invitation emails;
	// nil: the server sends none, and what needs one answers UNAVAILABLE.
	Mailer Mailer
	// APIURL is the API's public base URL, for the instructions in emails.
	APIURL string
	Logger *slog.Logger // nil: slog.Default()

	dummyOnce sync.Once
	dummy     string
	turnsOnce sync.Once
	mailing   struct { // password-reset mails in the background, a few at once
		once sync.Once
		c    chan struct{}
	}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Service) params() password.Params {
	if s.PasswordParams == (password.Params{}) {
		return password.Default
	}
	return s.PasswordParams
}

func notFound(what string) error { return apierror.New(apierror.NotFound, "%s not found", what) }

func forbidden(format string, args ...any) error {
	return apierror.New(apierror.Forbidden, format, args...)
}

// mapNotFound turns store.ErrNotFound into a NOT_FOUND naming what.
func mapNotFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}

// normalizeEmail validates and lowercases an email address.
func normalizeEmail(field, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return "", apierror.Invalid(field, "must be an email address")
	}
	return email, nil
}

// mailableEmail is normalizeEmail for an address H0p will mail: its domain
// must be a DNS name with a dot (no address literal like [10.0.0.5], no
// single-label internal name), so mail goes only to the internet's
// domains. (An operator may still name any address, like owner@localhost.)
func mailableEmail(field, email string) (string, error) {
	email, err := normalizeEmail(field, email)
	if err != nil {
		return "", err
	}
	domain := email[strings.LastIndex(email, "@")+1:]
	if !strings.Contains(strings.Trim(domain, "."), ".") || strings.ContainsAny(domain, "[]:") || strings.Contains(domain, "..") {
		return "", apierror.Invalid(field, "must be an email address at a domain name")
	}
	return email, nil
}

func parseRole(field string, r string) (store.Role, error) {
	switch role := store.Role(r); role {
	case store.RoleOwner, store.RoleAdmin, store.RoleMember:
		return role, nil
	}
	return "", apierror.Invalid(field, "must be owner, admin or member")
}

// --- Sessions --------------------------------------------------------------

// dummyHash is checked against when the email is unknown, so a login takes
// as long for an unknown user as for a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = password.Hash("not a real password", s.params()) })
	return s.dummy
}

// Login checks email and password and opens a session. It returns the
// session token, shown once.
func (s *Service) Login(ctx context.Context, email, pw string) (string, store.Session, error) {
	bad := apierror.New(apierror.Unauthorized, "wrong email or password")
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := s.Store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", store.Session{}, err
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummyHash()
	}
	ok, err := s.checkPassword(ctx, pw, hash)
	if err != nil {
		return "", store.Session{}, err
	}
	if !ok || u.PasswordHash == "" {
		return "", store.Session{}, bad
	}
	now := s.now()
	ttl := s.SessionTTL
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	token := apikey.Generate(apikey.Session)
	sess := store.Session{ID: ids.New("ses", now), UserID: u.ID, Digest: apikey.Digest(s.Pepper, token),
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		return "", store.Session{}, err
	}
	return token, sess, nil
}

// SetPassword sets the password of the user with email (an operator's
// command: the bootstrap Owner starts without one) and ends every session
// of theirs.
func (s *Service) SetPassword(ctx context.Context, email, pw string) error {
	if err := password.Validate(pw); err != nil {
		return apierror.Invalid("password", err.Error())
	}
	u, err := s.Store.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return mapNotFound(err, "user")
	}
	hash, err := s.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	return s.Store.Write(ctx, func(q store.Queries) error {
		if err := q.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		return q.DeleteSessions(ctx, u.ID, "")
	})
}

// Logout ends the principal's session.
func (s *Service) Logout(ctx context.Context, p access.Principal) error {
	return mapNotFound(s.Store.DeleteSession(ctx, p.SessionID), "session")
}

// Me is the principal's user and memberships.
func (s *Service) Me(ctx context.Context, p access.Principal) (store.User, []store.Member, error) {
	if p.UserID == "" {
		return store.User{}, nil, forbidden("a bot key has no user")
	}
	u, err := s.Store.User(ctx, p.UserID)
	if err != nil {
		return store.User{}, nil, mapNotFound(err, "user")
	}
	ms, err := s.Store.Memberships(ctx, p.UserID)
	return u, ms, err
}

// --- Organizations ---------------------------------------------------------

// CreateOrg makes a new org with the principal's user as its Owner.
func (s *Service) CreateOrg(ctx context.Context, p access.Principal, name string) (store.Org, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return store.Org{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	u, err := s.Store.User(ctx, p.UserID)
	if err != nil {
		return store.Org{}, mapNotFound(err, "user")
	}
	if u.EmailVerifiedAt.IsZero() {
		return store.Org{}, errUnverified(u.Email)
	}
	now := s.now()
	o := store.Org{ID: ids.New(ids.Org, now), Name: name, Plan: string(plans.Free), CreatedAt: now}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: o.ID, UserID: p.UserID, Role: store.RoleOwner, CreatedAt: now}); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, o.ID, now, "org.created", "org", o.ID, nil, OrgView(o)))
	})
	return o, err
}

// SetPlan moves an org to another plan (an operator's command).
func (s *Service) SetPlan(ctx context.Context, orgID, plan string) (store.Org, error) {
	if !plans.Valid(plan) {
		return store.Org{}, apierror.Invalid("plan", "must be free, pro, business or enterprise")
	}
	var o store.Org
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Org(ctx, orgID)
		if err != nil {
			return mapNotFound(err, "organization")
		}
		o = before
		o.Plan = plan
		if err := q.UpdateOrg(ctx, o); err != nil {
			return err
		}
		p := access.Principal{Kind: access.System, OrgID: orgID}
		return q.AppendAudit(ctx, audit.Entry(p, orgID, s.now(), "org.planChanged", "org", orgID,
			map[string]string{"plan": before.Plan}, map[string]string{"plan": plan}))
	})
	return o, err
}

// Usage is what an org uses of its plan's limits.
type Usage struct {
	LinksThisMonth int64 `json:"linksCreatedThisMonth"`
	Tags           int   `json:"tags"`
	APIKeys        int   `json:"apiKeys"`
}

// OrgUsage is the org with its plan and usage.
func (s *Service) OrgUsage(ctx context.Context, p access.Principal) (store.Org, plans.Plan, Usage, error) {
	o, err := s.Org(ctx, p)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	u, err := s.Store.Usage(ctx, p.OrgID, plans.Period(s.now()))
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	tags, err := s.Store.Tags(ctx, p.OrgID)
	if err != nil {
		return o, plans.Plan{}, Usage{}, err
	}
	keys, err := s.Store.APIKeys(ctx, p.OrgID)
	return o, plans.Get(o.Plan), Usage{LinksThisMonth: u["linksCreated"], Tags: len(tags), APIKeys: len(keys)}, err
}

// Org is the principal's org.
func (s *Service) Org(ctx context.Context, p access.Principal) (store.Org, error) {
	o, err := s.Store.Org(ctx, p.OrgID)
	return o, mapNotFound(err, "organization")
}

// RenameOrg changes the org's name.
func (s *Service) RenameOrg(ctx context.Context, p access.Principal, name string) (store.Org, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return store.Org{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	var o store.Org
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Org(ctx, p.OrgID)
		if err != nil {
			return mapNotFound(err, "organization")
		}
		o = before
		o.Name = name
		if err := q.UpdateOrg(ctx, o); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "org.updated", "org", o.ID, OrgView(before), OrgView(o)))
	})
	return o, err
}

// --- Members ---------------------------------------------------------------

// Members lists the org's members.
func (s *Service) Members(ctx context.Context, p access.Principal) ([]store.Member, error) {
	return s.Store.Members(ctx, p.OrgID)
}

// guardOwners refuses a change that would leave the org without an Owner,
// and one that touches Owner by someone who is not an Owner.
func guardOwners(ctx context.Context, q store.Queries, p access.Principal, target store.Member, newRole store.Role) error {
	touchesOwner := target.Role == store.RoleOwner || newRole == store.RoleOwner
	if touchesOwner && p.Role != store.RoleOwner {
		return forbidden("only an Owner can grant or remove the Owner role")
	}
	if target.Role == store.RoleOwner && newRole != store.RoleOwner {
		n, err := q.CountOwners(ctx, target.OrgID)
		if err != nil {
			return err
		}
		if n <= 1 {
			return forbidden("the last Owner cannot leave, be removed or be demoted; make someone else Owner first")
		}
	}
	return nil
}

// SetRole changes a member's role.
func (s *Service) SetRole(ctx context.Context, p access.Principal, userID, role string) (store.Member, error) {
	newRole, err := parseRole("role", role)
	if err != nil {
		return store.Member{}, err
	}
	var m store.Member
	err = s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Member(ctx, p.OrgID, userID)
		if err != nil {
			return mapNotFound(err, "member")
		}
		if err := guardOwners(ctx, q, p, before, newRole); err != nil {
			return err
		}
		if err := q.SetRole(ctx, p.OrgID, userID, newRole); err != nil {
			return err
		}
		m = before
		m.Role = newRole
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "member.updated", "member", userID, MemberView(before), MemberView(m)))
	})
	return m, err
}

// RemoveMember removes a member (or, with userID == p.UserID, lets the
// principal leave). The member's user key in the org goes with them.
func (s *Service) RemoveMember(ctx context.Context, p access.Principal, userID string) error {
	return s.Store.Write(ctx, func(q store.Queries) error {
		before, err := q.Member(ctx, p.OrgID, userID)
		if err != nil {
			return mapNotFound(err, "member")
		}
		if userID != p.UserID {
			if err := guardOwners(ctx, q, p, before, ""); err != nil {
				return err
			}
		} else if before.Role == store.RoleOwner {
			n, err := q.CountOwners(ctx, p.OrgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return forbidden("the last Owner cannot leave; make someone else Owner first")
			}
		}
		if err := q.DeleteUserKeys(ctx, p.OrgID, userID); err != nil {
			return err
		}
		if err := q.RemoveMember(ctx, p.OrgID, userID); err != nil {
			return err
		}
		action := "member.removed"
		if userID == p.UserID {
			action = "member.left"
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), action, "member", userID, MemberView(before), nil))
	})
}

// --- Invitations -----------------------------------------------------------

// Invite creates an invitation and returns its token, shown once.
func (s *Service) Invite(ctx context.Context, p access.Principal, email, role string) (string, store.Invitation, error) {
	email, err := mailableEmail("email", email)
	if err != nil {
		return "", store.Invitation{}, err
	}
	r, err := parseRole("role", role)
	if err != nil {
		return "", store.Invitation{}, err
	}
	if r == store.RoleOwner && p.Role != store.RoleOwner {
		return "", store.Invitation{}, forbidden("only an Owner can invite an Owner")
	}
	now := s.now()
	ttl := s.InvitationTTL
	if ttl == 0 {
		ttl = 7 * 24 * time.Hour
	}
	token := apikey.Generate(apikey.Invitation)
	inv := store.Invitation{ID: ids.New("inv", now), OrgID: p.OrgID, Email: email, Role: r,
		Digest: apikey.Digest(s.Pepper, token), InvitedBy: p.UserID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	var org store.Org
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if existing, err := q.UserByEmail(ctx, email); err == nil {
			if _, err := q.Member(ctx, p.OrgID, existing.ID); err == nil {
				return apierror.New(apierror.AlreadyExist, "%s is already a member", email)
			}
		}
		if org, err = q.Org(ctx, p.OrgID); err != nil {
			return err
		}
		if err := q.CreateInvitation(ctx, inv); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "invitation.created", "invitation", inv.ID, nil, InvitationView(inv)))
	})
	if err == nil && s.Mailer != nil {
		if err := s.mailInvitation(ctx, org, inv, token); err != nil {
			// The inviter has the token too and can pass it on.
			s.logger().Error("invitation email not sent", "invitationId", inv.ID, "err", err)
		}
	}
	return token, inv, err
}

// Accepted is the outcome of Accept.
type Accepted struct {
	Member store.Member
	User   store.User
	// NewUser is set when the invitation created the account.
	NewUser bool
}

// Accept joins the invited person to the org. An invitation proves nothing
// about its email address (its token went to the inviter), so:
//   - when an account with the invited email exists, the caller must be
//     signed in as that account (p is its session), and the account's
//     address must be verified; a password in the request is refused;
//   - otherwise the invitation creates the account with name and password,
//     unverified, and a verification code is mailed to the address.
//
// p is the zero Principal when the caller is not signed in.
func (s *Service) Accept(ctx context.Context, p access.Principal, token, name, pw string) (Accepted, error) {
	missing := notFound("invitation")
	if typ, err := apikey.Parse(token); err != nil || typ != apikey.Invitation {
		return Accepted{}, missing
	}
	if p.UserID == "" {
		// Before any lookup: whether an account has the address shows only
		// to a caller who would otherwise have made one.
		if err := password.Validate(pw); err != nil {
			return Accepted{}, apierror.Invalid("password", err.Error())
		}
	}
	now := s.now()
	digest := apikey.Digest(s.Pepper, token)
	// A new account's password is hashed before the transaction (in a
	// turn), not while the transaction holds the store's write lock.
	var hash string
	if inv, err := s.Store.InvitationByDigest(ctx, digest); err == nil && p.UserID == "" && now.Before(inv.ExpiresAt) && inv.AcceptedAt.IsZero() {
		if _, err := s.Store.UserByEmail(ctx, inv.Email); errors.Is(err, store.ErrNotFound) {
			if hash, err = s.hashPassword(ctx, pw); err != nil {
				return Accepted{}, err
			}
		}
	}
	var (
		out  Accepted
		code string
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		inv, err := q.InvitationByDigest(ctx, digest)
		if err != nil || !now.Before(inv.ExpiresAt) {
			return mapNotFound(errors.Join(err, store.ErrNotFound), "invitation")
		}
		if !inv.AcceptedAt.IsZero() {
			return apierror.New(apierror.AlreadyExist, "invitation already accepted")
		}
		u, err := q.UserByEmail(ctx, inv.Email)
		switch {
		case err == nil && p.UserID == "":
			return apierror.New(apierror.Unauthorized,
				"an account for %s exists: sign in as it (POST /v1/auth/login) and accept with its session token; "+
					"if you cannot, reset its password (POST /v1/auth/password-reset)", inv.Email)
		case err == nil && u.ID != p.UserID, errors.Is(err, store.ErrNotFound) && p.UserID != "":
			return forbidden("this invitation is for %s; you are signed in as someone else", inv.Email)
		case err == nil && u.EmailVerifiedAt.IsZero():
			return errUnverified(u.Email)
		case err == nil && pw != "":
			return apierror.Invalid("password", "must be left out: you are signed in; change it with POST /v1/auth/password")
		case errors.Is(err, store.ErrNotFound):
			if hash == "" {
				// The account was there a moment ago, and went.
				return apierror.New(apierror.Unavailable, "the account changed while you accepted; try again")
			}
			u = store.User{ID: ids.New(ids.User, now), Email: inv.Email, Name: strings.TrimSpace(name),
				PasswordHash: hash, CreatedAt: now}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			if code, err = s.newUserToken(ctx, q, u.ID, store.TokenVerifyEmail, verifyTTL, now); err != nil {
				return err
			}
			out.NewUser = true
		case err != nil:
			return err
		}
		m := store.Member{OrgID: inv.OrgID, UserID: u.ID, Role: inv.Role, CreatedAt: now, Email: u.Email, Name: u.Name}
		if err := q.AddMember(ctx, m); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return apierror.New(apierror.AlreadyExist, "already a member")
			}
			return err
		}
		if err := q.MarkInvitationAccepted(ctx, inv.ID, now); err != nil {
			return err
		}
		out.Member, out.User = m, u
		actor := access.Principal{Kind: access.Session, OrgID: inv.OrgID, UserID: u.ID, RequestID: p.RequestID, IP: p.IP}
		return q.AppendAudit(ctx, audit.Entry(actor, inv.OrgID, now, "member.joined", "member", u.ID, nil, MemberView(m)))
	})
	if err == nil && out.NewUser {
		if s.Mailer == nil {
			s.logger().Warn("no verification email sent: this server has no --smtp-url", "userId", out.User.ID)
		} else if err := s.mailVerification(ctx, out.User, code); err != nil {
			// The account exists; POST /v1/auth/verify-email/resend tries again.
			s.logger().Error("verification email not sent", "userId", out.User.ID, "err", err)
		}
	}
	return out, err
}

// --- API keys --------------------------------------------------------------

// KeyInput is what a client may set on a key.
type KeyInput struct {
	Name        *string
	Type        string
	Permissions *store.Permissions
	ExpiresAt   *time.Time
}

// checkGrants parses grants and refuses any beyond what may be given: the
// role (for people; a user key's also by its user's role), and, when the
// principal is itself a key, that key's effective permissions.
func checkGrants(p access.Principal, role store.Role, perms store.Permissions) (access.Set, error) {
	set, err := access.Parse(perms)
	if err != nil {
		return 0, apierror.Invalid("permissions", err.Error())
	}
	limit := access.All
	if p.IsPerson() {
		limit = access.OfRole(role)
	}
	if p.Kind != access.Session {
		limit &= p.Effective()
	}
	if excess := set.Minus(limit); excess != 0 {
		return 0, forbidden("permissions exceed what you may grant: %s", excess)
	}
	return set, nil
}

// ownKeyOnly reports whether the principal may only manage its own user key
// (a session without apiKeys permission).
func ownKeyOnly(p access.Principal, a access.Action) bool {
	return !p.Effective().Has(access.APIKeys, a)
}

// CreateKey makes a key and returns it, shown once.
func (s *Service) CreateKey(ctx context.Context, p access.Principal, in KeyInput) (string, store.APIKey, error) {
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if name == "" || len(name) > 100 {
		return "", store.APIKey{}, apierror.Invalid("name", "must be 1 to 100 characters")
	}
	var typ store.KeyType
	switch in.Type {
	case "user":
		typ = store.KeyUser
		if !p.IsPerson() {
			return "", store.APIKey{}, apierror.Invalid("type", "a bot key cannot own a user key; create a bot key")
		}
	case "bot":
		typ = store.KeyBot
		if ownKeyOnly(p, access.Create) {
			return "", store.APIKey{}, forbidden("bot keys need the apiKeys:create permission")
		}
	default:
		return "", store.APIKey{}, apierror.Invalid("type", "must be user or bot")
	}
	perms := store.Permissions{}
	if in.Permissions != nil {
		perms = *in.Permissions
	}
	set, err := checkGrants(p, p.Role, perms)
	if err != nil {
		return "", store.APIKey{}, err
	}
	now := s.now()
	var expires time.Time
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return "", store.APIKey{}, apierror.Invalid("expiresAt", "must be in the future")
		}
		expires = in.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	apiType := apikey.User
	if typ == store.KeyBot {
		apiType = apikey.Bot
	}
	plain := apikey.Generate(apiType)
	k := store.APIKey{ID: ids.New(ids.Key, now), OrgID: p.OrgID, Type: typ, Name: name,
		Prefix: apikey.Prefix(plain), Digest: apikey.Digest(s.Pepper, plain), Permissions: set.Permissions(),
		CreatedBy: p.UserID, CreatedAt: now, ExpiresAt: expires}
	if typ == store.KeyUser {
		k.UserID = p.UserID
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		org, err := q.Org(ctx, p.OrgID)
		if err != nil {
			return err
		}
		existing, err := q.APIKeys(ctx, p.OrgID)
		if err != nil {
			return err
		}
		if err := plans.Get(org.Plan).CheckLimit(plans.APIKeys, len(existing), 1); err != nil {
			return err
		}
		if err := q.CreateAPIKey(ctx, k); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return apierror.New(apierror.AlreadyExist, "you already have a user key in this organization; rotate or delete it")
			}
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, now, "apiKey.created", "apiKey", k.ID, nil, KeyView(k)))
	})
	return plain, k, err
}

// keyTarget is what access.CheckKey needs to know of k: its grants and, for
// a user key, its person's current role (roles: user ID → role).
func keyTarget(k store.APIKey, roles map[string]store.Role) (access.KeyTarget, error) {
	grants, err := access.Parse(k.Permissions)
	if err != nil {
		return access.KeyTarget{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	return access.KeyTarget{Type: k.Type, UserID: k.UserID, OwnerRole: roles[k.UserID], Grants: grants}, nil
}

// visibleKey loads key id and checks the principal may do a to it.
func visibleKey(ctx context.Context, q store.Queries, p access.Principal, id string, a access.Action) (store.APIKey, error) {
	k, err := q.APIKey(ctx, p.OrgID, id)
	if err != nil {
		return store.APIKey{}, mapNotFound(err, "API key")
	}
	roles := map[string]store.Role{}
	if k.Type == store.KeyUser {
		m, err := q.Member(ctx, k.OrgID, k.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.APIKey{}, err
		}
		roles[k.UserID] = m.Role
	}
	t, err := keyTarget(k, roles)
	if err != nil {
		return store.APIKey{}, err
	}
	if refusal := access.CheckKey(p, a, t); refusal != "" {
		return store.APIKey{}, forbidden("%s", refusal)
	}
	return k, nil
}

// Keys lists the keys the principal may see (access.CheckKey's read): with
// apiKeys:read all of the org's (a bot key: its bot keys), otherwise only
// the principal's own user key.
func (s *Service) Keys(ctx context.Context, p access.Principal) ([]store.APIKey, error) {
	keys, err := s.Store.APIKeys(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	members, err := s.Store.Members(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	roles := map[string]store.Role{}
	for _, m := range members {
		roles[m.UserID] = m.Role
	}
	visible := keys[:0]
	for _, k := range keys {
		t, err := keyTarget(k, roles)
		if err != nil {
			return nil, err
		}
		if access.CheckKey(p, access.Read, t) == "" {
			visible = append(visible, k)
		}
	}
	return visible, nil
}

// Key returns one key.
func (s *Service) Key(ctx context.Context, p access.Principal, id string) (store.APIKey, error) {
	return visibleKey(ctx, s.Store, p, id, access.Read)
}

// UpdateKey changes a key's name and/or permissions.
func (s *Service) UpdateKey(ctx context.Context, p access.Principal, id string, in KeyInput) (store.APIKey, error) {
	if in.Type != "" {
		return store.APIKey{}, apierror.Invalid("type", "cannot be changed; create a new key")
	}
	if in.ExpiresAt != nil {
		return store.APIKey{}, apierror.Invalid("expiresAt", "cannot be changed; create a new key")
	}
	var k store.APIKey
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := visibleKey(ctx, q, p, id, access.Update)
		if err != nil {
			return err
		}
		k = before
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			if name == "" || len(name) > 100 {
				return apierror.Invalid("name", "must be 1 to 100 characters")
			}
			k.Name = name
		}
		if in.Permissions != nil {
			// Only the key's own person changes a user key (visibleKey), so
			// either way the grants are bounded by the changer's role.
			set, err := checkGrants(p, p.Role, *in.Permissions)
			if err != nil {
				return err
			}
			k.Permissions = set.Permissions()
		}
		if err := q.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.updated", "apiKey", k.ID, KeyView(before), KeyView(k)))
	})
	return k, err
}

// RotateKey replaces a key's secret; the old one stops working at once.
func (s *Service) RotateKey(ctx context.Context, p access.Principal, id string) (string, store.APIKey, error) {
	var (
		k     store.APIKey
		plain string
	)
	err := s.Store.Write(ctx, func(q store.Queries) error {
		before, err := visibleKey(ctx, q, p, id, access.Update)
		if err != nil {
			return err
		}
		t := apikey.User
		if before.Type == store.KeyBot {
			t = apikey.Bot
		}
		plain = apikey.Generate(t)
		k = before
		k.Prefix, k.Digest = apikey.Prefix(plain), apikey.Digest(s.Pepper, plain)
		if err := q.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.rotated", "apiKey", k.ID, KeyView(before), KeyView(k)))
	})
	return plain, k, err
}

// DeleteKey revokes a key at once.
func (s *Service) DeleteKey(ctx context.Context, p access.Principal, id string) error {
	return s.Store.Write(ctx, func(q store.Queries) error {
		k, err := visibleKey(ctx, q, p, id, access.Delete)
		if err != nil {
			return err
		}
		if err := q.DeleteAPIKey(ctx, p.OrgID, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Entry(p, p.OrgID, s.now(), "apiKey.deleted", "apiKey", k.ID, KeyView(k), nil))
	})
}

// --- Audit log -------------------------------------------------------------

// AuditLogs returns a page of the org's audit log, newest first.
func (s *Service) AuditLogs(ctx context.Context, p access.Principal, f store.AuditFilter) ([]store.AuditEntry, error) {
	f.OrgID = p.OrgID
	if f.Limit <= 0 || f.Limit > 100 {
		return nil, apierror.Invalid("limit", "must be 1 to 100")
	}
	return s.Store.AuditLogs(ctx, f)
}

// CreateOrgWithOwner creates an org whose Owner is the user with ownerEmail
// (created when new, with password pw if given) and gives the Owner a user
// key with every permission the role allows, all in one transaction. save
// receives the key before the commit. It is how installs start (h0p dev's
// bootstrap, h0p admin create-org); nobody is signed in, so the audit entry
// names the Owner.
func (s *Service) CreateOrgWithOwner(ctx context.Context, orgName, ownerEmail, pw, plan string, save func(key string) error) (store.Org, error) {
	now := s.now()
	if !plans.Valid(plan) {
		return store.Org{}, apierror.Invalid("plan", "must be free, pro, business or enterprise")
	}
	email, err := normalizeEmail("ownerEmail", ownerEmail)
	if err != nil {
		return store.Org{}, err
	}
	var hash string
	if pw != "" {
		if err := password.Validate(pw); err != nil {
			return store.Org{}, apierror.Invalid("password", err.Error())
		}
		if hash, err = s.hashPassword(ctx, pw); err != nil {
			return store.Org{}, err
		}
	}
	o := store.Org{ID: ids.New(ids.Org, now), Name: orgName, Plan: plan, CreatedAt: now}
	plain := apikey.Generate(apikey.User)
	if err := save(plain); err != nil {
		return store.Org{}, fmt.Errorf("save owner key: %w", err)
	}
	err = s.Store.Write(ctx, func(q store.Queries) error {
		u, err := q.UserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			// The operator vouches for the address.
			u = store.User{ID: ids.New(ids.User, now), Email: email, Name: "Owner", CreatedAt: now, EmailVerifiedAt: now}
			u.PasswordHash = hash
			err = q.CreateUser(ctx, u)
		}
		if err != nil {
			return err
		}
		if err := q.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: o.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}); err != nil {
			return err
		}
		k := store.APIKey{ID: ids.New(ids.Key, now), OrgID: o.ID, Type: store.KeyUser, UserID: u.ID, Name: "owner",
			Prefix: apikey.Prefix(plain), Digest: apikey.Digest(s.Pepper, plain),
			Permissions: access.OfRole(store.RoleOwner).Permissions(), CreatedBy: u.ID, CreatedAt: now}
		if err := q.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		p := access.Principal{Kind: access.Session, OrgID: o.ID, UserID: u.ID}
		return q.AppendAudit(ctx, audit.Entry(p, o.ID, now, "org.created", "org", o.ID, nil, OrgView(o)))
	})
	return o, err
}
