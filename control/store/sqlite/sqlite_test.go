package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "control.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "control.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBootstrap(ctx, store.Bootstrap{
		Org:   store.Org{ID: "org_1", Name: "a"},
		Owner: store.User{ID: "usr_1", Email: "a@b.c"},
		Key:   store.APIKey{ID: "key_1", OrgID: "org_1", Type: store.KeyUser, UserID: "usr_1", Digest: []byte{1}, CreatedBy: "usr_1"},
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if has, err := s.HasOrgs(ctx); err != nil || !has {
		t.Errorf("after reopen HasOrgs = %v, %v", has, err)
	}
}
