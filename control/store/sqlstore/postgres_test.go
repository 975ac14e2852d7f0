package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/pgtest"
)

// Row locks are PostgreSQL's alone: SQLite's Write holds the database's
// write lock from its start.

// Two Writes that lock, log and delete one link overlap: exactly one
// deletes it and appends an outbox entry, the other finds it gone. A third
// session holds the row lock until both Writes wait for it, so the race
// happens on every run (the suite's version of this test may run them one
// after the other).
func TestConcurrentDeleteLinkDeletesOnce(t *testing.T) {
	ctx := context.Background()
	schema, dbURL := pgtest.Schema(t)
	s := engines[1].mustOpen(t, dbURL)
	mustSeed(t, s)

	holder := mustConnectUncounted(t, dbURL)
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

// A Write that waited in LockLink for another to commit reads the link as
// committed, tags included (which one statement that waited would read as
// of its start), so an update made from it loses nothing.
func TestLockLinkAfterWaitSeesCommittedTags(t *testing.T) {
	ctx := context.Background()
	schema, dbURL := pgtest.Schema(t)
	s := engines[1].mustOpen(t, dbURL)
	mustSeed(t, s)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "t", CreatedAt: t0}))

	holder := mustConnectUncounted(t, dbURL)
	other, err := holder.Begin(ctx)
	must(t, err)
	defer other.Rollback(ctx)
	for _, sql := range []string{
		`SELECT 1 FROM links WHERE id = 'link_1' FOR UPDATE`,
		`UPDATE links SET version = 2 WHERE id = 'link_1'`,
		`INSERT INTO link_tags (link_id, tag_id) VALUES ('link_1', 'tag_1')`,
	} {
		if _, err := other.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	var got store.Link
	done := make(chan error)
	go func() {
		done <- s.Write(ctx, func(q store.Queries) error {
			var err error
			got, err = q.LockLink(ctx, "org_1", "link_1")
			return err
		})
	}()
	mustPollLockWaiters(t, s, schema, 1)
	must(t, other.Commit(ctx))
	must(t, <-done)
	if got.Version != 2 || fmt.Sprint(got.TagIDs) != "[tag_1]" {
		t.Errorf("LockLink after the wait: version %d, tags %v; want 2, [tag_1]", got.Version, got.TagIDs)
	}
}

// mustConnectUncounted connects to dbURL without its application_name, so
// the connection is not counted by mustPollLockWaiters.
func mustConnectUncounted(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(dbURL)
	must(t, err)
	q := u.Query()
	q.Del("application_name")
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(context.Background(), u.String())
	must(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// mustPollLockWaiters waits until n sessions named application_name are
// blocked on a lock.
func mustPollLockWaiters(t *testing.T, s *Store, applicationName string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
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
