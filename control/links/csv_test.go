package links

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/shared/apierror"
)

// publishFunc is a Publisher from a function.
type publishFunc func(ctx context.Context, id int64, cmd []byte) error

func (f publishFunc) Publish(ctx context.Context, id int64, cmd []byte) error { return f(ctx, id, cmd) }

// mustService is a Service over a fresh SQLite store holding org_1 on the
// enterprise plan, publishing with pub.
func mustService(t *testing.T, pub Publisher) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Org", Plan: "enterprise", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return &Service{Store: st, Publisher: pub, DefaultDomain: "localhost", Now: time.Now}
}

// Once the request's time is up, no further batch starts: the rows left say
// they were not imported, and the answer is exact about what was.
func TestImportStopsBetweenBatchesWhenTimeIsUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := mustService(t, publishFunc(func(context.Context, int64, []byte) error {
		cancel() // the request's time runs out while the first batch replicates
		return nil
	}))
	var file strings.Builder
	file.WriteString("url,key\n")
	rows := importBatch + 20
	for i := range rows {
		fmt.Fprintf(&file, "https://example.com/%d,k%d\n", i, i)
	}
	results, err := s.Import(ctx, access.Principal{OrgID: "org_1", UserID: "usr_1"}, strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != rows {
		t.Fatalf("%d results for %d rows", len(results), rows)
	}
	for i, r := range results {
		if r.Line != i+2 {
			t.Fatalf("result %d is line %d", i, r.Line)
		}
		switch {
		case i < importBatch && (r.Err != nil || r.ID == ""):
			t.Errorf("line %d: %v, want imported", r.Line, r.Err)
		case i >= importBatch && apierror.From(r.Err).Code != apierror.Unavailable:
			t.Errorf("line %d: %v %q, want not imported", r.Line, r.Err, r.ID)
		}
	}
	if n, err := s.Store.CountLinks(context.Background(), store.LinkFilter{OrgID: "org_1"}, ""); err != nil || n[0].Count != importBatch {
		t.Errorf("links in the store: %v %v, want %d", n, err, importBatch)
	}
}
