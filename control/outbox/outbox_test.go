package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/kv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Entries left behind are applied through a real raft node in order and
// removed; when raft is gone, Drain fails and keeps them.
func TestDrainAppliesLeftBehindEntriesInOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Version 1 then version 2 of one link: order matters for the result.
	for _, cmd := range []kv.Command{
		kv.PutLink(kv.Link{ID: "link_1", Domain: "localhost", Slug: "abc", URL: "https://one.example", Version: 1}),
		kv.DeleteLink("link_1", 2),
	} {
		if _, err := st.AppendOutbox(ctx, cmd.Encode(), t0); err != nil {
			t.Fatal(err)
		}
	}

	edge, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	node, err := replication.Open(replication.Config{NodeID: "n", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, edge)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(waitCtx); err != nil {
		t.Fatal(err)
	}
	p := &outbox.Publisher{Applier: node, Store: st, Logger: quiet, Now: func() time.Time { return t0 }}
	n, err := p.Drain(ctx, t0)
	if err != nil || n != 2 {
		t.Fatalf("drain: %d %v", n, err)
	}
	if _, ok, _ := edge.Link([]byte("localhost"), []byte("abc")); ok {
		t.Error("the delete was not applied after the put")
	}
	if pending, _ := st.PendingOutbox(ctx, t0, 10); len(pending) != 0 {
		t.Errorf("%d entries left", len(pending))
	}

	// With raft shut down, nothing is lost: the entry stays for later.
	if _, err := st.AppendOutbox(ctx, kv.PutLink(kv.Link{ID: "link_2", Domain: "localhost", Slug: "def", URL: "https://two.example", Version: 1}).Encode(), t0); err != nil {
		t.Fatal(err)
	}
	node.Close()
	if _, err := p.Drain(ctx, t0); err == nil {
		t.Error("drain without raft succeeded")
	}
	if pending, _ := st.PendingOutbox(ctx, t0, 10); len(pending) != 1 {
		t.Errorf("pending after failed drain: %d, want 1", len(pending))
	}
}
