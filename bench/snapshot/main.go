// Command snapshot measures how a fresh edge catches up on a large store: a
// leader (in-process raft node over mutual TLS on loopback) is loaded with
// -links links in batched commands and snapshots; then a new edge joins as a
// non-voter and installs the snapshot. It reports the seconds until the
// edge's content equals the leader's and the snapshot's bytes, in
// bench/results/snapshot.json and .md.
//
//	go run ./bench/snapshot -links 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/h0p/h0p/bench/internal/disk"
	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

func main() {
	links := flag.Int("links", 1_000_000, "links in the store")
	batch := flag.Int("batch", 1000, "links per raft entry while loading")
	out := flag.String("out", "bench/results", "directory for snapshot.json and .md")
	flag.Parse()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "h0p-snapshot-bench")
	must(err)
	defer os.RemoveAll(dir)

	ca, err := clustercert.MintCA("bench", time.Now())
	must(err)
	specs, _ := clustercert.ParseNodeList("c1,e1")
	must(clustercert.WriteDir(filepath.Join(dir, "certs"), ca, specs, false))
	open := func(id string, voter bool) (*replication.Node, *replication.Store) {
		b, err := clustercert.Load(filepath.Join(dir, "certs"), id)
		must(err)
		st, err := replication.OpenStore(filepath.Join(dir, id, "edge"), quiet)
		must(err)
		n, err := replication.Open(replication.Config{
			NodeID: id, RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, id, "replication"),
			Voter: voter, Bootstrap: voter, Logger: quiet, ServerTLS: b.ServerConfig(), ClientTLS: b.ClientConfig(),
			HeartbeatTimeout: 500 * time.Millisecond, SnapshotThreshold: 1 << 30, TrailingLogs: 16,
		}, st)
		must(err)
		return n, st
	}
	ctx := context.Background()
	leader, leaderStore := open("c1", true)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	must(leader.WaitLeader(wctx))
	cancel()

	loadStart := time.Now()
	for i := 0; i < *links; i += *batch {
		var cmd kv.Command
		for j := i; j < min(i+*batch, *links); j++ {
			slug := fmt.Sprintf("s%07d", j)
			cmd.Ops = append(cmd.Ops, kv.Op{Type: kv.OpPutLink, Link: &kv.Link{
				ID: fmt.Sprintf("link_%026d", j), OrgID: "org_bench", Domain: "h0p.link", Slug: slug,
				URL: "https://example.com/landing/page?campaign=bench&item=" + slug, Version: 1,
			}})
		}
		_, err := leader.Apply(ctx, cmd.Encode())
		must(err)
	}
	loadTime := time.Since(loadStart)
	snapStart := time.Now()
	must(leader.Snapshot())
	snapTime := time.Since(snapStart)
	snapBytes := disk.Size(filepath.Join(dir, "c1", "replication", "snapshots"))
	want, err := leaderStore.Digest()
	must(err)

	edge, edgeStore := open("e1", false)
	installStart := time.Now()
	must(leader.AddMember("e1", edge.Addr(), false))
	for edgeStore.AppliedIndex() < leaderStore.AppliedIndex() {
		time.Sleep(5 * time.Millisecond)
	}
	installTime := time.Since(installStart)
	got, err := edgeStore.Digest()
	must(err)
	count, _ := edgeStore.LinkCount()
	if got != want || count != uint64(*links) {
		log.Fatalf("edge differs from leader after install: %d links, digest %s vs %s", count, got, want)
	}
	edge.Close()
	leader.Close()

	res := map[string]any{
		"links":           *links,
		"loadSeconds":     loadTime.Seconds(),
		"snapshotSeconds": snapTime.Seconds(),
		"snapshotBytes":   snapBytes,
		"installSeconds":  installTime.Seconds(),
		"contentEqual":    true,
		"cpus":            runtime.NumCPU(),
		"measuredAt":      time.Now().UTC().Format(time.RFC3339),
	}
	md := fmt.Sprintf("# Snapshot install to a fresh edge\n\n"+
		"%d links (loaded in %d-link raft entries in %.1f s), leader snapshot taken in %.1f s, %.1f MiB on disk.\n\n"+
		"| links | snapshot bytes | install + catch-up | content equal |\n|---|---|---|---|\n| %d | %d (%.1f MiB) | %.2f s | yes |\n\n"+
		"In-process nodes over mutual TLS on loopback, %d CPUs, measured %s. Install time runs from the\n"+
		"AddNonvoter call to the edge's applied index reaching the leader's; the edge's digest is then\n"+
		"compared with the leader's.\n",
		*links, *batch, loadTime.Seconds(), snapTime.Seconds(), float64(snapBytes)/(1<<20),
		*links, snapBytes, float64(snapBytes)/(1<<20), installTime.Seconds(), runtime.NumCPU(), res["measuredAt"])
	must(results.Write(*out, "snapshot", res, md))
	fmt.Print(md)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
