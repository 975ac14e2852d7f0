package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

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
	return s.replacePassword(ctx, u.ID, pw, "")
}

// replacePassword hashes pw (in a turn) and makes it userID's password,
// ending every session of theirs but keep ("" for none).
func (s *Service) replacePassword(ctx context.Context, userID, pw, keep string) error {
	hash, err := s.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	return s.Store.Write(ctx, func(q store.Queries) error {
		if err := q.SetPassword(ctx, userID, hash); err != nil {
			return err
		}
		return q.DeleteSessions(ctx, userID, keep)
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
