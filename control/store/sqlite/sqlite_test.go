package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
	if err := s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "a", CreatedAt: time.Now()}); err != nil {
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
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, len(migrations))
	}
}
