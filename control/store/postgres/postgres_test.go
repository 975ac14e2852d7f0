package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/pgtest"
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

// Databases made by earlier releases get the missing migrations on Open and
// keep their data: links from before migration 3 read back untitled, never
// clicked and without tags, orgs on the free plan, and both take the new
// fields.
func TestUpgrade(t *testing.T) {
	for _, from := range []int{1, 2} {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			ctx := context.Background()
			_, dbURL := pgtest.Schema(t)
			all := migrations
			migrations = all[:from]
			old, err := Open(ctx, dbURL)
			migrations = all
			must(t, err)
			t.Cleanup(func() { old.Close() })
			// Rows as the releases of migrations 1 and 2 wrote them.
			for _, sql := range []string{
				`INSERT INTO orgs (id, name, created_at) VALUES ('org_1', 'Acme', $1)`,
				`INSERT INTO users (id, email, created_at) VALUES ('usr_1', 'a@example.com', $1)`,
				`INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ('org_1', 'usr_1', 'owner', $1)`,
				`INSERT INTO links (id, org_id, domain, key, url, version, created_by, created_at, updated_at)
					VALUES ('link_1', 'org_1', 'd', 'k1', 'https://x.example', 1, 'key_1', $1, $1),
						('link_2', 'org_1', 'd', 'k2', 'https://x.example', 3, 'key_1', $1, $1)`,
			} {
				if _, err := old.pool.Exec(ctx, sql, ms(t0)); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			old.Close()

			s := mustOpen(t, dbURL)
			if got, want := mustCountMigrations(t, s), len(migrations); got != want {
				t.Errorf("schema_migrations has %d rows, want %d", got, want)
			}
			if o, err := s.Org(ctx, "org_1"); err != nil || o.Plan != "free" {
				t.Errorf("org after upgrade: %+v, %v", o, err)
			}
			want := store.Link{ID: "link_1", OrgID: "org_1", Domain: "d", Key: "k1", URL: "https://x.example",
				Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}
			if got, err := s.Link(ctx, "org_1", "link_1"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("link after upgrade:\n got %+v, %v\nwant %+v", got, err, want)
			}
			if got, err := s.LinkByURL(ctx, "org_1", "d", "https://x.example"); err != nil || got.ID != "link_1" {
				t.Errorf("LinkByURL after upgrade: %+v, %v", got, err)
			}
			never, err := s.Links(ctx, store.LinkFilter{OrgID: "org_1", Sort: store.SortLastClickedAt, Asc: true, Limit: 10})
			if err != nil || len(never) != 2 || never[0].ID != "link_1" {
				t.Errorf("Links by last click after upgrade: %+v, %v", never, err)
			}

			must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "t", CreatedAt: t0}))
			want.Version, want.ExternalID, want.TagIDs, want.Clicks = 2, "ext-1", []string{"tag_1"}, 4
			must(t, s.UpdateLink(ctx, want))
			if got, err := s.LinkByExternalID(ctx, "org_1", "ext-1"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("link updated after upgrade:\n got %+v, %v\nwant %+v", got, err, want)
			}
			must(t, s.CreateSession(ctx, store.Session{ID: "ses_1", UserID: "usr_1", Digest: []byte{1}, CreatedAt: t0, ExpiresAt: t0}))
		})
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
// ErrConflict and go on on both engines: inserts skip the row (ON CONFLICT
// DO NOTHING), updates run under a savepoint. What came before a conflict
// stays.
func TestConflictInWriteLeavesTransactionUsable(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "Launch", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_2", OrgID: "org_1", Name: "Other", CreatedAt: t0}))
	must(t, s.AppendEvent(ctx, store.Event{ID: "evt_1", OrgID: "org_1", Type: "link.created", CreatedAt: t0}))
	l2 := store.Link{ID: "link_2", OrgID: "org_1", Domain: "d", Key: "k2", URL: "https://y.example",
		ExternalID: "ext-2", Version: 1, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.InsertLink(ctx, l2))
	must(t, s.Write(ctx, func(q store.Queries) error {
		if err := q.AppendAudit(ctx, store.AuditEntry{ID: "aud_1", OrgID: "org_1", At: t0}); err != nil {
			return err
		}
		kept := l2
		kept.Title, kept.Version = "kept", 2
		if err := q.UpdateLink(ctx, kept); err != nil {
			return err
		}
		taken := kept
		taken.Key, taken.Title = "k", "lost"
		for _, c := range []struct {
			what string
			err  error
		}{
			{"org", q.CreateOrg(ctx, store.Org{ID: "org_1", CreatedAt: t0})},
			{"user", q.CreateUser(ctx, store.User{ID: "usr_2", Email: "a@example.com", CreatedAt: t0})},
			{"member", q.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: store.RoleAdmin, CreatedAt: t0})},
			{"link", q.InsertLink(ctx, store.Link{ID: "link_3", OrgID: "org_1", Domain: "d", Key: "k",
				URL: "https://y.example", Version: 1, CreatedAt: t0, UpdatedAt: t0})},
			{"externalId", q.InsertLink(ctx, store.Link{ID: "link_3", OrgID: "org_1", Domain: "d", Key: "k3",
				URL: "https://y.example", ExternalID: "ext-2", Version: 1, CreatedAt: t0, UpdatedAt: t0})},
			{"rename link", q.UpdateLink(ctx, taken)},
			{"tag", q.CreateTag(ctx, store.Tag{ID: "tag_3", OrgID: "org_1", Name: "LAUNCH", CreatedAt: t0})},
			{"rename tag", q.UpdateTag(ctx, store.Tag{ID: "tag_2", OrgID: "org_1", Name: "launch"})},
			{"event", q.AppendEvent(ctx, store.Event{ID: "evt_1", OrgID: "org_1", Type: "x", CreatedAt: t0})},
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
	if a, _ := s.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", Limit: 10}); len(a) != 1 {
		t.Errorf("audit has %d entries after the Write, want 1", len(a))
	}
	if got, _ := s.Link(ctx, "org_1", "link_2"); got.Title != "kept" || got.Key != "k2" {
		t.Errorf("link_2 after the Write: %+v, want the update before the conflict", got)
	}
}

// A Write that waited in LockLink for another to commit reads the link as
// committed, tags included (which one statement that waited would read as
// of its start), so an update made from it loses nothing.
func TestLockLinkAfterWaitSeesCommittedTags(t *testing.T) {
	ctx := context.Background()
	schema, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
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

// A destination may be 8 kB (links.MaxURLLen); a btree entry holds ~2.7 kB,
// so LinkByURL's index is on md5(url). Random text, which does not compress.
func TestLongURL(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	b := make([]byte, 6<<10)
	rand.Read(b)
	long := ("https://x.example/?q=" + base64.RawURLEncoding.EncodeToString(b))[:8<<10]
	for i, id := range []string{"link_2", "link_3"} {
		must(t, s.InsertLink(ctx, store.Link{ID: id, OrgID: "org_1", Domain: "d", Key: id, URL: long,
			Version: 1, CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}))
	}
	if got, err := s.LinkByURL(ctx, "org_1", "d", long); err != nil || got.ID != "link_2" || got.URL != long {
		t.Errorf("LinkByURL = %s, %v; want link_2", got.ID, err)
	}
	_, err := s.LinkByURL(ctx, "org_1", "d", long[:len(long)-1])
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LinkByURL of a prefix: %v, want ErrNotFound", err)
	}
}

// Search is a substring match: LIKE's wildcards and escape in it match
// themselves, and case does not matter.
func TestSearchIsLiteral(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s) // link_1, key k
	for _, l := range []struct{ id, key, title string }{
		{"link_2", "a_b", ""},
		{"link_3", "axb", ""},
		{"link_4", "sale", "100% off"},
		{"link_5", "win", `C:\temp`},
		{"link_6", "Mixed", ""},
	} {
		must(t, s.InsertLink(ctx, store.Link{ID: l.id, OrgID: "org_1", Domain: "d", Key: l.key, Title: l.title,
			URL: "https://x.example/" + l.key, Version: 1, CreatedAt: t0, UpdatedAt: t0}))
	}
	for search, want := range map[string]string{
		"_":     "[link_2]",
		"a_b":   "[link_2]",
		"%":     "[link_4]",
		"0% o":  "[link_4]",
		`\`:     "[link_5]",
		`:\t`:   "[link_5]",
		"MIXED": "[link_6]",
		"xb":    "[link_3]",
	} {
		ls, err := s.Links(ctx, store.LinkFilter{OrgID: "org_1", Search: search, Limit: 10})
		var ids []string
		for _, l := range ls {
			ids = append(ids, l.ID)
		}
		if err != nil || fmt.Sprint(ids) != want {
			t.Errorf("search %q: %v, %v; want %s", search, ids, err, want)
		}
	}
}

// Attrs are JSON, not JSONB: they read back byte for byte; an empty or null
// document reads back nil.
func TestAttrsRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	l, err := s.Link(ctx, "org_1", "link_1")
	must(t, err)
	for _, c := range []struct{ attrs, want string }{
		{`{"utm": {"source":"a"},  "ab":[2,1], "a": null}`, `{"utm": {"source":"a"},  "ab":[2,1], "a": null}`},
		{`null`, ""},
		{``, ""},
	} {
		l.Attrs = json.RawMessage(c.attrs)
		must(t, s.UpdateLink(ctx, l))
		got, err := s.Link(ctx, "org_1", "link_1")
		if err != nil || string(got.Attrs) != c.want || c.want == "" && got.Attrs != nil {
			t.Errorf("attrs %q read back %q, %v; want %q", c.attrs, got.Attrs, err, c.want)
		}
	}
}

// A link carries only tags of its org: IDs of another org's tags, or of
// none, are left out (and repeats are one).
func TestLinkTagsStayInTheOrg(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_2", Name: "Other", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "mine", CreatedAt: t0}))
	must(t, s.CreateTag(ctx, store.Tag{ID: "tag_9", OrgID: "org_2", Name: "theirs", CreatedAt: t0}))
	l := store.Link{ID: "link_2", OrgID: "org_1", Domain: "d", Key: "k2", URL: "https://x.example", Version: 1,
		TagIDs: []string{"tag_9", "tag_1", "tag_none", "tag_1"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.InsertLink(ctx, l))
	if got, _ := s.Link(ctx, "org_1", "link_2"); fmt.Sprint(got.TagIDs) != "[tag_1]" {
		t.Errorf("tags after insert: %v, want [tag_1]", got.TagIDs)
	}
	l.TagIDs = []string{"tag_9"}
	must(t, s.UpdateLink(ctx, l))
	if got, _ := s.Link(ctx, "org_1", "link_2"); got.TagIDs != nil {
		t.Errorf("tags after update: %v, want none", got.TagIDs)
	}
}

// Concurrent AddUsage calls on one counter all count (the upsert is atomic).
func TestAddUsageConcurrently(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	s := mustOpen(t, dbURL)
	mustSeed(t, s)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := s.AddUsage(ctx, "org_1", "2026-11", "clicks", 1); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if u, err := s.Usage(ctx, "org_1", "2026-11"); err != nil || u["clicks"] != 40 {
		t.Errorf("Usage = %v, %v; want clicks 40", u, err)
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
