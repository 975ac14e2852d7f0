package accounts

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/password"
)

// Password work waits for a turn, and past PasswordWait answers 503
// UNAVAILABLE without changing anything.
func TestPasswordWorkTakesTurns(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Service{Store: st, Pepper: make([]byte, 32), Now: time.Now, Turns: password.NewTurns(1), PasswordWait: 50 * time.Millisecond,
		PasswordParams: password.Params{Memory: 1024, Time: 1, Threads: 1}}

	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- s.withTurn(ctx, func() { close(holding); <-release }) }()
	<-holding
	_, _, err = s.Login(ctx, "nobody@example.com", "a long password")
	if e := apierror.From(err); e.Code != apierror.Unavailable {
		t.Errorf("login while every turn is taken: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody@example.com", "a long password"); apierror.From(err).Code != apierror.NotFound {
		t.Errorf("set-password of nobody: %v", err) // looked up before any hash
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Login(ctx, "nobody@example.com", "a long password")
	if e := apierror.From(err); e.Code != apierror.Unauthorized {
		t.Errorf("login with a turn free: %v", err)
	}
}
