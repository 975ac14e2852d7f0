package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/replication"
)

// backupStack is a control node in one process: control over a real raft
// node and edge store, laid out in dir as h0p control lays out its data
// directory, publishing through an applyGate.
type backupStack struct {
	dir    string
	edge   *replication.Store
	node   *replication.Node
	gate   *applyGate
	srv    *control.Server
	cancel context.CancelFunc
	done   chan error
}

func startBackupStack(t *testing.T, dir string) *backupStack {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &backupStack{dir: dir, done: make(chan error, 1)}
	var err error
	if s.edge, err = replication.OpenStore(filepath.Join(dir, "edge"), quiet); err != nil {
		t.Fatal(err)
	}
	s.node, err = replication.Open(replication.Config{NodeID: "c1", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "replication"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, s.edge)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	s.gate = &applyGate{Applier: s.node}
	s.srv, err = control.Open(context.Background(), control.Config{APIAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "control"),
		DefaultDomain: "localhost", Logger: quiet, RelayInterval: 50 * time.Millisecond, Records: s.edge,
		RateLimits: ratelimit.Limits{PerSecond: 1000, PerMinute: 10000}}, s.gate)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	s.cancel = cancelRun
	go func() { s.done <- s.srv.Run(runCtx) }()
	return s
}

func (s *backupStack) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil {
		t.Error(err)
	}
	s.srv.Close()
	s.node.Close()
	s.edge.Close()
}

// call answers the status and the id of the answer's body.
func (s *backupStack) call(t *testing.T, method, path, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL()+path, strings.NewReader(body))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	var m struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m.ID
}

// A backup of a running node holds its raft applies while it copies the
// control store and the raft log: a link created meanwhile is in neither
// part, so the restored node's control store and edge store agree on every
// link, and each one acknowledged before the backup is in both.
func TestAdminBackupConsistent(t *testing.T) {
	dir := t.TempDir()
	s := startBackupStack(t, dir)
	var key string
	if _, err := s.srv.Bootstrap(context.Background(), func(k string) error { key = k; return nil }); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	code, id := s.call(t, "POST", "/v1/links", key, `{"url":"https://example.com/before","key":"before"}`)
	if code != 201 {
		t.Fatalf("create: %d", code)
	}
	ids["before"] = id

	// A link created between the control store's copy and the raft log's.
	during := make(chan int, 1)
	backupBetweenParts = func() {
		go func() {
			code, id := s.call(t, "POST", "/v1/links", key, `{"url":"https://example.com/during","key":"during"}`)
			ids["during"] = id
			during <- code
		}()
		select {
		case code := <-during:
			during <- code
		case <-time.After(time.Second):
		}
	}
	t.Cleanup(func() { backupBetweenParts = func() {} })
	var archive bytes.Buffer
	if err := (&nodeBackup{node: s.node, gate: s.gate, dataDir: dir, clicks: s.srv}).Backup(context.Background(), &archive); err != nil {
		t.Fatal(err)
	}
	if code := <-during; code != 201 {
		t.Fatalf("create during the backup: %d", code)
	}
	s.stop(t)

	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := restoreArchive(&archive, restored); err != nil {
		t.Fatal(err)
	}
	r := startBackupStack(t, restored)
	defer r.stop(t)
	want := map[string]bool{"before": true, "during": false}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var bad []string
		for slug, in := range want {
			code, _ := r.call(t, "GET", "/v1/links/"+ids[slug], key, "")
			_, onEdge, err := r.edge.Link([]byte("localhost"), []byte(slug))
			if err != nil {
				t.Fatal(err)
			}
			if (code == 200) != in || onEdge != in {
				bad = append(bad, slug+": control "+http.StatusText(code)+", edge "+map[bool]string{true: "serves it", false: "does not"}[onEdge])
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restored node: %s", strings.Join(bad, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
