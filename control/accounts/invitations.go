package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

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
	if r == identity.RoleOwner && p.Role != identity.RoleOwner {
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
