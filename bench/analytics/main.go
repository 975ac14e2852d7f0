// Command analytics measures the embedded click store
// (control/analytics/pebblestore) on this machine (make bench-analytics).
//
// It generates -clicks clicks of one org over -days days (links, countries,
// referers… drawn from Zipf laws, 5% bots, 10% QR, visitors from a pool),
// cut into batches of -batch clicks that -edges edges ship concurrently, each
// batch's clicks within a minute as an edge's would be. The batches are
// encoded beforehand; what is timed is what control does with one: decode
// it and Ingest it (one synced write each). Then it times the stats queries
// (each -rounds times: min, median, max) and an events page and an export.
// The same batches, the first -sqlite clicks of them, go into SQLite
// (modernc, a row per click, two indexes, one transaction a batch) as the
// baseline the engine was chosen against. Results: bench/results/
// analytics.json and .md. The store lives under -tmp and is deleted after.
//
//	go run ./bench/analytics -clicks 10000000
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/pebblestore"
	"github.com/h0p/h0p/shared/clicks"
)

const org = "org_01jbench0000000000000000"

var (
	nClicks = flag.Int("clicks", 10_000_000, "clicks stored")
	days    = flag.Int("days", 90, "days the clicks span (ending now)")
	nLinks  = flag.Int("links", 10_000, "links of the org")
	batch   = flag.Int("batch", 10_000, "clicks a batch")
	edges   = flag.Int("edges", 2, "edges shipping at once")
	smallN  = flag.Int("small-clicks", 300_000, "clicks of the small-batch run (0: none)")
	smallB  = flag.Int("small-batch", 100, "clicks a batch in the small-batch run")
	smallE  = flag.Int("small-edges", 16, "edges shipping at once in the small-batch run")
	rounds  = flag.Int("rounds", 7, "runs of each query")
	sqliteN = flag.Int("sqlite", 500_000, "clicks ingested into SQLite for the baseline (0: none)")
	tmp     = flag.String("tmp", os.TempDir(), "where the stores are made (deleted after)")
	compact = flag.Bool("compact", false, "compact the store before the queries")
	profile = flag.String("cpuprofile", "", "write a CPU profile of the queries to this file")
	out     = flag.String("out", "bench/results", "directory for analytics.json and .md")
)

func main() {
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp(*tmp, "h0p-analytics-bench")
	must(err)
	defer os.RemoveAll(dir)

	end := time.Now().UTC().Truncate(time.Hour)
	start := end.AddDate(0, 0, -*days)
	log.Printf("generating %d clicks", *nClicks)
	g := newGenerator(*nLinks)
	batches := g.batches(*nClicks, *batch, *edges, start, end)

	st, err := pebblestore.Open(filepath.Join(dir, "pebble"), pebblestore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(err)
	log.Printf("ingesting %d batches", len(batches))
	ing := ingest(len(batches), *edges, *nClicks, func(i int) error {
		var b clicks.Batch
		if err := b.UnmarshalBinary(batches[i]); err != nil {
			return err
		}
		res, err := st.Ingest(ctx, &b, g.orgsOf)
		if err == nil && (res.Duplicate || res.Stored != len(b.Clicks)) {
			err = fmt.Errorf("batch %s/%d: %+v", b.Edge, b.Seq, res)
		}
		return err
	})
	log.Printf("pebble: %.0f clicks/s", ing.ClicksPerSecond)
	pebbleBytes := dirSize(filepath.Join(dir, "pebble"))
	if *compact {
		t0 := time.Now()
		must(st.Compact(ctx))
		log.Printf("compacted in %v", time.Since(t0))
	}

	top := g.links[0]
	nyc, _ := time.LoadLocation("America/New_York")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	last30 := end.AddDate(0, 0, -30)
	last7 := end.AddDate(0, 0, -7)
	ts := func(loc *time.Location) analytics.Query {
		return analytics.Query{Org: org, GroupBy: analytics.GroupTimeseries, Start: last30, End: end, Interval: analytics.Day,
			Location: loc, Filter: analytics.Filter{Link: analytics.Match{In: []string{top}}}}
	}
	org90 := func(g analytics.GroupBy) analytics.Query {
		return analytics.Query{Org: org, GroupBy: g, Start: start, End: end}
	}
	uniq := func(q analytics.Query) analytics.Query { q.Unique = true; return q }
	from := func(q analytics.Query, s time.Time) analytics.Query { q.Start = s; return q }
	twoDims := org90(analytics.GroupDevices)
	twoDims.Filter = analytics.Filter{Country: analytics.Match{In: []string{"US"}}, Referer: analytics.Match{Not: []string{analytics.Direct}}}
	queries := []struct {
		name, path string
		q          analytics.Query
	}{
		{"one link, 30 days by day (UTC)", "rollups", ts(time.UTC)},
		{"one link, 30 days by day (America/New_York)", "hour rollups", ts(nyc)},
		{"one link, 30 days by day (Asia/Kolkata, +05:30)", "rollups + an hour of chunks a day", ts(kolkata)},
		{"org, top countries, 90 days", "day rollups", org90(analytics.GroupCountries)},
		{"org, count, 90 days", "day rollups", org90(analytics.GroupCount)},
		{"org, 90 days by day", "day rollups", from(org90(analytics.GroupTimeseries), start)},
		{"org, top links, 90 days", "links' day rollups", org90(analytics.GroupTopLinks)},
		{"one link, 30 days by day, unique", "chunks of the link", uniq(ts(time.UTC))},
		{"org, count, unique, 7 days", "chunks", uniq(from(org90(analytics.GroupCount), last7))},
		{"org, devices where country=US and referer≠direct, 7 days", "chunks", from(twoDims, last7)},
		{"org, devices where country=US and referer≠direct, 90 days", "chunks", twoDims},
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		must(err)
		must(pprof.StartCPUProfile(f))
	}
	var qres []queryResult
	for _, q := range queries {
		r := timeQuery(ctx, st, q.q, *rounds)
		r.Name, r.Path = q.name, q.path
		log.Printf("%s: %.1f ms (median)", r.Name, r.MedianMS)
		qres = append(qres, r)
	}
	pprof.StopCPUProfile()
	evq := analytics.EventQuery{Org: org, Start: start, End: end, Limit: 100}
	evPage := timeOp(*rounds, func() error { _, err := st.Events(ctx, evq); return err })
	evq.Filter.Link.In = []string{g.links[500]}
	evLink := timeOp(*rounds, func() error { _, err := st.Events(ctx, evq); return err })
	var exported int
	t0 := time.Now()
	must(st.Export(ctx, analytics.EventQuery{Org: org, Start: last7, End: end}, func(*clicks.Click) error { exported++; return nil }))
	exportRate := float64(exported) / time.Since(t0).Seconds()
	must(st.Close())
	must(os.RemoveAll(filepath.Join(dir, "pebble")))

	// Small batches from many edges, into a fresh store: what control sees
	// from edges with little traffic each, where a batch is its fsync.
	var small *ingestResult
	if *smallN > 0 {
		log.Printf("small batches: %d clicks in batches of %d from %d edges", *smallN, *smallB, *smallE)
		sb := g.batches(*smallN, *smallB, *smallE, start, end)
		ss, err := pebblestore.Open(filepath.Join(dir, "small"), pebblestore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		must(err)
		small = ingest(len(sb), *smallE, *smallN, func(i int) error {
			var b clicks.Batch
			if err := b.UnmarshalBinary(sb[i]); err != nil {
				return err
			}
			_, err := ss.Ingest(ctx, &b, g.orgsOf)
			return err
		})
		must(ss.Close())
		must(os.RemoveAll(filepath.Join(dir, "small")))
		log.Printf("small batches: %.0f clicks/s", small.ClicksPerSecond)
	}

	var (
		lite      *ingestResult
		liteQuery queryResult
	)
	if *sqliteN > 0 {
		n := min(*sqliteN / *batch, len(batches))
		log.Printf("sqlite baseline: %d batches", n)
		lite, liteQuery = sqliteBaseline(ctx, filepath.Join(dir, "sqlite.db"), batches[:n], n**batch)
		log.Printf("sqlite: %.0f clicks/s", lite.ClicksPerSecond)
	}

	res := map[string]any{
		"clicks": *nClicks, "days": *days, "links": *nLinks, "batch": *batch, "edges": *edges,
		"ingest": ing, "storeBytes": pebbleBytes, "queries": qres,
		"eventsPageMS": evPage, "eventsPageOneLinkMS": evLink, "exportClicksPerSecond": exportRate,
		"smallBatchIngest": small, "smallBatch": *smallB, "smallEdges": *smallE,
		"sqliteIngest": lite, "sqliteTopCountries": liteQuery, "cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := markdown(ing, small, lite, liteQuery, pebbleBytes, qres, evPage, evLink, exportRate, exported, res["measuredAt"].(string))
	must(results.Write(*out, "analytics", res, md))
	fmt.Print(md)
}

// generator draws the bench's clicks: the org's links, and per click its
// link, country, device, browser, OS and referer from Zipf laws.
type generator struct {
	links   []string
	domains map[string]string
	orgs    map[string]string
}

var (
	countries = strings.Fields("US IN BR GB DE FR CA JP ID MX ES IT NG PH TR VN KR PL AR NL AU EG PK TH CO BD RU UA SE ZA CL PE MY RO BE CH AT IL PT GR CZ HU DK FI NO IE NZ SG HK TW AE SA KE MA DZ GH")
	devices   = []string{"Mobile", "Desktop", "Tablet"}
	browsers  = []string{"Chrome", "Safari", "Edge", "Firefox", "Samsung Browser", "Opera", "Yandex Browser", ""}
	oses      = []string{"Android", "iOS", "Windows", "MacOS", "Linux", ""}
	referers  = []string{"", "t.co", "www.google.com", "www.linkedin.com", "l.facebook.com", "news.ycombinator.com",
		"www.reddit.com", "mail.google.com", "out.reddit.com", "duckduckgo.com", "bing.com", "lm.facebook.com"}
	domains = []string{"h0p.link", "go.example.com", "links.example.org"}
)

func newGenerator(n int) *generator {
	g := &generator{domains: map[string]string{}, orgs: map[string]string{}}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range n {
		id := fmt.Sprintf("link_01jbench%016d", i)
		g.links = append(g.links, id)
		g.domains[id] = domains[rng.IntN(len(domains))]
		g.orgs[id] = org
	}
	return g
}

func (g *generator) orgsOf(_ context.Context, ids []string) (map[string]string, error) {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		if o, ok := g.orgs[id]; ok {
			m[id] = o
		}
	}
	return m, nil
}

// batches makes n clicks in batches of size, encoded, numbered for edges
// round-robin, spread over [start, end) in time order.
func (g *generator) batches(n, size, edges int, start, end time.Time) [][]byte {
	rng := rand.New(rand.NewPCG(2, 2))
	zipf := func(s float64, n int) func() int {
		z := rand.NewZipf(rng, s, 1, uint64(n-1))
		return func() int { return int(z.Uint64()) }
	}
	link, country, referer := zipf(1.07, len(g.links)), zipf(1.2, len(countries)), zipf(1.3, len(referers))
	browser, os := zipf(1.5, len(browsers)), zipf(1.4, len(oses))
	nb := (n + size - 1) / size
	step := end.Sub(start) / time.Duration(nb)
	out := make([][]byte, 0, nb)
	cs := make([]clicks.Click, 0, size)
	for k := range nb {
		base := start.Add(time.Duration(k) * step)
		cs = cs[:0]
		for range min(size, n-k*size) {
			id := g.links[link()]
			c := clicks.Click{Time: base.Add(time.Duration(rng.Int64N(int64(time.Minute)))), LinkID: id, Domain: g.domains[id],
				Country: countries[country()], Device: devices[[]int{0, 0, 0, 0, 0, 1, 1, 1, 1, 2}[rng.IntN(10)]], Browser: browsers[browser()],
				OS: oses[os()], RefererHost: referers[referer()], Bot: rng.IntN(20) == 0, QR: rng.IntN(10) == 0}
			for i := range c.ID {
				c.ID[i] = byte(rng.Uint32())
			}
			// A pool of 2,000,000 visitors, hashed with the day as the edge's daily salt would.
			v := rng.Uint64N(2_000_000) ^ uint64(base.Unix()/86400)<<32
			for i := range 8 {
				c.IPHash[i] = byte(v >> (8 * i))
			}
			cs = append(cs, c)
		}
		b := clicks.Batch{Edge: fmt.Sprintf("edge-%d", k%edges), Seq: uint64(k/edges + 1), Clicks: cs}
		data, err := b.MarshalBinary()
		must(err)
		out = append(out, data)
	}
	return out
}

type ingestResult struct {
	Clicks          int     `json:"clicks"`
	Seconds         float64 `json:"seconds"`
	ClicksPerSecond float64 `json:"clicksPerSecond"`
	BatchP50MS      float64 `json:"batchP50MS"`
	BatchP99MS      float64 `json:"batchP99MS"`
	CPUMicrosClick  float64 `json:"cpuMicrosPerClick"` // the process's CPU time (Pebble's background work included)
}

// ingest runs fn(i) for every batch, edges at once: edge e takes the
// batches i with i%edges == e, in order, as an edge ships its own.
func ingest(n, edges, clicks int, fn func(i int) error) *ingestResult {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		lat []time.Duration
	)
	t0, cpu0 := time.Now(), cpuTime()
	for e := range edges {
		wg.Go(func() {
			var mine []time.Duration
			for i := e; i < n; i += edges {
				s := time.Now()
				must(fn(i))
				mine = append(mine, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	el, cpu := time.Since(t0), cpuTime()-cpu0
	slices.Sort(lat)
	return &ingestResult{Clicks: clicks, Seconds: el.Seconds(), ClicksPerSecond: float64(clicks) / el.Seconds(),
		BatchP50MS: ms(lat[len(lat)/2]), BatchP99MS: ms(lat[len(lat)*99/100]), CPUMicrosClick: float64(cpu.Microseconds()) / float64(clicks)}
}

type queryResult struct {
	Name     string  `json:"name"`
	Path     string  `json:"path"`
	MinMS    float64 `json:"minMS"`
	MedianMS float64 `json:"medianMS"`
	MaxMS    float64 `json:"maxMS"`
	Result   string  `json:"result"`
}

func timeQuery(ctx context.Context, st analytics.Store, q analytics.Query, rounds int) queryResult {
	var r analytics.Result
	t := timeOp(rounds, func() (err error) { r, err = st.Query(ctx, q); return err })
	t.Result = summary(r)
	return t
}

func timeOp(rounds int, fn func() error) queryResult {
	var d []time.Duration
	for range rounds {
		s := time.Now()
		must(fn())
		d = append(d, time.Since(s))
	}
	slices.Sort(d)
	return queryResult{MinMS: ms(d[0]), MedianMS: ms(d[len(d)/2]), MaxMS: ms(d[len(d)-1])}
}

func summary(r analytics.Result) string {
	switch {
	case r.Series != nil:
		var n int64
		for _, p := range r.Series {
			n += p.Clicks
		}
		return fmt.Sprintf("%d buckets, %d clicks", len(r.Series), n)
	case r.Rows != nil:
		return fmt.Sprintf("%d rows, first %s %d", len(r.Rows), r.Rows[0].Value, r.Rows[0].Clicks)
	case r.Visitors > 0:
		return fmt.Sprintf("%d clicks, %d visitors", r.Clicks, r.Visitors)
	}
	return fmt.Sprintf("%d clicks", r.Clicks)
}

// sqliteBaseline stores the batches a row per click, as a plain SQL
// design would: WAL, synchronous=FULL like the control store, indexes for
// the org's and a link's time ranges, one transaction a batch. Then it
// times the org's top countries over every row it holds.
func sqliteBaseline(ctx context.Context, path string, batches [][]byte, n int) (*ingestResult, queryResult) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(-65536)")
	must(err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, `CREATE TABLE clicks (id BLOB PRIMARY KEY, org TEXT NOT NULL, link TEXT NOT NULL, at INTEGER NOT NULL,
		domain TEXT, country TEXT, device TEXT, browser TEXT, os TEXT, referer TEXT, bot INTEGER, qr INTEGER, iphash BLOB) WITHOUT ROWID;
		CREATE INDEX clicks_org_at ON clicks (org, at); CREATE INDEX clicks_link_at ON clicks (link, at);
		CREATE TABLE checkpoints (edge TEXT PRIMARY KEY, seq INTEGER NOT NULL)`)
	must(err)
	res := ingest(len(batches), 1, n, func(i int) error {
		var b clicks.Batch
		if err := b.UnmarshalBinary(batches[i]); err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO clicks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		for _, c := range b.Clicks {
			if _, err := ins.ExecContext(ctx, c.ID[:], org, c.LinkID, c.Time.UnixNano(), c.Domain, c.Country, c.Device,
				c.Browser, c.OS, c.RefererHost, c.Bot, c.QR, c.IPHash[:]); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints VALUES (?, ?) ON CONFLICT (edge) DO UPDATE SET seq = excluded.seq`,
			b.Edge, b.Seq); err != nil {
			return err
		}
		return tx.Commit()
	})
	q := timeOp(*rounds, func() error {
		rows, err := db.QueryContext(ctx, `SELECT country, count(*) AS n FROM clicks WHERE org = ? AND at >= 0 AND NOT bot
			GROUP BY country ORDER BY n DESC`, org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	})
	q.Name, q.Path, q.Result = "org, top countries, all its clicks", "rows, index (org, at)", fmt.Sprintf("%d rows scanned", n)
	return res, q
}

func markdown(ing, small, lite *ingestResult, liteQuery queryResult, bytes int64, qs []queryResult, evPage, evLink queryResult, exportRate float64,
	exported int, at string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Analytics store (pebblestore)\n\n")
	fmt.Fprintf(&b, "%d clicks of one org over %d days, %d links (Zipf), batches of %d clicks from %d edges at once; "+
		"%.1f MiB on disk (%.0f bytes a click).\n\n", ing.Clicks, *days, *nLinks, *batch, *edges, float64(bytes)/(1<<20),
		float64(bytes)/float64(ing.Clicks))
	fmt.Fprintf(&b, "## Ingest (decode + Ingest, one synced write a batch)\n\n| engine | clicks | clicks/s | CPU a click | batch p50 | batch p99 |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| pebblestore (%d edges) | %d | %.0f | %.1f µs | %.1f ms | %.1f ms |\n", *edges, ing.Clicks, ing.ClicksPerSecond,
		ing.CPUMicrosClick, ing.BatchP50MS, ing.BatchP99MS)
	if small != nil {
		fmt.Fprintf(&b, "| pebblestore, batches of %d (%d edges) | %d | %.0f | %.1f µs | %.1f ms | %.1f ms |\n", *smallB, *smallE,
			small.Clicks, small.ClicksPerSecond, small.CPUMicrosClick, small.BatchP50MS, small.BatchP99MS)
	}
	if lite != nil {
		fmt.Fprintf(&b, "| SQLite, a row per click, 2 indexes (1 writer) | %d | %.0f | %.1f µs | %.1f ms | %.1f ms |\n", lite.Clicks,
			lite.ClicksPerSecond, lite.CPUMicrosClick, lite.BatchP50MS, lite.BatchP99MS)
	}
	fmt.Fprintf(&b, "\n## Queries (%d runs: min / median / max)\n\n| query | read from | min | median | max | answer |\n|---|---|---|---|---|---|\n", *rounds)
	for _, q := range qs {
		fmt.Fprintf(&b, "| %s | %s | %.1f ms | %.1f ms | %.1f ms | %s |\n", q.Name, q.Path, q.MinMS, q.MedianMS, q.MaxMS, q.Result)
	}
	fmt.Fprintf(&b, "| events, first page of 100 | chunks of the last hour | %.1f ms | %.1f ms | %.1f ms | |\n", evPage.MinMS, evPage.MedianMS, evPage.MaxMS)
	fmt.Fprintf(&b, "| events of one link, first page of 100 | its chunks | %.1f ms | %.1f ms | %.1f ms | |\n", evLink.MinMS, evLink.MedianMS, evLink.MaxMS)
	if lite != nil {
		fmt.Fprintf(&b, "| SQLite baseline: %s | %s | %.1f ms | %.1f ms | %.1f ms | %s |\n", liteQuery.Name, liteQuery.Path,
			liteQuery.MinMS, liteQuery.MedianMS, liteQuery.MaxMS, liteQuery.Result)
	}
	fmt.Fprintf(&b, "\nExport: %d clicks (7 days) at %.0f clicks/s.\n\n", exported, exportRate)
	fmt.Fprintf(&b, "Measured %s on a %d-CPU machine shared with other work, right after the load "+
		"(compactions may still run); compare within a run.\n", at, runtime.NumCPU())
	return b.String()
}

// cpuTime is the process's user and system CPU time: steadier than
// wall-clock rates on a machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
