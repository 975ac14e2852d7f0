// Command webhooks measures webhook deliveries of a running h0p (make
// bench-webhooks starts h0p dev for it, with raised rate limits, webhooks
// allowed to plain http on the loopback and Go's profiles on its admin
// address) to a receiver in this process: a net/http server on 127.0.0.1
// answering 204, which checks each delivery's signature.
//
// Sustained: N endpoints (-endpoints, 1 and 10) subscribed to
// link.created; bulk creates keep a backlog of undelivered messages
// (-backlog) so delivery never waits for work; after a warm-up, the
// messages the receiver takes a second over a window, then the backlog's
// drain and whether every message came once. Its floor: this process's
// own HTTP client posting signed bodies of the same size to the receiver,
// one request in flight a connection, on 1 and on N connections, with no
// store between. Delay: one endpoint, single creates paced at -rate a
// second for -paced; for each link, its delivery's arrival at the receiver
// less the moment its create returned (both clocks are this process's).
// It writes bench/results/webhooks.json and .md.
//
//	go run ./bench/webhooks -api http://127.0.0.1:28080 -key $KEY
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/control/webhooks"
)

func main() {
	var (
		api       = flag.String("api", "http://127.0.0.1:28080", "API base URL")
		admin     = flag.String("admin", "", "h0p's admin base URL, for a CPU profile of the last sustained run (-profile)")
		key       = flag.String("key", os.Getenv("H0P_API_KEY"), "API key (default $H0P_API_KEY)")
		endpoints = flag.String("endpoints", "1,10", "comma-separated endpoint counts of the sustained runs")
		backlog   = flag.Int("backlog", 4000, "undelivered messages the sustained runs' creates keep ahead of delivery")
		warmup    = flag.Duration("warmup", 3*time.Second, "sustained: from the first delivery to the window")
		window    = flag.Duration("window", 15*time.Second, "sustained: the measured window")
		floorDur  = flag.Duration("floor", 3*time.Second, "how long each run of the HTTP floor lasts (0: none)")
		rate      = flag.Int("rate", 50, "delay: links created a second")
		paced     = flag.Duration("paced", 20*time.Second, "delay: how long the paced creates last")
		profile   = flag.String("profile", "", "file for h0p's CPU profile over the last sustained run's window (needs -admin)")
		out       = flag.String("out", "bench/results", "directory for the results (webhooks.json and .md)")
	)
	flag.Parse()
	if *key == "" {
		log.Fatal("need -key or H0P_API_KEY")
	}
	var counts []int
	for f := range strings.SplitSeq(*endpoints, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-endpoints: %q is not a count", f)
		}
		counts = append(counts, n)
	}
	recv, err := listen()
	if err != nil {
		log.Fatal(err)
	}
	defer recv.srv.Close()
	b := &bench{api: *api, key: *key, recv: recv, run: fmt.Sprintf("w%d", time.Now().UnixNano()%1_000_000),
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}

	var sus []sustained
	for i, n := range counts {
		prof := ""
		if i == len(counts)-1 && *admin != "" {
			prof = *profile
		}
		s, err := b.sustained(n, *backlog, *warmup, *window, *admin, prof)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("sustained, %d endpoints: %.0f delivered/s", n, s.PerSecond)
		sus = append(sus, s)
	}
	var floors []floor
	if *floorDur > 0 {
		size := recv.bodySize()
		for _, c := range slices.Compact([]int{1, slices.Max(counts)}) {
			floors = append(floors, b.floor(c, size, *floorDur))
		}
	}
	d, err := b.delay(*rate, *paced)
	if err != nil {
		log.Fatal(err)
	}

	res := map[string]any{
		"engine": "SQLite", "dispatcher": map[string]any{"periodSeconds": 1, "parallel": 16, "fanoutBatch": 500, "dueBatch": 1000},
		"sustained": sus, "floor": floors, "delay": d,
		"cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := markdown(sus, floors, d, res["measuredAt"].(string))
	if err := results.Write(*out, "webhooks", res, md); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
}

type bench struct {
	api, key, run string
	client        *http.Client
	recv          *receiver
}

// call sends one API request and returns its status and body.
func (b *bench) call(method, path string, body []byte) (int, []byte) {
	req, _ := http.NewRequest(method, b.api+path, bytes.NewReader(body))
	req.Header.Set("x-api-key", b.key)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rb
}

// endpoint registers an endpoint for link.created at the receiver's path
// and tells the receiver its secret; it returns the endpoint's ID.
func (b *bench) endpoint(path string) (string, error) {
	body := fmt.Sprintf(`{"url":"%s%s","events":["link.created"]}`, b.recv.url, path)
	status, rb := b.call("POST", "/v1/webhooks", []byte(body))
	if status != 201 {
		return "", fmt.Errorf("create webhook: %d %s", status, rb)
	}
	var w struct{ ID, Secret string }
	if err := json.Unmarshal(rb, &w); err != nil {
		return "", fmt.Errorf("create webhook: %w", err)
	}
	k, err := webhooks.ParseSecret(w.Secret)
	if err != nil {
		return "", fmt.Errorf("create webhook: %w", err)
	}
	b.recv.secret(path, k)
	return w.ID, nil
}

func (b *bench) deleteEndpoints(ids []string) {
	for _, id := range ids {
		if status, rb := b.call("DELETE", "/v1/webhooks/"+id, nil); status/100 != 2 {
			log.Printf("delete webhook %s: %d %s", id, status, rb)
		}
	}
}

// bulk creates n links in one request and returns how many were created.
func (b *bench) bulk(tag string, n int) (int, error) {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"url":"https://example.com/%s/%s/%d"}`, b.run, tag, i)
	}
	sb.WriteByte(']')
	status, body := b.call("POST", "/v1/links/bulk", []byte(sb.String()))
	if status != 200 {
		return 0, fmt.Errorf("bulk create: %d %.200s", status, body)
	}
	var res struct {
		Data []struct {
			Error any `json:"error"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return 0, fmt.Errorf("bulk create: %w", err)
	}
	ok := 0
	for _, r := range res.Data {
		if r.Error == nil {
			ok++
		}
	}
	return ok, nil
}

// sustained is a run of deliveries to N endpoints with a backlog.
type sustained struct {
	Endpoints       int     `json:"endpoints"`
	Seconds         float64 `json:"seconds"`
	Delivered       int64   `json:"delivered"`
	PerSecond       float64 `json:"perSecond"`
	SlowestSecond   int64   `json:"slowestSecond"`
	FastestSecond   int64   `json:"fastestSecond"`
	LinksPerSecond  float64 `json:"linksCreatedPerSecond"`
	LinksCreated    int64   `json:"linksCreated"`
	Messages        int64   `json:"messages"`
	DeliveredInAll  int64   `json:"deliveredInAll"`
	Duplicates      int64   `json:"duplicates"`
	BadSignatures   int64   `json:"badSignatures"`
	DrainSeconds    float64 `json:"drainSeconds"`
	BacklogAtWindow int64   `json:"backlogAtWindowEnd"`
}

func (b *bench) sustained(n, backlog int, warmup, window time.Duration, admin, profile string) (sustained, error) {
	s := sustained{Endpoints: n}
	prefix := fmt.Sprintf("/s%d/", n)
	var ids []string
	for i := range n {
		id, err := b.endpoint(prefix + strconv.Itoa(i))
		if err != nil {
			return s, err
		}
		ids = append(ids, id)
	}
	defer b.deleteEndpoints(ids)
	delivered := func() int64 { return b.recv.delivered(prefix) }
	size := max(100, 1000/n)

	// The feeder keeps backlog messages undelivered: links × N − delivered.
	var created atomic.Int64
	stop := make(chan struct{})
	fed := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				fed <- nil
				return
			default:
			}
			if created.Load()*int64(n)-delivered() >= int64(backlog) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c, err := b.bulk(fmt.Sprintf("s%d-%d", n, i), size)
			if err != nil {
				fed <- err
				return
			}
			created.Add(int64(c))
		}
	}()
	var stopOnce sync.Once
	var fedErr error
	stopFeeder := func() error {
		stopOnce.Do(func() {
			close(stop)
			fedErr = <-fed
		})
		return fedErr
	}
	defer stopFeeder()

	deadline := time.Now().Add(30 * time.Second)
	for delivered() == 0 {
		if time.Now().After(deadline) {
			return s, fmt.Errorf("sustained, %d endpoints: no delivery in 30 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(warmup)
	profiled := make(chan error, 1)
	if profile != "" {
		go func() { profiled <- fetchProfile(admin, profile, window) }()
	}
	t0, d0, c0 := time.Now(), delivered(), created.Load()
	s.SlowestSecond = -1
	last := d0
	for range int(window / time.Second) {
		time.Sleep(time.Second)
		cur := delivered()
		if sec := cur - last; s.SlowestSecond < 0 || sec < s.SlowestSecond {
			s.SlowestSecond = sec
		}
		s.FastestSecond = max(s.FastestSecond, cur-last)
		last = cur
	}
	el := time.Since(t0)
	d1, c1 := delivered(), created.Load()
	s.Seconds, s.Delivered = el.Seconds(), d1-d0
	s.PerSecond = float64(s.Delivered) / el.Seconds()
	s.LinksPerSecond = float64(c1-c0) / el.Seconds()
	if err := stopFeeder(); err != nil {
		return s, err
	}
	s.LinksCreated = created.Load()
	s.Messages = s.LinksCreated * int64(n)
	s.BacklogAtWindow = s.Messages - delivered()
	if profile != "" {
		if err := <-profiled; err != nil {
			log.Printf("profile: %v", err)
		}
	}

	// Drain: every message, once; give up after 10 s without progress.
	t1 := time.Now()
	prev, moved := delivered(), time.Now()
	for delivered() < s.Messages && time.Since(moved) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
		if cur := delivered(); cur != prev {
			prev, moved = cur, time.Now()
		}
	}
	s.DrainSeconds = time.Since(t1).Seconds()
	s.DeliveredInAll = delivered()
	s.Duplicates, s.BadSignatures = b.recv.anomalies(prefix)
	return s, nil
}

func fetchProfile(admin, file string, d time.Duration) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, int(d/time.Second)))
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("fetch: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("fetch: %w", err)
	}
	return f.Close()
}

// floor is the receiver's rate with this process's client posting to it,
// nothing between.
type floor struct {
	Connections int     `json:"connections"`
	BodyBytes   int     `json:"bodyBytes"`
	Requests    int64   `json:"requests"`
	PerSecond   float64 `json:"perSecond"`
}

// floor posts signed bodies of size bytes to the receiver from conns
// connections, one request in flight each, for d, as the dispatcher sends
// (a signature made for each request, the body read and the answer's
// first 2 KiB).
func (b *bench) floor(conns, size int, d time.Duration) floor {
	f := floor{Connections: conns, BodyBytes: size}
	key := []byte("bench-floor-key-24-bytes")
	b.recv.secret("/floor", key)
	body := bytes.Repeat([]byte("x"), size)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	t0 := time.Now()
	for c := range conns {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				req, _ := http.NewRequest("POST", b.recv.url+"/floor", bytes.NewReader(body))
				webhooks.SetHeaders(req.Header, [][]byte{key}, fmt.Sprintf("msg_floor_%d_%d", c, i), time.Now(), body)
				resp, err := client.Do(req)
				if err != nil {
					log.Printf("floor: %v", err)
					return
				}
				io.Copy(io.Discard, io.LimitReader(resp.Body, 2048))
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	f.Requests = n.Load()
	f.PerSecond = float64(f.Requests) / time.Since(t0).Seconds()
	log.Printf("floor, %d connections: %.0f requests/s", conns, f.PerSecond)
	return f
}

// delayRun is the paced run: create → delivery, per link.
type delayRun struct {
	Rate        int     `json:"linksPerSecond"`
	Seconds     float64 `json:"seconds"`
	Created     int     `json:"created"`
	Failed      int     `json:"failed"`
	Delivered   int     `json:"delivered"`
	MinMs       float64 `json:"minMs"`
	P50Ms       float64 `json:"p50Ms"`
	P90Ms       float64 `json:"p90Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	CreateP50Ms float64 `json:"createP50Ms"`
	CreateP99Ms float64 `json:"createP99Ms"`
}

func (b *bench) delay(rate int, d time.Duration) (delayRun, error) {
	r := delayRun{Rate: rate, Seconds: d.Seconds()}
	id, err := b.endpoint("/delay")
	if err != nil {
		return r, err
	}
	defer b.deleteEndpoints([]string{id})
	var (
		mu       sync.Mutex
		returned = map[string]time.Time{}
		creates  []time.Duration
		failed   int
		wg       sync.WaitGroup
	)
	t := time.NewTicker(time.Second / time.Duration(rate))
	total := int(d.Seconds() * float64(rate))
	for i := range total {
		<-t.C
		wg.Go(func() {
			t0 := time.Now()
			status, body := b.call("POST", "/v1/links", fmt.Appendf(nil, `{"url":"https://example.com/%s/delay/%d"}`, b.run, i))
			at := time.Now()
			var l struct{ ID string }
			json.Unmarshal(body, &l)
			mu.Lock()
			defer mu.Unlock()
			if status != 201 || l.ID == "" {
				if failed++; failed <= 3 {
					log.Printf("delay create: %d %.200s", status, body)
				}
				return
			}
			returned[l.ID] = at
			creates = append(creates, at.Sub(t0))
		})
	}
	t.Stop()
	wg.Wait()
	r.Created, r.Failed = len(returned), failed
	deadline := time.Now().Add(15 * time.Second)
	for b.recv.delivered("/delay") < int64(len(returned)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	arrived := b.recv.arrivals()
	var lat []time.Duration
	for id, at := range returned {
		if a, ok := arrived[id]; ok {
			lat = append(lat, a.Sub(at))
		}
	}
	r.Delivered = len(lat)
	slices.Sort(lat)
	slices.Sort(creates)
	if len(lat) > 0 {
		r.MinMs, r.MaxMs = ms(lat[0]), ms(lat[len(lat)-1])
		r.P50Ms, r.P90Ms, r.P99Ms = pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99)
	}
	r.CreateP50Ms, r.CreateP99Ms = pct(creates, 0.5), pct(creates, 0.99)
	log.Printf("delay: p50 %.0f ms, p99 %.0f ms", r.P50Ms, r.P99Ms)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the p-th percentile of sorted, in milliseconds.
func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return ms(sorted[min(len(sorted)-1, int(float64(len(sorted))*p))])
}

// receiver is the webhook endpoint: it checks each delivery's signature
// with its path's secret, counts messages by webhook-id (duplicates
// apart), and notes when the link of each delivery to /delay arrived.
type receiver struct {
	srv *http.Server
	url string

	mu      sync.Mutex
	keys    map[string][]byte          // path → secret
	seen    map[string]map[string]bool // path → webhook-ids
	dups    map[string]int64           // path → repeated webhook-ids
	bad     map[string]int64           // path → bad signatures
	arrived map[string]time.Time       // link ID → its /delay delivery
	size    int                        // the last body's length
}

func listen() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String(), keys: map[string][]byte{}, seen: map[string]map[string]bool{},
		dups: map[string]int64{}, bad: map[string]int64{}, arrived: map[string]time.Time{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	path, id := req.URL.Path, req.Header.Get("webhook-id")
	var link string
	if path == "/delay" {
		var m struct {
			Data struct{ ID string }
		}
		json.Unmarshal(body, &m)
		link = m.Data.ID
	}
	r.mu.Lock()
	key := r.keys[path]
	r.mu.Unlock()
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	// The dispatcher signs with one secret: one signature, compared whole.
	ok := key != nil && webhooks.Signature([][]byte{key}, id, time.Unix(ts, 0), body) == req.Header.Get("webhook-signature")
	if path == "/floor" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.bad[path]++
	}
	if r.seen[path] == nil {
		r.seen[path] = map[string]bool{}
	}
	if r.seen[path][id] {
		r.dups[path]++
	}
	r.seen[path][id] = true
	r.size = len(body)
	if link != "" {
		if _, ok := r.arrived[link]; !ok {
			r.arrived[link] = at
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) secret(path string, key []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[path] = key
}

// delivered counts the distinct messages under paths starting with prefix.
func (r *receiver) delivered(prefix string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for p, ids := range r.seen {
		if strings.HasPrefix(p, prefix) {
			n += int64(len(ids))
		}
	}
	return n
}

// anomalies are the repeated messages and bad signatures under prefix.
func (r *receiver) anomalies(prefix string) (dups, bad int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, n := range r.dups {
		if strings.HasPrefix(p, prefix) {
			dups += n
		}
	}
	for p, n := range r.bad {
		if strings.HasPrefix(p, prefix) {
			bad += n
		}
	}
	return dups, bad
}

func (r *receiver) arrivals() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.arrived)
}

func (r *receiver) bodySize() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.size, 1)
}

func markdown(sus []sustained, floors []floor, d delayRun, at string) string {
	var sb strings.Builder
	sb.WriteString("# Webhook deliveries (h0p dev, SQLite, single raft voter)\n\n" +
		"h0p's dispatcher (control/webhooks): a pass when a write commits events, and every second (Period); it fans pending events out " +
		"to messages (500 events a transaction) and starts a sender for each endpoint with due messages, " +
		"at most 16 at once (Parallel), one request in flight an endpoint, reading its due messages 100 at a time until none is due, " +
		"each attempt recorded in the store before the next. The receiver answers 204 and checks every signature.\n\n" +
		"## Sustained deliveries (link.created, bulk creates keeping a backlog)\n\n" +
		"| endpoints | delivered/s | slowest second | fastest second | links created/s meanwhile | messages | delivered | duplicates | bad signatures | drain after the window |\n" +
		"|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sus {
		fmt.Fprintf(&sb, "| %d | %.0f | %d | %d | %.0f | %d | %d | %d | %d | %.1f s |\n", s.Endpoints, s.PerSecond,
			s.SlowestSecond, s.FastestSecond, s.LinksPerSecond, s.Messages, s.DeliveredInAll, s.Duplicates, s.BadSignatures, s.DrainSeconds)
	}
	if len(floors) > 0 {
		sb.WriteString("\nThe floor: this process's HTTP client posting signed bodies of the same size to the same receiver, " +
			"one request in flight a connection, no store between.\n\n| connections | body | requests/s |\n|---|---|---|\n")
		for _, f := range floors {
			fmt.Fprintf(&sb, "| %d | %d B | %.0f |\n", f.Connections, f.BodyBytes, f.PerSecond)
		}
	}
	fmt.Fprintf(&sb, "\n## Delay from the create's answer to the delivery (1 endpoint, %d links/s for %.0f s)\n\n"+
		"| created | failed | delivered | min | p50 | p90 | p99 | max | create p50 | create p99 |\n|---|---|---|---|---|---|---|---|---|---|\n"+
		"| %d | %d | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.1f ms | %.1f ms |\n",
		d.Rate, d.Seconds, d.Created, d.Failed, d.Delivered, d.MinMs, d.P50Ms, d.P90Ms, d.P99Ms, d.MaxMs, d.CreateP50Ms, d.CreateP99Ms)
	sb.WriteString(notes)
	fmt.Fprintf(&sb, "\nMeasured %s on a %d-CPU machine, h0p, creates and receiver on the same machine.\n", at, runtime.NumCPU())
	return sb.String()
}

// notes says what bounds the figures.
const notes = `
What bounds the figures. Sustained: h0p's CPU, shared here with the
bench's creates and receiver on 2 CPUs; its profile over the window
(make bench-webhooks writes it to /tmp/h0p-webhooks.prof) is mostly
SQLite (about half: recording each attempt, reading due messages, fanning
out) and system calls. One endpoint is one request at a time, so its rate
is one round trip plus one store write a message; ten endpoints overlap
their round trips. The floor shows the receiver and the loopback take
ten times more. Delay: the create's commit wakes the dispatcher, so a
delivery follows within a fan-out and one request; it can even arrive
before the create's answer has reached its client (a negative minimum).
`
