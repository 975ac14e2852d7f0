// Command dashboard measures the server time of the web dashboard's pages
// (control/dashboard) in an org of 100,000 links with clicks: control
// in-process on 127.0.0.1 (SQLite store, Pebble click store, a single-voter
// raft node, a temp dir), its bootstrap org (enterprise plan) whose Owner
// gets a password, the links through POST /v1/links/bulk and the clicks
// through control.Server.IngestClicks, as an edge ships them. A client
// signs in through the dashboard's own form (cookie and CSRF token) and
// times each page over loopback with keep-alive; beside each page, in the
// same run and interleaved with it, the API calls the page makes, made
// alone over loopback with the same session, so what the dashboard adds
// (templates, charts) shows. It writes bench/results/dashboard.json and
// .md.
//
//	go run ./bench/dashboard
//	go run ./bench/dashboard -profile '/links?q=zanzibar' # a CPU profile of one page
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clicks"
)

const (
	owner    = "owner@localhost" // the bootstrap Owner
	password = "a bench password"
	rare     = "zanzibar" // in the title of 1 link in 10,000
	tags     = 20         // tagged links carry one of these
	budget   = 200 * time.Millisecond
)

func main() {
	var (
		nLinks   = flag.Int("links", 100_000, "links in the org")
		nClicks  = flag.Int("clicks", 1_000_000, "clicks ingested, over the last -days")
		days     = flag.Int("days", 30, "days the clicks are spread over")
		n        = flag.Int("n", 100, "timed requests of each page (and of its baseline)")
		maxTime  = flag.Duration("max", 90*time.Second, "a page's timed requests stop after this, even short of -n (at least 10)")
		warm     = flag.Int("warmup", 10, "untimed requests of each page first")
		out      = flag.String("out", "bench/results", "directory for dashboard.json and .md")
		profPage = flag.String("profile", "", "a page's path: write a CPU profile of the process over its timed requests (and their baselines') to -profile-out")
		profOut  = flag.String("profile-out", "/tmp/h0p-dashboard.prof", "where -profile writes")
	)
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "h0p-dashbench-")
	check(err)
	tmpDir = dir
	defer os.RemoveAll(dir)

	srv, key, stop := start(ctx, dir)
	defer stop()
	api, err := apiclient.New(srv.URL(), key)
	check(err)

	t0 := time.Now()
	ids := createLinks(ctx, api, *nLinks)
	linksTook := time.Since(t0)
	log.Printf("%d links in %s", len(ids), linksTook.Round(time.Millisecond))
	domains := addDomains(ctx, api)

	t0 = time.Now()
	top, clicked := ingestClicks(ctx, srv, ids, *nClicks, *days)
	clicksTook := time.Since(t0)
	log.Printf("%d clicks in %s", *nClicks, clicksTook.Round(time.Millisecond))

	// The Owner's password, as h0p admin set-password sets it: through
	// the accounts service on the same data dir.
	svc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(dir, "control")})
	check(err)
	check(svc.SetPassword(ctx, owner, password))
	check(st.Close())

	b := signIn(srv.URL())
	session, err := apiclient.NewSession(srv.URL(), b.cookie("h0p_session"), b.cookie("h0p_org"))
	check(err)
	// The baseline's client has its own keep-alive connections, as the
	// browser has.
	session.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, CheckRedirect: apiclient.RefuseRedirect}

	load0 := loadAvg()
	pages := pagesOf(top, "campaign-3")
	rows := make([]row, len(pages))
	for i, p := range pages {
		rows[i] = measure(ctx, b, session, p, *warm, *n, *maxTime, *profPage, *profOut)
		log.Printf("%-28s p50 %6.1f ms p99 %6.1f ms (API alone p50 %6.1f ms) %d bytes", p.name(),
			rows[i].Page.P50, rows[i].Page.P99, rows[i].API.P50, rows[i].Bytes)
	}
	// The org's analytics page's calls one at a time: which of them the
	// page waits for.
	queries := statsAlone(ctx, session, 3)
	data := dataSet{Links: len(ids), TaggedLinks: len(ids) / 5, Tags: tags, RareMatches: len(ids) / 10_000,
		Domains: domains, Clicks: *nClicks, ClickedLinks: clicked, Days: *days, LinksSeconds: linksTook.Seconds(),
		ClicksSeconds: clicksTook.Seconds(), LoadBefore: load0, LoadAfter: loadAvg()}
	write(*out, data, rows, queries, *n, *warm, *maxTime)
}

// start opens control as control/dashboard's tests do, on a single-voter
// raft node, and answers it with the bootstrap Owner's API key.
func start(ctx context.Context, dir string) (*control.Server, string, func()) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	es, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	check(err)
	node, err := replication.Open(replication.Config{NodeID: "c", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet}, es)
	check(err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	check(node.WaitLeader(wctx))
	// Rate limits raised far past the product's: the bench's own calls
	// (100 bulk creates, and a page a few ms apart for minutes) are not a
	// person's, and a 429 would measure the limiter. Domain checks ask a
	// resolver that does not answer, once a day: the domains stay pending.
	srv, err := control.Open(ctx, control.Config{APIAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "control"),
		DefaultDomain: "localhost", Logger: quiet, Dashboard: true, DNSResolver: "127.0.0.1:9",
		DomainCheckPeriod: 24 * time.Hour,
		RateLimits:        ratelimit.Limits{PerSecond: 10_000_000, PerMinute: 100_000_000}}, node)
	check(err)
	runCtx, cancelRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	var key string
	_, err = srv.Bootstrap(ctx, func(k string) error { key = k; return nil })
	check(err)
	return srv, key, func() {
		cancelRun()
		if err := <-done; err != nil {
			log.Print(err)
		}
		srv.Close()
		node.Close()
		es.Close()
	}
}

// createLinks creates n links through POST /v1/links/bulk, 1,000 a call,
// and answers their IDs in creation order. One link in 5 has a tag
// (campaign-0 … campaign-19); one in 10,000 has the rare word in its
// title.
func createLinks(ctx context.Context, api *apiclient.Client, n int) []string {
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 1000 {
		var ins []apiclient.LinkInput
		for i := start; i < min(start+1000, n); i++ {
			title := fmt.Sprintf("Product page %d", i)
			if i%10_000 == 7 {
				title = fmt.Sprintf("Spring trip to %s, day %d", rare, i)
			}
			in := apiclient.LinkInput{URL: apiclient.Ptr(fmt.Sprintf("https://shop.example.com/products/%d?ref=bench", i)),
				Title: &title}
			if i%5 == 0 {
				in.Tags = []string{fmt.Sprintf("campaign-%d", (i/5)%tags)}
			}
			ins = append(ins, in)
		}
		res, err := api.BulkCreateLinks(ctx, ins)
		check(err)
		for _, r := range res {
			if r.Err != nil {
				fatalf("bulk create: item %d: %v", r.Index, r.Err)
			}
			ids = append(ids, r.Link.ID)
		}
	}
	return ids
}

// addDomains adds a few custom domains, left pending (no DNS answers),
// so the domains page has rows.
func addDomains(ctx context.Context, api *apiclient.Client) int {
	names := []string{"go.example.com", "links.example.org", "s.example.net"}
	for _, name := range names {
		_, err := api.AddDomain(ctx, apiclient.DomainInput{Name: apiclient.Ptr(name)})
		check(err)
	}
	return len(names)
}

// ingestClicks ingests n clicks on ids, Zipf-distributed (the first link
// the most clicked), at random times over the last days, in batches of
// 10,000 from one edge, as an edge ships them. It answers the most
// clicked link and how many links have clicks.
func ingestClicks(ctx context.Context, srv *control.Server, ids []string, n, days int) (string, int) {
	clicked, nClicked := make([]bool, len(ids)), 0
	r := mrand.New(mrand.NewPCG(1, 2))
	zipf := mrand.NewZipf(mrand.New(mrand.NewPCG(3, 4)), 1.1, 1, uint64(len(ids)-1))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	var (
		countries = []string{"US", "US", "US", "FR", "DE", "GB", "JP", "BR", "IN", "CA", "ES", "IT", ""}
		devices   = []string{"desktop", "mobile", "mobile", "tablet"}
		browsers  = []string{"Chrome", "Chrome", "Safari", "Firefox", "Edge"}
		oses      = []string{"Windows", "macOS", "iOS", "Android", "Linux"}
		referers  = []string{"", "", "t.co", "www.google.com", "news.ycombinator.com", "www.facebook.com", "mail.example.com"}
	)
	now := time.Now()
	span := time.Duration(days) * 24 * time.Hour
	seq := uint64(0)
	for done := 0; done < n; {
		seq++
		b := clicks.Batch{Edge: "bench-edge", Seq: seq}
		for ; done < n && len(b.Clicks) < 10_000; done++ {
			l := zipf.Uint64()
			if !clicked[l] {
				clicked[l], nClicked = true, nClicked+1
			}
			c := clicks.Click{Time: now.Add(-time.Duration(r.Int64N(int64(span)))), LinkID: ids[l],
				Domain: "localhost", Country: pick(countries), Device: pick(devices), Browser: pick(browsers),
				OS: pick(oses), RefererHost: pick(referers), Bot: r.IntN(50) == 0, QR: r.IntN(10) == 0}
			rand.Read(c.ID[:])
			visitor := r.Uint64N(200_000)
			for i := range 8 {
				c.IPHash[i] = byte(visitor >> (8 * i))
			}
			b.Clicks = append(b.Clicks, c)
		}
		data, err := b.MarshalBinary()
		check(err)
		check(srv.IngestClicks(ctx, data))
	}
	return ids[0], nClicked
}

// browser is a person's HTTP client of the dashboard: it keeps cookies,
// keeps connections alive and follows no redirect.
type browser struct {
	base string
	hc   *http.Client
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs the Owner in on the dashboard's sign-in form, as a
// browser does: the form's CSRF token (of its h0p_csrf cookie), then
// POST /login, which sets the session cookie.
func signIn(base string) *browser {
	jar, err := cookiejar.New(nil)
	check(err)
	b := &browser{base: base, hc: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, body := b.get("/login")
	m := csrfRe.FindStringSubmatch(string(body))
	if status != http.StatusOK || m == nil {
		fatalf("GET /login: %d, no CSRF token", status)
	}
	form := url.Values{"email": {owner}, "password": {password}, "next": {"/links"}, "csrf": {m[1]}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	check(err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.hc.Do(req)
	check(err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || b.cookie("h0p_session") == "" {
		fatalf("POST /login: %d, session cookie %t", resp.StatusCode, b.cookie("h0p_session") != "")
	}
	return b
}

func (b *browser) get(path string) (int, []byte) {
	resp, err := b.hc.Get(b.base + path)
	check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	check(err)
	return resp.StatusCode, body
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// page is a dashboard page and the API calls it makes, in the same order
// and concurrency (every page first reads GET /v1/me).
type page struct {
	path string
	api  string // the calls, for the table
	call func(ctx context.Context, c *apiclient.Client) error
}

// breakdowns are the analytics page's top-10 charts (control/dashboard's
// breakdowns), each a GET /v1/stats beside the time series and, for the
// org's page, the top links.
var breakdowns = []string{"countries", "devices", "browsers", "os", "referers", "triggers", "utm_sources",
	"utm_mediums", "utm_campaigns"}

// name is the page's path with the link's ID as {id}.
func (p page) name() string { return linkIDRe.ReplaceAllString(p.path, "{id}") }

var linkIDRe = regexp.MustCompile(`link_[0-9A-Za-z]+`)

func pagesOf(linkID, tag string) []page {
	me := func(ctx context.Context, c *apiclient.Client) error { _, err := c.Me(ctx); return err }
	then := func(f func(ctx context.Context, c *apiclient.Client) error) func(ctx context.Context, c *apiclient.Client) error {
		return func(ctx context.Context, c *apiclient.Client) error {
			if err := me(ctx, c); err != nil {
				return err
			}
			return f(ctx, c)
		}
	}
	list := func(q apiclient.LinkQuery) func(ctx context.Context, c *apiclient.Client) error {
		q.Limit = 50
		return then(func(ctx context.Context, c *apiclient.Client) error { _, err := c.ListLinks(ctx, q); return err })
	}
	getLink := func(ctx context.Context, c *apiclient.Client) error { _, err := c.GetLink(ctx, linkID); return err }
	analytics := func(link string) func(ctx context.Context, c *apiclient.Client) error {
		return then(func(ctx context.Context, c *apiclient.Client) error {
			var f apiclient.Filters
			if link != "" {
				if err := getLink(ctx, c); err != nil {
					return err
				}
				f.LinkID = []string{link}
			}
			q := func(groupBy string, limit int) apiclient.StatsQuery {
				return apiclient.StatsQuery{GroupBy: groupBy, Interval: "30d", Limit: limit, Filters: f}
			}
			if _, err := c.GetStats(ctx, q("count", 0)); err != nil {
				return err
			}
			qs := []apiclient.StatsQuery{q("timeseries", 0)}
			for _, g := range breakdowns {
				qs = append(qs, q(g, 10))
			}
			if link == "" {
				qs = append(qs, q("top_links", 10))
			}
			errs := make([]error, len(qs))
			var wg sync.WaitGroup
			for i, q := range qs {
				wg.Go(func() { _, errs[i] = c.GetStats(ctx, q) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	return []page{
		{"/links", "me; GET /v1/links?limit=50", list(apiclient.LinkQuery{Sort: "createdAt"})},
		{"/links?q=" + rare, "me; GET /v1/links?search=" + rare + "&limit=50", list(apiclient.LinkQuery{Search: rare, Sort: "createdAt"})},
		{"/links?sort=clicks", "me; GET /v1/links?sort=clicks&limit=50", list(apiclient.LinkQuery{Sort: "clicks"})},
		{"/links?tag=" + tag, "me; GET /v1/links?tag=" + tag + "&limit=50", list(apiclient.LinkQuery{Tag: tag, Sort: "createdAt"})},
		{"/links/" + linkID, "me; GET /v1/links/{id}", then(getLink)},
		{"/links/" + linkID + "/edit", "me; GET /v1/links/{id}; GET /v1/domains?limit=100", then(func(ctx context.Context, c *apiclient.Client) error {
			if err := getLink(ctx, c); err != nil {
				return err
			}
			_, err := c.ListDomains(ctx, apiclient.ListQuery{Limit: 100})
			return err
		})},
		{"/analytics", "me; GET /v1/stats count; then 11 at once (timeseries, 9 top-10s, top_links)", analytics("")},
		{"/links/" + linkID + "/analytics", "me; GET /v1/links/{id}; GET /v1/stats count; then 10 at once", analytics(linkID)},
		{"/analytics/events", "me; GET /v1/events?interval=30d&limit=50", then(func(ctx context.Context, c *apiclient.Client) error {
			_, err := c.ListEvents(ctx, apiclient.EventQuery{Interval: "30d", Limit: 50})
			return err
		})},
		{"/domains", "me; GET /v1/domains?limit=50", then(func(ctx context.Context, c *apiclient.Client) error {
			_, err := c.ListDomains(ctx, apiclient.ListQuery{Limit: 50})
			return err
		})},
		{"/keys", "me; GET /v1/keys", then(func(ctx context.Context, c *apiclient.Client) error {
			_, err := c.ListAPIKeys(ctx)
			return err
		})},
		{"/org", "me; GET /v1/org", then(func(ctx context.Context, c *apiclient.Client) error {
			_, err := c.GetOrg(ctx)
			return err
		})},
	}
}

// dist is a latency distribution, in milliseconds.
type dist struct {
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func distOf(d []time.Duration) dist {
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	return dist{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(d[len(d)-1].Microseconds()) / 1000}
}

type row struct {
	Name     string `json:"name"` // the path, a link's ID as {id}
	Path     string `json:"path"`
	APICalls string `json:"apiCalls"`
	Page     dist   `json:"page"`
	API      dist   `json:"apiAlone"`
	Bytes    int    `json:"bytes"`
	Requests int    `json:"requests"`
}

// measure times n requests of p's page and n of its API calls alone,
// alternating, after warm untimed ones of each: the machine is shared,
// and a burst of another process should fall on both.
func measure(ctx context.Context, b *browser, c *apiclient.Client, p page, warm, n int, maxTime time.Duration, profPage, profOut string) row {
	var bytes int
	get := func() {
		status, body := b.get(p.path)
		if status != http.StatusOK {
			fatalf("GET %s: %d\n%s", p.path, status, body)
		}
		bytes = len(body)
	}
	for range warm {
		get()
		check(p.call(ctx, c))
	}
	if p.path == profPage {
		f, err := os.Create(profOut)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close(); log.Printf("CPU profile of %s in %s", p.path, profOut) }()
	}
	pageT, apiT := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for start := time.Now(); len(pageT) < n && (len(pageT) < 10 || time.Since(start) < maxTime); {
		t := time.Now()
		get()
		pageT = append(pageT, time.Since(t))
		t = time.Now()
		check(p.call(ctx, c))
		apiT = append(apiT, time.Since(t))
	}
	return row{Name: p.name(), Path: p.path, APICalls: p.api, Page: distOf(pageT), API: distOf(apiT), Bytes: bytes, Requests: len(pageT)}
}

// query is one GET /v1/stats of the org's analytics page, timed alone.
type query struct {
	GroupBy string  `json:"groupBy"`
	Min     float64 `json:"minMs"`
	Median  float64 `json:"medianMs"`
	Rows    int     `json:"rows"`
}

// statsAlone times each GET /v1/stats of the org's analytics page (30
// days, UTC) runs times, one call at a time.
func statsAlone(ctx context.Context, c *apiclient.Client, runs int) []query {
	var out []query
	for _, g := range append(append([]string{"count", "timeseries"}, breakdowns...), "top_links") {
		q := apiclient.StatsQuery{GroupBy: g, Interval: "30d"}
		if g != "count" && g != "timeseries" {
			q.Limit = 10
		}
		var took []time.Duration
		var st apiclient.Stats
		for range runs {
			t := time.Now()
			var err error
			st, err = c.GetStats(ctx, q)
			check(err)
			took = append(took, time.Since(t))
		}
		slices.Sort(took)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		out = append(out, query{GroupBy: g, Min: ms(took[0]), Median: ms(took[len(took)/2]), Rows: len(st.Rows) + len(st.Series)})
	}
	return out
}

type dataSet struct {
	Links         int     `json:"links"`
	TaggedLinks   int     `json:"taggedLinks"`
	Tags          int     `json:"tags"`
	RareMatches   int     `json:"rareTermMatches"`
	Domains       int     `json:"customDomains"`
	Clicks        int     `json:"clicks"`
	ClickedLinks  int     `json:"clickedLinks"`
	Days          int     `json:"days"`
	LinksSeconds  float64 `json:"linksCreateSeconds"`
	ClicksSeconds float64 `json:"clicksIngestSeconds"`
	// LoadBefore and LoadAfter are the machine's 1-minute load average
	// as the pages' runs start and end: how shared the CPUs were.
	LoadBefore string `json:"loadAverageBefore"`
	LoadAfter  string `json:"loadAverageAfter"`
}

func write(out string, data dataSet, rows []row, queries []query, n, warm int, maxTime time.Duration) {
	worst := rows[0]
	for _, r := range rows {
		if r.Page.P99 > worst.Page.P99 {
			worst = r
		}
	}
	under := worst.Page.P99 < float64(budget.Milliseconds())
	host, _ := os.Hostname()
	var md strings.Builder
	fmt.Fprintf(&md, "# Dashboard pages' server time (control/dashboard)\n\n"+
		"Control in-process on 127.0.0.1 (SQLite control store, Pebble click store, one raft voter), the dashboard signed in\n"+
		"through its form (session cookie, CSRF token), an HTTP client with keep-alive over loopback: %d requests a page\n"+
		"after %d untimed, each followed by its baseline, the page's API calls (same order and concurrency) made alone by\n"+
		"the client with the same session over loopback. Rate limits raised past the product's for the bench's own calls.\n\n",
		n, warm)
	fmt.Fprintf(&md, "Data: one org (enterprise plan), %d links created through POST /v1/links/bulk, 1,000 a call (%.1f s);\n"+
		"1 in 5 tagged (%d tags, about %d links each), the rare term %q in %d titles; %d custom domains (pending);\n"+
		"%d clicks over %d days on %d of the links, Zipf (the link measured is the most clicked), ingested through\n"+
		"control.Server.IngestClicks in batches of 10,000 (%.1f s).\n\n",
		data.Links, data.LinksSeconds, data.Tags, data.TaggedLinks/data.Tags, rare, data.RareMatches, data.Domains,
		data.Clicks, data.Days, data.ClickedLinks, data.ClicksSeconds)
	fmt.Fprintf(&md, "%s, %d CPUs (%s), measured %s. The machine's 1-minute load average was %s as the pages'\n"+
		"runs started and %s as they ended: above the CPUs' number, other work shared them and the figures\n"+
		"are pessimistic, the tails most.\n\n", runtime.Version(), runtime.NumCPU(), host, time.Now().UTC().Format(time.RFC3339),
		data.LoadBefore, data.LoadAfter)
	md.WriteString("| page | requests | p50 | p90 | p99 | max | bytes | API calls alone: p50 | p99 | the calls |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&md, "| `%s` | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d | %.1f ms | %.1f ms | %s |\n", r.Name,
			r.Requests, r.Page.P50, r.Page.P90, r.Page.P99, r.Page.Max, r.Bytes, r.API.P50, r.API.P99, r.APICalls)
	}
	if slices.ContainsFunc(rows, func(r row) bool { return r.Requests < n }) {
		fmt.Fprintf(&md, "\nA page stops after %s of timed requests (at least 10), short of %d: its p99 is then its max.\n", maxTime, n)
	}
	if under {
		fmt.Fprintf(&md, "\nEvery page's p99 is under %s (the slowest: `%s`, %.1f ms).\n", budget, worst.Name, worst.Page.P99)
	} else {
		fmt.Fprintf(&md, "\nNot every page's p99 is under %s: ", budget)
		var slow []string
		for _, r := range rows {
			if r.Page.P99 >= float64(budget.Milliseconds()) {
				slow = append(slow, fmt.Sprintf("`%s` %.1f ms (p50 %.1f ms, its API calls alone %.1f ms)", r.Name,
					r.Page.P99, r.Page.P50, r.API.P50))
			}
		}
		md.WriteString(strings.Join(slow, ", ") + ".\n")
	}
	fmt.Fprintf(&md, "\n## The org's analytics page's API calls, one at a time\n\n"+
		"Each GET /v1/stats of `/analytics` (30 days, UTC, top 10s) alone, 3 runs: the page makes the count, then the\n"+
		"others at once, so it waits for the count and then the slowest of the others (their sum on 2 busy CPUs).\n\n"+
		"| groupBy | min | median | rows |\n|---|---|---|---|\n")
	for _, q := range queries {
		fmt.Fprintf(&md, "| %s | %.1f ms | %.1f ms | %d |\n", q.GroupBy, q.Min, q.Median, q.Rows)
	}
	if r := rows[slices.IndexFunc(rows, func(r row) bool { return r.Name == "/analytics" })]; r.Page.P99 >= float64(budget.Milliseconds()) {
		md.WriteString("\nWhere `/analytics`'s time goes: top_links reads the day profiles of every clicked link of the range\n" +
			"(pebblestore); the UTM groupings read only the links that set UTM parameters (control/stats). `go run\n" +
			"./bench/dashboard -profile /analytics` writes a CPU profile of the page's requests to /tmp/h0p-dashboard.prof.\n")
	}
	check(results.Write(out, "dashboard", map[string]any{
		"go": runtime.Version(), "cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
		"requestsEachPage": n, "maxSecondsEachPage": maxTime.Seconds(), "warmup": warm, "data": data, "pages": rows,
		"budgetMs": budget.Milliseconds(), "everyP99UnderBudget": under, "analyticsQueries": queries,
	}, md.String()))
	fmt.Print(md.String())
}

// loadAvg is the 1-minute load average ("?" when unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// tmpDir is the run's data dir, removed however the run ends.
var tmpDir string

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	log.Fatalf(format, args...)
}
