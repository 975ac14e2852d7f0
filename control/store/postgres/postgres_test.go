package postgres

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/postgres/pgtest"
	"github.com/h0p/h0p/control/store/storetest"
)

func mustSchema(t *testing.T) (schema, dbURL string) { return pgtest.Schema(t) }

func serverURL(t *testing.T) string { return pgtest.ServerURL(t) }

func mustExec(t *testing.T, dbURL, sql string, args ...any) { pgtest.Exec(t, dbURL, sql, args...) }

func mustOpen(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSuite(t *testing.T) {
	serverURL(t) // skip the whole suite, not each case
	storetest.Run(t, func(t *testing.T) store.Store {
		_, dbURL := mustSchema(t)
		return mustOpen(t, dbURL)
	})
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	ctx := context.Background()
	_, dbURL := mustSchema(t)
	s := mustOpen(t, dbURL)
	if err := s.CreateBootstrap(ctx, store.Bootstrap{
		Org:   store.Org{ID: "org_1", Name: "a"},
		Owner: store.User{ID: "usr_1", Email: "a@b.c"},
		Key:   store.APIKey{ID: "key_1", OrgID: "org_1", Type: store.KeyUser, UserID: "usr_1", Digest: []byte{1}, CreatedBy: "usr_1"},
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dbURL)
	if has, err := s.HasOrgs(ctx); err != nil || !has {
		t.Errorf("after reopen HasOrgs = %v, %v", has, err)
	}
	if got, want := mustCountMigrations(t, s), len(migrations); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
}

func mustCountMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Control nodes that start together migrate the same database at once; the
// advisory lock makes one migrate and the others find the work done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	_, dbURL := mustSchema(t)
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		stores [2]*Store
		errs   [2]error
	)
	for i := range stores {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(context.Background(), dbURL)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	if got, want := mustCountMigrations(t, stores[0]), len(migrations); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
}

// Two deletes of one link that overlap: exactly one deletes it and appends an
// outbox entry, the other finds it gone. A third session holds the row lock
// until both deletes are waiting, so the race happens every run.
func TestConcurrentDeleteLinkDeletesOnce(t *testing.T) {
	ctx := context.Background()
	schema, dbURL := mustSchema(t)
	s := mustOpen(t, dbURL)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if err := s.CreateBootstrap(ctx, store.Bootstrap{
		Org:   store.Org{ID: "org_1", Name: "a", CreatedAt: t0},
		Owner: store.User{ID: "usr_1", Email: "a@b.c", CreatedAt: t0},
		Key:   store.APIKey{ID: "key_1", OrgID: "org_1", Type: store.KeyUser, UserID: "usr_1", Digest: []byte{1}, CreatedBy: "usr_1", CreatedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	outboxID, err := s.CreateLink(ctx, store.Link{ID: "link_1", OrgID: "org_1", Domain: "d", Key: "k",
		URL: "https://x.example", Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}, []byte("put"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOutbox(ctx, outboxID); err != nil {
		t.Fatal(err)
	}

	// The holder connects without application_name, so it is not counted
	// among the waiters below.
	holderURL, _ := url.Parse(dbURL)
	q := holderURL.Query()
	q.Del("application_name")
	holderURL.RawQuery = q.Encode()
	holder, err := pgx.Connect(ctx, holderURL.String())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	lock, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `SELECT 1 FROM links WHERE id = 'link_1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = s.DeleteLink(ctx, "org_1", "link_1", t0, func(l store.Link) []byte { return []byte("del") })
		})
	}
	mustPollLockWaiters(t, s, schema, 2)
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var deleted, notFound int
	for _, err := range errs {
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, store.ErrNotFound):
			notFound++
		default:
			t.Errorf("DeleteLink: %v", err)
		}
	}
	if deleted != 1 || notFound != 1 {
		t.Errorf("deleted %d, not found %d; want 1 and 1", deleted, notFound)
	}
	pending, err := s.PendingOutbox(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Errorf("outbox has %d entries, want 1: %+v", len(pending), pending)
	}
}

// mustPollLockWaiters waits until n sessions named application_name are
// blocked on a lock.
func mustPollLockWaiters(t *testing.T, s *Store, applicationName string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, applicationName).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions waiting on a lock, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
