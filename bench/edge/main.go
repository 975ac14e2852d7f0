// Command edge measures the edge against nginx on the same links, in the
// same run, on this machine (make bench-edge).
//
// For each size in -links it writes N random links into a real edge store
// (Pebble, through the real FSM) and the same slug → URL pairs into an nginx
// `map` (one worker per core, access log off, `return 302`). It then drives
// both with wrk — the same Lua script choosing uniformly random slugs from
// the whole set, a browser User-Agent, -connections connections, -duration
// per run — alternating edge and nginx for -rounds rounds after a warm-up of
// each, and reports requests/s, p50/p99 latency, errors and memory (RSS and
// PSS summed over the server's processes) with edge/nginx ratios in
// bench/results/edge.json and edge.md. It does so in each of -layouts:
// shared (servers and wrk on every CPU) and pinned (the server alone on the
// first half of the CPUs, wrk on the rest: see layout).
//
// The edge runs as a child process (this binary re-executed with -serve) with
// click capture on: every redirect's click event goes to the queue and a
// consumer counts them, as the analytics shipper would drain them.
//
//	go run ./bench/edge -links 100000,1000000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/kv"
)

const domain = "bench.h0p"

func main() {
	var (
		sizes    = flag.String("links", "100000,1000000", "comma-separated link counts")
		rounds   = flag.Int("rounds", 2, "measured runs per server and size, alternating")
		duration = flag.Duration("duration", 20*time.Second, "length of one measured run")
		warmup   = flag.Duration("warmup", 5*time.Second, "unmeasured run before each server's first")
		conns    = flag.Int("connections", 64, "wrk connections")
		threads  = flag.Int("threads", runtime.NumCPU(), "wrk threads in the shared layout")
		layoutsF = flag.String("layouts", "shared,pinned", "comma-separated: shared (server and wrk on every CPU), pinned (server on the first half of the CPUs, wrk on the rest)")
		think    = flag.Duration("think", time.Millisecond, "each connection's wait between requests in the equal-load runs, whole milliseconds (0: no such runs)")
		out      = flag.String("out", "bench/results", "directory for edge.json and edge.md")
		serve    = flag.String("serve", "", "internal: serve the edge store in this directory")
		serveMap = flag.String("serve-map", "", "internal: serve this links.map with bare fasthttp")
		addr     = flag.String("addr", "", "internal: edge listen address")
		profile  = flag.String("cpuprofile", "", "write the edge's CPU profile here (of the last size and layout)")
		loaded   = flag.String("loaded", "", "internal: file the edge creates once every link's answer is in memory")
	)
	flag.Parse()
	if *serveMap != "" {
		must(serveFasthttpMap(*serveMap, *addr))
		return
	}
	if *serve != "" {
		must(serveEdge(*serve, *addr, *profile, *loaded))
		return
	}
	for _, tool := range []string{"nginx", "wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			log.Fatalf("%s not found: apt-get install -y nginx-light wrk util-linux (bench/edge/run.sh does)", tool)
		}
	}
	layouts, err := parseLayouts(*layoutsF, runtime.NumCPU(), *threads)
	must(err)
	rep := report{
		Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), Connections: *conns,
		Duration: duration.String(), Rounds: *rounds, NginxVersion: nginxVersion(),
		Think: think.String(), Layouts: layouts,
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		must(err)
		r, err := benchSize(n, layouts, *rounds, *duration, *warmup, *think, *conns, *profile)
		must(err)
		rep.Sizes = append(rep.Sizes, r...)
	}
	md := rep.markdown()
	must(results.Write(*out, "edge", rep, md))
	fmt.Print(md)
}

type report struct {
	Date         string       `json:"date"`
	CPUs         int          `json:"cpus"`
	Connections  int          `json:"connections"`
	Duration     string       `json:"duration"`
	Rounds       int          `json:"rounds"`
	NginxVersion string       `json:"nginx_version"`
	Think        string       `json:"think"` // of the equal-load runs
	Layouts      []layout     `json:"layouts"`
	Sizes        []sizeResult `json:"sizes"` // each size in each layout
}

// layout is where the servers and wrk run. In the shared layout all of them
// use every CPU: wrk takes CPU from the server and waits behind it, so the
// latency percentiles are those of the whole machine's scheduling. In the
// pinned layout the server has the first half of the CPUs to itself and wrk
// the rest (taskset), as on an edge host whose clients are elsewhere.
type layout struct {
	Name       string `json:"name"`
	ServerCPUs string `json:"server_cpus,omitempty"` // taskset's list; "": every CPU
	LoadCPUs   string `json:"load_cpus,omitempty"`
	Workers    int    `json:"workers"` // nginx workers, and edge loops (one per CPU it may use)
	Threads    int    `json:"threads"` // wrk's
}

// parseLayouts reads -layouts for a machine of cpus CPUs; threads is wrk's
// in the shared layout.
func parseLayouts(names string, cpus, threads int) ([]layout, error) {
	var ls []layout
	for _, name := range strings.Split(names, ",") {
		switch name = strings.TrimSpace(name); name {
		case "shared":
			ls = append(ls, layout{Name: name, Workers: cpus, Threads: threads})
		case "pinned":
			if cpus < 2 {
				return nil, fmt.Errorf("layout pinned needs 2 CPUs or more, this machine has %d", cpus)
			}
			half := cpus / 2
			ls = append(ls, layout{Name: name, ServerCPUs: cpuList(0, half), LoadCPUs: cpuList(half, cpus),
				Workers: half, Threads: cpus - half})
		default:
			return nil, fmt.Errorf("unknown layout %q (shared, pinned)", name)
		}
	}
	return ls, nil
}

// cpuList is taskset's list for CPUs from to to-1.
func cpuList(from, to int) string {
	if to-from == 1 {
		return strconv.Itoa(from)
	}
	return fmt.Sprintf("%d-%d", from, to-1)
}

// command is name with args, on cpus when set (taskset execs name in its
// own process, so the pid is the program's).
func command(cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, name}, args...)...)
}

type sizeResult struct {
	Layout      string   `json:"layout"`
	Links       int      `json:"links"`
	LoadSeconds float64  `json:"edge_load_seconds"`
	NginxStartS float64  `json:"nginx_start_seconds"`
	EdgeStartS  float64  `json:"edge_start_seconds"` // until every link's answer is in memory
	Edge        []wrkRun `json:"edge_runs"`
	Nginx       []wrkRun `json:"nginx_runs"`
	Bare        []wrkRun `json:"fasthttp_map_runs"` // the floor of Go + fasthttp: see serveFasthttpMap
	// At equal load: each connection waits think between requests, which
	// offers both servers about the same rate, below what either answers.
	EdgePaced     []wrkRun `json:"edge_equal_load_runs"`
	NginxPaced    []wrkRun `json:"nginx_equal_load_runs"`
	EdgeMem       memory   `json:"edge_memory"`
	NginxMem      memory   `json:"nginx_memory"`
	BareMem       memory   `json:"fasthttp_map_memory"`
	EdgeClicks    int64    `json:"edge_clicks_captured"`
	EdgeDrops     int64    `json:"edge_clicks_dropped"`
	RatioRPS      float64  `json:"ratio_rps"`              // edge / nginx, mean of rounds
	RatioP99      float64  `json:"ratio_p99"`              // edge / nginx, mean of rounds
	RatioCPU      float64  `json:"ratio_cpu_per_request"`  // edge / nginx, mean of rounds
	RatioBareRPS  float64  `json:"ratio_fasthttp_map_rps"` // fasthttp+map / nginx, mean of rounds
	RatioPacedP99 float64  `json:"ratio_equal_load_p99"`   // edge / nginx, mean of rounds
	EdgeStoreMiB  float64  `json:"edge_store_mib"`         // Pebble directory on disk
}

// wrkRun is what the Lua script's done() prints.
type wrkRun struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	RPS        float64 `json:"rps"`
	Errors     int64   `json:"errors"` // connect+read+write+timeout+non-2xx/3xx
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	P999US     float64 `json:"p999_us"`
	MaxUS      float64 `json:"max_us"`
	// CPUUS is the server's CPU time (user + system, all its processes) per
	// request answered: steadier than requests/s on a shared machine.
	CPUUS float64 `json:"cpu_us_per_request"`
}

type memory struct {
	RSSMiB float64 `json:"rss_mib"`
	PSSMiB float64 `json:"pss_mib"`
}

// benchSize writes n links once and measures them in each layout.
func benchSize(n int, layouts []layout, rounds int, duration, warmup, think time.Duration, conns int, profile string) ([]sizeResult, error) {
	dir, err := os.MkdirTemp("", "h0p-bench-edge")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	must(os.Chmod(dir, 0o755)) // nginx workers run as nobody

	log.Printf("%d links: writing the edge store, the nginx map and the key list", n)
	start := time.Now()
	if err := writeData(dir, n); err != nil {
		return nil, err
	}
	written := time.Since(start).Seconds()
	storeMiB := float64(dirSize(filepath.Join(dir, "store"))) / (1 << 20)
	var rs []sizeResult
	for _, l := range layouts {
		r, err := benchLayout(dir, n, l, rounds, duration, warmup, think, conns, profile)
		if err != nil {
			return nil, fmt.Errorf("%d links, layout %s: %w", n, l.Name, err)
		}
		r.LoadSeconds, r.EdgeStoreMiB = written, storeMiB
		rs = append(rs, r)
	}
	return rs, nil
}

// benchLayout starts the three servers over dir's data in layout l and
// runs wrk against them: saturated runs, then (shared layout only) the
// equal-load runs.
func benchLayout(dir string, n int, l layout, rounds int, duration, warmup, think time.Duration, conns int, profile string) (sizeResult, error) {
	res := sizeResult{Layout: l.Name, Links: n}
	edgeAddr, nginxAddr := freeAddr(), freeAddr()
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	start := time.Now()
	loaded := filepath.Join(dir, "edge.loaded")
	os.Remove(loaded) // left by the layout before
	edgeCmd := command(l.ServerCPUs, self, "-serve", filepath.Join(dir, "store"), "-addr", edgeAddr, "-cpuprofile", profile, "-loaded", loaded)
	edgeOut := &strings.Builder{}
	edgeCmd.Stdout, edgeCmd.Stderr = edgeOut, os.Stderr
	if err := edgeCmd.Start(); err != nil {
		return res, err
	}
	defer edgeCmd.Process.Kill()
	if err := waitHTTP(edgeAddr, 60*time.Second); err != nil {
		return res, fmt.Errorf("edge: %w", err)
	}
	if err := waitFile(loaded, 120*time.Second); err != nil {
		return res, fmt.Errorf("edge: answer table: %w", err)
	}
	res.EdgeStartS = time.Since(start).Seconds()

	start = time.Now()
	nginxCmd, err := startNginx(dir, nginxAddr, l)
	if err != nil {
		return res, err
	}
	defer nginxCmd.Process.Kill()
	if err := waitHTTP(nginxAddr, 120*time.Second); err != nil {
		return res, fmt.Errorf("nginx: %w", err)
	}
	res.NginxStartS = time.Since(start).Seconds()

	bareAddr := freeAddr()
	bareCmd := command(l.ServerCPUs, self, "-serve-map", filepath.Join(dir, "links.map"), "-addr", bareAddr)
	bareCmd.Stdout, bareCmd.Stderr = os.Stderr, os.Stderr
	if err := bareCmd.Start(); err != nil {
		return res, err
	}
	defer bareCmd.Process.Kill()
	if err := waitHTTP(bareAddr, 120*time.Second); err != nil {
		return res, fmt.Errorf("fasthttp map: %w", err)
	}
	addrs := map[string]string{"edge": edgeAddr, "nginx": nginxAddr, "fasthttp-map": bareAddr}
	runs := map[string]*[]wrkRun{"edge": &res.Edge, "nginx": &res.Nginx, "fasthttp-map": &res.Bare}

	script, paced := filepath.Join(dir, "random.lua"), filepath.Join(dir, "paced.lua")
	must(os.WriteFile(script, []byte(luaScript), 0o644))
	must(os.WriteFile(paced, []byte(luaScript+pacedLua), 0o644))
	keys := filepath.Join(dir, "keys")
	pids := map[string]int{"edge": edgeCmd.Process.Pid, "nginx": nginxCmd.Process.Pid, "fasthttp-map": bareCmd.Process.Pid}
	runScript := func(script, who string, d time.Duration, args ...string) (wrkRun, error) {
		cpu0 := cpuTicks(pids[who])
		r, err := runWrk(script, keys, addrs[who], d, conns, l, args...)
		if r.Requests > 0 {
			r.CPUUS = float64(cpuTicks(pids[who])-cpu0) * 1e6 / clockTicks / float64(r.Requests)
		}
		return r, err
	}
	run := func(who string, d time.Duration) (wrkRun, error) { return runScript(script, who, d) }
	for _, who := range []string{"edge", "nginx", "fasthttp-map"} {
		if _, err := run(who, warmup); err != nil {
			return res, err
		}
	}
	orders := [][]string{{"edge", "nginx", "fasthttp-map"}, {"nginx", "fasthttp-map", "edge"}, {"fasthttp-map", "edge", "nginx"}}
	for i := range rounds {
		for _, who := range orders[i%len(orders)] {
			log.Printf("%d links, %s: round %d, %s", n, l.Name, i+1, who)
			r, err := run(who, duration)
			if err != nil {
				return res, err
			}
			*runs[who] = append(*runs[who], r)
		}
	}
	pacedRuns := map[string]*[]wrkRun{"edge": &res.EdgePaced, "nginx": &res.NginxPaced}
	pacedRounds := rounds
	if think.Milliseconds() < 1 || l.Name != "shared" { // wrk waits whole milliseconds
		pacedRounds = 0
	}
	for i := range pacedRounds {
		for _, who := range [][]string{{"edge", "nginx"}, {"nginx", "edge"}}[i%2] {
			log.Printf("%d links, %s: equal load, round %d, %s", n, l.Name, i+1, who)
			r, err := runScript(paced, who, duration, strconv.FormatInt(think.Milliseconds(), 10))
			if err != nil {
				return res, err
			}
			*pacedRuns[who] = append(*pacedRuns[who], r)
		}
	}
	res.EdgeMem = memoryOf(edgeCmd.Process.Pid)
	res.NginxMem = memoryOf(nginxCmd.Process.Pid)
	res.BareMem = memoryOf(bareCmd.Process.Pid)
	bareCmd.Process.Kill()
	bareCmd.Wait()

	edgeCmd.Process.Signal(syscall.SIGTERM)
	edgeCmd.Wait()
	var counts struct{ Clicks, Dropped int64 }
	if err := json.Unmarshal([]byte(lastLine(edgeOut.String())), &counts); err != nil {
		return res, fmt.Errorf("edge click counts %q: %w", edgeOut.String(), err)
	}
	res.EdgeClicks, res.EdgeDrops = counts.Clicks, counts.Dropped
	nginxCmd.Process.Signal(syscall.SIGQUIT)
	nginxCmd.Wait()

	for i := range res.Edge {
		res.RatioCPU += res.Edge[i].CPUUS / res.Nginx[i].CPUUS / float64(len(res.Edge))
		res.RatioRPS += res.Edge[i].RPS / res.Nginx[i].RPS / float64(len(res.Edge))
		res.RatioP99 += res.Edge[i].P99US / res.Nginx[i].P99US / float64(len(res.Edge))
		res.RatioBareRPS += res.Bare[i].RPS / res.Nginx[i].RPS / float64(len(res.Edge))
	}
	for i := range res.EdgePaced {
		res.RatioPacedP99 += res.EdgePaced[i].P99US / res.NginxPaced[i].P99US / float64(len(res.EdgePaced))
	}
	return res, nil
}

// writeData writes n random links into dir/store (through the FSM, in
// commands of 1000 as raft would deliver them), dir/links.map for nginx and
// dir/keys (one path per line) for wrk.
func writeData(dir string, n int) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := replication.OpenStore(filepath.Join(dir, "store"), quiet)
	if err != nil {
		return err
	}
	defer store.Close()
	fsm := replication.NewFSM(store, quiet)
	mapFile, err := os.Create(filepath.Join(dir, "links.map"))
	if err != nil {
		return err
	}
	defer mapFile.Close()
	keyFile, err := os.Create(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	defer keyFile.Close()
	mw, kw := bufio.NewWriter(mapFile), bufio.NewWriter(keyFile)
	rng := rand.New(rand.NewPCG(1, 2))
	const batch = 1000
	var index uint64
	for i := 0; i < n; i += batch {
		var cmd kv.Command
		for j := i; j < min(i+batch, n); j++ {
			slug := randomSlug(rng, j)
			url := fmt.Sprintf("https://example.com/landing/%s?utm_source=bench&item=%d", slug, j)
			cmd.Ops = append(cmd.Ops, kv.Op{Type: kv.OpPutLink, Link: &kv.Link{
				ID: fmt.Sprintf("link_%026d", j), OrgID: "org_bench", Domain: domain, Slug: slug, URL: url, Version: 1,
			}})
			fmt.Fprintf(mw, "/%s %s;\n", slug, url)
			fmt.Fprintf(kw, "/%s\n", slug)
		}
		index++
		if res := fsm.Apply(&raft.Log{Index: index, Data: cmd.Encode()}); res != nil {
			return fmt.Errorf("apply: %v", res)
		}
	}
	if err := store.Compact(context.Background()); err != nil {
		return err
	}
	if err := mw.Flush(); err != nil {
		return err
	}
	return kw.Flush()
}

// randomSlug is 7 random alphanumerics, made unique by the index.
func randomSlug(rng *rand.Rand, i int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 7, 14)
	for k := range b {
		b[k] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b) + strconv.FormatInt(int64(i), 36)
}

// serveEdge is the child: the real edge server over the store, with a
// Prometheus registry and a click consumer, until SIGTERM; then it prints
// the click counts as JSON.
func serveEdge(dir, addr, profile, loaded string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := replication.OpenStore(dir, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	fasthttpServer, loops := os.Getenv("H0P_BENCH_FASTHTTP") != "", 0
	if !fasthttpServer && edge.EventLoopsSupported {
		// As h0p edge does (cmd/h0p/procs.go): a loop per P, and one P more
		// for the rest of the process, which a busy loop never gives up.
		loops = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(loops + 1)
	}
	srv, err := edge.New(edge.Config{Addr: addr, DefaultDomain: domain, Logger: logger, Registerer: reg,
		FasthttpServer: fasthttpServer, Loops: loops}, store)
	if err != nil {
		return err
	}
	defer srv.Close()
	go signalLoaded(store, reg, loaded)
	// The consumer drains in batches, as a shipper should: a receiver
	// parked on the channel would cost a goroutine wake-up per click.
	var clicks atomic.Int64
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			for n := len(srv.Clicks()); n > 0; n-- {
				<-srv.Clicks()
				clicks.Add(1)
			}
		}
	}()
	if err := srv.Run(ctx); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	log.Printf("edge Go memory: heap in use %d MiB, heap sys %d MiB, total sys %d MiB, GC cycles %d",
		ms.HeapInuse>>20, ms.HeapSys>>20, ms.Sys>>20, ms.NumGC)
	dropped := 0.0
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "h0p_edge_clicks_dropped_total" {
				dropped = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // let the consumer take what is queued
	b, _ := json.Marshal(struct{ Clicks, Dropped int64 }{clicks.Load(), int64(dropped)})
	fmt.Println(string(b))
	return nil
}

// signalLoaded creates the file loaded once the edge holds the answer of
// every link of store in memory.
func signalLoaded(store *replication.Store, reg *prometheus.Registry, loaded string) {
	want, err := store.LinkCount()
	if err != nil {
		log.Fatal(err)
	}
	for {
		mfs, err := reg.Gather()
		if err != nil {
			log.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "h0p_edge_answer_table_links" && uint64(mf.GetMetric()[0].GetGauge().GetValue()) >= want {
				must(os.WriteFile(loaded, nil, 0o644))
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveFasthttpMap is the stack's floor: the links of path in a Go map,
// answered by a fasthttp handler that does nothing else (no store, no
// cache, no click, no headers beyond Location), with the edge's server
// settings. The distance from it to nginx is Go's and fasthttp's; from the
// edge to it, the edge's own work.
func serveFasthttpMap(path, addr string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	links := map[string][]byte{}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(strings.TrimSpace(line), ";"), " ")
		if ok {
			links[k] = []byte(v)
		}
	}
	if os.Getenv("H0P_BENCH_EPOLL") != "" {
		return serveEpollMap(links, addr)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if to, ok := links[string(ctx.Path())]; ok {
				ctx.Response.Header.SetBytesV("Location", to)
				ctx.SetStatusCode(fasthttp.StatusFound)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		},
		Name: "bare", ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ReadBufferSize: 8 << 10, NoDefaultContentType: true,
	}
	return srv.ListenAndServe(addr)
}

const nginxConf = `worker_processes %d;
daemon off;
master_process on;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/tmp;
	proxy_temp_path %[2]s/tmp;
	fastcgi_temp_path %[2]s/tmp;
	uwsgi_temp_path %[2]s/tmp;
	scgi_temp_path %[2]s/tmp;
	map_hash_max_size %[3]d;
	map_hash_bucket_size 128;
	map $uri $target {
		default "";
		include %[2]s/links.map;
	}
	server {
		listen %[4]s;
		location / {
			if ($target = "") { return 404; }
			return 302 $target;
		}
	}
}
`

func startNginx(dir, addr string, l layout) (*exec.Cmd, error) {
	conf := filepath.Join(dir, "nginx.conf")
	// map_hash_max_size must exceed the entry count, or nginx refuses to start.
	body := fmt.Sprintf(nginxConf, l.Workers, dir, 4<<20, addr)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	cmd := command(l.ServerCPUs, "nginx", "-p", dir, "-c", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd, cmd.Start()
}

func nginxVersion() string {
	b, _ := exec.Command("nginx", "-v").CombinedOutput()
	return strings.TrimSpace(strings.TrimPrefix(string(b), "nginx version: "))
}

// luaScript makes every wrk thread read the key list and request uniformly
// random keys from it with a browser User-Agent; done() prints one JSON line.
// The requests are formatted once, in init, and Lua's collector is stopped:
// formatting each request made garbage, and every collection walked the
// whole key list, stalling the thread (p99.9 over 100 ms at 1,000,000 links,
// for nginx as much as for the edge).
const luaScript = `
local requests = {}
local counter = 1
function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
end
function init(args)
	wrk.headers["Host"] = "bench.h0p"
	wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	for line in io.lines(args[1]) do requests[#requests + 1] = wrk.format("GET", line) end
	math.randomseed(os.time() * 100 + id)
	collectgarbage()
	collectgarbage("stop")
end
function request()
	return requests[math.random(#requests)]
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
		summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// pacedLua makes each connection wait args[2] milliseconds between a
// response and its next request (wrk's delay; its latency starts when the
// request is sent). With 64 connections and 1 ms the offered rate is about
// 64 / (1 ms + latency): the same for both servers, and below what either
// answers here, so their latency compares at equal load instead of at
// saturation.
const pacedLua = `
local think = 0
local initPaced = init
function init(args)
	initPaced(args)
	think = tonumber(args[2])
end
function delay()
	return think
end
`

func runWrk(script, keys, addr string, d time.Duration, conns int, l layout, args ...string) (wrkRun, error) {
	cmd := command(l.LoadCPUs, "wrk", append([]string{"-t", strconv.Itoa(l.Threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s", "-s", script, "http://" + addr + "/", "--", keys}, args...)...)
	b, err := cmd.Output()
	if err != nil {
		return wrkRun{}, fmt.Errorf("wrk: %w\n%s", err, b)
	}
	var r wrkRun
	if err := json.Unmarshal([]byte(lastLine(string(b))), &r); err != nil {
		return r, fmt.Errorf("wrk output %q: %w", b, err)
	}
	r.RPS = float64(r.Requests) / (float64(r.DurationUS) / 1e6)
	return r, nil
}

// withChildren is pid and its children (nginx's workers).
func withChildren(pid int) []int {
	pids := []int{pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTicks = 100

// cpuTicks sums the user and system time of pid and its children.
func cpuTicks(pid int) int64 {
	var t int64
	for _, p := range withChildren(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces), from state on:
		// utime and stime are the 12th and 13th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			t += u + s
		}
	}
	return t
}

// memoryOf sums RSS and PSS over pid and its children (nginx workers).
func memoryOf(pid int) memory {
	var m memory
	for _, p := range withChildren(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Rss:":
				m.RSSMiB += kb / 1024
			case "Pss:":
				m.PSSMiB += kb / 1024
			}
		}
	}
	return m
}

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Edge vs nginx (make bench-edge)\n\n")
	fmt.Fprintf(&b, "%s · %d CPUs · wrk, %d connections, %s per run, %d rounds alternating · %s · uniformly random keys from the whole set, browser User-Agent, click capture on\n",
		r.Date, r.CPUs, r.Connections, r.Duration, r.Rounds, r.NginxVersion)
	for _, l := range r.Layouts {
		var sizes []sizeResult
		for _, s := range r.Sizes {
			if s.Layout == l.Name {
				sizes = append(sizes, s)
			}
		}
		fmt.Fprintf(&b, "\n## %s\n\n", l.describe())
		r.sizeTables(&b, sizes)
	}
	b.WriteString("\nIn the shared layout wrk takes CPU from the server and waits behind it: a faster server is offered more requests by wrk, whose threads then wait longer for a CPU, so the saturated runs' p99 follows the rate as much as the server (bench/README.md). The pinned layout gives the server half the CPUs to itself, as on an edge host whose clients are elsewhere.\n")
	b.WriteString("\n\"Edge start\" runs until every link's answer is in the edge's memory (its answer table), as nginx's start includes reading its map; the edge serves from the store meanwhile.\n")
	b.WriteString("\n\"fasthttp + Go map\" is the floor of the edge's stack: the same links in a Go map behind a bare fasthttp handler (no store, no click capture), in the same runs.\n")
	b.WriteString("\n\"CPU a request\" is the server's CPU time (user and system, all its processes, from /proc) over the requests it answered in the measured runs; on this shared machine it moves less than requests/s.\n")
	b.WriteString("\nPer-run figures are in edge.json.\n")
	return b.String()
}

// describe is l's heading in edge.md.
func (l layout) describe() string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	counts := fmt.Sprintf("nginx %s, edge %s, wrk %s", plural(l.Workers, "worker", "workers"),
		plural(l.Workers, "loop", "loops"), plural(l.Threads, "thread", "threads"))
	if l.ServerCPUs == "" {
		return fmt.Sprintf("Shared: server and wrk on every CPU (%s)", counts)
	}
	return fmt.Sprintf("Pinned: server on CPU %s, wrk on CPU %s (%s)", l.ServerCPUs, l.LoadCPUs, counts)
}

// sizeTables writes one layout's tables.
func (r report) sizeTables(b *strings.Builder, sizes []sizeResult) {
	b.WriteString("| links | server | requests/s | p50 | p99 | p99.9 | errors | CPU a request | RSS | PSS |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sizes {
		for _, side := range []struct {
			name string
			runs []wrkRun
			mem  memory
		}{{"edge", s.Edge, s.EdgeMem}, {"nginx", s.Nginx, s.NginxMem}, {"fasthttp + Go map", s.Bare, s.BareMem}} {
			m := meanRun(side.runs)
			fmt.Fprintf(b, "| %d | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %d | %.1f µs | %.0f MiB | %.0f MiB |\n",
				s.Links, side.name, m.RPS, m.P50US/1000, m.P99US/1000, m.P999US/1000, m.Errors, m.CPUUS, side.mem.RSSMiB, side.mem.PSSMiB)
		}
	}
	b.WriteString("\n| links | edge/nginx requests/s (per round) | edge/nginx p99 (per round) | edge/nginx CPU a request | fasthttp+map/nginx requests/s | clicks captured | clicks dropped | edge store on disk | store written | edge start | nginx start |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sizes {
		var rps, p99 []string
		for i := range s.Edge {
			rps = append(rps, fmt.Sprintf("%.2f", s.Edge[i].RPS/s.Nginx[i].RPS))
			p99 = append(p99, fmt.Sprintf("%.2f", s.Edge[i].P99US/s.Nginx[i].P99US))
		}
		fmt.Fprintf(b, "| %d | %.2f× (%s) | %.2f× (%s) | %.2f× | %.2f× | %d | %d | %.0f MiB | %.1f s | %.1f s | %.1f s |\n",
			s.Links, s.RatioRPS, strings.Join(rps, ", "), s.RatioP99, strings.Join(p99, ", "), s.RatioCPU, s.RatioBareRPS,
			s.EdgeClicks, s.EdgeDrops, s.EdgeStoreMiB, s.LoadSeconds, s.EdgeStartS, s.NginxStartS)
	}
	if len(sizes) == 0 || len(sizes[0].EdgePaced) == 0 {
		return
	}
	fmt.Fprintf(b, "\nAt equal load: each connection waits %s between a response and its next request (wrk's delay), which offers both servers about the same rate, below saturation; same rounds, alternating.\n\n", r.Think)
	b.WriteString("| links | server | requests/s | p50 | p99 | p99.9 | CPU a request | edge/nginx p99 |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range sizes {
		for _, side := range []struct {
			name string
			runs []wrkRun
		}{{"edge", s.EdgePaced}, {"nginx", s.NginxPaced}} {
			m := meanRun(side.runs)
			ratio := ""
			if side.name == "edge" {
				ratio = fmt.Sprintf("%.2f×", s.RatioPacedP99)
			}
			fmt.Fprintf(b, "| %d | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %.1f µs | %s |\n",
				s.Links, side.name, m.RPS, m.P50US/1000, m.P99US/1000, m.P999US/1000, m.CPUUS, ratio)
		}
	}
}

// meanRun is the mean of runs, errors summed.
func meanRun(runs []wrkRun) (m wrkRun) {
	n := float64(len(runs))
	for _, x := range runs {
		m.CPUUS += x.CPUUS / n
		m.RPS += x.RPS / n
		m.P50US += x.P50US / n
		m.P99US += x.P99US / n
		m.P999US += x.P999US / n
		m.Errors += x.Errors
	}
	return m
}

func waitFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not there after %v", path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitHTTP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + addr + "/robots.txt")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	return ln.Addr().String()
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
