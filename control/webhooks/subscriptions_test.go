package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	t0    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// countingStore counts the index's reads of the store.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) EnabledWebhooks(ctx context.Context, event string) ([]store.Webhook, error) {
	c.reads.Add(1)
	return c.Store.EnabledWebhooks(ctx, event)
}

// mustStore opens SQLite with orgs org_1 … org_3.
func mustStore(t *testing.T) *countingStore {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range []string{"org_1", "org_2", "org_3"} {
		if err := st.CreateOrg(ctx, store.Org{ID: id, Name: id, Plan: "enterprise", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{Store: st}
}

func mustCreate(t *testing.T, st store.Store, id, org, events, scope string, disabled bool) {
	t.Helper()
	w := store.Webhook{ID: id, OrgID: org, URL: "https://hooks.example.com/", Events: json.RawMessage(events),
		Scope: json.RawMessage(scope), Secret: []byte{1}, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
	if disabled {
		w.DisabledAt = t0
	}
	if err := st.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

// The index answers from memory which links an enabled link.clicked
// endpoint covers, asking for a link's tags only when they decide.
func TestSubscriptions(t *testing.T) {
	st := mustStore(t)
	mustCreate(t, st, "wh_1", "org_1", `["link.clicked"]`, `{"linkIds":["link_a"]}`, false)
	mustCreate(t, st, "wh_2", "org_1", `["link.updated","link.clicked"]`, `{"tags":["tag_p"]}`, false)
	mustCreate(t, st, "wh_3", "org_1", `["link.created"]`, `{"allLinks":true}`, false)
	mustCreate(t, st, "wh_4", "org_2", `["link.clicked"]`, `{"allLinks":true}`, false)
	mustCreate(t, st, "wh_5", "org_3", `["link.clicked"]`, `{"allLinks":true}`, true)
	x := NewSubscriptions(st, quiet)
	if x.Subscribed("org_2", "link_b", nil) {
		t.Error("subscribed before the first load")
	}
	if err := x.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d reads to load", n)
	}
	for _, tc := range []struct {
		name, org, link string
		tags            []string
		want, asksTags  bool
	}{
		{"named link", "org_1", "link_a", []string{"tag_p"}, true, false},
		{"link in a named tag", "org_1", "link_t", []string{"tag_x", "tag_p"}, true, true},
		{"link in no named tag", "org_1", "link_n", []string{"tag_x"}, false, true},
		{"every link", "org_2", "link_b", nil, true, false},
		{"disabled endpoint", "org_3", "link_d", []string{"tag_p"}, false, false},
		{"no endpoint", "org_9", "link_z", []string{"tag_p"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			got := x.Subscribed(tc.org, tc.link, func() []string { asked = true; return tc.tags })
			if got != tc.want || asked != tc.asksTags {
				t.Errorf("subscribed %v (asked tags %v), want %v (%v)", got, asked, tc.want, tc.asksTags)
			}
		})
	}
	if n := st.reads.Load(); n != 1 {
		t.Errorf("%d reads after answering, want the load's 1", n)
	}
}

// A change through the Service reaches a running index at once; a change
// made elsewhere (another node) at the next Interval.
func TestSubscriptionsFollowChanges(t *testing.T) {
	st := mustStore(t)
	mustCreate(t, st, "wh_1", "org_1", `["link.clicked"]`, `{"allLinks":true}`, false)
	x := NewSubscriptions(st, quiet)
	x.Interval = time.Hour
	if err := x.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := run(x)
	defer func() { stop() }()

	s := &Service{Store: st, Now: func() time.Time { return t0 }, Logger: quiet, Subscriptions: x}
	p := access.Principal{Kind: access.UserKey, OrgID: "org_1", UserID: "usr_1", KeyID: "key_1"}
	if _, err := s.Update(context.Background(), p, "wh_1", mustDecode(t, `{"events":["link.created"]}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "update seen", func() bool { return !x.Subscribed("org_1", "link_a", nil) })
	if _, err := s.Update(context.Background(), p, "wh_1", mustDecode(t, `{"events":["link.clicked"]}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second update seen", func() bool { return x.Subscribed("org_1", "link_a", nil) })
	if _, err := s.Delete(context.Background(), p, "wh_1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delete seen", func() bool { return !x.Subscribed("org_1", "link_a", nil) })

	// Another node's change: seen at the next tick.
	stop()
	mustCreate(t, st, "wh_2", "org_2", `["link.clicked"]`, `{"linkIds":["link_b"]}`, false)
	x.Interval = 10 * time.Millisecond
	stop = run(x)
	waitFor(t, "another node's create seen", func() bool { return x.Subscribed("org_2", "link_b", nil) })
}

// run runs x until stop returns.
func run(x *Subscriptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func mustDecode(t *testing.T, body string) Input {
	t.Helper()
	in, err := DecodeInput([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}
