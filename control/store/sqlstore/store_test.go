package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/pgtest"
	"github.com/h0p/h0p/control/store/storetest"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// An engine makes places for empty databases of one kind and opens stores
// on them.
type engine struct {
	name string
	// place is a new, empty database's path or URL.
	place func(t testing.TB) string
	open  func(ctx context.Context, place string) (*Store, error)
}

var engines = []engine{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "control.db") }, OpenSQLite},
	{"postgres", func(t testing.TB) string { _, u := pgtest.Schema(t); return u }, OpenPostgres},
}

// forEachEngine runs f as a subtest per engine; PostgreSQL's is skipped
// without a server (pgtest).
func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			if e.name == "postgres" {
				pgtest.ServerURL(t)
			}
			f(t, e)
		})
	}
}

// mustOpen opens a store on place, closed when the test ends.
func (e engine) mustOpen(t testing.TB, place string) *Store {
	t.Helper()
	s, err := e.open(context.Background(), place)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustOpenEmpty opens a store on a new, empty database.
func (e engine) mustOpenEmpty(t testing.TB) *Store {
	t.Helper()
	return e.mustOpen(t, e.place(t))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustSeed creates org_1 with owner usr_1 and link_1.
func mustSeed(t testing.TB, s store.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme", CreatedAt: t0}))
	must(t, s.CreateUser(ctx, store.User{ID: "usr_1", Email: "a@example.com", CreatedAt: t0}))
	must(t, s.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: identity.RoleOwner, CreatedAt: t0}))
	must(t, s.InsertLink(ctx, store.Link{ID: "link_1", OrgID: "org_1", Domain: "d", Key: "k",
		URL: "https://x.example", Version: 1, CreatedBy: "key_1", CreatedAt: t0, UpdatedAt: t0}))
}

func TestSuite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		storetest.Run(t, func(t *testing.T) store.Store { return e.mustOpenEmpty(t) })
	})
}

// PostgreSQL aborts a transaction at its first failed statement; SQLite
// does not. A taken unique value must not abort it, so a Write can handle
// ErrConflict and go on on both engines: inserts skip the row (ON CONFLICT
// DO NOTHING), updates run under a savepoint. What came before a conflict
// stays.
func TestConflictInWriteLeavesTransactionUsable(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		mustSeed(t, s)
		must(t, s.CreateTag(ctx, store.Tag{ID: "tag_1", OrgID: "org_1", Name: "Launch", CreatedAt: t0}))
		must(t, s.CreateTag(ctx, store.Tag{ID: "tag_2", OrgID: "org_1", Name: "Other", CreatedAt: t0}))
		must(t, s.AppendEvent(ctx, store.Event{ID: "evt_1", OrgID: "org_1", Type: "link.created", CreatedAt: t0}))
		bot := store.APIKey{ID: "key_1", OrgID: "org_1", Type: identity.KeyBot, Name: "a", Digest: []byte{1}, CreatedAt: t0}
		must(t, s.CreateAPIKey(ctx, bot))
		must(t, s.CreateAPIKey(ctx, store.APIKey{ID: "key_2", OrgID: "org_1", Type: identity.KeyBot, Name: "b", Digest: []byte{2}, CreatedAt: t0}))
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
			rotated := bot
			rotated.Digest = []byte{2}
			for _, c := range []struct {
				what string
				err  error
			}{
				{"org", q.CreateOrg(ctx, store.Org{ID: "org_1", CreatedAt: t0})},
				{"user", q.CreateUser(ctx, store.User{ID: "usr_2", Email: "a@example.com", CreatedAt: t0})},
				{"member", q.AddMember(ctx, store.Member{OrgID: "org_1", UserID: "usr_1", Role: identity.RoleAdmin, CreatedAt: t0})},
				{"link", q.InsertLink(ctx, store.Link{ID: "link_3", OrgID: "org_1", Domain: "d", Key: "k",
					URL: "https://y.example", Version: 1, CreatedAt: t0, UpdatedAt: t0})},
				{"externalId", q.InsertLink(ctx, store.Link{ID: "link_3", OrgID: "org_1", Domain: "d", Key: "k3",
					URL: "https://y.example", ExternalID: "ext-2", Version: 1, CreatedAt: t0, UpdatedAt: t0})},
				{"rename link", q.UpdateLink(ctx, taken)},
				{"tag", q.CreateTag(ctx, store.Tag{ID: "tag_3", OrgID: "org_1", Name: "LAUNCH", CreatedAt: t0})},
				{"rename tag", q.UpdateTag(ctx, store.Tag{ID: "tag_2", OrgID: "org_1", Name: "launch"})},
				{"key digest", q.UpdateAPIKey(ctx, rotated)},
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
	})
}

// A destination may be 8 kB (links.MaxURLLen); a btree entry in
// PostgreSQL holds ~2.7 kB, so LinkByURL's index there is on md5(url).
// Random text, which does not compress.
func TestLongURL(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
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
	})
}

// Search is a substring match: LIKE's wildcards and escape in it match
// themselves, and the case of ASCII letters does not matter.
func TestSearchIsLiteral(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
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
	})
}

// Attrs are kept as written (JSON, not JSONB, on PostgreSQL): they read
// back byte for byte; an empty or null document reads back nil.
func TestAttrsRoundTrip(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		mustSeed(t, s)
		l, err := s.Link(ctx, "org_1", "link_1")
		must(t, err)
		for _, c := range []struct{ attrs, want string }{
			{`{"utm": {"source":"a"},  "ab":[2,1], "a": null}`, `{"utm": {"source":"a"},  "ab":[2,1], "a": null}`},
			{`1e2`, `1e2`}, // as text: SQLite would make a number of it in a JSON column
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
	})
}

// A link carries only tags of its org: IDs of another org's tags, or of
// none, are left out (and repeats are one).
func TestLinkTagsStayInTheOrg(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
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
	})
}

// Concurrent AddUsage calls on one counter all count (the upsert is atomic).
func TestAddUsageConcurrently(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
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
	})
}

// A panic in fn rolls back, reaches the caller, and leaves every
// connection it used free.
func TestWritePanicRollsBack(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		must(t, s.Write(ctx, func(store.Queries) error { return nil }))
		inUse := s.db.Stats().InUse // SQLite's writer keeps its connection
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
		if n := s.db.Stats().InUse; n != inUse {
			t.Errorf("%d connections in use, want %d", n, inUse)
		}
		must(t, s.Write(ctx, func(q store.Queries) error {
			_, err := q.AppendOutbox(ctx, []byte("y"), t0)
			return err
		}))
	})
}

// The Queries a Write lends work only while its function runs: a goroutine
// left behind gets sql.ErrTxDone, and nothing it tries is written.
func TestQueriesEndWithTheirWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		var kept store.Queries
		must(t, s.Write(ctx, func(q store.Queries) error {
			kept = q
			return nil
		}))
		_, err := kept.AppendOutbox(ctx, []byte("late"), t0)
		if !errors.Is(err, sql.ErrTxDone) {
			t.Errorf("AppendOutbox after the Write: %v, want sql.ErrTxDone", err)
		}
		if _, err := kept.HasOrgs(ctx); !errors.Is(err, sql.ErrTxDone) {
			t.Errorf("HasOrgs after the Write: %v, want sql.ErrTxDone", err)
		}
		if p, _ := s.PendingOutbox(ctx, t0, 10); len(p) != 0 {
			t.Errorf("outbox after a late append: %v, want none", p)
		}
	})
}

// The diff is stored as written (JSON, not JSONB, which would reorder keys
// and respace it), and a JSON null reads back as no diff.
func TestAuditDiffRoundTrips(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
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
	})
}

// A negative limit is none, on both engines.
func TestNegativeLimitIsNone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		mustSeed(t, s)
		for i := range 3 {
			_, err := s.AppendOutbox(ctx, []byte{byte(i)}, t0)
			must(t, err)
		}
		if p, err := s.PendingOutbox(ctx, t0, -1); err != nil || len(p) != 3 {
			t.Errorf("PendingOutbox(-1) = %d entries, %v; want 3", len(p), err)
		}
		if l, err := s.Links(ctx, store.LinkFilter{OrgID: "org_1", Limit: -1}); err != nil || len(l) != 1 {
			t.Errorf("Links(-1) = %d links, %v; want 1", len(l), err)
		}
	})
}

// Outside Write, a bulk append with a taken id stores none of its entries.
func TestBulkAppendWithATakenIDStoresNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		s := e.mustOpenEmpty(t)
		must(t, s.AppendAudit(ctx, store.AuditEntry{ID: "aud_50", OrgID: "org_1", At: t0}))
		var bulk []store.AuditEntry
		for i := range 73 {
			bulk = append(bulk, store.AuditEntry{ID: fmt.Sprintf("aud_%02d", i), OrgID: "org_1", At: t0})
		}
		if err := s.AppendAudit(ctx, bulk...); !errors.Is(err, store.ErrConflict) {
			t.Errorf("bulk with a taken id: %v, want ErrConflict", err)
		}
		if got, _ := s.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", Limit: 100}); len(got) != 1 {
			t.Errorf("%d entries after the failed bulk, want the 1 before it", len(got))
		}
	})
}
