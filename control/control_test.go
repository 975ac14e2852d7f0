package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/control/store/pgtest"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clicks"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// crashBeforeApply stands in for a process that dies after the SQL commit
// and before raft takes the command: Apply never reaches raft.
type crashBeforeApply struct{ outbox.Applier }

func (crashBeforeApply) Apply(context.Context, []byte) (uint64, error) {
	return 0, errors.New("process died before the raft apply")
}

type stack struct {
	node    *replication.Node
	edge    *replication.Store
	control *control.Server
	cancel  context.CancelFunc
	done    chan error
}

// mustStartStack runs control over a real raft node; wrap may replace the
// applier control sees, and edits change control's configuration.
func mustStartStack(t *testing.T, dir string, wrap func(outbox.Applier) outbox.Applier, edits ...func(*control.Config)) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{done: make(chan error, 1)}
	var err error
	if s.edge, err = replication.OpenStore(filepath.Join(dir, "edge"), quiet); err != nil {
		t.Fatal(err)
	}
	s.node, err = replication.Open(replication.Config{NodeID: "c", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, s.edge)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.node.WaitLeader(waitCtx); err != nil {
		t.Fatal(err)
	}
	var applier outbox.Applier = s.node
	if wrap != nil {
		applier = wrap(s.node)
	}
	cfg := control.Config{APIAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "control"),
		DefaultDomain: "localhost", Logger: quiet, RelayInterval: 50 * time.Millisecond, Records: s.edge}
	for _, edit := range edits {
		edit(&cfg)
	}
	s.control, err = control.Open(ctx, cfg, applier)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	s.cancel = cancelRun
	go func() { s.done <- s.control.Run(runCtx) }()
	return s
}

func (s *stack) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil {
		t.Error(err)
	}
	s.control.Close()
	s.node.Close()
	s.edge.Close()
}

func TestBootstrapOnceAndKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := mustStartStack(t, dir, nil)
	defer s.stop(t)
	keyPath := filepath.Join(dir, "bootstrap.key")
	var key string
	created, err := s.control.Bootstrap(context.Background(), func(k string) error {
		key = k
		return control.WriteKeyFile(keyPath, k)
	})
	if err != nil || !created {
		t.Fatalf("first bootstrap: %v %v", created, err)
	}
	if typ, err := apikey.Parse(key); err != nil || typ != apikey.User {
		t.Errorf("bootstrap key %q: %v %v", key, typ, err)
	}
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(keyPath); strings.TrimSpace(string(b)) != key {
		t.Error("key file does not hold the key")
	}
	created, err = s.control.Bootstrap(context.Background(), func(string) error {
		t.Error("second bootstrap made a key")
		return nil
	})
	if err != nil || created {
		t.Errorf("second bootstrap: %v %v", created, err)
	}
}

func post(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	return call(t, "POST", url, key, body)
}

func call(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// A crash between the SQL commit and the raft apply leaves the link in the
// store and its command in the outbox; the relay applies it on restart.
func TestOutboxRepairsCrashBetweenCommitAndApply(t *testing.T) {
	dir := t.TempDir()
	s := mustStartStack(t, dir, func(a outbox.Applier) outbox.Applier { return crashBeforeApply{a} })
	var key string
	if _, err := s.control.Bootstrap(context.Background(), func(k string) error { key = k; return nil }); err != nil {
		t.Fatal(err)
	}
	status, body := post(t, "http://"+s.control.Addr()+"/v1/links", key, `{"url":"https://example.com/survivor","key":"survivor"}`)
	if status != 503 || body["error"].(map[string]any)["code"] != "UNAVAILABLE" {
		t.Fatalf("create during the crash window: %d %v", status, body)
	}
	if _, ok, _ := s.edge.Link([]byte("localhost"), []byte("survivor")); ok {
		t.Fatal("link reached the edge without a raft apply")
	}
	s.stop(t)

	s = mustStartStack(t, dir, nil)
	defer s.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, ok, _ := s.edge.Link([]byte("localhost"), []byte("survivor")); ok {
			if l.URL != "https://example.com/survivor" {
				t.Fatalf("repaired link %+v", l)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not apply the outbox entry after restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the client can now see the link it was told is pending.
	status, _ = post(t, "http://"+s.control.Addr()+"/v1/links", key, `{"url":"https://example.com/again","key":"survivor"}`)
	if status != 409 {
		t.Errorf("recreating the repaired key: %d, want 409", status)
	}
}

// On PostgreSQL the control nodes of a cluster share the click store: a
// batch one node stores, another counts, and shipped again to it is stored
// once.
func TestNodesShareClicksOnPostgres(t *testing.T) {
	ctx := context.Background()
	_, dbURL := pgtest.Schema(t)
	dir := t.TempDir()
	shared := func(c *control.Config) { c.DatabaseURL, c.PepperFile = dbURL, filepath.Join(dir, "pepper") }
	a := mustStartStack(t, filepath.Join(dir, "a"), nil, shared)
	defer a.stop(t)
	var key string
	if _, err := a.control.Bootstrap(ctx, func(k string) error { key = k; return nil }); err != nil {
		t.Fatal(err)
	}
	status, link := post(t, a.control.URL()+"/v1/links", key, `{"url":"https://example.com/shared"}`)
	if status != 201 {
		t.Fatalf("create link: %d %v", status, link)
	}
	b := mustStartStack(t, filepath.Join(dir, "b"), nil, shared)
	defer b.stop(t)

	batch := clicks.Batch{Edge: "edge-1", Seq: 1}
	for i := range 3 {
		batch.Clicks = append(batch.Clicks, clicks.Click{ID: [16]byte{byte(i + 1)}, Time: time.Now().Add(-time.Hour),
			LinkID: link["id"].(string), Country: "FR"})
	}
	data, err := batch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	counts := func(name string, s *stack) {
		t.Helper()
		status, got := call(t, "GET", s.control.URL()+"/v1/stats?groupBy=count&interval=24h", key, "")
		if status != 200 || got["clicks"] != float64(3) {
			t.Errorf("node %s: stats %d %v, want 3 clicks", name, status, got)
		}
	}
	if err := a.control.IngestClicks(ctx, data); err != nil {
		t.Fatal(err)
	}
	counts("b", b)
	if err := b.control.IngestClicks(ctx, data); err != nil {
		t.Fatal(err)
	}
	counts("a", a)
	counts("b", b)
}

// follower is a node that does not lead: raft applies still go through.
type follower struct{ outbox.Applier }

func (follower) IsLeader() bool { return false }

// The leader delivers webhooks; a node that does not lead sends nothing.
func TestWebhooksDeliveredByTheLeaderOnly(t *testing.T) {
	for _, lead := range []bool{true, false} {
		t.Run(map[bool]string{true: "leader", false: "follower"}[lead], func(t *testing.T) {
			got := make(chan string, 10)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- string(b)
			}))
			defer rc.Close()
			var wrap func(outbox.Applier) outbox.Applier
			if !lead {
				wrap = func(a outbox.Applier) outbox.Applier { return follower{a} }
			}
			s := mustStartStack(t, t.TempDir(), wrap, func(c *control.Config) {
				c.WebhookAllowHTTP, c.WebhookAllowNetworks = true, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			})
			defer s.stop(t)
			var key string
			if _, err := s.control.Bootstrap(context.Background(), func(k string) error { key = k; return nil }); err != nil {
				t.Fatal(err)
			}
			api := "http://" + s.control.Addr()
			if status, m := post(t, api+"/v1/webhooks", key, `{"url":"`+rc.URL+`","events":["link.created"]}`); status != 201 {
				t.Fatalf("webhook: %d %v", status, m)
			}
			if status, m := post(t, api+"/v1/links", key, `{"url":"https://example.com","key":"hooked"}`); status != 201 {
				t.Fatalf("link: %d %v", status, m)
			}
			select {
			case b := <-got:
				if !lead {
					t.Errorf("a follower delivered %s", b)
				} else if !strings.Contains(b, `"link.created"`) || !strings.Contains(b, `"hooked"`) {
					t.Errorf("delivered %s", b)
				}
			case <-time.After(3 * time.Second):
				if lead {
					t.Error("the leader delivered nothing in 3s")
				}
			}
		})
	}
}
