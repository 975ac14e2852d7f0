package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics/chstore/chtest"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/clustercert"
)

// The click path under faults: every redirect an edge answered is counted
// once by control (stats and the link's clicks), through an edge crash, a
// control outage and lost acknowledgements; and maxClicks holds under load
// within the bound control/links documents. One control node and one edge,
// but for the leader's kill on three control nodes and two edges. Each runs
// on the default click store and on ClickHouse (eachClickStore).

// clickStore is the click store control nodes run on in a click test.
type clickStore string

const (
	// clickStoreDefault is the store beside the control store: pgstore,
	// since a test cluster's control store is PostgreSQL.
	clickStoreDefault clickStore = "postgres"
	// clickStoreClickHouse is chstore on H0P_TEST_CLICKHOUSE_URL's server
	// (skipped without it, unless H0P_REQUIRE_CLICKHOUSE=1).
	clickStoreClickHouse clickStore = "clickhouse"
)

// eachClickStore runs a fault test once per click store, each a subtest
// with the same expectations, one after the other. It skips the whole
// test without H0P_FAULTS.
func eachClickStore(t *testing.T, test func(t *testing.T, store clickStore)) {
	needFaults(t)
	for _, store := range []clickStore{clickStoreDefault, clickStoreClickHouse} {
		t.Run(string(store), func(t *testing.T) { test(t, store) })
	}
}

// eachClickStoreAtOnce is eachClickStore with the stores' runs at the
// same time, for a scenario that mostly waits (a control node stopped or
// killed for seconds) and has no timing bound a busier machine would
// break, only generous deadlines: its second store then costs make
// test-faults little.
func eachClickStoreAtOnce(t *testing.T, test func(t *testing.T, store clickStore)) {
	needFaults(t)
	for _, store := range []clickStore{clickStoreDefault, clickStoreClickHouse} {
		t.Run(string(store), func(t *testing.T) {
			t.Parallel()
			test(t, store)
		})
	}
}

// newClickCluster is newTestCluster with every control node on store;
// on ClickHouse they share one fresh database, as they share PostgreSQL.
func newClickCluster(t *testing.T, store clickStore, controls, edges int) *testCluster {
	t.Helper()
	var chURL string
	if store == clickStoreClickHouse {
		chURL = chtest.Database(t) // skips before any node is prepared
	}
	c := newTestCluster(t, controls, edges)
	if chURL != "" {
		for _, name := range c.controls() {
			c.nodes[name].flags = append(c.nodes[name].flags, "--analytics-clickhouse-url", chURL)
		}
	}
	return c
}

// browserUA makes the load's clicks people's: bots are stored, but neither
// a link's clicks nor maxClicks count them.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// answer is one request of a load as its client saw it.
type answer struct {
	at       time.Time // when the answer (or the error) came
	status   int       // 0: no answer
	location string
}

// load sends GET /<slug> to an edge from concurrent clients, paced.
type load struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	answers []answer
}

// startLoad sends n requests (0: until halted) for slug to edge from
// clients concurrent clients, the i-th not before i/rate seconds from now
// (rate 0: as fast as the clients go).
func (c *testCluster) startLoad(edge, slug string, n, clients int, rate float64) *load {
	l := &load{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: clients},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	target := "http://" + c.nodes[edge].public + "/" + slug
	tokens := make(chan struct{})
	go func() {
		defer close(tokens)
		start := time.Now()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for i := 0; n == 0 || i < n; i++ {
			if rate > 0 {
				timer.Reset(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
				select {
				case <-timer.C:
				case <-l.stop:
					return
				}
			}
			select {
			case tokens <- struct{}{}:
			case <-l.stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range tokens {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header.Set("User-Agent", browserUA)
				a := answer{}
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					a.status, a.location = resp.StatusCode, resp.Header.Get("Location")
				}
				a.at = time.Now()
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); client.CloseIdleConnections(); close(l.done) }()
	return l
}

// wait waits for every request to be answered and returns the answers in
// the order they came.
func (l *load) wait() []answer {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.SortStableFunc(l.answers, func(a, b answer) int { return a.at.Compare(b.at) })
	return l.answers
}

// halt stops sending and returns wait's answers.
func (l *load) halt() []answer {
	close(l.stop)
	return l.wait()
}

// count is how many answers so far were a redirect to dest.
func (l *load) count(dest string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return countTo(l.answers, dest)
}

func countTo(as []answer, dest string) (n int) {
	for _, a := range as {
		if a.status == 302 && a.location == dest {
			n++
		}
	}
	return n
}

// mustLink creates a link and waits until edge redirects it.
func (c *testCluster) mustLink(t *testing.T, edge, body string) (id, slug, dest string) {
	t.Helper()
	// The bootstrap key is on disk just before its org commits: a 401
	// right after the start is retried.
	r := c.call("c1", "POST", "/v1/links", body)
	for deadline := time.Now().Add(10 * time.Second); r.status == 401 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		r = c.call("c1", "POST", "/v1/links", body)
	}
	if r.status != 201 {
		t.Fatalf("create %s: %d %v %v", body, r.status, r.body, r.err)
	}
	id, slug, dest = r.body["id"].(string), r.body["key"].(string), r.body["url"].(string)
	// Asked with h0p-no-track=1, the redirects that wait for the link count
	// no click.
	if !c.waitResolves(edge, slug+"?h0p-no-track=1", dest, 10*time.Second) {
		t.Fatalf("%s never redirected on %s", slug, edge)
	}
	return id, slug, dest
}

// waitSpooled waits until edge's click queue is on disk: a click spooled
// for every tracked redirect its process answered (the counters are this
// process's).
func (c *testCluster) waitSpooled(t *testing.T, edge string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		redirects := c.metric(edge, `h0p_edge_requests_total{outcome="redirect"}`)
		for _, why := range []string{"link", "domain", "query"} {
			redirects -= c.metric(edge, `h0p_edge_clicks_untracked_total{reason="`+why+`"}`)
		}
		spooled := c.metric(edge, "h0p_edge_clicks_spooled_total")
		if redirects == spooled && c.metric(edge, "h0p_edge_click_queue_depth") == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v redirects, %v clicks spooled", edge, redirects, spooled)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDrained waits until edge has spooled every click and shipped every
// segment: control acknowledged them all.
func (c *testCluster) waitDrained(t *testing.T, edge string, timeout time.Duration) {
	t.Helper()
	c.waitSpooled(t, edge)
	deadline := time.Now().Add(timeout)
	for c.metric(edge, "h0p_edge_clicks_spool_segments") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v click segments still unshipped", edge, c.metric(edge, "h0p_edge_clicks_spool_segments"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clickCounts are what control says of a link's clicks: the stats count
// (bots included) from the click store, and the link's clicks from the
// control store; as control node c1 answers.
func (c *testCluster) clickCounts(t *testing.T, id, slug string) (stats, link int) {
	t.Helper()
	return c.clickCountsOn(t, "c1", id, slug)
}

// clickCountsOn is clickCounts as control node ctl answers.
func (c *testCluster) clickCountsOn(t *testing.T, ctl, id, slug string) (stats, link int) {
	t.Helper()
	r := c.call(ctl, "GET", "/v1/stats?groupBy=count&bots=include&interval=24h&key="+url.QueryEscape(slug), "")
	if r.status != 200 {
		t.Fatalf("stats of %s: %d %v %v", slug, r.status, r.body, r.err)
	}
	stats = int(r.body["clicks"].(float64))
	r = c.call(ctl, "GET", "/v1/links/"+id, "")
	if r.status != 200 {
		t.Fatalf("link %s: %d %v %v", slug, r.status, r.body, r.err)
	}
	return stats, int(r.body["clicks"].(float64))
}

// checkCounted checks that control counted exactly served clicks of the
// link, in stats and on the link.
func (c *testCluster) checkCounted(t *testing.T, id, slug string, served int) {
	t.Helper()
	stats, link := c.clickCounts(t, id, slug)
	t.Logf("%d redirects served; stats count %d, link clicks %d", served, stats, link)
	if stats != served || link != served {
		t.Errorf("%d redirects served: stats count %d, link clicks %d", served, stats, link)
	}
}

// clickProxy stands where the network between an edge and control's API
// is: it ends the edge's TLS with a control node's certificate and sends
// each request on with the edge's own, so control sees the edge it trusts.
// It can hold click batches on the way (a slow link) and lose control's
// answer to them (an acknowledgement lost on the way back), and it notes
// every batch control answered.
type clickProxy struct {
	target string       // control's API URL
	client *http.Client // with the edge's certificate

	mu      sync.Mutex
	gate    chan struct{} // non-nil: batches wait until it is closed
	held    int           // batches waiting at the gate
	toLose  int           // first answers still to lose, one per batch
	lost    map[uint64]bool
	batches []proxiedBatch
}

// proxiedBatch is one batch control answered.
type proxiedBatch struct {
	seq    uint64
	clicks int
	status int
	lost   bool // the answer never reached the edge
}

// proxyClicks puts a clickProxy between edge and control node ctl (call
// before the edge first starts): the edge joins and ships through it.
func (c *testCluster) proxyClicks(edge, ctl string) *clickProxy {
	t := c.t
	t.Helper()
	certs := filepath.Join(c.dir, "certs")
	server, err := clustercert.Load(certs, ctl)
	if err != nil {
		t.Fatal(err)
	}
	client, err := clustercert.Load(certs, edge)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &clickProxy{target: c.apiURL(ctl), lost: map[uint64]bool{},
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: client.ClientConfig(), ForceAttemptHTTP2: true}}}
	srv := &http.Server{Handler: p, TLSConfig: server.ServerConfig(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { p.release(); srv.Close() })
	c.nodes[edge].flags = append(c.nodes[edge].flags, "--join", "https://"+ln.Addr().String())
	return p
}

func (p *clickProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	var head clicks.Header
	isBatch := r.URL.Path == "/cluster/v1/clicks"
	if isBatch {
		head, _ = clicks.Verify(body)
		p.mu.Lock()
		gate := p.gate
		if gate != nil {
			p.held++
		}
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
	}
	// A batch let through after its edge went away still reaches control,
	// as bytes already on the wire do.
	ctx := context.WithoutCancel(r.Context())
	req, _ := http.NewRequestWithContext(ctx, r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if isBatch {
		p.mu.Lock()
		lose := p.toLose > 0 && !p.lost[head.Seq] && resp.StatusCode/100 == 2
		if lose {
			p.toLose--
			p.lost[head.Seq] = true
		}
		p.batches = append(p.batches, proxiedBatch{seq: head.Seq, clicks: head.Clicks, status: resp.StatusCode, lost: lose})
		p.mu.Unlock()
		if lose {
			panic(http.ErrAbortHandler) // the stream (or connection) is reset: no answer
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// hold makes batches wait at the proxy until release.
func (p *clickProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

func (p *clickProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// waitHeld waits until a batch waits at the gate.
func (p *clickProxy) waitHeld(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		if held > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no click batch reached the proxy")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loseAnswers makes the proxy lose control's first answer to each of the
// next n batches it acknowledges.
func (p *clickProxy) loseAnswers(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toLose = n
}

// log is every batch control answered, in order.
func (p *clickProxy) log() []proxiedBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.batches)
}

// checkResent checks that every batch whose answer was lost reached
// control again, same sequence, and was acknowledged, and returns how many
// such batches there were.
func checkResent(t *testing.T, batches []proxiedBatch) (lost int) {
	t.Helper()
	for i, b := range batches {
		if !b.lost {
			continue
		}
		lost++
		again := slices.IndexFunc(batches[i+1:], func(x proxiedBatch) bool { return x.seq == b.seq && x.status/100 == 2 })
		if again < 0 {
			t.Errorf("batch #%d (%d clicks): its answer was lost and it never came again", b.seq, b.clicks)
		}
	}
	return lost
}

// Edge killed mid-batch. A batch is on its way to control (held by the
// network) and more wait in the spool when the edge gets SIGKILL; control
// then stores the batch in flight, whose answer nobody reads. The restarted
// edge ships it again with the same sequence, then the rest, then new
// traffic: every redirect counted once. The kill comes once the queue is
// on disk (the traffic paused, every click spooled): a kill under traffic
// loses the clicks still in the queue, measured in the second part.
func TestFaultClickEdgeKilledMidBatch(t *testing.T) {
	eachClickStore(t, testFaultClickEdgeKilledMidBatch)
}

func testFaultClickEdgeKilledMidBatch(t *testing.T, store clickStore) {
	c := newClickCluster(t, store, 1, 1)
	proxy := c.proxyClicks("e1", "c1")
	c.startAll()
	id, slug, dest := c.mustLink(t, "e1", `{"url":"https://example.com/kill","key":"kill"}`)

	proxy.hold()
	before := c.startLoad("e1", slug, 2000, 8, 2000).wait()
	proxy.waitHeld(t)
	c.waitSpooled(t, "e1")
	segs := c.metric("e1", "h0p_edge_clicks_spool_segments")
	c.signal("e1", syscall.SIGKILL)
	proxy.release() // the batch in flight reaches control after all
	t.Logf("e1 killed with %v segments in its spool, one of them in flight", segs)
	if segs < 2 {
		t.Errorf("%v segments at the kill: the spool held no backlog", segs)
	}
	c.start("e1")
	c.waitReady("e1", 30*time.Second)
	after := c.startLoad("e1", slug, 1000, 8, 0).wait()
	c.waitDrained(t, "e1", 30*time.Second)
	served := countTo(before, dest) + countTo(after, dest)
	if served != 3000 {
		t.Errorf("%d of 3000 requests redirected", served)
	}
	c.checkCounted(t, id, slug, served)
	// The batch in flight at the kill was the first control answered (to
	// nobody), and the restarted edge's first.
	if log := proxy.log(); len(log) < 2 || log[0].seq != log[1].seq || log[1].status != 204 {
		t.Errorf("the batch in flight at the kill was not shipped again first: %+v", log[:min(len(log), 3)])
	} else {
		t.Logf("batch #%d (%d clicks) reached control after the kill, then again from the restarted edge", log[0].seq, log[0].clicks)
	}

	// Killed under traffic (1,000 requests a second): the redirects
	// answered in the last interval, whose clicks were still in memory,
	// are lost; nothing older. Measured; every click of a redirect
	// answered more than 500 ms before the kill (an interval, the
	// segment's write, and room for a busy machine) must be counted.
	const rate, window = 1000.0, 500 * time.Millisecond
	stats0, _ := c.clickCounts(t, id, slug)
	began := time.Now()
	l := c.startLoad("e1", slug, 0, 8, rate)
	time.Sleep(1500 * time.Millisecond)
	kill := time.Now()
	c.signal("e1", syscall.SIGKILL) // returns once it is dead
	c.start("e1")
	c.waitReady("e1", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	answers := l.halt()
	c.waitDrained(t, "e1", 30*time.Second)
	served = countTo(answers, dest)
	stats1, _ := c.clickCounts(t, id, slug)
	lost := served - (stats1 - stats0)
	var older int
	for _, a := range answers {
		if a.status == 302 && a.at.Before(kill.Add(-window)) {
			older++
		}
	}
	// A click is taken before its answer is written: those of the answers
	// before the cut are all in the range, with perhaps a few answered
	// just after it.
	r := c.call("c1", "GET", "/v1/stats?groupBy=count&bots=include&key="+slug+
		"&start="+began.UTC().Format(time.RFC3339Nano)+"&end="+kill.Add(-window).UTC().Format(time.RFC3339Nano), "")
	counted, _ := r.body["clicks"].(float64)
	t.Logf("killed under %.0f requests/s: %d of %d redirects lost (%.0f ms of traffic); of the %d answered more than %v before the kill, %v counted",
		rate, lost, served, float64(lost)/rate*1000, older, window, counted)
	if lost < 0 || r.status != 200 || int(counted) < older {
		t.Errorf("%d clicks lost at the kill; %d: %v of the %d clicks answered more than %v before it counted", lost, r.status, counted, older, window)
	}
}

// Control stopped, then killed, under traffic. The edge redirects
// throughout, its clicks wait in the spool, and once control is back the
// backlog drains: every redirect counted once. A SIGSTOP leaves the batch
// in flight unanswered (the edge times out and ships it again, while
// control, resumed, may still store the first one); a SIGKILL may land
// between the count in the control store and the click store, or, on
// ClickHouse, while control holds the edge's lock, which the restarted
// node takes over at once.
func TestFaultClickControlStoppedUnderTraffic(t *testing.T) {
	eachClickStoreAtOnce(t, testFaultClickControlStoppedUnderTraffic)
}

func testFaultClickControlStoppedUnderTraffic(t *testing.T, store clickStore) {
	c := newClickCluster(t, store, 1, 1)
	c.startAll()
	id, slug, dest := c.mustLink(t, "e1", `{"url":"https://example.com/outage","key":"outage"}`)

	const rate = 200.0
	l := c.startLoad("e1", slug, 0, 8, rate)
	time.Sleep(2 * time.Second)
	c.signal("c1", syscall.SIGSTOP)
	stopped := l.count(dest)
	time.Sleep(15 * time.Second)
	backlog := c.metric("e1", "h0p_edge_clicks_spool_segments")
	t.Logf("c1 stopped 15 s: %d redirects meanwhile, %v segments waiting", l.count(dest)-stopped, backlog)
	if backlog < 50 {
		t.Errorf("only %v segments waited while control was stopped", backlog)
	}
	c.signal("c1", syscall.SIGCONT)
	time.Sleep(3 * time.Second)
	c.signal("c1", syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	c.start("c1")
	c.waitReady("c1", 30*time.Second)
	time.Sleep(2 * time.Second)
	answers := l.halt()
	c.waitDrained(t, "e1", 60*time.Second)

	served := countTo(answers, dest)
	if served != len(answers) {
		t.Errorf("%d of %d requests redirected with control stopped and down", served, len(answers))
	}
	t.Logf("ship errors on e1: %v", c.metric("e1", "h0p_edge_clicks_ship_errors_total"))
	c.checkCounted(t, id, slug, served)
}

// The leader killed while two edges ship, on three control nodes: every
// redirect of both edges is counted once, and every control node answers
// the same (they share the control store, on PostgreSQL, and the click
// store).
func TestFaultClickLeaderKilledDuringIngestion(t *testing.T) {
	eachClickStoreAtOnce(t, testFaultClickLeaderKilledDuringIngestion)
}

func testFaultClickLeaderKilledDuringIngestion(t *testing.T, store clickStore) {
	c := newClickCluster(t, store, 3, 2)
	c.startAll()
	leader := c.waitLeader(20 * time.Second)
	id, slug, dest := c.mustLink(t, "e1", `{"url":"https://example.com/leader","key":"leader"}`)
	if !c.waitResolves("e2", slug+"?h0p-no-track=1", dest, 20*time.Second) {
		t.Fatal("e2 never redirected the link")
	}
	l1 := c.startLoad("e1", slug, 0, 4, 300)
	l2 := c.startLoad("e2", slug, 0, 4, 300)
	time.Sleep(3 * time.Second)
	c.signal(leader, syscall.SIGKILL)
	next := c.waitLeader(20 * time.Second)
	t.Logf("killed leader %s under ingestion; %s leads", leader, next)
	time.Sleep(3 * time.Second)
	c.start(leader)
	c.waitReady(leader, 30*time.Second)
	time.Sleep(2 * time.Second)
	a1, a2 := l1.halt(), l2.halt()
	c.waitDrained(t, "e1", 60*time.Second)
	c.waitDrained(t, "e2", 60*time.Second)

	served := countTo(a1, dest) + countTo(a2, dest)
	if served != len(a1)+len(a2) {
		t.Errorf("%d of %d requests redirected around the kill", served, len(a1)+len(a2))
	}
	for _, ctl := range c.controls() {
		stats, link := c.clickCountsOn(t, ctl, id, slug)
		t.Logf("%s: %d redirects served; stats count %d, link clicks %d", ctl, served, stats, link)
		if stats != served || link != served {
			t.Errorf("%s: %d redirects served: stats count %d, link clicks %d", ctl, served, stats, link)
		}
	}
}

// Acknowledgements lost: control stores a batch but its answer never
// reaches the edge, which ships the same sequence again; control
// acknowledges it without storing it twice.
func TestFaultClickAckLost(t *testing.T) { eachClickStore(t, testFaultClickAckLost) }

func testFaultClickAckLost(t *testing.T, store clickStore) {
	c := newClickCluster(t, store, 1, 1)
	proxy := c.proxyClicks("e1", "c1")
	c.startAll()
	id, slug, dest := c.mustLink(t, "e1", `{"url":"https://example.com/ack","key":"ack"}`)

	const lose = 5
	proxy.loseAnswers(lose)
	answers := c.startLoad("e1", slug, 2000, 8, 1000).wait()
	c.waitDrained(t, "e1", 30*time.Second)

	served := countTo(answers, dest)
	if served != len(answers) {
		t.Errorf("%d of %d requests redirected", served, len(answers))
	}
	batches := proxy.log()
	if n := checkResent(t, batches); n != lose {
		t.Errorf("%d answers lost, want %d (%d batches in all)", n, lose, len(batches))
	}
	shipErrors := c.metric("e1", "h0p_edge_clicks_ship_errors_total")
	shipped := c.metric("e1", "h0p_edge_clicks_shipped_total")
	t.Logf("%d batches to control, %d answers lost; edge: %v ship errors, %v clicks shipped", len(batches), lose, shipErrors, shipped)
	if shipErrors < lose {
		t.Errorf("the edge counted %v ship errors, want at least %d", shipErrors, lose)
	}
	if int(shipped) != served {
		t.Errorf("the edge shipped %v clicks, want %d", shipped, served)
	}
	c.checkCounted(t, id, slug, served)
}

// maxClicks under load: a link with maxClicks 100 gets 1,000 requests at
// 500 a second from 16 clients. It redirects until control has counted its
// 100th click and the edge has the link back marked exhausted; then it
// answers as expired (its expiredUrl). The redirects beyond 100 are those
// of that propagation, within the bound control/links documents.
func TestFaultMaxClicksUnderLoad(t *testing.T) { eachClickStore(t, testFaultMaxClicksUnderLoad) }

func testFaultMaxClicksUnderLoad(t *testing.T, store clickStore) {
	c := newClickCluster(t, store, 1, 1)
	c.startAll()
	const (
		maxClicks = 100
		rate      = 500.0
		clients   = 16
		bound     = 250 * time.Millisecond // control/links' doc: maxClicks
	)
	expired := "https://example.com/sold-out"
	id, slug, dest := c.mustLink(t, "e1", fmt.Sprintf(`{"url":"https://example.com/offer","key":"offer","maxClicks":%d,"expiredUrl":%q}`, maxClicks, expired))

	start := time.Now()
	answers := c.startLoad("e1", slug, 1000, clients, rate).wait()
	took := time.Since(start)
	var served, gone, servedLate int
	var hundredth, firstExpired time.Time
	for _, a := range answers {
		switch {
		case a.status == 302 && a.location == dest:
			served++
			if served == maxClicks {
				hundredth = a.at
			}
			if !firstExpired.IsZero() {
				servedLate++
			}
		case a.status == 302 && a.location == expired:
			gone++
			if firstExpired.IsZero() {
				firstExpired = a.at
			}
		default:
			t.Errorf("answer %d %q, want a redirect to the link's url or its expiredUrl", a.status, a.location)
		}
	}
	got := float64(len(answers)) / took.Seconds()
	over := served - maxClicks
	t.Logf("%d requests at %.0f/s: %d redirected, %d expired; propagation %v (the 100th redirect to the first expired answer), overshoot %d",
		len(answers), got, served, gone, firstExpired.Sub(hundredth).Round(time.Millisecond), over)
	if served < maxClicks || firstExpired.IsZero() {
		t.Fatalf("%d redirected and %d expired: want the link to stop after %d", served, gone, maxClicks)
	}
	if prop := firstExpired.Sub(hundredth); prop > bound {
		t.Errorf("propagation %v, over the documented %v", prop, bound)
	}
	// Requests in flight when the edge learnt may still have redirected.
	if limit := int(rate*bound.Seconds()) + clients; over > limit {
		t.Errorf("%d redirects beyond maxClicks, over %.0f/s × %v + %d in flight = %d", over, rate, bound, clients, limit)
	}
	if servedLate > clients {
		t.Errorf("%d redirects answered after the first expired answer, more than the %d requests in flight: the link came back", servedLate, clients)
	}
	c.waitDrained(t, "e1", 30*time.Second)
	ships := c.metric("e1", "h0p_edge_clicks_ship_duration_seconds_count")
	t.Logf("%v batches shipped, %.1f ms each on average", ships,
		c.metric("e1", "h0p_edge_clicks_ship_duration_seconds_sum")/ships*1000)
	c.checkCounted(t, id, slug, served)
}
