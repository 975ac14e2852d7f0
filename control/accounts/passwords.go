package accounts

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Account passwords are argon2id at 64 MiB and tens of milliseconds each
// (password.Default). Sign-ins, invitation accepts and password changes
// from many addresses at once could otherwise run a control node out of
// memory, so every hash and check takes one of the Service's turns: at most
// PasswordTurns at once (0: GOMAXPROCS); a caller waits at most
// PasswordWait (0: 5 s) for one, then gets 503 UNAVAILABLE having changed
// nothing.

type turns struct {
	once sync.Once
	c    chan struct{}
}

// withTurn runs fn in one of the Service's password turns.
func (s *Service) withTurn(ctx context.Context, fn func()) error {
	s.turns.once.Do(func() {
		n := s.PasswordTurns
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		s.turns.c = make(chan struct{}, n)
	})
	wait := s.PasswordWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.turns.c <- struct{}{}:
	case <-t.C:
		return fmt.Errorf("%w: %w", apierror.New(apierror.Unavailable,
			"too many passwords are being checked right now; nothing was changed, try again shortly"), apierror.ErrNothingWritten)
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.turns.c }()
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
