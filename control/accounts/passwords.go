package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Account passwords are argon2id at 64 MiB and tens of milliseconds each
// (password.Default). Sign-ins, invitation accepts and password changes
// from many addresses at once could otherwise run a control node out of
// memory, so every hash and check takes a turn of Turns (the node's, shared
// with link passwords); a caller waits at most PasswordWait (0: 5 s) for
// one, then gets 503 UNAVAILABLE having changed nothing.

// withTurn runs fn in one of the password turns.
func (s *Service) withTurn(ctx context.Context, fn func()) error {
	s.turnsOnce.Do(func() {
		if s.Turns == nil {
			s.Turns = password.NewTurns(0)
		}
	})
	wait := s.PasswordWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	release, err := s.Turns.Take(waitCtx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
			"too many passwords are being checked right now; nothing was changed, try again shortly"), apierror.ErrNothingWritten)
	}
	if err != nil {
		return err
	}
	defer release()
	fn()
	return nil
}

// hashPassword hashes pw in a turn.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	var hash string
	err := s.withTurn(ctx, func() { hash = password.Hash(pw, s.params()) })
	return hash, err
}

// checkPassword reports whether pw matches hash, checked in a turn.
func (s *Service) checkPassword(ctx context.Context, pw, hash string) (bool, error) {
	var ok bool
	err := s.withTurn(ctx, func() { ok = password.Check(pw, hash) == nil })
	return ok, err
}
