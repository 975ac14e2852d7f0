package analytics

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

type fakeExpirer struct {
	mu      sync.Mutex
	orgs    []string
	deleted map[string]time.Time
	fail    string
}

func (f *fakeExpirer) Orgs(context.Context) ([]string, error) { return f.orgs, nil }

func (f *fakeExpirer) DeleteBefore(_ context.Context, org string, t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if org == f.fail {
		return errors.New("disk full")
	}
	f.deleted[org] = t
	return nil
}

func TestRetentionOnce(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f := &fakeExpirer{orgs: []string{"org_free", "org_ent", "org_unknown", "org_broken"}, deleted: map[string]time.Time{}, fail: "org_broken"}
	r := &Retention{Store: f, Now: func() time.Time { return now },
		Keep: func(_ context.Context, org string) (time.Duration, error) {
			switch org {
			case "org_free", "org_broken":
				return 30 * 24 * time.Hour, nil
			case "org_ent":
				return 10 * 365 * 24 * time.Hour, nil
			}
			return 0, errors.New("no such org")
		}}
	n, err := r.Once(context.Background())
	if err == nil || n != 3 {
		t.Errorf("pass: %d orgs, %v; want 3 and the first error", n, err)
	}
	want := map[string]time.Time{"org_free": now.AddDate(0, 0, -30), "org_ent": now.Add(-10 * 365 * 24 * time.Hour)}
	if !reflect.DeepEqual(f.deleted, want) {
		t.Errorf("deleted %v, want %v", f.deleted, want)
	}
}

func TestRetentionRun(t *testing.T) {
	f := &fakeExpirer{orgs: []string{"o"}, deleted: map[string]time.Time{}}
	var mu sync.Mutex
	clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	passes := 0
	r := &Retention{Store: f, Every: time.Millisecond,
		Now:  func() time.Time { mu.Lock(); defer mu.Unlock(); passes++; clock = clock.Add(time.Hour); return clock },
		Keep: func(context.Context, string) (time.Duration, error) { return time.Hour, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := passes
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 passes in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.deleted["o"]; got.Before(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("the last pass deleted before %v: the clock did not move", got)
	}
}
