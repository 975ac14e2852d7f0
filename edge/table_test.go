package edge_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/kv"
)

// bufSink is a raft.SnapshotSink into memory.
type bufSink struct{ bytes.Buffer }

func (*bufSink) ID() string    { return "test" }
func (*bufSink) Cancel() error { return nil }
func (*bufSink) Close() error  { return nil }

// metricValue reads one sample from reg (labels: name=value pairs).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// An edge started on a store that holds links loads every plain link's
// answer and answers from memory; every change the FSM applies afterwards
// (new URL, new slug, delete, a password, a restore from a snapshot) shows
// on the next request.
func TestAnswerTableServesStoreAndChanges(t *testing.T) {
	var ops []kv.Op
	for i := range 500 {
		ops = append(ops, put(kv.Link{Slug: fmt.Sprintf("p%d", i), URL: fmt.Sprintf("https://example.com/%d", i)}))
	}
	ops = append(ops, put(kv.Link{Slug: "rules", URL: "https://example.com/default",
		Rules: []kv.Rule{{URL: "https://example.com/ios", Devices: []string{"ios"}}}}))
	reg := prometheus.NewRegistry()
	te := startEngine(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet, Registerer: reg}
	}, ops...)
	waitTable := func(n float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for metricValue(t, reg, "h0p_edge_answer_table_links") != n {
			if time.Now().After(deadline) {
				t.Fatalf("answer table holds %v links, want %v", metricValue(t, reg, "h0p_edge_answer_table_links"), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitTable(500) // the plain ones

	expect := func(path, location string, status int) {
		t.Helper()
		a := te.do(t, req{path: path})
		if a.status != status || a.location != location {
			t.Fatalf("GET %s: %d %q, want %d %q", path, a.status, a.location, status, location)
		}
	}
	for i := range 500 {
		expect(fmt.Sprintf("/p%d", i), fmt.Sprintf("https://example.com/%d", i), 302)
	}
	expect("/rules", "https://example.com/default", 302)
	if hits := metricValue(t, reg, "h0p_edge_link_cache_lookups_total", "result", "table"); hits != 500 {
		t.Fatalf("%v answers from the table, want 500", hits)
	}

	changed := func(l kv.Link, version uint64) kv.Op {
		op := put(l)
		op.Link.Version = version
		return op
	}
	te.apply(t, changed(kv.Link{ID: "link_p1", Slug: "p1", URL: "https://example.com/new"}, 2))
	expect("/p1", "https://example.com/new", 302)
	te.apply(t, changed(kv.Link{ID: "link_p2", Slug: "moved", URL: "https://example.com/2"}, 2))
	expect("/p2", "", 404)
	expect("/moved", "https://example.com/2", 302)
	te.apply(t, kv.DeleteLink("link_p3", 2).Ops...)
	expect("/p3", "", 404)
	te.apply(t, changed(kv.Link{ID: "link_p4", Slug: "p4", URL: "https://example.com/4", PasswordHash: "x"}, 2))
	if a := te.do(t, req{path: "/p4"}); a.status != 401 && a.status != 200 || a.location != "" {
		t.Fatalf("GET /p4 with a password: %d %q", a.status, a.location)
	}
	te.apply(t, changed(kv.Link{ID: "link_p5", Slug: "p5", URL: "https://example.com/5", Status: 301}, 2))
	expect("/p5", "https://example.com/5", 301)
	waitTable(498) // p3 deleted, p4 no longer plain ("moved" replaced p2)

	// A snapshot of another store, restored: its links only.
	other, err := replication.OpenStore(t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ofsm := replication.NewFSM(other, quiet)
	if res := ofsm.Apply(&raft.Log{Index: 100, Data: kv.Command{Ops: []kv.Op{
		put(kv.Link{Slug: "p1", URL: "https://other.example/1"}),
		put(kv.Link{Slug: "only", URL: "https://other.example/only"}),
	}}.Encode()}); res != nil {
		t.Fatal(res)
	}
	snap, err := ofsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if err := te.fsm.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	expect("/p1", "https://other.example/1", 302)
	expect("/p6", "", 404)
	expect("/only", "https://other.example/only", 302)
	waitTable(2)
}
