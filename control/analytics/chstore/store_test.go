package chstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/analyticstest"
	"github.com/h0p/h0p/control/analytics/chstore/chtest"
	"github.com/h0p/h0p/shared/clicks"
)

func TestSuite(t *testing.T) {
	analyticstest.Run(t, func(t *testing.T) analytics.Store {
		return mustOpen(t, chtest.Database(t))
	})
}

func mustOpen(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var day0 = time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)

// batch is edge's batch seq: n clicks of link_a1, one every 12 hours from
// day0, the same for the same arguments, as an edge ships a spooled batch
// again.
func batch(edge string, seq uint64, n int) *clicks.Batch {
	b := &clicks.Batch{Edge: edge, Seq: seq}
	for i := range n {
		c := analyticstest.Click("link_a1", day0.Add(time.Duration(i)*12*time.Hour), fmt.Sprint(i))
		c.ID = [16]byte{byte(seq), byte(i), byte(len(edge))}
		b.Clicks = append(b.Clicks, c)
	}
	return b
}

func count(t *testing.T, s *Store, org string) int64 {
	t.Helper()
	r, err := s.Query(context.Background(), analytics.Query{Org: org, GroupBy: analytics.GroupCount,
		Start: day0.AddDate(0, -1, 0), End: day0.AddDate(0, 1, 0), Bots: analytics.BotsInclude})
	if err != nil {
		t.Fatal(err)
	}
	return r.Clicks
}

// An INSERT whose clicks fall in two months writes a part for each, then
// the view its sequence; a batch cut short after the first part (the
// server stopped) is completed when the edge ships it again: its stored
// months are skipped, not doubled.
func TestBatchAcrossMonths(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, chtest.Database(t))
	defer s.Close()
	b := batch("e1", 7, 8) // March 30 to April 2
	var e encoder
	for i := range b.Clicks {
		c := &b.Clicks[i]
		if d, _ := dayOf(c); month(d) == 202603 {
			encodeClick(&e, c, "org_a", d, b.Edge, b.Seq)
		}
	}
	if _, err := s.do(ctx, `INSERT INTO analytics_clicks (`+clickColumns+`) FORMAT RowBinary`, e.b); err != nil {
		t.Fatal(err)
	}
	if err := s.exec(ctx, `TRUNCATE TABLE analytics_edges`); err != nil { // the view's write, lost with April's part
		t.Fatal(err)
	}
	got, err := s.Ingest(ctx, b, analyticstest.OrgsOf)
	if err != nil || got.Duplicate || got.Stored != 4 {
		t.Fatalf("ingest of the rest: %+v %v, want April's 4 clicks stored", got, err)
	}
	if got := count(t, s, "org_a"); got != 8 {
		t.Errorf("%d clicks, want 8", got)
	}
	early := batch("e1", 6, 8) // below the last, on days without its clicks
	for i := range early.Clicks {
		early.Clicks[i].Time = early.Clicks[i].Time.AddDate(0, 0, -20)
	}
	for _, b := range []*clicks.Batch{batch("e1", 7, 8), early} {
		if got, err := s.Ingest(ctx, b, analyticstest.OrgsOf); err != nil || !got.Duplicate {
			t.Errorf("batch %d: %+v %v, want a duplicate", b.Seq, got, err)
		}
	}
}

// A batch's clicks deleted by retention leave its sequence: shipped
// again, it stores nothing; so does a batch that stored no click.
func TestSequenceOutlivesDeletion(t *testing.T) {
	ctx := context.Background()
	dbURL := chtest.Database(t)
	s := mustOpen(t, dbURL)
	defer s.Close()
	for seq := uint64(1); seq <= 3; seq++ {
		if _, err := s.Ingest(ctx, batch("e1", seq, 3), analyticstest.OrgsOf); err != nil {
			t.Fatal(err)
		}
	}
	gone := batch("e2", 1, 2)
	for i := range gone.Clicks {
		gone.Clicks[i].LinkID = "link_gone"
	}
	if got, err := s.Ingest(ctx, gone, analyticstest.OrgsOf); err != nil || got.Dropped != 2 {
		t.Fatalf("batch of a deleted link: %+v %v", got, err)
	}
	if err := s.DeleteBefore(ctx, "org_a", day0.AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "org_a"); got != 0 {
		t.Fatalf("%d clicks after deletion", got)
	}
	other := mustOpen(t, dbURL) // another control node, or a restart
	defer other.Close()
	for _, b := range []*clicks.Batch{batch("e1", 2, 3), batch("e1", 3, 3), gone} {
		if got, err := other.Ingest(ctx, b, analyticstest.OrgsOf); err != nil || !got.Duplicate {
			t.Errorf("%s %d again: %+v %v, want a duplicate", b.Edge, b.Seq, got, err)
		}
	}
	if got, err := other.Ingest(ctx, batch("e1", 4, 3), analyticstest.OrgsOf); err != nil || got.Duplicate || got.Stored != 3 {
		t.Errorf("the next batch: %+v %v", got, err)
	}
}

// Strings are bytes: quotes, backslashes, NUL and invalid UTF-8 are
// stored, filtered and read back as they came; an edge id must not be
// empty.
func TestBytes(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, chtest.Database(t))
	defer s.Close()
	odd := []string{`it's`, `back\slash`, "nul\x00byte", "bad\xffutf8", "tab\tnewline\n"}
	b := batch("e1", 1, len(odd))
	for i := range b.Clicks {
		b.Clicks[i].RefererHost = odd[i]
		b.Clicks[i].LinkID = "link_a" + odd[i]
	}
	if got, err := s.Ingest(ctx, b, analyticstest.OrgsOf); err != nil || got.Stored != len(odd) {
		t.Fatalf("ingest: %+v %v", got, err)
	}
	for _, v := range odd {
		q := analytics.Query{Org: "org_a", GroupBy: analytics.GroupReferers, Start: day0, End: day0.AddDate(0, 1, 0),
			Filter: analytics.Filter{Link: analytics.Match{In: []string{"link_a" + v}}, Referer: analytics.Match{In: []string{v}}}}
		r, err := s.Query(ctx, q)
		if err != nil || len(r.Rows) != 1 || r.Rows[0].Value != v || r.Rows[0].Clicks != 1 {
			t.Errorf("referer %q: %+v %v", v, r.Rows, err)
		}
	}
	page, err := s.Events(ctx, analytics.EventQuery{Org: "org_a", Start: day0, End: day0.AddDate(0, 1, 0)})
	if err != nil || len(page.Events) != len(odd) {
		t.Fatalf("events: %d %v", len(page.Events), err)
	}
	for i, c := range page.Events {
		want := b.Clicks[len(odd)-1-i]
		if c.LinkID != want.LinkID || c.RefererHost != want.RefererHost || c.ID != want.ID || c.IPHash != want.IPHash {
			t.Errorf("event %d: %+v, want %+v", i, c, want)
		}
	}
	if _, err := s.Ingest(ctx, &clicks.Batch{Edge: "", Seq: 1}, analyticstest.OrgsOf); !errors.Is(err, clicks.ErrRejected) {
		t.Errorf("empty edge id: %v, want ErrRejected", err)
	}
}

// Two control nodes share the database; every batch of two edges reaches
// both at once. Each batch is stored once, by one node.
func TestNodesShareEdges(t *testing.T) {
	dbURL := chtest.Database(t)
	nodes := []analytics.Store{mustOpen(t, dbURL), mustOpen(t, dbURL)}
	defer nodes[0].Close()
	defer nodes[1].Close()
	analyticstest.SharedNodes(t, nodes, 20, func(edge string, seq uint64) *clicks.Batch { return batch(edge, seq, 5) })
}

// ClickHouse's answers that a lock was dropped under a statement are
// tried again, whichever edge's lock it was: a read of system.tables opens
// every table's metadata file. Other failures are not.
func TestDroppedLockAnswers(t *testing.T) {
	for msg, want := range map[string]bool{
		"Code: 60, e.displayText() = DB::Exception: Table h0p_test.analytics_lock_8b5cc4df7eec7d32a781 doesn't exist":        true,
		"Code: 1000, e.displayText() = File not found: /var/lib/h0p-clickhouse/data/metadata/t_1/" + lockName("e2") + ".sql": true,
		"Code: 1000, e.displayText() = File not found: /var/lib/h0p-clickhouse/data/metadata/t_1/analytics_clicks.sql":       false,
		"Code: 241, e.displayText() = DB::Exception: Memory limit exceeded":                                                  false,
	} {
		if got := dropped(errors.New("clickhouse: 500 Internal Server Error: " + msg)); got != want {
			t.Errorf("dropped(%q) = %v, want %v", msg, got, want)
		}
	}
}

// A node that stopped while holding an edge's lock leaves it; another
// takes it over once it is older than the lease.
func TestStaleLock(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, chtest.Database(t))
	defer s.Close()
	if _, err := s.lockEdge(ctx, "e1"); err != nil { // never released
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Ingest(short, batch("e1", 1, 2), analyticstest.OrgsOf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ingest while another holds the edge: %v, want it to wait", err)
	}
	s.lease = time.Second // the server's clock counts whole seconds
	if got, err := s.Ingest(ctx, batch("e1", 1, 2), analyticstest.OrgsOf); err != nil || got.Stored != 2 {
		t.Errorf("ingest after the lease: %+v %v", got, err)
	}
}

// A lock left by a process of a node (killed while ingesting) is taken
// over at once by the node's next process; another node waits for the
// lease.
func TestStaleLockOfNode(t *testing.T) {
	ctx := context.Background()
	dbURL := chtest.Database(t)
	open := func(node string) *Store {
		s, err := Open(ctx, dbURL, Options{Node: node})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	c1 := open("c1")
	if _, err := c1.lockEdge(ctx, "e1"); err != nil { // never released
		t.Fatal(err)
	}
	// The holding process itself waits too: it keeps a lock after an
	// INSERT whose answer was lost.
	short0, cancel0 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel0()
	if _, err := c1.Ingest(short0, batch("e1", 1, 2), analyticstest.OrgsOf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ingest on the process holding the edge: %v, want it to wait", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := open("c2").Ingest(short, batch("e1", 1, 2), analyticstest.OrgsOf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ingest on c2 while c1 holds the edge: %v, want it to wait", err)
	}
	for _, node := range []string{"", "c1-other"} {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := open(node).Ingest(short, batch("e1", 1, 2), analyticstest.OrgsOf)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ingest on node %q while c1 holds the edge: %v, want it to wait", node, err)
		}
	}
	start := time.Now()
	if got, err := open("c1").Ingest(ctx, batch("e1", 1, 2), analyticstest.OrgsOf); err != nil || got.Stored != 2 {
		t.Errorf("ingest on c1 restarted: %+v %v", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("c1 restarted took %v to take its own lock over", took)
	}
}

// Credentials in the URL go as basic auth; a refusal names neither the
// password nor the URL.
func TestOpenCredentials(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(chtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("default")
	s, err := Open(ctx, u.String(), Options{})
	if err != nil {
		t.Fatalf("user default, no password: %v", err)
	}
	s.Close()
	u.User = url.UserPassword("default", "s3cret-pw")
	if _, err := Open(ctx, u.String(), Options{}); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("a wrong password: %v, want an error without it", err)
	}
	for _, bad := range []string{"postgres://h0p@localhost/h0p", "127.0.0.1:8123", "http://"} {
		if _, err := Open(ctx, bad, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// Events page through a range to the year 9999, newest first and oldest
// first (export), whatever the widths of the windows they read.
func TestEventsLongRange(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, chtest.Database(t))
	defer s.Close()
	b := batch("e1", 1, 4)
	b.Clicks[3].Time = time.Date(2105, 12, 31, 23, 0, 0, 0, time.UTC) // the last day stored
	b.Clicks = append(b.Clicks, b.Clicks[0])
	b.Clicks[4].Time = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC) // dropped
	if got, err := s.Ingest(ctx, b, analyticstest.OrgsOf); err != nil || got.Stored != 4 || got.Dropped != 1 {
		t.Fatalf("ingest: %+v %v, want 4 stored, 1 dropped", got, err)
	}
	q := analytics.EventQuery{Org: "org_a", Start: time.Unix(0, 0), End: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Limit: 3}
	var n int
	for range 5 {
		p, err := s.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Events)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if n != 4 {
		t.Errorf("%d events, want 4", n)
	}
	n = 0
	if err := s.Export(ctx, q, func(*clicks.Click) error { n++; return nil }); err != nil || n != 4 {
		t.Errorf("export: %d clicks, %v; want 4", n, err)
	}
}

// A node whose INSERT lost its answer (its context ended while a slow
// server was still storing) keeps the edge locked until the lease ends:
// the batch shipped again to another node is found stored, not stored
// twice.
func TestLostAnswerKeepsTheEdge(t *testing.T) {
	ctx := context.Background()
	dbURL := chtest.Database(t)
	target, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// slow passes statements on to the server, an INSERT of clicks only
	// after its client has given up on it.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if strings.Contains(r.URL.Query().Get("query"), "INSERT INTO analytics_clicks") {
			time.Sleep(500 * time.Millisecond)
		}
		u := *target
		u.RawQuery = r.URL.RawQuery
		resp, err := http.Post(u.String(), "text/plain", bytes.NewReader(body))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer slow.Close()
	via, _ := url.Parse(slow.URL)
	slowURL := *target
	slowURL.Host = via.Host

	a := mustOpen(t, slowURL.String())
	defer a.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := a.Ingest(short, batch("e1", 1, 3), analyticstest.OrgsOf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ingest through the slow server: %v, want its deadline", err)
	}
	b := mustOpen(t, dbURL)
	defer b.Close()
	b.lease = time.Second
	got, err := b.Ingest(ctx, batch("e1", 1, 3), analyticstest.OrgsOf)
	slow.Close() // the slow INSERT has ended
	if err != nil || !got.Duplicate {
		t.Errorf("the batch again on another node: %+v %v, want a duplicate", got, err)
	}
	if n := count(t, b, "org_a"); n != 3 {
		t.Errorf("%d clicks, want 3", n)
	}
}

// Nodes taking and dropping one edge's lock at once each get it in
// turn: a CREATE, or a read of the lock's age, that meets the DROP of
// the same lock table tries again, it does not fail.
func TestLockContention(t *testing.T) {
	ctx := context.Background()
	dbURL := chtest.Database(t)
	var (
		wg      sync.WaitGroup
		holders atomic.Int32
	)
	for range 4 {
		s := mustOpen(t, dbURL)
		defer s.Close()
		wg.Go(func() {
			for range 40 {
				release, err := s.lockEdge(ctx, "e1")
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d nodes hold the lock", n)
				}
				holders.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
}
