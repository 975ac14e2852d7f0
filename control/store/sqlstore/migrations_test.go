package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/pgtest"
)

func mustCountMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		place := e.place(t)
		s := e.mustOpen(t, place)
		mustSeed(t, s)
		s.Close()
		s = e.mustOpen(t, place)
		if has, err := s.HasOrgs(ctx); err != nil || !has {
			t.Errorf("after reopen HasOrgs = %v, %v", has, err)
		}
		if got, want := mustCountMigrations(t, s), len(migrations); got != want {
			t.Errorf("schema_migrations has %d rows, want %d", got, want)
		}
	})
}

// legacyMigrations are the migrations of an engine's own list, as they
// shipped (testdata).
func legacyMigrations(t *testing.T, engine string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/migrations-" + engine + ".golden")
	if err != nil {
		t.Fatal(err)
	}
	parts := regexp.MustCompile(`(?m)^-- migration \d+\n`).Split(string(b), -1)
	return parts[1:]
}

// mustLegacyDB makes at place the database an earlier release made: its
// migrations applied and recorded as that release did.
func mustLegacyDB(t *testing.T, e engine, place string, applied []string) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	switch e.name {
	case "sqlite":
		db, err = sql.Open("sqlite", "file:"+place+"?_pragma=foreign_keys(1)")
	case "postgres":
		db, err = sql.Open("pgx", place)
	}
	must(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	version := map[string]string{"sqlite": "INTEGER", "postgres": "BIGINT"}[e.name]
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version `+version+` PRIMARY KEY)`)
	must(t, err)
	for i, m := range applied {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatalf("legacy migration %d: %v", i+1, err)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1)
		must(t, err)
	}
	return db
}

// A database made by either engine's old list of migrations, at any of its
// versions, opens: the missing migrations are applied, its rows read back
// (links from before migration 3 untitled, never clicked and without tags,
// orgs on the free plan) and take the new fields, and its schema is then
// the one a new database gets.
func TestUpgrade(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		legacy := legacyMigrations(t, e.name)
		if len(legacy) != 5 {
			t.Fatalf("%d legacy migrations, want 5", len(legacy))
		}
		fresh := schemaOf(t, e.mustOpenEmpty(t))
		for from := 1; from <= len(legacy); from++ {
			t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
				ctx := context.Background()
				place := e.place(t)
				old := mustLegacyDB(t, e, place, legacy[:from])
				// Rows as the release of migration 1 wrote them.
				for _, sql := range []string{
					`INSERT INTO orgs (id, name, created_at) VALUES ('org_1', 'Acme', $1)`,
					`INSERT INTO users (id, email, created_at) VALUES ('usr_1', 'a@example.com', $1)`,
					`INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ('org_1', 'usr_1', 'owner', $1)`,
					`INSERT INTO links (id, org_id, domain, key, url, version, created_by, created_at, updated_at)
						VALUES ('link_1', 'org_1', 'd', 'k1', 'https://x.example', 1, 'key_1', $1, $1),
							('link_2', 'org_1', 'd', 'k2', 'https://x.example', 3, 'key_1', $1, $1)`,
				} {
					if _, err := old.ExecContext(ctx, sql, ms(t0)); err != nil {
						t.Fatalf("%s: %v", sql, err)
					}
				}
				old.Close()

				s := e.mustOpen(t, place)
				if got, want := mustCountMigrations(t, s), len(migrations); got != want {
					t.Errorf("schema_migrations has %d rows, want %d", got, want)
				}
				if d := schemaDiff(schemaOf(t, s), fresh, "upgraded", "new"); d != "" {
					t.Errorf("upgraded schema differs from a new database's:\n%s", d)
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
				if u, err := s.User(ctx, "usr_1"); err != nil || from < 4 && !u.EmailVerifiedAt.Equal(t0) {
					t.Errorf("user after upgrade: %+v, %v; want verified at creation", u, err)
				}
			})
		}
	})
}

// Control nodes that start together migrate the same database at once; the
// advisory lock makes one migrate and the others find the work done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	pgtest.ServerURL(t)
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
			stores[i], errs[i] = OpenPostgres(context.Background(), dbURL)
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
