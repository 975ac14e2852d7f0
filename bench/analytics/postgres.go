package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/h0p/h0p/control/analytics/pgstore"
)

// runPostgres loads n clicks' batches into pgstore in a schema of its own,
// vacuums and analyses its tables as autovacuum would after a load, times
// the queries, then measures small batches in another fresh schema. The
// schemas are dropped after.
func runPostgres(ctx context.Context, baseURL string, g *generator, batches [][]byte, n int, queries []benchQuery, start, end time.Time) *engineRun {
	schema, dbURL := newSchema(ctx, baseURL)
	if *pgKeep {
		log.Printf("postgres: schema %s kept", schema)
	} else {
		defer exec(ctx, baseURL, `DROP SCHEMA `+schema+` CASCADE`)
	}
	st, err := pgstore.Open(ctx, dbURL)
	must(err)
	log.Printf("postgres: ingesting %d batches", len(batches))
	cpu0 := serverCPU("postgres")
	run := &engineRun{Engine: "pgstore", Ingest: ingestAll(ctx, st, g, batches, *edges, n)}
	run.Ingest.ServerCPUMicrosClick = float64((serverCPU("postgres") - cpu0).Microseconds()) / float64(n)
	log.Printf("postgres: %.0f clicks/s", run.Ingest.ClicksPerSecond)

	t0 := time.Now()
	exec(ctx, dbURL, `VACUUM (ANALYZE) analytics_clicks, analytics_counts, analytics_link_counts, analytics_edges`)
	run.SettleSeconds = time.Since(t0).Seconds()
	log.Printf("postgres: vacuumed and analysed in %.0f s", run.SettleSeconds)
	run.StoreBytes = schemaBytes(ctx, dbURL, schema)

	timeQueries(ctx, st, g, queries, start, end, run)
	must(st.Close())

	if *smallN > 0 && !*pgKeep {
		log.Printf("postgres: small batches: %d clicks in batches of %d from %d edges", *smallN, *smallB, *smallE)
		schema, dbURL := newSchema(ctx, baseURL)
		defer exec(ctx, baseURL, `DROP SCHEMA `+schema+` CASCADE`)
		ss, err := pgstore.Open(ctx, dbURL)
		must(err)
		cpu0 := serverCPU("postgres")
		run.Small = ingestAll(ctx, ss, g, g.batches(*smallN, *smallB, *smallE, start, end), *smallE, *smallN)
		run.Small.ServerCPUMicrosClick = float64((serverCPU("postgres") - cpu0).Microseconds()) / float64(*smallN)
		must(ss.Close())
		log.Printf("postgres: small batches: %.0f clicks/s", run.Small.ClicksPerSecond)
	}
	return run
}

// newSchema creates an empty schema and returns its name and baseURL
// with search_path set to it.
func newSchema(ctx context.Context, baseURL string) (schema, dbURL string) {
	u, err := url.Parse(baseURL)
	must(err)
	b := make([]byte, 6)
	rand.Read(b)
	schema = "bench_" + hex.EncodeToString(b)
	exec(ctx, baseURL, `CREATE SCHEMA `+schema)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return schema, u.String()
}

// exec runs one statement on its own connection.
func exec(ctx context.Context, dbURL, sql string) {
	conn, err := pgx.Connect(ctx, dbURL)
	must(err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	must(err)
}

// schemaBytes is the size of schema's tables with their indexes.
func schemaBytes(ctx context.Context, dbURL, schema string) int64 {
	conn, err := pgx.Connect(ctx, dbURL)
	must(err)
	defer conn.Close(ctx)
	var n int64
	must(conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
		JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'r'`, schema).Scan(&n))
	return n
}

// serverCPU is the user and system CPU time of this machine's processes
// whose name starts with name (postgres, clickhouse; from /proc; clock
// ticks of 10 ms). Other users of the server count too: the machine is
// shared.
func serverCPU(name string) time.Duration {
	var ticks int64
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "("+name) {
			continue
		}
		// After the name: state, ppid, … utime is the 12th field, stime the 13th.
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
