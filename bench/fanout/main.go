// Command fanout measures how far one raft group fans out to edges: a
// leader (this process, a single voter) and K non-voter edges (a child
// process holding K in-process nodes, each with its own raft log and edge
// store) over mutual TLS on loopback, for each K of -edges. For each K it
// measures
//
//   - the leader's CPU and the bytes it sends, idle and at a steady
//     -rate of single-link writes (one raft entry each);
//   - create → live: from the leader's Apply to the entry applied on every
//     edge (and on the median edge), p50/p99/max over the steady writes;
//   - catch-up: -links links loaded (1,000-link entries) and snapshotted,
//     then one more edge joins beside the K and installs the snapshot;
//     the time from AddNonvoter to its applied index reaching the leader's.
//
// Results go to bench/results/fanout.json and .md.
//
//	go run ./bench/fanout -edges 10,25,50,100,200
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/h0p/h0p/bench/internal/disk"
	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

func main() {
	var (
		edgesF   = flag.String("edges", "10,25,50,100,200", "comma-separated edge counts (each edge takes about 60 MiB in the child process)")
		rate     = flag.Int("rate", 50, "single-link writes a second in the steady phase")
		duration = flag.Duration("duration", 20*time.Second, "length of the steady phase")
		idle     = flag.Duration("idle", 5*time.Second, "length of the idle phase")
		links    = flag.Int("links", 100_000, "links loaded before the catch-up of a new edge")
		out      = flag.String("out", "bench/results", "directory for fanout.json and .md")
		child    = flag.String("child", "", "internal: run the edges of this directory")
		k        = flag.Int("k", 0, "internal: edges the child opens")
	)
	flag.Parse()
	if *child != "" {
		must(runEdges(*child, *k))
		return
	}
	var ks []int
	for _, s := range strings.Split(*edgesF, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("bad -edges entry %q", s)
		}
		ks = append(ks, n)
	}
	// The results are written after each K, so a K the machine cannot
	// hold (the edges' process out of memory) keeps the ones before it.
	var rows []row
	for _, n := range ks {
		r, err := measure(n, *rate, *duration, *idle, *links)
		if err != nil {
			log.Fatalf("K=%d: %v (results of the smaller K are in %s)", n, err, *out)
		}
		log.Printf("K=%d: %+v", n, r)
		rows = append(rows, r)
		res := map[string]any{
			"cpus": runtime.NumCPU(), "rate": *rate, "durationSeconds": duration.Seconds(),
			"idleSeconds": idle.Seconds(), "links": *links, "measuredAt": time.Now().UTC().Format(time.RFC3339),
			"rows": rows,
		}
		must(results.Write(*out, "fanout", res, report(rows, *rate, *duration, *links)))
	}
	fmt.Print(report(rows, *rate, *duration, *links))
}

// row is one K's figures.
type row struct {
	Edges int `json:"edges"`
	// Idle: the leader's CPU (share of one core) and bytes sent a second
	// with no writes (heartbeats and raft's commit-timeout RPCs).
	IdleCPU      float64 `json:"idle_cpu"`
	IdleBytesSec float64 `json:"idle_bytes_per_s"`
	// Steady: the same at -rate writes a second.
	CPU      float64 `json:"cpu"`
	BytesSec float64 `json:"bytes_per_s"`
	Writes   int     `json:"writes"`
	// Create → live on every edge, and on the median edge, in ms.
	AllP50, AllP99, AllMax float64
	MedP50, MedP99         float64
	// Catch-up of a new edge by snapshot, seconds, and the snapshot's size.
	CatchUpS      float64 `json:"catch_up_s"`
	SnapshotBytes int64   `json:"snapshot_bytes"`
	// ChildRSS: the edges' process resident memory, MiB.
	ChildRSS float64 `json:"child_rss_mib"`
}

func measure(k, rate int, duration, idle time.Duration, links int) (row, error) {
	r := row{Edges: k}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "h0p-fanout")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	ids := []string{"c1"}
	for i := 1; i <= k+1; i++ {
		ids = append(ids, fmt.Sprintf("e%d", i))
	}
	ca, err := clustercert.MintCA("fanout", time.Now())
	if err != nil {
		return r, err
	}
	specs, err := clustercert.ParseNodeList(strings.Join(ids, ","))
	if err != nil {
		return r, err
	}
	if err := clustercert.WriteDir(filepath.Join(dir, "certs"), ca, specs, false); err != nil {
		return r, err
	}
	leader, leaderStore, err := openNode(dir, "c1", true, quiet)
	if err != nil {
		return r, err
	}
	defer leaderStore.Close()
	defer leader.Close()
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = leader.WaitLeader(wctx)
	cancel()
	if err != nil {
		return r, err
	}

	// The edges: a child process, driven by lines on its stdin, answering
	// on its stdout.
	cmd := exec.Command(os.Args[0], "-child", dir, "-k", strconv.Itoa(k))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		stdin.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	next := func() (string, error) {
		if !lines.Scan() {
			return "", fmt.Errorf("edges child ended: %v", lines.Err())
		}
		return lines.Text(), nil
	}
	say := func(format string, args ...any) error {
		_, err := fmt.Fprintf(stdin, format+"\n", args...)
		return err
	}
	for added := 0; added < k; {
		line, err := next()
		if err != nil {
			return r, err
		}
		var id, addr string
		if _, err := fmt.Sscanf(line, "edge %s %s", &id, &addr); err != nil {
			return r, fmt.Errorf("edges child said %q", line)
		}
		if err := leader.AddMember(id, addr, false); err != nil {
			return r, fmt.Errorf("add %s: %w", id, err)
		}
		added++
	}
	// Every edge has the membership entries before anything is measured.
	if err := waitAll(say, next, leaderStore.AppliedIndex()); err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second)

	// Idle.
	cpu0, sent0 := cpuSeconds(), sentBytes()
	time.Sleep(idle)
	r.IdleCPU = (cpuSeconds() - cpu0) / idle.Seconds()
	r.IdleBytesSec = float64(sentBytes()-sent0) / idle.Seconds()

	// Steady writes: one link an entry, at rate.
	started := map[uint64]int64{} // raft index → unix ns before Apply
	tick := time.NewTicker(time.Second / time.Duration(rate))
	cpu0, sent0 = cpuSeconds(), sentBytes()
	t0 := time.Now()
	for i := 0; time.Since(t0) < duration; i++ {
		<-tick.C
		start := time.Now().UnixNano()
		idx, err := leader.Apply(ctx, linkCommand(i, i+1))
		if err != nil {
			return r, err
		}
		started[idx] = start
	}
	tick.Stop()
	elapsed := time.Since(t0).Seconds()
	r.CPU = (cpuSeconds() - cpu0) / elapsed
	r.BytesSec = float64(sentBytes()-sent0) / elapsed
	r.Writes = len(started)
	last := leaderStore.AppliedIndex()
	if err := waitAll(say, next, last); err != nil {
		return r, err
	}
	// The child's arrival times: per edge, per raft index, unix ns.
	if err := say("times"); err != nil {
		return r, err
	}
	line, err := next()
	if err != nil {
		return r, err
	}
	var arrivals [][]int64 // [edge][index]
	if err := json.Unmarshal([]byte(line), &arrivals); err != nil {
		return r, fmt.Errorf("times: %w", err)
	}
	var all, med []float64
	for idx, start := range started {
		var per []float64
		for _, a := range arrivals {
			if int(idx) >= len(a) || a[idx] == 0 {
				return r, fmt.Errorf("an edge has no arrival for index %d", idx)
			}
			per = append(per, float64(a[idx]-start)/1e6)
		}
		slices.Sort(per)
		all = append(all, per[len(per)-1])
		med = append(med, per[len(per)/2])
	}
	slices.Sort(all)
	slices.Sort(med)
	r.AllP50, r.AllP99, r.AllMax = pct(all, 50), pct(all, 99), all[len(all)-1]
	r.MedP50, r.MedP99 = pct(med, 50), pct(med, 99)

	// Catch-up by snapshot beside the K edges.
	const batch = 1000
	for i := 0; i < links; i += batch {
		if _, err := leader.Apply(ctx, linkCommand(1_000_000+i, 1_000_000+min(i+batch, links))); err != nil {
			return r, err
		}
	}
	if err := waitAll(say, next, leaderStore.AppliedIndex()); err != nil {
		return r, err
	}
	if err := leader.Snapshot(); err != nil {
		return r, err
	}
	r.SnapshotBytes = disk.Size(filepath.Join(dir, "c1", "replication", "snapshots"))
	target := leaderStore.AppliedIndex()
	newID := fmt.Sprintf("e%d", k+1)
	if err := say("join %s %d", newID, target); err != nil {
		return r, err
	}
	line, err = next()
	if err != nil {
		return r, err
	}
	var id, addr string
	if _, err := fmt.Sscanf(line, "edge %s %s", &id, &addr); err != nil || id != newID {
		return r, fmt.Errorf("edges child said %q", line)
	}
	joinStart := time.Now()
	if err := leader.AddMember(id, addr, false); err != nil {
		return r, err
	}
	if line, err = next(); err != nil {
		return r, err
	}
	var caught int64
	if _, err := fmt.Sscanf(line, "caught %d", &caught); err != nil {
		return r, fmt.Errorf("edges child said %q", line)
	}
	r.CatchUpS = time.Unix(0, caught).Sub(joinStart).Seconds()
	r.ChildRSS = rssMiB(cmd.Process.Pid)
	return r, nil
}

// waitAll asks the child to answer once every edge applied index.
func waitAll(say func(string, ...any) error, next func() (string, error), index uint64) error {
	if err := say("wait %d", index); err != nil {
		return err
	}
	line, err := next()
	if err != nil {
		return err
	}
	if line != "at "+strconv.FormatUint(index, 10) {
		return fmt.Errorf("edges child said %q", line)
	}
	return nil
}

// runEdges is the child: k non-voter nodes of dir's cluster, each with its
// own store, reporting when each applied each raft index.
func runEdges(dir string, k int) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	type edge struct {
		node  *replication.Node
		store *replication.Store
		seen  uint64
		times []int64 // unix ns each index was first seen applied
	}
	var edges []*edge
	defer func() {
		for _, e := range edges {
			e.node.Close()
			e.store.Close()
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	open := func(id string) (*edge, error) {
		n, st, err := openNode(dir, id, false, quiet)
		if err != nil {
			return nil, err
		}
		e := &edge{node: n, store: st}
		edges = append(edges, e)
		fmt.Fprintf(out, "edge %s %s\n", id, n.Addr())
		return e, out.Flush()
	}
	for i := 1; i <= k; i++ {
		if _, err := open(fmt.Sprintf("e%d", i)); err != nil {
			return err
		}
	}
	// Commands arrive on stdin; the poll loop below runs them.
	cmds := make(chan string)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			cmds <- in.Text()
		}
		close(cmds)
	}()
	var (
		waitFor  uint64 // "wait": answer once every edge applied it
		waiting  bool
		joined   *edge // "join": answer once it applied joinAt
		joinAt   uint64
		measured = k // the edges whose times count
	)
	poll := time.NewTicker(250 * time.Microsecond)
	defer poll.Stop()
	for {
		select {
		case c, ok := <-cmds:
			if !ok {
				return nil
			}
			f := strings.Fields(c)
			switch {
			case len(f) == 2 && f[0] == "wait":
				waitFor, _ = strconv.ParseUint(f[1], 10, 64)
				waiting = true
			case len(f) == 1 && f[0] == "times":
				var ts [][]int64
				for _, e := range edges[:measured] {
					ts = append(ts, e.times)
				}
				b, err := json.Marshal(ts)
				if err != nil {
					return err
				}
				out.Write(append(b, '\n'))
				if err := out.Flush(); err != nil {
					return err
				}
			case len(f) == 3 && f[0] == "join":
				joinAt, _ = strconv.ParseUint(f[2], 10, 64)
				e, err := open(f[1])
				if err != nil {
					return err
				}
				joined = e
			default:
				return fmt.Errorf("unknown command %q", c)
			}
		case <-poll.C:
		}
		now := time.Now().UnixNano()
		lowest := ^uint64(0)
		for i, e := range edges {
			ai := e.store.AppliedIndex()
			if i < measured && ai > e.seen {
				for uint64(len(e.times)) <= ai {
					e.times = append(e.times, 0)
				}
				for idx := e.seen + 1; idx <= ai; idx++ {
					e.times[idx] = now
				}
			}
			e.seen = ai
			if i < measured {
				lowest = min(lowest, ai)
			}
		}
		if waiting && lowest >= waitFor {
			waiting = false
			fmt.Fprintf(out, "at %d\n", waitFor)
			out.Flush()
		}
		if joined != nil && joined.seen >= joinAt {
			fmt.Fprintf(out, "caught %d\n", now)
			out.Flush()
			joined = nil
		}
	}
}

// openNode opens node id of dir's cluster: its store and raft node over
// mutual TLS on a loopback port. Snapshots are taken only when asked and
// keep 16 entries, so a joining edge installs one.
func openNode(dir, id string, voter bool, logger *slog.Logger) (*replication.Node, *replication.Store, error) {
	b, err := clustercert.Load(filepath.Join(dir, "certs"), id)
	if err != nil {
		return nil, nil, err
	}
	st, err := replication.OpenStore(filepath.Join(dir, id, "edge"), logger)
	if err != nil {
		return nil, nil, err
	}
	n, err := replication.Open(replication.Config{
		NodeID: id, RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, id, "replication"),
		Voter: voter, Bootstrap: voter, Logger: logger, ServerTLS: b.ServerConfig(), ClientTLS: b.ClientConfig(),
		SnapshotThreshold: 1 << 30, TrailingLogs: 16,
	}, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return n, st, nil
}

// linkCommand puts links from to to-1 in one raft entry.
func linkCommand(from, to int) []byte {
	var cmd kv.Command
	for j := from; j < to; j++ {
		slug := fmt.Sprintf("s%08d", j)
		cmd.Ops = append(cmd.Ops, kv.Op{Type: kv.OpPutLink, Link: &kv.Link{
			ID: fmt.Sprintf("link_%026d", j), OrgID: "org_bench", Domain: "h0p.link", Slug: slug,
			URL: "https://example.com/landing/page?campaign=bench&item=" + slug, Version: 1,
		}})
	}
	return cmd.Encode()
}

// cpuSeconds is this process's user and system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var bytesAcked = regexp.MustCompile(`bytes_acked:(\d+)`)

// sentBytes is what this process's TCP sockets sent and had acknowledged
// (ss's bytes_acked, summed): the leader's raft traffic, TLS included.
// Sockets closed meanwhile are not counted.
func sentBytes() int64 {
	b, err := exec.Command("ss", "-tinpH").Output()
	if err != nil {
		log.Fatalf("ss: %v", err)
	}
	pid := "pid=" + strconv.Itoa(os.Getpid()) + ","
	var total int64
	// ss prints each socket on two lines: addresses and users, then its
	// TCP_INFO.
	ls := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(ls); i++ {
		if !strings.Contains(ls[i], pid) {
			continue
		}
		if m := bytesAcked.FindStringSubmatch(ls[i+1]); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			total += n
		}
	}
	return total
}

func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func pct(sorted []float64, p float64) float64 {
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func report(rows []row, rate int, duration time.Duration, links int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Raft fan-out: one leader, K non-voter edges (make bench-fanout)\n\n"+
		"%s · %d CPUs · in-process nodes over mutual TLS on loopback: the leader in the bench's process, the K edges in one child process · steady phase %d single-link writes/s for %v · catch-up after %d links\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), rate, duration, links)
	b.WriteString("| edges | leader CPU idle | sent idle | leader CPU at rate | sent at rate | create → live, every edge p50 / p99 / max | median edge p50 / p99 | new edge catch-up (snapshot) | snapshot | edges' RSS |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %.1f%% | %s/s | %.1f%% | %s/s | %.1f / %.1f / %.1f ms | %.1f / %.1f ms | %.2f s | %.1f MiB | %.0f MiB |\n",
			r.Edges, 100*r.IdleCPU, human(r.IdleBytesSec), 100*r.CPU, human(r.BytesSec),
			r.AllP50, r.AllP99, r.AllMax, r.MedP50, r.MedP99, r.CatchUpS, float64(r.SnapshotBytes)/(1<<20), r.ChildRSS)
	}
	b.WriteString("\nLeader CPU is a share of one core (user and system time of the leader's process over the phase); " +
		"\"sent\" is what its TCP sockets sent and had acknowledged (ss's bytes_acked), TLS records included. " +
		"Create → live runs from just before the leader's Apply to the entry applied in an edge's store (polled every 250 µs), " +
		"on the slowest of the K edges and on the median one. The edges share the machine's CPUs with the leader: " +
		"on this 2-CPU machine the child's K nodes compete with the leader, as K machines would not.\n")
	return b.String()
}

func human(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
