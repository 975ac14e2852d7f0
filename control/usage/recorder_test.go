package usage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/control/usage"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustOpen(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustTotal(t *testing.T, st store.Queries, c usage.Caller) store.APIUsageSum {
	t.Helper()
	sums, err := st.SumAPIUsage(context.Background(), store.APIUsageFilter{OrgID: c.OrgID, From: "2026-01-01", To: "2026-12-31",
		PrincipalKind: c.Kind, PrincipalID: c.ID}, store.UsageTotal)
	if err != nil || len(sums) != 1 {
		t.Fatalf("SumAPIUsage = %v, %v", sums, err)
	}
	return sums[0]
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{100: "2xx", 200: "2xx", 204: "2xx", 301: "3xx", 400: "4xx", 429: "4xx", 499: "4xx", 500: "5xx", 503: "5xx", 600: "5xx"} {
		if got := usage.StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %s, want %s", code, got, want)
		}
	}
}

// Nothing reaches the store before a flush; each flush adds what was
// counted since the last, from any number of goroutines.
func TestFlushAdds(t *testing.T) {
	st := mustOpen(t, filepath.Join(t.TempDir(), "control.db"))
	now := t0
	r := &usage.Recorder{Store: st, Now: func() time.Time { return now }}
	key := usage.Caller{OrgID: "org_1", Kind: usage.KindKey, ID: "key_1"}
	record := func(n, status int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { r.Record(key, "GET /v1/links", status) })
		}
		wg.Wait()
	}
	record(30, 200)
	record(5, 429)
	if got := mustTotal(t, st, key); got.Requests != 0 {
		t.Fatalf("before a flush the store holds %d requests", got.Requests)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	record(10, 500)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(context.Background()); err != nil { // nothing new
		t.Fatal(err)
	}
	got := mustTotal(t, st, key)
	if want := (store.APIUsageSum{Requests: 45, Errors: 15, RateLimited: 5, LastUsedAt: now}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after two flushes %v, want %v", got, want)
	}
}

// A flush the store refuses keeps its counts for the next one.
func TestFailedFlushKeepsCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.db")
	closed := mustOpen(t, path)
	closed.Close()
	r := &usage.Recorder{Store: closed, Now: func() time.Time { return t0 }}
	user := usage.Caller{OrgID: "org_1", Kind: usage.KindUser, ID: "usr_1"}
	r.Record(user, usage.Unmatched, 404)
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("a flush to a closed store succeeded")
	}
	r.Record(user, usage.Unmatched, 404)
	st := mustOpen(t, path)
	r.Store = st
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := mustTotal(t, st, user); got.Requests != 2 || got.Errors != 2 {
		t.Errorf("after a failed flush and a good one: %+v", got)
	}
}

// Run flushes on its ticker and once more when its context ends.
func TestRunFlushesAtShutdown(t *testing.T) {
	st := mustOpen(t, filepath.Join(t.TempDir(), "control.db"))
	r := &usage.Recorder{Store: st, Now: func() time.Time { return t0 }}
	key := usage.Caller{OrgID: "org_1", Kind: usage.KindKey, ID: "key_1"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Hour); close(done) }()
	r.Record(key, "POST /v1/links", 201)
	cancel()
	<-done
	if got := mustTotal(t, st, key); got.Requests != 1 {
		t.Errorf("after shutdown the store holds %d requests, want 1", got.Requests)
	}
}

func TestParseInterval(t *testing.T) {
	for _, tt := range []struct{ name, interval, from, to string }{
		{"", "30d", "2026-10-26", "2026-11-25"},
		{"24h", "24h", "2026-11-24", "2026-11-25"},
		{"7d", "7d", "2026-11-18", "2026-11-25"},
		{"90d", "90d", "2026-08-27", "2026-11-25"},
	} {
		s, err := usage.ParseInterval(tt.name, t0)
		if err != nil || s != (usage.Span{Interval: tt.interval, From: tt.from, To: tt.to}) {
			t.Errorf("ParseInterval(%q) = %+v, %v", tt.name, s, err)
		}
	}
	for _, bad := range []string{"1y", "24", "30D", " 7d"} {
		if _, err := usage.ParseInterval(bad, t0); err == nil {
			t.Errorf("ParseInterval(%q) accepted", bad)
		}
	}
}
