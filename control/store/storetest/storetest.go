// Package storetest is the one test suite every control store engine must
// pass. Engines call Run from their own tests with a constructor for an empty
// store.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Run runs the suite; open must return a new, empty store each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Bootstrap", func(t *testing.T) { testBootstrap(t, open(t)) })
	t.Run("Links", func(t *testing.T) { testLinks(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
}

func bootstrap() store.Bootstrap {
	return store.Bootstrap{
		Org:   store.Org{ID: "org_1", Name: "Acme", CreatedAt: t0},
		Owner: store.User{ID: "usr_1", Email: "owner@example.com", Name: "Owner", CreatedAt: t0},
		Key: store.APIKey{
			ID: "key_1", OrgID: "org_1", Type: store.KeyUser, UserID: "usr_1", Name: "bootstrap",
			Prefix: "h0p_u_abcdef", Digest: []byte{1, 2, 3}, CreatedBy: "usr_1", CreatedAt: t0,
			Permissions: store.Permissions{"shortLinks": {"create", "read"}},
		},
	}
}

func testBootstrap(t *testing.T, s store.Store) {
	ctx := context.Background()
	if has, err := s.HasOrgs(ctx); err != nil || has {
		t.Fatalf("empty store HasOrgs = %v, %v", has, err)
	}
	b := bootstrap()
	if err := s.CreateBootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	if has, _ := s.HasOrgs(ctx); !has {
		t.Error("HasOrgs false after bootstrap")
	}
	k, err := s.APIKeyByDigest(ctx, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "key_1" || k.OrgID != "org_1" || k.UserID != "usr_1" || k.Type != store.KeyUser ||
		!k.CreatedAt.Equal(t0) || !k.LastUsedAt.IsZero() || len(k.Permissions["shortLinks"]) != 2 {
		t.Errorf("key = %+v", k)
	}
	if _, err := s.APIKeyByDigest(ctx, []byte{9}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown digest: %v", err)
	}
	// Touch writes once, then not again within minAge.
	if err := s.TouchAPIKey(ctx, "key_1", t0.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAPIKey(ctx, "key_1", t0.Add(time.Hour+30*time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	k, _ = s.APIKeyByDigest(ctx, []byte{1, 2, 3})
	if !k.LastUsedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("lastUsedAt %v, want %v", k.LastUsedAt, t0.Add(time.Hour))
	}
}

func testLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreateBootstrap(ctx, bootstrap()); err != nil {
		t.Fatal(err)
	}
	l := store.Link{ID: "link_1", OrgID: "org_1", Domain: "h0p.link", Key: "abc", URL: "https://x.example",
		Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}
	if _, err := s.CreateLink(ctx, l, []byte("put")); err != nil {
		t.Fatal(err)
	}
	dup := l
	dup.ID = "link_2"
	if _, err := s.CreateLink(ctx, dup, []byte("put")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same domain+key: %v, want ErrConflict", err)
	}
	other := dup
	other.Key = "ABC" // slugs are case-sensitive
	if _, err := s.CreateLink(ctx, other, []byte("put")); err != nil {
		t.Errorf("case-different key: %v", err)
	}
	got, err := s.Link(ctx, "org_1", "link_1")
	if err != nil || got != l {
		t.Errorf("Link = %+v, %v; want %+v", got, err, l)
	}
	if _, err := s.Link(ctx, "org_other", "link_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other org: %v, want ErrNotFound", err)
	}
	if _, _, err := s.DeleteLink(ctx, "org_other", "link_1", t0, func(store.Link) []byte { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete from other org: %v, want ErrNotFound", err)
	}
	del, _, err := s.DeleteLink(ctx, "org_1", "link_1", t0, func(l store.Link) []byte { return []byte("del " + l.ID) })
	if err != nil || del.ID != "link_1" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if _, err := s.Link(ctx, "org_1", "link_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreateBootstrap(ctx, bootstrap()); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, key := range []string{"a", "b", "c"} {
		at := t0.Add(time.Duration(i) * time.Minute)
		id, err := s.CreateLink(ctx, store.Link{ID: "link_" + key, OrgID: "org_1", Domain: "d", Key: key,
			URL: "https://x.example", Version: 1, CreatedBy: "key_1", CreatedAt: at, UpdatedAt: at}, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// A failed transaction leaves no outbox entry.
	if _, err := s.CreateLink(ctx, store.Link{ID: "link_x", OrgID: "org_1", Domain: "d", Key: "a",
		URL: "https://x.example", Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}, []byte("x")); err == nil {
		t.Fatal("duplicate accepted")
	}
	pending, err := s.PendingOutbox(ctx, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || string(pending[0].Command) != "a" || string(pending[1].Command) != "b" || pending[0].ID != ids[0] {
		t.Fatalf("pending = %+v", pending)
	}
	if err := s.DeleteOutbox(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	pending, _ = s.PendingOutbox(ctx, t0.Add(time.Hour), 1)
	if len(pending) != 1 || string(pending[0].Command) != "b" {
		t.Fatalf("after delete, pending = %+v", pending)
	}
}
