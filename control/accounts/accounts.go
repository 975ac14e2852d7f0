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
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/control/identity"
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
	// DashboardURL is the web dashboard's public base URL (control/dashboard)
	// when it is served, for the invitation email's accept page
	// (<DashboardURL>/invite/<token>); empty: there is none, and the email
	// offers the API alone.
	DashboardURL string
	Logger       *slog.Logger // nil: slog.Default()

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

func parseRole(field string, r string) (identity.Role, error) {
	switch role := identity.Role(r); role {
	case identity.RoleOwner, identity.RoleAdmin, identity.RoleMember:
		return role, nil
	}
	return "", apierror.Invalid(field, "must be owner, admin or member")
}
