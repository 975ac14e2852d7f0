package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Mailer sends an email (control/mail's SMTP, or its Log in h0p dev).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

const (
	verifyTTL = 7 * 24 * time.Hour
	resetTTL  = time.Hour
)

var errNoMail = apierror.New(apierror.Unavailable, "this server sends no email (it has no --smtp-url); ask its operator")

func errUnverified(email string) error {
	return apierror.New(apierror.Forbidden,
		"verify your email address %s first: send the code mailed to it to POST /v1/auth/verify-email (POST /v1/auth/verify-email/resend mails a new one)", email)
}

// newUserToken makes a one-time code for the user at now and stores its
// digest; the code itself goes only into the email.
func (s *Service) newUserToken(ctx context.Context, q store.Queries, userID, purpose string, ttl time.Duration, now time.Time) (string, error) {
	code := apikey.Generate(apikey.EmailToken)
	err := q.CreateUserToken(ctx, store.UserToken{ID: ids.New("utk", now), UserID: userID, Purpose: purpose,
		Digest: apikey.Digest(s.Pepper, code), CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return code, err
}

// userToken finds an unused, unexpired code for purpose; any other code is
// "not found", whatever the reason.
func (s *Service) userToken(ctx context.Context, q store.Queries, code, purpose string) (store.UserToken, error) {
	missing := apierror.New(apierror.NotFound, "code not found, used or expired")
	if typ, err := apikey.Parse(code); err != nil || typ != apikey.EmailToken {
		return store.UserToken{}, missing
	}
	t, err := q.UserTokenByDigest(ctx, apikey.Digest(s.Pepper, code))
	if errors.Is(err, store.ErrNotFound) || err == nil && (t.Purpose != purpose || !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt)) {
		return store.UserToken{}, missing
	}
	return t, err
}

func (s *Service) apiURL() string { return strings.TrimSuffix(s.APIURL, "/") }

func (s *Service) mailVerification(ctx context.Context, u store.User, code string) error {
	if s.Mailer == nil {
		return errNoMail
	}
	api := s.apiURL()
	return s.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Confirm your email address for H0p", Body: fmt.Sprintf(
		`An H0p account was created for %s. To confirm that this address is yours,
sign in and send this code (it works once, for 7 days):

  curl -H "Authorization: Bearer <your session token>" -d '{"token":"%s"}' %s/v1/auth/verify-email

If you did not create this account, someone else used your address. Take the
account over by resetting its password, which signs everyone else out:

  curl -d '{"email":"%s"}' %s/v1/auth/password-reset
`, u.Email, code, api, u.Email, api)})
}

// mailInterval is the least time between two codes mailed to one address
// for one purpose: nobody can use H0p to flood a mailbox.
const mailInterval = time.Minute

// mailedRecently reports whether a code for purpose went to the user less
// than mailInterval before now.
func mailedRecently(ctx context.Context, q store.Queries, userID, purpose string, now time.Time) (bool, error) {
	n, err := q.CountUserTokens(ctx, userID, purpose, now.Add(-mailInterval))
	return n > 0, err
}

// ResendVerification mails the signed-in user a new verification code. A
// verified user gets none and no error.
func (s *Service) ResendVerification(ctx context.Context, p access.Principal) (store.User, error) {
	u, err := s.Store.User(ctx, p.UserID)
	if err != nil {
		return store.User{}, mapNotFound(err, "user")
	}
	if !u.EmailVerifiedAt.IsZero() {
		return u, nil
	}
	if s.Mailer == nil {
		return u, errNoMail
	}
	// Earlier codes stay good until they expire: the mail may not arrive.
	var code string
	now := s.now()
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if recent, err := mailedRecently(ctx, q, u.ID, store.TokenVerifyEmail, now); err != nil || recent {
			return errors.Join(err, apierror.New(apierror.RateLimited, "a code went to %s less than a minute ago; wait for it", u.Email))
		}
		code, err = s.newUserToken(ctx, q, u.ID, store.TokenVerifyEmail, verifyTTL, now)
		return err
	})
	if err != nil {
		return u, err
	}
	if err := s.mailVerification(ctx, u, code); err != nil {
		return u, fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable, "the verification email could not be sent; try again later"), err)
	}
	return u, nil
}

// VerifyEmail marks the signed-in user's address verified with a code that
// was mailed to it. Both are needed: the code shows the address is theirs,
// the session that the account is (someone who merely receives the mail
// cannot verify an account another person made with their address).
func (s *Service) VerifyEmail(ctx context.Context, p access.Principal, code string) (store.User, error) {
	var u store.User
	err := s.Store.Write(ctx, func(q store.Queries) error {
		t, err := s.userToken(ctx, q, code, store.TokenVerifyEmail)
		if err != nil {
			return err
		}
		if t.UserID != p.UserID {
			return apierror.New(apierror.NotFound, "code not found, used or expired")
		}
		if err := q.UseUserToken(ctx, t.ID, s.now()); err != nil {
			return mapNotFound(err, "code")
		}
		if u, err = q.User(ctx, p.UserID); err != nil {
			return err
		}
		if u.EmailVerifiedAt.IsZero() {
			u.EmailVerifiedAt = s.now()
			return q.SetEmailVerified(ctx, u.ID, u.EmailVerifiedAt)
		}
		return nil
	})
	return u, err
}

// RequestPasswordReset mails a reset code to the account with email, if
// there is one. The answer is the same either way and comes before any
// lookup: the lookup, the code and the mail happen in the background
// (a few at once; beyond that requests are dropped, and logged), so
// neither the answer nor its timing tells whether an account exists. One
// code a minute at most goes to an address.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, err := mailableEmail("email", email)
	if err != nil {
		return err
	}
	if s.Mailer == nil {
		return errNoMail
	}
	s.mailing.once.Do(func() { s.mailing.c = make(chan struct{}, 4) })
	select {
	case s.mailing.c <- struct{}{}:
	default:
		s.logger().Warn("password reset dropped: too many being mailed")
		return nil
	}
	ctx, now := context.WithoutCancel(ctx), s.now()
	go func() {
		defer func() { <-s.mailing.c }()
		if err := s.mailReset(ctx, email, now); err != nil {
			s.logger().Error("password reset email not sent", "err", err)
		}
	}()
	return nil
}

// mailReset mails a reset code to the account with email, if any, as
// asked for at now.
func (s *Service) mailReset(ctx context.Context, email string, now time.Time) error {
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var code string
	err = s.Store.Write(ctx, func(q store.Queries) error {
		if recent, err := mailedRecently(ctx, q, u.ID, store.TokenResetPassword, now); err != nil || recent {
			return err
		}
		// Codes expired a day ago are of no more use, even for the record.
		if err := q.PurgeUserTokens(ctx, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		code, err = s.newUserToken(ctx, q, u.ID, store.TokenResetPassword, resetTTL, now)
		return err
	})
	if err != nil || code == "" {
		return err
	}
	return s.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Reset your H0p password", Body: fmt.Sprintf(
		`Someone asked to reset the password of the H0p account %s.
Set a new one with this code (it works once, within an hour):

  curl -d '{"token":"%s","password":"<new password>"}' %s/v1/auth/password-reset/confirm

Every session of the account ends when the password changes. If you did not
ask for this, ignore this email: the password stays as it is.
`, u.Email, code, s.apiURL())})
}

// ResetPassword sets a new password with a mailed reset code. Having the
// code proves the address, so the address becomes verified; every session
// of the user ends. An account nobody had verified before may have been
// made by someone else with this address: its user keys go too, so nothing
// that person made keeps working.
func (s *Service) ResetPassword(ctx context.Context, code, pw string) (store.User, error) {
	if err := password.Validate(pw); err != nil {
		return store.User{}, apierror.Invalid("password", err.Error())
	}
	if _, err := s.userToken(ctx, s.Store, code, store.TokenResetPassword); err != nil {
		return store.User{}, err // checked before the costly hash, and again below
	}
	hash, err := s.hashPassword(ctx, pw)
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	err = s.Store.Write(ctx, func(q store.Queries) error {
		t, err := s.userToken(ctx, q, code, store.TokenResetPassword)
		if err != nil {
			return err
		}
		now := s.now()
		if err := q.UseUserToken(ctx, t.ID, now); err != nil {
			return mapNotFound(err, "code")
		}
		if err := q.UseUserTokens(ctx, t.UserID, store.TokenResetPassword, now); err != nil {
			return err
		}
		if u, err = q.User(ctx, t.UserID); err != nil {
			return err
		}
		if err := q.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if u.EmailVerifiedAt.IsZero() {
			if err := q.DeleteUserKeys(ctx, "", u.ID); err != nil {
				return err
			}
			u.EmailVerifiedAt = now
			if err := q.SetEmailVerified(ctx, u.ID, now); err != nil {
				return err
			}
		}
		return q.DeleteSessions(ctx, u.ID, "")
	})
	return u, err
}

// ChangePassword replaces the signed-in user's password, given the current
// one, and ends every other session of theirs.
func (s *Service) ChangePassword(ctx context.Context, p access.Principal, current, pw string) error {
	if err := password.Validate(pw); err != nil {
		return apierror.Invalid("newPassword", err.Error())
	}
	u, err := s.Store.User(ctx, p.UserID)
	if err != nil {
		return mapNotFound(err, "user")
	}
	if u.PasswordHash == "" {
		return apierror.Invalid("currentPassword", "is not your current password")
	}
	ok, err := s.checkPassword(ctx, current, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return apierror.Invalid("currentPassword", "is not your current password")
	}
	return s.replacePassword(ctx, u.ID, pw, p.SessionID)
}

func (s *Service) mailInvitation(ctx context.Context, org store.Org, inv store.Invitation, token string) error {
	api := s.apiURL()
	var b strings.Builder
	fmt.Fprintf(&b, `You are invited to join the organization %q on H0p as %s (the invitation
is valid until %s).
`, org.Name, inv.Role, inv.ExpiresAt.UTC().Format(TimeFormat))
	if dash := strings.TrimSuffix(s.DashboardURL, "/"); dash != "" {
		fmt.Fprintf(&b, `
Open this page in your browser to accept, with a new account or the one
you have for %s:

  %s/invite/%s

Or accept through the API, as a program would:
`, inv.Email, dash, token)
	}
	fmt.Fprintf(&b, `
New to H0p? Accept with your name and a password of at least %d characters:

  curl -d '{"name":"<your name>","password":"<password>"}' %s/v1/invitations/%s/accept

Already have an account for %s? Sign in, then accept with your session:

  curl -X POST -H "Authorization: Bearer <your session token>" %s/v1/invitations/%s/accept
`, password.MinLen, api, token, inv.Email, api, token)
	return s.Mailer.Send(ctx, mail.Message{To: inv.Email, Subject: "You are invited to " + org.Name + " on H0p", Body: b.String()})
}
