package postgres

import (
	"context"
	"encoding/json"
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

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustOpen(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustSeed creates org_1 with owner usr_1 and link_1.
func mustSeed(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", CreatedAt: t0}))
	must(t, s.CreateUser(ctx, store.User{ID: "usr_1", Email: "a@example.com", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: store.RoleOwner, CreatedAt: t0}))
	must(t, s.InsertLink(ctx, store.Link{ID: "link_1", OrgID: "org_1", Domain: "d", Key: "k",
		URL: "https://x.example", Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}))
}

func TestSuite(t *testing.T) {
	pgtest.ServerURL(t) // skip the whole suite, not each case
	storetest.Run(t, func(t *testing.T) store.Store {
		_, dbURL := pgtest.Schema(t)
		return mustOpen(t, dbURL)
	})
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	s.Close()
	s = mustOpen(t, dbURL)
	if has, err := s.HasOrgs(ctx); err != nil || !has {
		t.Errorf("after reopen HasOrgs = %v, %v", has, err)
	}
	if got, want := mustCountMigrations(t, s), len(migrations); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
}

// A database made by a release that had only the first migration gets the
// rest on Open and keeps its data.
func TestUpgradeFromFirstMigration(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	all := migrations
	migrations = all[:1]
	s, err := Open(ctx, dbURL)
	migrations = all
	must(t, err)
	mustSeed(t, s)
	s.Close()

	s = mustOpen(t, dbURL)
	if got, want := mustCountMigrations(t, s), len(migrations); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
	if _, err := s.Link(ctx, "org_1", "link_1"); err != nil {
		t.Errorf("link after upgrade: %v", err)
	}
	must(t, s.CreateSession(ctx, store.Session{ID: "ses_1", UserID: "usr_1", Digest: []byte{1}, CreatedAt: t0, ExpiresAt: t0}))
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
	_, dbURL := pgtest.Schema(t)
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

// Two Writes that lock, log and delete one link overlap: exactly one deletes
// it and appends an outbox entry, the other finds it gone. A third session
// holds the row lock until both Writes wait for it, so the race happens on
// every run (the suite's version of this test may run them one after the
// other).
func TestConcurrentDeleteLinkDeletesOnce(t *testing.T) {
	ctx := context.Background()
	schema, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)

	// The holder connects without application_name, so it is not counted
	// among the waiters below.
	holderURL, _ := url.Parse(dbURL)
	q := holderURL.Query()
	q.Del("application_name")
	holderURL.RawQuery = q.Encode()
	holder, err := pgx.Connect(ctx, holderURL.String())
	must(t, err)
	defer holder.Close(ctx)
	lock, err := holder.Begin(ctx)
	must(t, err)
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
			errs[i] = s.Write(ctx, func(q store.Queries) error {
				if _, err := q.LockLink(ctx, "org_1", "link_1"); err != nil {
					return err
				}
				if _, err := q.AppendOutbox(ctx, []byte("del"), t0); err != nil {
					return err
				}
				return q.DeleteLink(ctx, "org_1", "link_1")
			})
		})
	}
	mustPollLockWaiters(t, s, schema, 2)
	must(t, lock.Rollback(ctx))
	wg.Wait()

	var deleted, notFound int
	for _, err := range errs {
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, store.ErrNotFound):
			notFound++
		default:
			t.Errorf("Write: %v", err)
		}
	}
	if deleted != 1 || notFound != 1 {
		t.Errorf("deleted %d, not found %d; want 1 and 1", deleted, notFound)
	}
	pending, err := s.PendingOutbox(ctx, t0, 10)
	must(t, err)
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

// PostgreSQL aborts a transaction at its first failed statement; SQLite does
// not. A taken unique value must not abort it, so a Write can handle
// ErrConflict and go on on both engines.
func TestConflictInWriteLeavesTransactionUsable(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	must(t, s.Write(ctx, func(q store.Queries) error {
		if err := q.AppendAudit(ctx, store.AuditEntry{ID: "aud_1", OrgID: "org_1", At: t0}); err != nil {
			return err
		}
		for _, c := range []struct {
			what string
			err  error
		}{
			{"org", q.CreateOrg(ctx, store.Org{ID: "org_1", CreatedAt: t0})},
			{"user", q.CreateUser(ctx, store.User{ID: "usr_2", Email: "a@example.com", CreatedAt: t0})},
			{"member", q.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: store.RoleAdmin, CreatedAt: t0})},
			{"link", q.InsertLink(ctx, store.Link{ID: "link_2", OrgID: "org_1", Domain: "d", Key: "k",
				URL: "https://y.example", Version: 1, CreatedAt: t0, UpdatedAt: t0})},
			{"audit", q.AppendAudit(ctx, store.AuditEntry{ID: "aud_1", OrgID: "org_1", At: t0})},
		} {
			if !errors.Is(c.err, store.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", c.what, c.err)
			}
		}
		_, err := q.AppendOutbox(ctx, []byte("after conflicts"), t0)
		return err
	}))
	if p, _ := s.PendingOutbox(ctx, t0, 10); len(p) != 1 {
		t.Errorf("outbox has %d entries after the Write, want 1", len(p))
	}
}

// A panic in fn rolls back, reaches the caller, and leaves the pool usable.
func TestWritePanicRollsBack(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want boom", v)
			}
		}()
		s.Write(ctx, func(q store.Queries) error {
			if _, err := q.AppendOutbox(ctx, []byte("x"), t0); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if p, err := s.PendingOutbox(ctx, t0, 10); err != nil || len(p) != 0 {
		t.Errorf("after panic, pending = %v, %v; want none", p, err)
	}
	if n := s.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
}

// The diff is stored as written (JSON, not JSONB, which would reorder keys
// and respace it), and a JSON null reads back as no diff.
func TestAuditDiffRoundTrips(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	diff := `{"before":{"url":"a", "b":1},"after":null}`
	must(t, s.AppendAudit(ctx, store.AuditEntry{ID: "aud_1", OrgID: "org_1", At: t0, Diff: json.RawMessage(diff)}))
	must(t, s.AppendAudit(ctx, store.AuditEntry{ID: "aud_2", OrgID: "org_1", At: t0, Diff: json.RawMessage("null")}))
	got, err := s.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("AuditLogs = %+v, %v", got, err)
	}
	if got[0].Diff != nil {
		t.Errorf("null diff read back as %q, want nil", got[0].Diff)
	}
	if string(got[1].Diff) != diff {
		t.Errorf("diff %s, want %s", got[1].Diff, diff)
	}
}
