// Command create measures how fast links are created through the API of a
// running h0p (make bench-create starts h0p dev for it with raised rate
// limits, on SQLite or, with H0P_BENCH_POSTGRES_URL, PostgreSQL): single
// creates from N concurrent clients; bulk creates of 1,000 links per
// request; and a mixed run, where each client creates a link with an
// Idempotency-Key and then changes its title, so writes that are not link
// creates (idempotency keys, updates) go to the store beside them. It
// writes bench/results/create.json and .md (create-postgresql.json and .md
// on PostgreSQL).
//
//	go run ./bench/create -api http://127.0.0.1:18080 -key $KEY
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/bench/internal/results"
)

func main() {
	var (
		api      = flag.String("api", "http://127.0.0.1:18080", "API base URL")
		key      = flag.String("key", os.Getenv("H0P_API_KEY"), "API key (default $H0P_API_KEY)")
		engine   = flag.String("engine", "SQLite", "the control store's engine, for the results' title")
		clients  = flag.Int("clients", 8, "concurrent clients for single creates and the mixed run")
		duration = flag.Duration("duration", 10*time.Second, "how long the single-create run lasts")
		mixed    = flag.Duration("mixed", 10*time.Second, "how long the mixed run lasts (0: none)")
		bulks    = flag.Int("bulks", 20, "bulk requests of 1,000 links")
		bulkCli  = flag.Int("bulk-clients", 2, "concurrent clients for bulk creates")
		out      = flag.String("out", "bench/results", "directory for the results (create.json and .md, create-<engine>.* for another engine than SQLite)")
	)
	flag.Parse()
	if *key == "" {
		log.Fatal("need -key or H0P_API_KEY")
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := fmt.Sprintf("c%d", time.Now().UnixNano()%1_000_000)

	call := func(method, path string, body []byte, header ...string) (int, []byte) {
		req, _ := http.NewRequest(method, *api+path, bytes.NewReader(body))
		req.Header.Set("x-api-key", *key)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Single creates: each client posts one link at a time until the end.
	single := timed(*clients, *duration, func(c, i int) ([]time.Duration, error) {
		body := fmt.Sprintf(`{"url":"https://example.com/%s/%d/%d"}`, run, c, i)
		t0 := time.Now()
		if status, b := call("POST", "/v1/links", []byte(body)); status != 201 {
			return nil, fmt.Errorf("single create: %d %s", status, b)
		}
		return []time.Duration{time.Since(t0)}, nil
	})

	// Bulk creates: 1,000 links a request.
	var (
		bulkOK, bulkFailed atomic.Int64
		wg                 sync.WaitGroup
	)
	next := make(chan int)
	start := time.Now()
	for range *bulkCli {
		wg.Go(func() {
			for b := range next {
				var sb strings.Builder
				sb.WriteByte('[')
				for i := range 1000 {
					if i > 0 {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"url":"https://example.com/%s/bulk/%d/%d"}`, run, b, i)
				}
				sb.WriteByte(']')
				status, body := call("POST", "/v1/links/bulk", []byte(sb.String()))
				if status != 200 {
					bulkFailed.Add(1000)
					log.Printf("bulk: %d %.200s", status, body)
					continue
				}
				var res struct {
					Data []struct {
						Error any `json:"error"`
					} `json:"data"`
				}
				json.Unmarshal(body, &res)
				for _, r := range res.Data {
					if r.Error == nil {
						bulkOK.Add(1)
					} else {
						bulkFailed.Add(1)
					}
				}
			}
		})
	}
	for b := range *bulks {
		next <- b
	}
	close(next)
	wg.Wait()
	bulkElapsed := time.Since(start)
	bulkRate := float64(bulkOK.Load()) / bulkElapsed.Seconds()

	// Mixed: a create with an Idempotency-Key (two more writes: the key's
	// claim and its answer), then an update of that link; each counts as a
	// request.
	mix := timed(*clients, *mixed, func(c, i int) ([]time.Duration, error) {
		body := fmt.Sprintf(`{"url":"https://example.com/%s/mixed/%d/%d"}`, run, c, i)
		t0 := time.Now()
		status, b := call("POST", "/v1/links", []byte(body), "Idempotency-Key", fmt.Sprintf("%s-%d-%d", run, c, i))
		if status != 201 {
			return nil, fmt.Errorf("mixed create: %d %s", status, b)
		}
		created := time.Since(t0)
		var l struct {
			ID string `json:"id"`
		}
		json.Unmarshal(b, &l)
		t0 = time.Now()
		if status, b := call("PATCH", "/v1/links/"+l.ID, []byte(`{"title":"changed"}`)); status != 200 {
			return []time.Duration{created}, fmt.Errorf("mixed update: %d %s", status, b)
		}
		return []time.Duration{created, time.Since(t0)}, nil
	})

	res := map[string]any{
		"engine": *engine,
		"single": map[string]any{"clients": *clients, "seconds": single.elapsed.Seconds(), "created": single.ok,
			"failed": single.failed, "perSecond": single.rate(), "p50ms": single.pct(0.5), "p99ms": single.pct(0.99)},
		"bulk": map[string]any{"clients": *bulkCli, "requests": *bulks, "linksPerRequest": 1000, "seconds": bulkElapsed.Seconds(),
			"created": bulkOK.Load(), "failed": bulkFailed.Load(), "perSecond": bulkRate},
		"cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := fmt.Sprintf("# Link creation throughput (h0p dev, %s, single raft voter)\n\n"+
		"| mode | clients | done | failed | per second | p50 | p99 |\n|---|---|---|---|---|---|---|\n"+
		"| single POST /v1/links | %d | %d | %d | %.0f | %.2f ms | %.2f ms |\n"+
		"| bulk POST /v1/links/bulk (1,000 per request) | %d | %d | %d | %.0f | | |\n",
		*engine, *clients, single.ok, single.failed, single.rate(), single.pct(0.5), single.pct(0.99),
		*bulkCli, bulkOK.Load(), bulkFailed.Load(), bulkRate)
	if *mixed > 0 {
		res["mixed"] = map[string]any{"clients": *clients, "seconds": mix.elapsed.Seconds(), "requests": mix.ok,
			"failed": mix.failed, "perSecond": mix.rate(), "p50ms": mix.pct(0.5), "p99ms": mix.pct(0.99)}
		md += fmt.Sprintf("| mixed: POST /v1/links with Idempotency-Key, then PATCH it (requests) | %d | %d | %d | %.0f | %.2f ms | %.2f ms |\n",
			*clients, mix.ok, mix.failed, mix.rate(), mix.pct(0.5), mix.pct(0.99))
	}
	md += fmt.Sprintf("\nMeasured %s on a %d-CPU machine, client and server on the same machine.\n", res["measuredAt"], runtime.NumCPU())
	name := "create"
	if *engine != "SQLite" {
		name += "-" + strings.ToLower(*engine)
	}
	if err := results.Write(*out, name, res, md); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
}

// phase is what a timed run did: requests that succeeded and failed, and the
// latency of each that succeeded.
type phase struct {
	ok, failed int64
	elapsed    time.Duration
	lat        []time.Duration // sorted
}

// timed runs clients goroutines calling do(client, i) back to back for d.
// do returns the latency of each request that succeeded and an error when
// one failed.
func timed(clients int, d time.Duration, do func(c, i int) ([]time.Duration, error)) phase {
	var (
		r      phase
		failed atomic.Int64
		mu     sync.Mutex
		wg     sync.WaitGroup
	)
	if d <= 0 {
		return r
	}
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				lat, err := do(c, i)
				mine = append(mine, lat...)
				if err != nil && failed.Add(1) <= 3 {
					log.Print(err)
				}
			}
			mu.Lock()
			r.lat = append(r.lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.ok, r.failed = int64(len(r.lat)), failed.Load()
	slices.Sort(r.lat)
	return r
}

func (r phase) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct is the p-th latency percentile in milliseconds.
func (r phase) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	return float64(r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))].Microseconds()) / 1000
}
