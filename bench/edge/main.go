// Command edge measures the edge against nginx on the same links, in the
// same run, on this machine (make bench-edge).
//
// For each size in -links it writes N random links into a control store
// (one org, on the enterprise plan) and, through the control node's raft
// group (a single voter), into the edge store (Pebble, through the real
// FSM), and the same slug → URL pairs into an nginx `map` (one worker per
// core, access log off, `return 302`). It then drives the servers with
// wrk — the same Lua script choosing uniformly random slugs from the whole
// set, a browser User-Agent, -connections connections, -duration per run —
// alternating them for -rounds rounds after a warm-up of each, and reports
// requests/s, p50/p99 latency, errors and memory (RSS and PSS summed over
// the server's processes) with ratios to nginx in bench/results/edge.json
// and edge.md.
// It does so in each of -layouts: shared (servers and wrk on every CPU) and
// pinned (the server alone on half of the CPUs, wrk on the rest: see
// layout).
//
// The edge runs as a child process (this binary re-executed with -serve),
// in the modes of -clicks. ship is h0p edge's stack: the edge, its click
// spool and shipper, posting every batch over mutual TLS to a control node
// (h0p control, the binary of -h0p) in a process of its own, at idle CPU
// priority (SCHED_IDLE) and, pinned, on wrk's CPUs, which ingests it into
// its control store and click store; it is stopped during the saturated
// runs (the spool holds their clicks) and the bench reports its CPU apart. drain is the edge alone, a consumer counting its clicks in
// memory. After every run of an edge the bench waits until its clicks
// settled (shipped, in ship mode) and the processes went idle, and at the
// end of a layout compares the redirects it answered with the clicks
// control stored and counted. With -tls it also runs the edge against
// nginx over HTTPS (TLS 1.3, the same certificate): with keep-alive, and
// with a new connection, so a handshake, a request.
//
//	go run ./bench/edge -links 100000,1000000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/h0p/h0p/bench/internal/disk"
	"github.com/h0p/h0p/bench/internal/results"
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
		layoutsF = flag.String("layouts", "shared,pinned", "comma-separated: shared (server and wrk on every CPU), pinned (server on half of the CPUs, those taking the disk's interrupts, wrk on the rest)")
		clicksF  = flag.String("clicks", "ship,drain", "comma-separated edges to run: ship (h0p edge's stack: spool and shipper, posting to a control node in its own process at idle CPU priority), drain (the edge alone, its clicks counted in memory)")
		h0pBin   = flag.String("h0p", "", "the h0p binary the control node runs (ship; empty: go build ./cmd/h0p)")
		tlsF     = flag.String("tls", "keepalive,handshake", "comma-separated HTTPS runs, edge against nginx, TLS 1.3: keepalive (as the plain runs), handshake (Connection: close, a TLS handshake a request); none: no HTTPS")
		think    = flag.Duration("think", time.Millisecond, "each connection's wait between requests in the equal-load runs, whole milliseconds (0: no such runs)")
		out      = flag.String("out", "bench/results", "directory for edge.json and edge.md")
		profile  = flag.String("cpuprofile", "", "write the edge's CPU profile here (of the last size and layout; the drain edge's to <file>.drain)")
		serve    = flag.String("serve", "", "internal: serve an edge over this size's data directory")
		serveMap = flag.String("serve-map", "", "internal: serve this links.map with bare fasthttp")
		c        child
	)
	flag.StringVar(&c.mode, "mode", ship, "internal: the edge's mode (ship, drain)")
	flag.StringVar(&c.addr, "addr", "", "internal: listen address")
	flag.StringVar(&c.tlsAddr, "tls-addr", "", "internal: the edge's HTTPS listen address")
	flag.StringVar(&c.admin, "admin", "", "internal: the edge's admin address (GET /clicks)")
	flag.StringVar(&c.control, "control", "", "internal: control's API address (ship)")
	flag.StringVar(&c.loaded, "loaded", "", "internal: file the edge creates once every link's answer is in memory")
	flag.Parse()
	if *serveMap != "" {
		must(serveFasthttpMap(*serveMap, c.addr))
		return
	}
	if *serve != "" {
		c.dir, c.profile = *serve, *profile
		must(c.serve())
		return
	}
	for _, tool := range []string{"nginx", "wrk", "taskset", "chrt"} {
		if _, err := exec.LookPath(tool); err != nil {
			log.Fatalf("%s not found: apt-get install -y nginx-light wrk util-linux (bench/edge/run.sh does)", tool)
		}
	}
	layouts, err := parseLayouts(*layoutsF, runtime.NumCPU(), *threads, diskCPUs(os.TempDir()))
	must(err)
	modes, err := parseModes(*clicksF)
	must(err)
	tlsKinds, err := parseTLS(*tlsF)
	must(err)
	if slices.Contains(modes, ship) && *h0pBin == "" {
		bin, err := buildH0P()
		must(err)
		defer os.RemoveAll(filepath.Dir(bin))
		*h0pBin = bin
	}
	rep := report{
		Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), Connections: *conns,
		Duration: duration.String(), Rounds: *rounds, NginxVersion: nginxVersion(),
		Think: think.String(), Layouts: layouts, Edges: modes, HTTPS: tlsKinds,
	}
	cfg := benchConfig{modes: modes, rounds: *rounds, duration: *duration, warmup: *warmup, think: *think,
		conns: *conns, profile: *profile, h0p: *h0pBin, tls: tlsKinds}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		must(err)
		r, err := benchSize(n, layouts, cfg)
		must(err)
		rep.Sizes = append(rep.Sizes, r...)
	}
	md := rep.markdown()
	must(results.Write(*out, "edge", rep, md))
	fmt.Print(md)
}

// buildH0P builds ./cmd/h0p into a temporary directory.
func buildH0P() (string, error) {
	dir, err := os.MkdirTemp("", "h0p-bench-edge-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "h0p")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/h0p")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/h0p (run from the repository's root, or give -h0p): %w", err)
	}
	return bin, nil
}

// parseModes reads -clicks.
func parseModes(names string) ([]string, error) {
	var modes []string
	for _, name := range strings.Split(names, ",") {
		switch name = strings.TrimSpace(name); name {
		case ship, drain:
			if !slices.Contains(modes, name) {
				modes = append(modes, name)
			}
		default:
			return nil, fmt.Errorf("unknown -clicks mode %q (ship, drain)", name)
		}
	}
	return modes, nil
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
	Edges        []string     `json:"edges"`           // -clicks
	HTTPS        []string     `json:"https,omitempty"` // -tls
	Sizes        []sizeResult `json:"sizes"`           // each size in each layout
}

// layout is where the servers and wrk run. In the shared layout all of them
// use every CPU: wrk takes CPU from the server and waits behind it, so the
// latency percentiles are those of the whole machine's scheduling. In the
// pinned layout the server has half of the CPUs to itself and wrk the rest
// (taskset), as on an edge host whose clients are elsewhere; the server's
// half holds the CPUs that take the disk's interrupts (diskCPUs).
type layout struct {
	Name       string `json:"name"`
	ServerCPUs string `json:"server_cpus,omitempty"` // taskset's list; "": every CPU
	LoadCPUs   string `json:"load_cpus,omitempty"`
	Workers    int    `json:"workers"` // nginx workers, and edge loops (one per CPU it may use)
	Threads    int    `json:"threads"` // wrk's
}

// parseLayouts reads -layouts for a machine of cpus CPUs; threads is wrk's
// in the shared layout. The pinned layout's server takes the first half of
// the CPUs, or the last when that holds more of disk's, the CPUs that take
// the spool disk's interrupts (diskCPUs).
func parseLayouts(names string, cpus, threads int, disk []int) ([]layout, error) {
	var ls []layout
	for _, name := range strings.Split(names, ",") {
		switch name = strings.TrimSpace(name); name {
		case "shared":
			ls = append(ls, layout{Name: name, Workers: cpus, Threads: threads})
		case "pinned":
			if cpus < 2 {
				return nil, fmt.Errorf("layout pinned needs 2 CPUs or more, this machine has %d", cpus)
			}
			half, first, last := cpus/2, 0, 0
			for _, c := range disk {
				switch {
				case c < half:
					first++
				case c >= cpus-half:
					last++
				}
			}
			l := layout{Name: name, ServerCPUs: cpuList(0, half), LoadCPUs: cpuList(half, cpus),
				Workers: half, Threads: cpus - half}
			if last > first {
				l.ServerCPUs, l.LoadCPUs = cpuList(cpus-half, cpus), cpuList(0, cpus-half)
			}
			ls = append(ls, l)
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
	Layout string `json:"layout"`
	Links  int    `json:"links"`
	// Seconds to write the edge store (through raft) and the control store.
	LoadSeconds        float64 `json:"edge_load_seconds"`
	ControlLoadSeconds float64 `json:"control_load_seconds"`
	NginxStartS        float64 `json:"nginx_start_seconds"`
	// Until every link's answer is in memory (ship: the spool opened too).
	EdgeStartS float64 `json:"edge_start_seconds"`
	// Until the control node was ready (raft leader, API up): ship mode.
	ControlStartS float64  `json:"control_start_seconds,omitempty"`
	DrainStartS   float64  `json:"drain_edge_start_seconds,omitempty"`
	Edge          []wrkRun `json:"edge_runs"`       // ship mode
	Drain         []wrkRun `json:"drain_edge_runs"` // drain mode
	Nginx         []wrkRun `json:"nginx_runs"`
	Bare          []wrkRun `json:"fasthttp_map_runs"` // the floor of Go + fasthttp: see serveFasthttpMap
	// At equal load: each connection waits think between requests, which
	// offers both servers about the same rate, below what either answers.
	EdgePaced  []wrkRun `json:"edge_equal_load_runs"`
	NginxPaced []wrkRun `json:"nginx_equal_load_runs"`
	EdgeMem    memory   `json:"edge_memory"`
	DrainMem   memory   `json:"drain_edge_memory"`
	NginxMem   memory   `json:"nginx_memory"`
	BareMem    memory   `json:"fasthttp_map_memory"`
	ControlMem memory   `json:"control_memory"` // ship mode
	// What became of the clicks of each edge's redirects in this layout.
	EdgeClicks  *clickReport `json:"edge_clicks,omitempty"`
	DrainClicks *clickReport `json:"drain_edge_clicks,omitempty"`
	// Means of the rounds' ratios. The edge's are of the ship mode (drain
	// alone: of the drain mode); Drain… are the drain edge's to nginx, and
	// RatioShipDrainRPS the ship edge's requests/s to the drain edge's.
	RatioRPS          float64 `json:"ratio_rps"`
	RatioP99          float64 `json:"ratio_p99"`
	RatioCPU          float64 `json:"ratio_cpu_per_request"`
	RatioDrainRPS     float64 `json:"ratio_drain_rps,omitempty"`
	RatioDrainP99     float64 `json:"ratio_drain_p99,omitempty"`
	RatioDrainCPU     float64 `json:"ratio_drain_cpu_per_request,omitempty"`
	RatioShipDrainRPS float64 `json:"ratio_ship_drain_rps,omitempty"`
	RatioBareRPS      float64 `json:"ratio_fasthttp_map_rps"` // fasthttp+map / nginx
	RatioPacedP99     float64 `json:"ratio_equal_load_p99"`   // edge / nginx
	EdgeStoreMiB      float64 `json:"edge_store_mib"`         // Pebble directory on disk
	// HTTPS (-tls), the edge (ship mode, else drain) against nginx, TLS
	// 1.3: keep-alive, and a new connection (a handshake) a request.
	EdgeHTTPS         []wrkRun `json:"edge_https_runs,omitempty"`
	NginxHTTPS        []wrkRun `json:"nginx_https_runs,omitempty"`
	EdgeHandshake     []wrkRun `json:"edge_https_new_connection_runs,omitempty"`
	NginxHandshake    []wrkRun `json:"nginx_https_new_connection_runs,omitempty"`
	RatioHTTPSRPS     float64  `json:"ratio_https_rps,omitempty"` // edge / nginx
	RatioHTTPSP99     float64  `json:"ratio_https_p99,omitempty"`
	RatioHTTPSCPU     float64  `json:"ratio_https_cpu_per_request,omitempty"`
	RatioHandshakeRPS float64  `json:"ratio_https_new_connection_rps,omitempty"`
	RatioHandshakeCPU float64  `json:"ratio_https_new_connection_cpu_per_request,omitempty"`
	// Whether a second connection resumed the first's TLS session (a Go
	// client with a session cache): wrk's reconnections do when it does.
	EdgeHTTPSResumes  bool `json:"edge_https_resumes_sessions,omitempty"`
	NginxHTTPSResumes bool `json:"nginx_https_resumes_sessions,omitempty"`
}

// clickReport is what became of one edge's clicks over a layout's runs,
// counted once they settled.
type clickReport struct {
	// Answered are the 2xx/3xx responses wrk read, in every run of the
	// edge (warm-up and equal load too). The edge's Redirects may exceed
	// them by what it answered as wrk stopped, at most a response per
	// connection and run.
	Answered int64 `json:"answered_by_wrk"`
	clickState
	// Stored are the clicks of the layout in control's click store
	// (GET /v1/stats), Counted those added to the links' counters (the
	// org's usage, GET /v1/org): ship mode.
	Stored  int64 `json:"stored,omitempty"`
	Counted int64 `json:"counted,omitempty"`
	// MaxSettleS is the longest SettleS of the edge's runs.
	MaxSettleS float64 `json:"max_settle_seconds"`
}

// exact says whether every redirect's click was kept: none dropped, and in
// ship mode every one stored and counted by control.
func (c *clickReport) exact(mode string) bool {
	ok := c.Dropped == 0 && c.SpoolDropped == 0 && c.Rejected == 0 && c.Settled &&
		c.Captured == c.Redirects-c.Untracked
	if mode == ship {
		ok = ok && c.Stored == c.Captured && c.Counted == c.Captured
	}
	return ok
}

// wrkRun is what the Lua script's done() prints.
type wrkRun struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	RPS        float64 `json:"rps"`
	Errors     int64   `json:"errors"` // connect+read+write+timeout+non-2xx/3xx
	Status     int64   `json:"non_2xx_3xx"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	P999US     float64 `json:"p999_us"`
	MaxUS      float64 `json:"max_us"`
	// CPUUS is the server's CPU time (user + system, all its processes) per
	// request answered: steadier than requests/s on a shared machine. An
	// edge's includes the time after the run until it settled; the ship
	// edge's is its own process's, control's is apart.
	CPUUS float64 `json:"cpu_us_per_request"`
	// The ship edge's control node, from the start of the run until the
	// clicks were stored and it went idle: its CPU time over the clicks
	// it took in (acknowledged to the edge), ControlCPUUS; the CPUs it
	// had while wrk ran, ControlCPUs (none at saturation, where it is
	// stopped); the clicks the edge had not shipped as wrk stopped (in its
	// queue and spool), Unshipped.
	ControlCPUUS float64 `json:"control_cpu_us_per_click,omitempty"`
	ControlCPUs  float64 `json:"control_cpus_during_run,omitempty"`
	Unshipped    int64   `json:"unshipped_at_run_end,omitempty"`
	// SettleS is the wait after an edge's run until its clicks settled
	// (shipped, in ship mode) and the process went idle (the click
	// store's compactions done): the next server's run starts on a quiet
	// CPU.
	SettleS float64 `json:"settle_seconds,omitempty"`
}

type memory struct {
	RSSMiB float64 `json:"rss_mib"`
	PSSMiB float64 `json:"pss_mib"`
}

// benchConfig is what every size and layout runs with.
type benchConfig struct {
	modes                   []string
	rounds                  int
	duration, warmup, think time.Duration
	conns                   int
	profile                 string
	h0p                     string   // the control node's binary (ship)
	tls                     []string // HTTPS runs: keepalive, handshake
}

// benchSize writes n links once and measures them in each layout.
func benchSize(n int, layouts []layout, cfg benchConfig) ([]sizeResult, error) {
	dir, err := os.MkdirTemp("", "h0p-bench-edge")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	must(os.Chmod(dir, 0o755)) // nginx workers run as nobody

	log.Printf("%d links: writing the control store, the edge store, the nginx map and the key list", n)
	d, err := writeData(dir, n, cfg.modes)
	if err != nil {
		return nil, err
	}
	storeMiB := float64(disk.Size(filepath.Join(dir, controlNodeDir, edgeStoreDir))) / (1 << 20)
	var rs []sizeResult
	for _, l := range layouts {
		r, err := benchLayout(d, n, l, cfg)
		if err != nil {
			return nil, fmt.Errorf("%d links, layout %s: %w", n, l.Name, err)
		}
		r.LoadSeconds, r.ControlLoadSeconds, r.EdgeStoreMiB = d.edgeSeconds, d.controlSeconds, storeMiB
		rs = append(rs, r)
	}
	return rs, nil
}

// server is one server under test in a layout.
type server struct {
	name string // edge (ship mode), edge-drain, nginx, fasthttp-map
	addr string
	url  string // wrk's ("": http://addr/)
	cmd  *exec.Cmd
	runs *[]wrkRun
	edge *edgeChild // edges only
	// tls is the server's HTTPS side: the same processes, wrk's URL
	// https://localhost:port/ (edges and nginx, with -tls).
	tls *server
}

// withTLS gives s an HTTPS side on a free port.
func (s *server) withTLS() {
	addr := freeAddr()
	s.tls = &server{name: s.name + "-https", addr: addr, url: tlsURL(addr), cmd: s.cmd, edge: s.edge}
}

// cmds are s's processes: an edge's control node after the edge.
func (s *server) cmds() []*exec.Cmd {
	var cmds []*exec.Cmd
	if s.cmd != nil {
		cmds = append(cmds, s.cmd)
	}
	if s.edge != nil && s.edge.control != nil && s.edge.control.cmd != nil {
		cmds = append(cmds, s.edge.control.cmd)
	}
	return cmds
}

// edgeChild is an edge process and what the bench knows of its clicks.
type edgeChild struct {
	mode         string
	admin        string
	control      *controlNode // ship mode
	stored0      int64        // the click store's and the links' counts at start (ship)
	counted0     int64
	answered     int64 // by wrk's count
	maxSettle    float64
	startSeconds float64
}

// edgeName is the server name of an edge mode.
func edgeName(mode string) string {
	if mode == ship {
		return "edge"
	}
	return "edge-drain"
}

// startEdge starts the edge of mode over d in layout l and waits until it
// holds every link's answer; in ship mode it starts the control node
// first.
func startEdge(d data, mode string, l layout, profile, h0p string, https bool) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if profile != "" && mode == drain {
		profile += ".drain"
	}
	e := &edgeChild{mode: mode, admin: freeAddr()}
	srv := &server{name: edgeName(mode), addr: freeAddr(), edge: e}
	loaded := filepath.Join(d.dir, mode+".loaded")
	os.Remove(loaded) // left by the layout before
	args := []string{"-serve", d.dir, "-mode", mode, "-addr", srv.addr, "-admin", e.admin, "-cpuprofile", profile, "-loaded", loaded}
	if https {
		srv.withTLS()
		args = append(args, "-tls-addr", srv.tls.addr)
	}
	if mode == ship {
		if e.control, err = startControl(h0p, d, srv.addr, l.LoadCPUs); err != nil {
			return srv, err
		}
		args = append(args, "-control", e.control.api)
	}
	start := time.Now()
	srv.cmd = command(l.ServerCPUs, self, args...)
	srv.cmd.Stdout, srv.cmd.Stderr = os.Stderr, os.Stderr
	if err := srv.cmd.Start(); err != nil {
		return nil, err
	}
	if srv.tls != nil {
		srv.tls.cmd = srv.cmd
	}
	if err := waitHTTP(srv.addr, 120*time.Second); err != nil {
		return srv, fmt.Errorf("%s: %w", srv.name, err)
	}
	if err := waitFile(loaded, 120*time.Second); err != nil {
		return srv, fmt.Errorf("%s: answer table: %w", srv.name, err)
	}
	e.startSeconds = time.Since(start).Seconds()
	if mode == ship {
		if e.stored0, e.counted0, err = e.control.counts(d.key, 60*time.Second); err != nil {
			return srv, fmt.Errorf("%s: control: %w", srv.name, err)
		}
	}
	return srv, nil
}

// benchLayout starts the servers over d's data in layout l and runs wrk
// against them: saturated runs, then (shared layout only) the equal-load
// runs.
func benchLayout(d data, n int, l layout, cfg benchConfig) (res sizeResult, err error) {
	res = sizeResult{Layout: l.Name, Links: n}
	var servers []*server
	defer func() {
		for _, s := range servers {
			for _, cmd := range s.cmds() {
				if cmd.Process != nil && cmd.ProcessState == nil {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}
		}
	}()
	for _, mode := range cfg.modes {
		// The HTTPS runs are the first mode's, as the equal-load runs.
		s, err := startEdge(d, mode, l, cfg.profile, cfg.h0p, len(cfg.tls) > 0 && mode == cfg.modes[0])
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return res, err
		}
		if mode == ship {
			s.runs, res.EdgeStartS, res.ControlStartS = &res.Edge, s.edge.startSeconds, s.edge.control.startSeconds
		} else {
			s.runs, res.DrainStartS = &res.Drain, s.edge.startSeconds
		}
	}

	start := time.Now()
	nginx := &server{name: "nginx", addr: freeAddr(), runs: &res.Nginx}
	if len(cfg.tls) > 0 {
		nginx.withTLS()
	}
	if nginx.cmd, err = startNginx(d.dir, nginx, l); err != nil {
		return res, err
	}
	if nginx.tls != nil {
		nginx.tls.cmd = nginx.cmd
	}
	servers = append(servers, nginx)
	if err := waitHTTP(nginx.addr, 120*time.Second); err != nil {
		return res, fmt.Errorf("nginx: %w", err)
	}
	res.NginxStartS = time.Since(start).Seconds()

	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	bare := &server{name: "fasthttp-map", addr: freeAddr(), runs: &res.Bare}
	bare.cmd = command(l.ServerCPUs, self, "-serve-map", filepath.Join(d.dir, "links.map"), "-addr", bare.addr)
	bare.cmd.Stdout, bare.cmd.Stderr = os.Stderr, os.Stderr
	if err := bare.cmd.Start(); err != nil {
		return res, err
	}
	servers = append(servers, bare)
	if err := waitHTTP(bare.addr, 120*time.Second); err != nil {
		return res, fmt.Errorf("fasthttp map: %w", err)
	}
	byName := map[string]*server{}
	for _, s := range servers {
		byName[s.name] = s
	}

	script, paced := filepath.Join(d.dir, "random.lua"), filepath.Join(d.dir, "paced.lua")
	must(os.WriteFile(script, []byte(luaScript), 0o644))
	must(os.WriteFile(paced, []byte(luaScript+pacedLua), 0o644))
	keys := filepath.Join(d.dir, "keys")
	runScript := func(script string, s *server, dur time.Duration, args ...string) (wrkRun, error) {
		cpu0 := cpuTicks(s.cmd.Process.Pid)
		var ctl *controlNode
		var ctl0 int64
		var before clickState
		if s.edge != nil && s.edge.control != nil {
			ctl, ctl0 = s.edge.control, cpuTicks(s.edge.control.cmd.Process.Pid)
			st, err := clicksOf(s.edge.admin)
			if err != nil {
				return wrkRun{}, fmt.Errorf("%s: %w", s.name, err)
			}
			before = st
		}
		url := s.url
		if url == "" {
			url = "http://" + s.addr + "/"
		}
		// At saturation wrk and the server take every CPU, and control,
		// whose nodes run on other machines in production, could only
		// take its CPU from them: it is stopped while wrk runs, so the
		// spool holds the run's clicks and control ingests them after.
		// At equal load (paced) there is CPU to spare, and it runs.
		stop := ctl != nil && script != paced
		if stop {
			if err := ctl.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				return wrkRun{}, fmt.Errorf("stopping control: %w", err)
			}
		}
		r, err := runWrk(script, keys, url, dur, cfg.conns, l, args...)
		if stop {
			if cerr := ctl.cmd.Process.Signal(syscall.SIGCONT); cerr != nil && err == nil {
				err = fmt.Errorf("continuing control: %w", cerr)
			}
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", s.name, err)
		}
		if ctl != nil {
			r.ControlCPUs = float64(cpuTicks(ctl.cmd.Process.Pid)-ctl0) / clockTicks / (float64(r.DurationUS) / 1e6)
			if st, err := clicksOf(s.edge.admin); err == nil {
				r.Unshipped = st.Redirects - st.Untracked - st.Dropped - st.SpoolDropped - st.Rejected - st.Shipped
			}
		}
		if e := s.edge; e != nil {
			e.answered += r.Requests - r.Status
			start := time.Now()
			st, err := waitSettled(e.admin, 10*time.Minute)
			if err != nil {
				return r, fmt.Errorf("%s: %w", s.name, err)
			}
			// The work its clicks left (the click store's compactions)
			// must not run into the next server's run.
			for _, cmd := range s.cmds() {
				waitIdle(cmd.Process.Pid, 2*time.Minute)
			}
			r.SettleS = time.Since(start).Seconds()
			e.maxSettle = max(e.maxSettle, r.SettleS)
			if n := st.Shipped - before.Shipped; ctl != nil && n > 0 {
				r.ControlCPUUS = float64(cpuTicks(ctl.cmd.Process.Pid)-ctl0) * 1e6 / clockTicks / float64(n)
			}
		}
		if r.Requests > 0 {
			r.CPUUS = float64(cpuTicks(s.cmd.Process.Pid)-cpu0) * 1e6 / clockTicks / float64(r.Requests)
		}
		return r, nil
	}
	var order []string
	for _, s := range servers {
		order = append(order, s.name)
	}
	for _, who := range order {
		if _, err := runScript(script, byName[who], cfg.warmup); err != nil {
			return res, err
		}
	}
	for i := range cfg.rounds {
		// Each round starts with another server.
		for k := range order {
			s := byName[order[(i+k)%len(order)]]
			log.Printf("%d links, %s: round %d, %s", n, l.Name, i+1, s.name)
			r, err := runScript(script, s, cfg.duration)
			if err != nil {
				return res, err
			}
			*s.runs = append(*s.runs, r)
		}
	}
	// The equal-load runs compare the edge (ship mode, else drain) with nginx.
	edgeS := byName[edgeName(cfg.modes[0])]
	pacedRuns := map[*server]*[]wrkRun{edgeS: &res.EdgePaced, nginx: &res.NginxPaced}
	pacedRounds := cfg.rounds
	if cfg.think.Milliseconds() < 1 || l.Name != "shared" { // wrk waits whole milliseconds
		pacedRounds = 0
	}
	for i := range pacedRounds {
		for _, s := range [][]*server{{edgeS, nginx}, {nginx, edgeS}}[i%2] {
			log.Printf("%d links, %s: equal load, round %d, %s", n, l.Name, i+1, s.name)
			r, err := runScript(paced, s, cfg.duration, strconv.FormatInt(cfg.think.Milliseconds(), 10))
			if err != nil {
				return res, err
			}
			*pacedRuns[s] = append(*pacedRuns[s], r)
		}
	}

	if err := benchHTTPS(d, n, l, cfg, &res, byName[edgeName(cfg.modes[0])], nginx, runScript); err != nil {
		return res, err
	}

	for _, s := range servers {
		m := memoryOf(s.cmd.Process.Pid)
		switch s.name {
		case "edge":
			res.EdgeMem = m
		case "edge-drain":
			res.DrainMem = m
		case "nginx":
			res.NginxMem = m
		case "fasthttp-map":
			res.BareMem = m
		}
		if s.edge != nil && s.edge.control != nil {
			res.ControlMem = memoryOf(s.edge.control.cmd.Process.Pid)
		}
	}
	for _, s := range servers {
		if s.edge == nil {
			continue
		}
		c, err := s.edge.report(d.key)
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		if s.edge.mode == ship {
			res.EdgeClicks = c
		} else {
			res.DrainClicks = c
		}
	}
	// An edge stops before its control node, which its shipper posts to
	// until it stopped.
	for _, s := range servers {
		for _, cmd := range s.cmds() {
			switch {
			case s == nginx:
				cmd.Process.Signal(syscall.SIGQUIT)
			case s.edge != nil:
				cmd.Process.Signal(syscall.SIGTERM)
			default:
				cmd.Process.Kill()
			}
			cmd.Wait()
		}
	}
	res.ratios()
	res.httpsRatios()
	return res, nil
}

// report counts what became of the edge's clicks once they settled: a
// moment after the last run, for the requests the edge read as wrk stopped.
func (e *edgeChild) report(key string) (*clickReport, error) {
	time.Sleep(time.Second)
	st, err := waitSettled(e.admin, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	c := &clickReport{Answered: e.answered, clickState: st, MaxSettleS: e.maxSettle}
	if e.control != nil {
		stored, counted, err := e.control.counts(key, time.Minute)
		if err != nil {
			return nil, err
		}
		c.Stored, c.Counted = stored-e.stored0, counted-e.counted0
	}
	return c, nil
}

// ratios sets r's means of the rounds' ratios.
func (r *sizeResult) ratios() {
	edgeRuns := r.Edge
	if len(edgeRuns) == 0 {
		edgeRuns = r.Drain
	}
	for i := range edgeRuns {
		k := float64(len(edgeRuns))
		r.RatioCPU += edgeRuns[i].CPUUS / r.Nginx[i].CPUUS / k
		r.RatioRPS += edgeRuns[i].RPS / r.Nginx[i].RPS / k
		r.RatioP99 += edgeRuns[i].P99US / r.Nginx[i].P99US / k
		r.RatioBareRPS += r.Bare[i].RPS / r.Nginx[i].RPS / k
	}
	if len(r.Edge) > 0 && len(r.Drain) > 0 {
		for i := range r.Drain {
			k := float64(len(r.Drain))
			r.RatioDrainCPU += r.Drain[i].CPUUS / r.Nginx[i].CPUUS / k
			r.RatioDrainRPS += r.Drain[i].RPS / r.Nginx[i].RPS / k
			r.RatioDrainP99 += r.Drain[i].P99US / r.Nginx[i].P99US / k
			r.RatioShipDrainRPS += r.Edge[i].RPS / r.Drain[i].RPS / k
		}
	}
	for i := range r.EdgePaced {
		r.RatioPacedP99 += r.EdgePaced[i].P99US / r.NginxPaced[i].P99US / float64(len(r.EdgePaced))
	}
}

// waitSettled polls an edge child's clicks until they settled, or they
// stood still for stall: control, at idle priority, ingests only while
// nothing else on the machine wants the CPU, so how long it takes depends
// on the machine's other work, not only on the clicks.
func waitSettled(admin string, stall time.Duration) (clickState, error) {
	var last clickState
	moved, logged := time.Now(), time.Now()
	for {
		st, err := clicksOf(admin)
		if err == nil && st.Settled {
			return st, nil
		}
		if err == nil && st != last {
			last, moved = st, time.Now()
		}
		if time.Since(moved) > stall {
			return st, fmt.Errorf("clicks not settled, and unchanged for %v: %+v (%v)", stall, st, err)
		}
		if time.Since(logged) > 10*time.Second {
			log.Printf("waiting for the edge's clicks to settle: %+v", st)
			logged = time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIdle waits until the process pid (and its children) takes less than
// 4% of a CPU over half a second, or timeout passed.
func waitIdle(pid int, timeout time.Duration) {
	const window = 500 * time.Millisecond
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		t0 := cpuTicks(pid)
		time.Sleep(window)
		if float64(cpuTicks(pid)-t0)/clockTicks < 0.04*window.Seconds() {
			return
		}
	}
	log.Printf("process %d still busy after %v", pid, timeout)
}

// clicksOf is what an edge child says of its clicks.
func clicksOf(admin string) (st clickState, err error) {
	return st, getJSON(http.DefaultClient, "http://"+admin+"/clicks", "", &st)
}

// getJSON decodes the 200 answer of url into out.
func getJSON(client *http.Client, url, key string, out any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
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

// startNginx starts nginx as s in layout l, serving HTTPS too when s has
// an HTTPS side.
func startNginx(dir string, s *server, l layout) (*exec.Cmd, error) {
	conf := filepath.Join(dir, "nginx.conf")
	// map_hash_max_size must exceed the entry count, or nginx refuses to start.
	body := fmt.Sprintf(nginxConf, l.Workers, dir, 4<<20, s.addr)
	if s.tls != nil {
		tls := fmt.Sprintf(nginxTLSServer, s.tls.addr, filepath.Join(dir, tlsDir, tlsCert), filepath.Join(dir, tlsDir, tlsKey))
		body = strings.TrimSuffix(body, "}\n") + tls + "}\n"
	}
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

// browserUA is the User-Agent of every request the bench sends an edge:
// a person's, whose clicks count (a bot's are stored but not counted).
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

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
	wrk.headers["User-Agent"] = "` + browserUA + `"
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
	io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"non_2xx_3xx":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
		summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, e.status,
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

func runWrk(script, keys, url string, d time.Duration, conns int, l layout, args ...string) (wrkRun, error) {
	cmd := command(l.LoadCPUs, "wrk", append([]string{"-t", strconv.Itoa(l.Threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s", "-s", script, url, "--", keys}, args...)...)
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
	fmt.Fprintf(&b, "%s · %d CPUs · wrk, %d connections, %s per run, %d rounds alternating · %s · uniformly random keys from the whole set, browser User-Agent · edges: %s\n",
		r.Date, r.CPUs, r.Connections, r.Duration, r.Rounds, r.NginxVersion, strings.Join(r.Edges, ", "))
	for _, l := range r.Layouts {
		var sizes []sizeResult
		for _, s := range r.Sizes {
			if s.Layout == l.Name {
				sizes = append(sizes, s)
			}
		}
		fmt.Fprintf(&b, "\n## %s\n\n", l.describe())
		r.sizeTables(&b, sizes)
		httpsTables(&b, sizes)
	}
	b.WriteString("\n\"edge\" is h0p edge's stack: the edge, its click spool (slot files, written in place with O_DSYNC) and shipper, posting each batch over mutual TLS to a control node (POST /cluster/v1/clicks), which ingests it (the links' counters in the control store, then the click store). The control node (h0p control, the single voter of its raft group) runs in a process of its own under SCHED_IDLE, in the pinned layout on wrk's CPU, and is stopped (SIGSTOP) while wrk runs at saturation, as if it ran on other machines and were slow: the edge and wrk take every CPU, and what control took of them (2% of wrk's CPU at idle priority, in system calls this kernel does not preempt) tripled the edge's p99 as wrk measured it. The spool holds the run's clicks, the shipper keeps trying, and control ingests the backlog after the run; in the equal-load runs it runs throughout. Its CPU is reported apart (\"control\" below); the edge's CPU a request is its own process's. \"edge, clicks drained\" is the edge alone, a consumer counting its clicks in memory: the edge's own work, before shipping.\n")
	b.WriteString("\nClicks: after every run of an edge the bench waits until its clicks settled (shipped and acknowledged, for the edge) and its processes went idle (control's click store compactions done), so that the next server's run starts on a quiet CPU; \"settle\" is the longest such wait. \"Answered\" are the 2xx/3xx responses wrk read; \"redirects\" the edge's own count, which may exceed them by the answers wrk did not read as it stopped (at most one per connection and run). \"Dropped\" are the edge queue's (h0p_edge_clicks_dropped_total) and the spool's (h0p_edge_clicks_spool_dropped_total, its disk budget). \"Stored\" are the layout's clicks in control's click store (GET /v1/stats), \"counted\" those added to the links' counters (the org's usage, GET /v1/org). \"Exact\": every redirect's click captured, none dropped, and each stored and counted once.\n")
	b.WriteString("\nIn the shared layout wrk takes CPU from the server and waits behind it: a faster server is offered more requests by wrk, whose threads then wait longer for a CPU, so the saturated runs' p99 follows the rate as much as the server (bench/README.md). The pinned layout gives the server half the CPUs to itself, as on an edge host whose clients are elsewhere.\n")
	b.WriteString("\n\"Control\": \"CPU a click\" is the control node's CPU time (user and system, from /proc) from the start of each measured run of the edge until the clicks were stored and it went idle, over the clicks it acknowledged; \"unshipped\" the clicks in the edge's queue and spool as wrk stopped, mean of the runs.\n")
	b.WriteString("\n\"Edge start\" runs until every link's answer is in the edge's memory (its answer table), as nginx's start includes reading its map; the edge serves from the store meanwhile. \"Control start\" runs until the control node is ready (raft leader, API up), before the edge starts.\n")
	b.WriteString("\n\"fasthttp + Go map\" is the floor of the edge's stack: the same links in a Go map behind a bare fasthttp handler (no store, no click capture), in the same runs.\n")
	b.WriteString("\n\"CPU a request\" is the server's CPU time (user and system, all its processes, from /proc) over the requests it answered in the measured runs, an edge's until it settled after each run; on this shared machine it moves less than requests/s.\n")
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
		for _, side := range s.sides() {
			m := meanRun(side.runs)
			fmt.Fprintf(b, "| %d | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %d | %.1f µs | %.0f MiB | %.0f MiB |\n",
				s.Links, side.name, m.RPS, m.P50US/1000, m.P99US/1000, m.P999US/1000, m.Errors, m.CPUUS, side.mem.RSSMiB, side.mem.PSSMiB)
		}
	}

	both := slices.Contains(r.Edges, ship) && slices.Contains(r.Edges, drain)
	first := "edge"
	if !slices.Contains(r.Edges, ship) {
		first = "edge, clicks drained"
	}
	fmt.Fprintf(b, "\n| links | %[1]s/nginx requests/s (per round) | %[1]s/nginx p99 (per round) | %[1]s/nginx CPU a request |", first)
	cols := 4
	if both {
		b.WriteString(" edge, clicks drained/nginx requests/s (per round) | edge, clicks drained/nginx p99 (per round) | edge, clicks drained/nginx CPU a request | edge/edge, clicks drained requests/s (per round) |")
		cols += 4
	}
	b.WriteString(" fasthttp+map/nginx requests/s |\n|" + strings.Repeat("---|", cols+1) + "\n")
	perRound := func(a, n []wrkRun, f func(wrkRun) float64) string {
		var xs []string
		for i := range a {
			xs = append(xs, fmt.Sprintf("%.2f", f(a[i])/f(n[i])))
		}
		return strings.Join(xs, ", ")
	}
	rps := func(w wrkRun) float64 { return w.RPS }
	p99 := func(w wrkRun) float64 { return w.P99US }
	for _, s := range sizes {
		edgeRuns := s.Edge
		if len(edgeRuns) == 0 {
			edgeRuns = s.Drain
		}
		fmt.Fprintf(b, "| %d | %.2f× (%s) | %.2f× (%s) | %.2f× |", s.Links,
			s.RatioRPS, perRound(edgeRuns, s.Nginx, rps), s.RatioP99, perRound(edgeRuns, s.Nginx, p99), s.RatioCPU)
		if both {
			fmt.Fprintf(b, " %.2f× (%s) | %.2f× (%s) | %.2f× | %.2f× (%s) |",
				s.RatioDrainRPS, perRound(s.Drain, s.Nginx, rps), s.RatioDrainP99, perRound(s.Drain, s.Nginx, p99), s.RatioDrainCPU,
				s.RatioShipDrainRPS, perRound(s.Edge, s.Drain, rps))
		}
		fmt.Fprintf(b, " %.2f× |\n", s.RatioBareRPS)
	}

	b.WriteString("\n| links | server | answered (wrk) | redirects (edge) | clicks captured | dropped: queue | dropped: spool | stored | counted | settle | exact |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sizes {
		for _, e := range []struct {
			name, mode string
			c          *clickReport
		}{{"edge", ship, s.EdgeClicks}, {"edge, clicks drained", drain, s.DrainClicks}} {
			if e.c == nil {
				continue
			}
			stored, counted := "", ""
			if e.mode == ship {
				stored, counted = strconv.FormatInt(e.c.Stored, 10), strconv.FormatInt(e.c.Counted, 10)
			}
			exact := "yes"
			if !e.c.exact(e.mode) {
				exact = "**no**"
			}
			fmt.Fprintf(b, "| %d | %s | %d | %d | %d | %d | %d | %s | %s | %.1f s | %s |\n", s.Links, e.name,
				e.c.Answered, e.c.Redirects, e.c.Captured, e.c.Dropped, e.c.SpoolDropped, stored, counted, e.c.MaxSettleS, exact)
		}
	}

	if slices.Contains(r.Edges, ship) {
		b.WriteString("\n| links | control: CPU a click (per round) | unshipped at a run's end | control RSS | control PSS |\n|---|---|---|---|---|\n")
		for _, s := range sizes {
			var xs []string
			var unshipped float64
			for _, r := range s.Edge {
				xs = append(xs, fmt.Sprintf("%.1f", r.ControlCPUUS))
				unshipped += float64(r.Unshipped) / float64(len(s.Edge))
			}
			fmt.Fprintf(b, "| %d | %.1f µs (%s) | %.0f | %.0f MiB | %.0f MiB |\n", s.Links, meanRun(s.Edge).ControlCPUUS,
				strings.Join(xs, ", "), unshipped, s.ControlMem.RSSMiB, s.ControlMem.PSSMiB)
		}
	}

	b.WriteString("\n| links | edge store on disk | edge store written (raft) | control store written | control start | edge start | edge, clicks drained: start | nginx start |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range sizes {
		fmt.Fprintf(b, "| %d | %.0f MiB | %.1f s | %.1f s | %.1f s | %.1f s | %.1f s | %.1f s |\n",
			s.Links, s.EdgeStoreMiB, s.LoadSeconds, s.ControlLoadSeconds, s.ControlStartS, s.EdgeStartS, s.DrainStartS, s.NginxStartS)
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
		}{{s.edgeLabel(), s.EdgePaced}, {"nginx", s.NginxPaced}} {
			m := meanRun(side.runs)
			ratio := ""
			if side.name != "nginx" {
				ratio = fmt.Sprintf("%.2f×", s.RatioPacedP99)
			}
			fmt.Fprintf(b, "| %d | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %.1f µs | %s |\n",
				s.Links, side.name, m.RPS, m.P50US/1000, m.P99US/1000, m.P999US/1000, m.CPUUS, ratio)
		}
	}
}

// side is one server's runs and memory in a layout.
type side struct {
	name string
	runs []wrkRun
	mem  memory
}

// sides are the servers of s's saturated runs, as edge.md names them.
func (s sizeResult) sides() []side {
	var out []side
	if len(s.Edge) > 0 {
		out = append(out, side{"edge", s.Edge, s.EdgeMem})
	}
	if len(s.Drain) > 0 {
		out = append(out, side{"edge, clicks drained", s.Drain, s.DrainMem})
	}
	return append(out, side{"nginx", s.Nginx, s.NginxMem}, side{"fasthttp + Go map", s.Bare, s.BareMem})
}

// edgeLabel names the edge of the equal-load runs.
func (s sizeResult) edgeLabel() string {
	if len(s.Edge) > 0 {
		return "edge"
	}
	return "edge, clicks drained"
}

// meanRun is the mean of runs, errors summed.
func meanRun(runs []wrkRun) (m wrkRun) {
	n := float64(len(runs))
	for _, x := range runs {
		m.CPUUS += x.CPUUS / n
		m.ControlCPUUS += x.ControlCPUUS / n
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

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
