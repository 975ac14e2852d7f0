package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/clustercert"
)

// runAdminCmd runs `h0p admin args…` in process and returns its exit code
// and output.
func runAdminCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"admin"}, args...), &stdout, &stderr, func(string) string { return "" })
	return code, stdout.String(), stderr.String()
}

// mustAdminCert adds an admin certificate to the test cluster's CA
// directory, the way an operator does.
func (c *testCluster) mustAdminCert() string {
	c.t.Helper()
	certs := filepath.Join(c.dir, "certs")
	if code, out, errOut := runAdminCmd(c.t, "certs", "--out", certs, "--nodes", "admin:admin"); code != 0 {
		c.t.Fatalf("admin certs: exit %d\n%s%s", code, out, errOut)
	}
	return certs
}

func (c *testCluster) adminStatus(certs, node string) (cluster.ClusterStatus, error) {
	code, out, errOut := runAdminCmd(c.t, "status", "--control", c.apiURL(node), "--certs", certs, "--json")
	var st cluster.ClusterStatus
	if code != 0 {
		return st, fmt.Errorf("exit %d: %s", code, errOut)
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// h0p admin status shows every member, the leader, and each member's
// applied index as it reported it, whichever control node it asks;
// remove-node takes members out through the leader (a follower forwards
// it) and never the last voter.
func TestAdminStatusAndRemoveNode(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.startAll()
	certs := c.mustAdminCert()
	leader := c.waitLeader(20 * time.Second)
	var followers []string
	for _, n := range c.controls() {
		if n != leader {
			followers = append(followers, n)
		}
	}
	if r := c.call(leader, "POST", "/v1/links", `{"url":"https://example.com/a","key":"a"}`); r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}

	// Every member reports within a report interval or two; asked of a
	// follower, the status is the leader's.
	var st cluster.ClusterStatus
	deadline := time.Now().Add(3 * cluster.StaleAfter)
	for {
		var err error
		st, err = c.adminStatus(certs, followers[0])
		if err != nil {
			t.Fatal(err)
		}
		following := 0
		for _, m := range st.Members {
			if m.State == cluster.StateFollower && m.Lag == 0 {
				following++
			}
		}
		if following == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members not following with no lag: %+v", st.Members)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.ID != leader || st.LeaderID != leader || len(st.Members) != 5 {
		t.Fatalf("answered by %q, leader %q (want %s), members %+v", st.ID, st.LeaderID, leader, st.Members)
	}
	for _, m := range st.Members {
		control := c.nodes[m.ID].control
		wantRole, wantState := "edge", cluster.StateFollower
		if control {
			wantRole = "control"
		}
		if m.ID == leader {
			wantState = cluster.StateLeader
		}
		if m.Voter != control || m.Role != wantRole || m.State != wantState || m.Address != c.nodes[m.ID].raft {
			t.Errorf("member %+v, want voter %v, role %s, state %s at %s", m, control, wantRole, wantState, c.nodes[m.ID].raft)
		}
		if m.AppliedIndex == 0 || m.AppliedIndex > st.CommitIndex {
			t.Errorf("%s applied %d, commit index %d", m.ID, m.AppliedIndex, st.CommitIndex)
		}
	}

	// The table, for people.
	code, out, errOut := runAdminCmd(t, "status", "--control", c.apiURL(leader), "--certs", certs)
	if code != 0 || !strings.Contains(out, "leader:      "+leader) || !strings.Contains(out, "ID  ") || strings.Count(out, "follower") != 4 {
		t.Errorf("status table: exit %d\n%s%s", code, out, errOut)
	}
	// An edge's certificate is not an operator's.
	if code, _, errOut := runAdminCmd(t, "status", "--control", c.apiURL(leader), "--certs", certs, "--cert", "e1"); code == 0 || !strings.Contains(errOut, "edge certificate") {
		t.Errorf("status with an edge certificate: exit %d %s", code, errOut)
	}

	remove := func(id, via string) (int, string) {
		code, out, errOut := runAdminCmd(t, "remove-node", "--id", id, "--control", c.apiURL(via), "--certs", certs)
		return code, out + errOut
	}
	if code, out := remove("nobody", followers[0]); code == 0 || !strings.Contains(out, "NOT_FOUND") {
		t.Errorf("remove-node nobody: exit %d %s", code, out)
	}
	// Stopped nodes, through a follower; then the follower itself while
	// it runs (stopping it first would leave no quorum to remove it).
	c.signal("e2", syscall.SIGTERM)
	c.signal(followers[1], syscall.SIGTERM)
	for _, id := range []string{"e2", followers[1]} {
		if code, out := remove(id, followers[0]); code != 0 {
			t.Fatalf("remove-node %s through %s: exit %d %s", id, followers[0], code, out)
		}
	}
	if code, out := remove(followers[0], leader); code != 0 {
		t.Fatalf("remove-node %s: exit %d %s", followers[0], code, out)
	}
	c.signal(followers[0], syscall.SIGTERM)
	if code, out := remove(leader, leader); code == 0 || !strings.Contains(out, "last voter") {
		t.Errorf("remove-node of the last voter: exit %d %s", code, out)
	}
	st, err := c.adminStatus(certs, leader)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range st.Members {
		ids = append(ids, m.ID)
	}
	want := []string{leader, "e1"}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("members %v, want %s and e1", ids, leader)
	}
	// The cluster goes on: a new link reaches the remaining edge.
	if r := c.call(leader, "POST", "/v1/links", `{"url":"https://example.com/b","key":"b"}`); r.status != 201 {
		t.Fatalf("create after the removals: %d %v", r.status, r.body)
	}
	if !c.waitResolves("e1", "b", "https://example.com/b", 10*time.Second) {
		t.Error("e1 does not serve a link created after the removals")
	}
}

// A backup taken from a running control node while links are created,
// restored into a new data directory, starts a node that has every link
// acknowledged before the backup, and an edge joining it serves them.
func TestAdminBackupRestore(t *testing.T) {
	c := newTestCluster(t, 1, 1)
	// One control node on SQLite in its data directory, pepper beside it.
	c.nodes["c1"].flags = []string{"--database-url=", "--pepper-file="}
	c.startAll()
	certs := c.mustAdminCert()

	var (
		mu    sync.Mutex
		acked []created
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	write := func(prefix string) {
		for i := 0; !stop.Load(); i++ {
			slug := fmt.Sprintf("%s-%d", prefix, i)
			url := "https://example.com/" + slug
			r := c.call("c1", "POST", "/v1/links", `{"url":"`+url+`","key":"`+slug+`"}`)
			if r.status == 201 {
				mu.Lock()
				acked = append(acked, created{slug: slug, url: url, id: r.body["id"].(string), status: 201})
				mu.Unlock()
			}
		}
	}
	c.key() // read once, before the writers share it
	for w := range 2 {
		wg.Go(func() { write(fmt.Sprintf("w%d", w)) })
	}
	// Some links first, then the backup while the writers go on.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	before := append([]created(nil), acked...)
	mu.Unlock()
	// Clicks: redirects through the edge, counted in stats before the
	// backup begins.
	clicked := before[0]
	const served = 7
	if !c.waitResolves("e1", clicked.slug, clicked.url, 10*time.Second) {
		t.Fatalf("e1 does not serve %s", clicked.slug)
	}
	for range served - 1 { // waitResolves served one
		if status, _ := c.resolve("e1", clicked.slug); status != 302 && status != 301 {
			t.Fatalf("redirect %s: %d", clicked.slug, status)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if stats, _ := c.clickCounts(t, clicked.id, clicked.slug); stats == served {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("stats count %d of %s before the backup, want %d", stats, clicked.slug, served)
		}
	}
	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	code, out, errOut := runAdminCmd(t, "backup", "--control", c.apiURL("c1"), "--certs", certs, "--out", archive)
	stop.Store(true)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "clicks in the archive") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%s; %d links acknowledged before the backup, %d in all", strings.TrimSpace(out), len(before), len(acked))
	// A second backup never replaces the first.
	if code, _, _ := runAdminCmd(t, "backup", "--control", c.apiURL("c1"), "--certs", certs, "--out", archive); code == 0 {
		t.Error("backup over an existing file succeeded")
	}

	// A running node's directory is locked: it is backed up through its API.
	offline := filepath.Join(t.TempDir(), "offline.tar.gz")
	if code, _, errOut := runAdminCmd(t, "backup", "--data", filepath.Join(c.dir, "c1"), "--out", offline); code == 0 || !strings.Contains(errOut, "--control") {
		t.Errorf("backup --data of a running node: exit %d %s", code, errOut)
	}

	// Lose both nodes' data; restore the control node's into a new
	// directory where it starts, and let a wiped edge join it.
	c.signal("c1", syscall.SIGKILL)
	c.signal("e1", syscall.SIGKILL)
	// A stopped node is backed up from its directory.
	if code, out, errOut := runAdminCmd(t, "backup", "--data", filepath.Join(c.dir, "c1"), "--out", offline); code != 0 || !strings.Contains(out, "node c1") || !strings.Contains(out, "clicks in the archive") {
		t.Errorf("backup --data of a stopped node: exit %d %s%s", code, out, errOut)
	}
	if code, out, errOut := runAdminCmd(t, "restore", "--in", offline, "--data", filepath.Join(t.TempDir(), "offline")); code != 0 {
		t.Errorf("restore of the stopped node's backup: exit %d %s%s", code, out, errOut)
	}
	for _, n := range []string{"c1", "e1"} {
		if err := os.Rename(filepath.Join(c.dir, n), filepath.Join(c.dir, n+"-lost")); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := runAdminCmd(t, "restore", "--in", archive, "--data", filepath.Join(c.dir, "c1-lost")); code == 0 {
		t.Errorf("restore into a non-empty directory: exit 0 %s%s", out, errOut)
	}
	if code, out, errOut := runAdminCmd(t, "restore", "--in", archive, "--data", filepath.Join(c.dir, "c1")); code != 0 || !strings.Contains(out, "--node-id c1") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	// On another raft address, as on a new machine.
	c.nodes["c1"].raft = freeAddr(t)
	c.start("c1")
	c.waitReady("c1", 60*time.Second)
	// The restored click store answers the stats of before the backup
	// (asked before the edge serves the restored links again).
	if stats, _ := c.clickCounts(t, clicked.id, clicked.slug); stats != served {
		t.Errorf("restored c1: stats count %d of %s, want %d", stats, clicked.slug, served)
	}
	c.start("e1")
	c.waitReady("e1", 60*time.Second)
	for _, l := range before {
		if r := c.call("c1", "GET", "/v1/links/"+l.id, ""); r.status != 200 {
			t.Errorf("restored c1: link %s answers %d %v", l.slug, r.status, r.err)
		}
		if !c.waitResolves("e1", l.slug, l.url, 10*time.Second) {
			t.Errorf("e1 joined to the restored c1 does not serve %s", l.slug)
		}
	}
	// Links created during the backup may or may not be in it; each one
	// the restored control store has, the edge serves too.
	inStore := 0
	var missing []created
	for _, l := range acked[len(before):] {
		if r := c.call("c1", "GET", "/v1/links/"+l.id, ""); r.status == 200 {
			inStore++
			if !c.waitResolves("e1", l.slug, l.url, 10*time.Second) {
				t.Errorf("restored c1 has %s, the edge does not serve it", l.slug)
			}
		} else {
			missing = append(missing, l)
		}
	}
	t.Logf("%d of the %d links created during the backup are in it", inStore, len(acked)-len(before))
	if st, err := c.adminStatus(certs, "c1"); err != nil || st.LeaderID != "c1" {
		t.Errorf("status of the restored cluster: %+v %v", st, err)
	} else {
		t.Logf("restored members (c1 now on %s): %+v", c.nodes["c1"].raft, st.Members)
	}
	// And the restored node takes writes.
	if r := c.call("c1", "POST", "/v1/links", `{"url":"https://example.com/after","key":"after"}`); r.status != 201 {
		t.Fatalf("create on the restored node: %d %v", r.status, r.body)
	}
	if !c.waitResolves("e1", "after", "https://example.com/after", 10*time.Second) {
		t.Error("a link created after the restore does not reach the edge")
	}
	// The edge has applied everything before that link: one the restored
	// control store lacks, it does not serve either.
	for _, l := range missing {
		if status, _ := c.resolve("e1", l.slug); status != 404 {
			t.Errorf("restored c1 lacks %s, the edge answers it with %d", l.slug, status)
		}
	}
}

// A PostgreSQL control store is pg_dump's job; a cut archive restores
// nothing.
func TestAdminBackupRefusals(t *testing.T) {
	if code, _, errOut := runAdminCmd(t, "backup", "--database-url", "postgres://x", "--out", filepath.Join(t.TempDir(), "b")); code == 0 || !strings.Contains(errOut, "pg_dump") {
		t.Errorf("backup of PostgreSQL: exit %d %s", code, errOut)
	}

	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "control"), 0o700)
	os.WriteFile(filepath.Join(src, "control", "pepper"), []byte("p"), 0o600)
	var whole bytes.Buffer
	if err := writeArchive(&whole, t.TempDir(), src, "", backupManifest{Format: backupFormat, NodeID: "c1"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if m, err := restoreArchive(bytes.NewReader(whole.Bytes()), dir); err != nil || m.NodeID != "c1" {
		t.Fatalf("restore: %+v %v", m, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "control", "pepper")); err != nil || string(b) != "p" {
		t.Errorf("restored pepper %q %v", b, err)
	}
	cut := filepath.Join(t.TempDir(), "data")
	if _, err := restoreArchive(bytes.NewReader(whole.Bytes()[:whole.Len()/2]), cut); err == nil {
		t.Error("a cut archive restored")
	}
	if _, err := restoreArchive(bytes.NewReader(whole.Bytes()[:whole.Len()-30]), ""); err == nil {
		t.Error("a cut archive reads through as whole")
	}
	if entries, _ := os.ReadDir(cut); len(entries) != 0 {
		t.Errorf("a refused restore left %d entries", len(entries))
	}
}

// The pepper is in the archive wherever --pepper-file keeps it: a node
// restored without it could verify no API key.
func TestAdminBackupPepperFile(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "control"), 0o700)
	os.WriteFile(filepath.Join(src, "control", "pepper"), []byte("stale"), 0o600)
	pepper := filepath.Join(t.TempDir(), "pepper")
	os.WriteFile(pepper, []byte("shared"), 0o600)
	for _, tt := range []struct{ pepperFile, want string }{
		{"", "stale"},
		{filepath.Join(src, "control", "pepper"), "stale"},
		{pepper, "shared"},
	} {
		var archive bytes.Buffer
		if err := writeArchive(&archive, t.TempDir(), src, tt.pepperFile, backupManifest{Format: backupFormat}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "data")
		if _, err := restoreArchive(&archive, dir); err != nil {
			t.Fatalf("--pepper-file %q: %v", tt.pepperFile, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "control", "pepper")); err != nil || string(b) != tt.want {
			t.Errorf("--pepper-file %q: restored pepper %q %v, want %q", tt.pepperFile, b, err, tt.want)
		}
	}
}

// A node that takes longer than a node-to-node call's limits to copy its
// stores and send the archive still gives a whole backup: only --timeout
// bounds it.
func TestAdminBackupSlowArchive(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	if code, out, errOut := runAdminCmd(t, "certs", "--out", certs, "--nodes", "c1,admin:admin"); code != 0 {
		t.Fatalf("admin certs: exit %d\n%s%s", code, out, errOut)
	}
	node, err := clustercert.Load(certs, "c1")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10*time.Second + 500*time.Millisecond) // the stores' copies
		w.Header().Set("Content-Type", "application/gzip")
		if err := writeArchive(w, t.TempDir(), src, "", backupManifest{Format: backupFormat, NodeID: "c1"}); err != nil {
			t.Error(err)
		}
	}))
	srv.TLS = node.ServerConfig()
	srv.StartTLS()
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "backup.tar.gz")
	if code, stdout, errOut := runAdminCmd(t, "backup", "--control", srv.URL, "--certs", certs, "--out", out); code != 0 || !strings.Contains(stdout, "node c1") {
		t.Errorf("backup: exit %d %s%s", code, stdout, errOut)
	}
}
