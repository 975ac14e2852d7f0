// Command create measures how fast links are created through the API of a
// running h0p (make bench-create starts h0p dev for it with raised rate
// limits): single creates from N concurrent clients, and bulk creates of
// 1,000 links per request. It writes bench/results/create.json and .md.
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
		clients  = flag.Int("clients", 8, "concurrent clients for single creates")
		duration = flag.Duration("duration", 10*time.Second, "how long the single-create run lasts")
		bulks    = flag.Int("bulks", 20, "bulk requests of 1,000 links")
		bulkCli  = flag.Int("bulk-clients", 2, "concurrent clients for bulk creates")
		out      = flag.String("out", "bench/results", "directory for create.json and .md")
	)
	flag.Parse()
	if *key == "" {
		log.Fatal("need -key or H0P_API_KEY")
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := fmt.Sprintf("c%d", time.Now().UnixNano()%1_000_000)

	post := func(path string, body []byte) (int, []byte) {
		req, _ := http.NewRequest("POST", *api+path, bytes.NewReader(body))
		req.Header.Set("x-api-key", *key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Single creates: each client posts one link at a time until the end.
	var (
		ok, failed atomic.Int64
		mu         sync.Mutex
		lat        []time.Duration
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(*duration)
	start := time.Now()
	for c := range *clients {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				body := fmt.Sprintf(`{"url":"https://example.com/%s/%d/%d"}`, run, c, i)
				t0 := time.Now()
				status, b := post("/v1/links", []byte(body))
				mine = append(mine, time.Since(t0))
				if status == 201 {
					ok.Add(1)
				} else if failed.Add(1) <= 3 {
					log.Printf("single create: %d %s", status, b)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	singleElapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	singleRate := float64(ok.Load()) / singleElapsed.Seconds()

	// Bulk creates: 1,000 links a request.
	var bulkOK, bulkFailed atomic.Int64
	next := make(chan int)
	start = time.Now()
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
				status, body := post("/v1/links/bulk", []byte(sb.String()))
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

	res := map[string]any{
		"single": map[string]any{"clients": *clients, "seconds": singleElapsed.Seconds(), "created": ok.Load(),
			"failed": failed.Load(), "perSecond": singleRate, "p50ms": pct(0.5), "p99ms": pct(0.99)},
		"bulk": map[string]any{"clients": *bulkCli, "requests": *bulks, "linksPerRequest": 1000, "seconds": bulkElapsed.Seconds(),
			"created": bulkOK.Load(), "failed": bulkFailed.Load(), "perSecond": bulkRate},
		"cpus": runtime.NumCPU(), "measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := fmt.Sprintf("# Link creation throughput (h0p dev, SQLite, single raft voter)\n\n"+
		"| mode | clients | created | failed | links/s | p50 | p99 |\n|---|---|---|---|---|---|---|\n"+
		"| single POST /v1/links | %d | %d | %d | %.0f | %.2f ms | %.2f ms |\n"+
		"| bulk POST /v1/links/bulk (1,000 per request) | %d | %d | %d | %.0f | | |\n\n"+
		"Measured %s on a %d-CPU machine, client and server on the same machine.\n",
		*clients, ok.Load(), failed.Load(), singleRate, pct(0.5), pct(0.99),
		*bulkCli, bulkOK.Load(), bulkFailed.Load(), bulkRate, res["measuredAt"], runtime.NumCPU())
	if err := results.Write(*out, "create", res, md); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
}
