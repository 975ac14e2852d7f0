package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/analytics/chstore"
)

// runClickHouse loads the batches into chstore in a database of its own,
// times the queries, then measures small batches in another fresh
// database. The databases are dropped after.
func runClickHouse(ctx context.Context, baseURL string, g *generator, batches [][]byte, n int, queries []benchQuery, start, end time.Time) *engineRun {
	dbURL := newDatabase(baseURL)
	defer chExec(baseURL, `DROP DATABASE IF EXISTS `+database(dbURL))
	st, err := chstore.Open(ctx, dbURL, chstore.Options{})
	must(err)
	log.Printf("clickhouse: ingesting %d batches", len(batches))
	cpu0 := serverCPU("clickhouse")
	run := &engineRun{Engine: "chstore", Ingest: ingestAll(ctx, st, g, batches, *edges, n)}
	run.Ingest.ServerCPUMicrosClick = float64((serverCPU("clickhouse") - cpu0).Microseconds()) / float64(n)
	log.Printf("clickhouse: %.0f clicks/s", run.Ingest.ClicksPerSecond)
	size, err := strconv.ParseInt(strings.TrimSpace(chExec(dbURL,
		`SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND active`)), 10, 64)
	must(err)
	run.StoreBytes = size

	timeQueries(ctx, st, g, queries, start, end, run)
	must(st.Close())

	if *smallN > 0 {
		log.Printf("clickhouse: small batches: %d clicks in batches of %d from %d edges", *smallN, *smallB, *smallE)
		dbURL := newDatabase(baseURL)
		defer chExec(baseURL, `DROP DATABASE IF EXISTS `+database(dbURL))
		ss, err := chstore.Open(ctx, dbURL, chstore.Options{})
		must(err)
		cpu0 := serverCPU("clickhouse")
		run.Small = ingestAll(ctx, ss, g, g.batches(*smallN, *smallB, *smallE, start, end), *smallE, *smallN)
		run.Small.ServerCPUMicrosClick = float64((serverCPU("clickhouse") - cpu0).Microseconds()) / float64(*smallN)
		must(ss.Close())
		log.Printf("clickhouse: small batches: %.0f clicks/s", run.Small.ClicksPerSecond)
	}
	return run
}

// newDatabase creates an empty database and returns baseURL with
// database set to it.
func newDatabase(baseURL string) string {
	u, err := url.Parse(baseURL)
	must(err)
	b := make([]byte, 6)
	rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	chExec(baseURL, `CREATE DATABASE `+name)
	q := u.Query()
	q.Set("database", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func database(dbURL string) string {
	u, err := url.Parse(dbURL)
	must(err)
	return u.Query().Get("database")
}

// chExec runs one statement over ClickHouse's HTTP interface and returns
// its answer.
func chExec(serverURL, sql string) string {
	resp, err := http.Post(serverURL, "text/plain", strings.NewReader(sql))
	must(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(err)
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("%s: %s: %s", sql, resp.Status, body)
	}
	return string(body)
}
