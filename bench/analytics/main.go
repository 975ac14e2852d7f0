// Command analytics measures the click stores on this machine (make
// bench-analytics): the embedded engine (control/analytics/pebblestore)
// and, given -postgres, the shared one (control/analytics/pgstore).
//
// It generates -clicks clicks of one org over -days days (links, countries,
// referers… drawn from Zipf laws, 5% bots, 10% QR, visitors from a pool),
// cut into batches of -batch clicks that -edges edges ship concurrently, each
// batch's clicks within a minute as an edge's would be. The batches are
// encoded beforehand; what is timed is what control does with one: decode
// it and Ingest it (one durable write each). Then it times the stats
// queries (each -rounds times: min, median, max) and an events page and an
// export. ClickHouse (-clickhouse) gets the same batches, in a database of
// its own (dropped after). PostgreSQL gets the same load with -pg-clicks clicks over the
// same days, in a schema of its own (dropped after), vacuumed and analysed
// after the load as autovacuum would. The same batches, the first -sqlite
// clicks of them, go into SQLite (modernc, a row per click, two indexes,
// one transaction a batch) as the baseline the embedded engine was chosen
// against. Results: bench/results/analytics.json and .md. The Pebble store
// lives under -tmp and is deleted after.
//
//	go run ./bench/analytics -clicks 10000000 -postgres postgres://…
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

	"github.com/h0p/h0p/bench/internal/disk"
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
	pgURL   = flag.String("postgres", "", "a postgres:// URL: measure pgstore too, in a schema of its own")
	chURL   = flag.String("clickhouse", "", "a ClickHouse http:// URL: measure chstore too, in a database of its own")
	pgN     = flag.Int("pg-clicks", 0, "clicks stored in PostgreSQL, over the same days (0: as -clicks)")
	pgKeep  = flag.Bool("pg-keep", false, "keep the PostgreSQL schema of the load (to study its plans), and skip the small batches")
	tmp     = flag.String("tmp", os.TempDir(), "where the Pebble and SQLite stores are made (deleted after)")
	compact = flag.Bool("compact", false, "compact the Pebble store before the queries")
	profile = flag.String("cpuprofile", "", "write a CPU profile of the Pebble queries to this file")
	out     = flag.String("out", "bench/results", "directory for analytics.json and .md")
)

// engineRun is what the bench measured of one engine.
type engineRun struct {
	Engine     string        `json:"engine"`
	Ingest     *ingestResult `json:"ingest"`
	Small      *ingestResult `json:"smallBatchIngest,omitempty"`
	StoreBytes int64         `json:"storeBytes"`
	// SettleSeconds: PostgreSQL's VACUUM (ANALYZE) after the load.
	SettleSeconds float64       `json:"settleSeconds,omitempty"`
	Queries       []queryResult `json:"queries"`
	EventsPage    queryResult   `json:"eventsPageMS"`
	EventsLink    queryResult   `json:"eventsPageOneLinkMS"`
	ExportRate    float64       `json:"exportClicksPerSecond"`
	Exported      int           `json:"exported"`
}

// benchQuery is a query timed on every engine; path says what answers it.
type benchQuery struct {
	name, path string
	q          analytics.Query
}

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
	queries := benchQueries(g, start, end)

	peb := runPebble(ctx, dir, g, batches, queries, start, end)

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

	var ch *engineRun
	if *chURL != "" {
		ch = runClickHouse(ctx, *chURL, g, batches, *nClicks, queries, start, end)
	}

	var pg *engineRun
	if *pgURL != "" {
		n := *pgN
		if n <= 0 || n == *nClicks {
			n = *nClicks
		} else {
			batches = g.batches(n, *batch, *edges, start, end)
		}
		pg = runPostgres(ctx, *pgURL, g, batches, n, queries, start, end)
	}

	res := map[string]any{
		"clicks": *nClicks, "days": *days, "links": *nLinks, "batch": *batch, "edges": *edges,
		"smallBatch": *smallB, "smallEdges": *smallE, "pebble": peb, "postgres": pg, "clickhouse": ch,
		"sqliteIngest": lite, "sqliteTopCountries": liteQuery, "cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := markdown(peb, pg, ch, lite, liteQuery, res["measuredAt"].(string))
	must(results.Write(*out, "analytics", res, md))
	fmt.Print(md)
}

// benchQueries are the stats queries timed: one link's month, the org's
// quarter, by rollups and by clicks.
func benchQueries(g *generator, start, end time.Time) []benchQuery {
	top := g.links[0]
	nyc, _ := time.LoadLocation("America/New_York")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	last30 := end.AddDate(0, 0, -30)
	last7 := end.AddDate(0, 0, -7)
	ts := func(loc *time.Location) analytics.Query {
		return analytics.Query{Org: org, GroupBy: analytics.GroupTimeseries, Start: last30, End: end, Interval: analytics.Day,
			Location: loc, Filter: analytics.Filter{Link: analytics.Match{In: []string{top}}}}
	}
	org90 := func(by analytics.GroupBy) analytics.Query {
		return analytics.Query{Org: org, GroupBy: by, Start: start, End: end}
	}
	uniq := func(q analytics.Query) analytics.Query { q.Unique = true; return q }
	from := func(q analytics.Query, s time.Time) analytics.Query { q.Start = s; return q }
	twoDims := org90(analytics.GroupDevices)
	twoDims.Filter = analytics.Filter{Country: analytics.Match{In: []string{"US"}}, Referer: analytics.Match{Not: []string{analytics.Direct}}}
	return []benchQuery{
		{"one link, 30 days by day (UTC)", "rollups", ts(time.UTC)},
		{"one link, 30 days by day (America/New_York)", "hour rollups", ts(nyc)},
		{"one link, 30 days by day (Asia/Kolkata, +05:30)", "rollups + an hour of clicks a day", ts(kolkata)},
		{"org, top countries, 90 days", "day rollups", org90(analytics.GroupCountries)},
		{"org, count, 90 days", "day rollups", org90(analytics.GroupCount)},
		{"org, 90 days by day", "day rollups", from(org90(analytics.GroupTimeseries), start)},
		{"org, top links, 90 days", "links' day rollups", org90(analytics.GroupTopLinks)},
		{"one link, 30 days by day, unique", "clicks of the link", uniq(ts(time.UTC))},
		{"org, count, unique, 7 days", "clicks", uniq(from(org90(analytics.GroupCount), last7))},
		{"org, devices where country=US and referer≠direct, 7 days", "clicks", from(twoDims, last7)},
		{"org, devices where country=US and referer≠direct, 90 days", "clicks", twoDims},
	}
}

// runPebble loads the batches into a Pebble store, times the queries on
// it, then measures small batches into a fresh one.
func runPebble(ctx context.Context, dir string, g *generator, batches [][]byte, queries []benchQuery, start, end time.Time) *engineRun {
	quiet := pebblestore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st, err := pebblestore.Open(filepath.Join(dir, "pebble"), quiet)
	must(err)
	log.Printf("pebble: ingesting %d batches", len(batches))
	run := &engineRun{Engine: "pebblestore", Ingest: ingestAll(ctx, st, g, batches, *edges, *nClicks)}
	log.Printf("pebble: %.0f clicks/s", run.Ingest.ClicksPerSecond)
	run.StoreBytes = disk.Size(filepath.Join(dir, "pebble"))
	if *compact {
		t0 := time.Now()
		must(st.Compact(ctx))
		log.Printf("compacted in %v", time.Since(t0))
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		must(err)
		must(pprof.StartCPUProfile(f))
	}
	timeQueries(ctx, st, g, queries, start, end, run)
	pprof.StopCPUProfile()
	must(st.Close())
	must(os.RemoveAll(filepath.Join(dir, "pebble")))

	// Small batches from many edges, into a fresh store: what control sees
	// from edges with little traffic each, where a batch is its fsync.
	if *smallN > 0 {
		log.Printf("pebble: small batches: %d clicks in batches of %d from %d edges", *smallN, *smallB, *smallE)
		ss, err := pebblestore.Open(filepath.Join(dir, "small"), quiet)
		must(err)
		run.Small = ingestAll(ctx, ss, g, g.batches(*smallN, *smallB, *smallE, start, end), *smallE, *smallN)
		must(ss.Close())
		must(os.RemoveAll(filepath.Join(dir, "small")))
		log.Printf("pebble: small batches: %.0f clicks/s", run.Small.ClicksPerSecond)
	}
	return run
}

// ingestAll decodes and ingests every batch, edges at once.
func ingestAll(ctx context.Context, st analytics.Store, g *generator, batches [][]byte, edges, n int) *ingestResult {
	return ingest(len(batches), edges, n, func(i int) error {
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
}

// timeQueries times the queries, an events page (the org's, one link's)
// and an export of 7 days on st.
func timeQueries(ctx context.Context, st analytics.Store, g *generator, queries []benchQuery, start, end time.Time, run *engineRun) {
	for _, q := range queries {
		r := timeQuery(ctx, st, q.q, *rounds)
		r.Name, r.Path = q.name, q.path
		log.Printf("%s: %s: %.1f ms (median)", run.Engine, r.Name, r.MedianMS)
		run.Queries = append(run.Queries, r)
	}
	evq := analytics.EventQuery{Org: org, Start: start, End: end, Limit: 100}
	run.EventsPage = timeOp(*rounds, func() error { _, err := st.Events(ctx, evq); return err })
	evq.Filter.Link.In = []string{g.links[500]}
	run.EventsLink = timeOp(*rounds, func() error { _, err := st.Events(ctx, evq); return err })
	t0 := time.Now()
	must(st.Export(ctx, analytics.EventQuery{Org: org, Start: end.AddDate(0, 0, -7), End: end},
		func(*clicks.Click) error { run.Exported++; return nil }))
	run.ExportRate = float64(run.Exported) / time.Since(t0).Seconds()
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
	// ServerCPUMicrosClick: PostgreSQL's processes' CPU time (all of
	// them, its background writers included).
	ServerCPUMicrosClick float64 `json:"serverCPUMicrosPerClick,omitempty"`
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

func markdown(peb, pg, ch *engineRun, lite *ingestResult, liteQuery queryResult, at string) string {
	var others []*engineRun // the engines beside Pebble that ran
	for _, r := range []*engineRun{pg, ch} {
		if r != nil {
			others = append(others, r)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Click stores (pebblestore, pgstore, chstore)\n\n")
	fmt.Fprintf(&b, "%d clicks of one org over %d days, %d links (Zipf), batches of %d clicks from %d edges at once; "+
		"Pebble: %.1f MiB on disk (%.0f bytes a click).", peb.Ingest.Clicks, *days, *nLinks, *batch, *edges,
		float64(peb.StoreBytes)/(1<<20), float64(peb.StoreBytes)/float64(peb.Ingest.Clicks))
	if pg != nil {
		fmt.Fprintf(&b, " PostgreSQL: %d clicks over the same days, %.1f MiB of tables and indexes (%.0f bytes a click); "+
			"VACUUM (ANALYZE) after the load took %.0f s.", pg.Ingest.Clicks, float64(pg.StoreBytes)/(1<<20),
			float64(pg.StoreBytes)/float64(pg.Ingest.Clicks), pg.SettleSeconds)
	}
	if ch != nil {
		fmt.Fprintf(&b, " ClickHouse: %.1f MiB of active parts (%.0f bytes a click).",
			float64(ch.StoreBytes)/(1<<20), float64(ch.StoreBytes)/float64(ch.Ingest.Clicks))
	}
	fmt.Fprintf(&b, "\n\n## Ingest (decode + Ingest, one durable write a batch)\n\n"+
		"| engine | clicks | clicks/s | CPU a click (bench process + the server's) | batch p50 | batch p99 |\n|---|---|---|---|---|---|\n")
	row := func(name string, r *ingestResult) {
		if r == nil {
			return
		}
		cpu := fmt.Sprintf("%.1f µs", r.CPUMicrosClick)
		if r.ServerCPUMicrosClick > 0 {
			cpu = fmt.Sprintf("%.1f + %.1f µs", r.CPUMicrosClick, r.ServerCPUMicrosClick)
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %.1f ms | %.1f ms |\n", name, r.Clicks, r.ClicksPerSecond, cpu, r.BatchP50MS, r.BatchP99MS)
	}
	for _, r := range append([]*engineRun{peb}, others...) {
		row(fmt.Sprintf("%s (%d edges)", r.Engine, *edges), r.Ingest)
		row(fmt.Sprintf("%s, batches of %d (%d edges)", r.Engine, *smallB, *smallE), r.Small)
	}
	row("SQLite, a row per click, 2 indexes (1 writer)", lite)

	fmt.Fprintf(&b, "\n## Queries (%d runs: min / median / max)\n\n| query | read from (pebblestore) | pebblestore | answer |", *rounds)
	for _, r := range others {
		fmt.Fprintf(&b, " %s | answer |", r.Engine)
	}
	fmt.Fprintf(&b, "\n|---|---|---|---|%s\n", strings.Repeat("---|---|", len(others)))
	cell := func(q queryResult) string { return fmt.Sprintf("%.1f / %.1f / %.1f ms", q.MinMS, q.MedianMS, q.MaxMS) }
	for i, q := range peb.Queries {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |", q.Name, q.Path, cell(q), q.Result)
		for _, r := range others {
			fmt.Fprintf(&b, " %s | %s |", cell(r.Queries[i]), r.Queries[i].Result)
		}
		fmt.Fprintln(&b)
	}
	events := func(name, path string, get func(*engineRun) queryResult) {
		fmt.Fprintf(&b, "| %s | %s | %s | |", name, path, cell(get(peb)))
		for _, r := range others {
			fmt.Fprintf(&b, " %s | |", cell(get(r)))
		}
		fmt.Fprintln(&b)
	}
	events("events, first page of 100", "clicks of the last hour", func(r *engineRun) queryResult { return r.EventsPage })
	events("events of one link, first page of 100", "its clicks", func(r *engineRun) queryResult { return r.EventsLink })
	if lite != nil {
		fmt.Fprintf(&b, "| SQLite baseline: %s | %s | %s | %s |\n", liteQuery.Name, liteQuery.Path, cell(liteQuery), liteQuery.Result)
	}
	fmt.Fprintf(&b, "\nExport of 7 days: pebblestore %d clicks at %.0f clicks/s", peb.Exported, peb.ExportRate)
	for _, r := range others {
		fmt.Fprintf(&b, "; %s %d clicks at %.0f clicks/s", r.Engine, r.Exported, r.ExportRate)
	}
	fmt.Fprintf(&b, ".\n\nMeasured %s on a %d-CPU machine shared with other work (PostgreSQL and ClickHouse on the same machine, "+
		"their default settings), right after each load (Pebble's compactions and ClickHouse's merges may still run); compare within a run.\n", at, runtime.NumCPU())
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

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
