// Command propagation measures how long a link takes to go live everywhere:
// from the 201 of POST /v1/links to the link resolving (302) on every edge.
// It runs against a running cluster (make cluster) and writes
// bench/results/propagation.json and .md.
//
//	go run ./bench/propagation -key $KEY -n 1000
//
// Links are created one at a time, round-robin over the control APIs (so
// followers forward to the leader), and every edge is polled as fast as
// loopback allows until the new slug answers 302; the time is the slowest
// edge's.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
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
	"time"

	"github.com/h0p/h0p/bench/internal/results"
)

func main() {
	var (
		apis    = flag.String("api", "https://127.0.0.1:8441,https://127.0.0.1:8442,https://127.0.0.1:8443", "control API URLs")
		edges   = flag.String("edges", "http://127.0.0.1:8081,http://127.0.0.1:8082", "edge URLs")
		key     = flag.String("key", os.Getenv("H0P_API_KEY"), "API key (default $H0P_API_KEY)")
		cacert  = flag.String("cacert", "cluster/certs/ca.pem", "CA of the control APIs")
		n       = flag.Int("n", 1000, "links to create")
		timeout = flag.Duration("timeout", 10*time.Second, "give up on one link after this long")
		out     = flag.String("out", "bench/results", "directory for propagation.json and .md")
	)
	flag.Parse()
	if *key == "" {
		log.Fatal("need -key or H0P_API_KEY")
	}
	caPEM, err := os.ReadFile(*cacert)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	api := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	edge := &http.Client{
		Timeout:       2 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	apiURLs, edgeURLs := strings.Split(*apis, ","), strings.Split(*edges, ",")
	run := fmt.Sprintf("p%d", time.Now().UnixNano()%1_000_000)

	var lat []time.Duration
	failures := 0
	for i := range *n {
		slug := fmt.Sprintf("%s-%d", run, i)
		body, _ := json.Marshal(map[string]string{"url": "https://example.com/" + slug, "key": slug})
		req, _ := http.NewRequest("POST", apiURLs[i%len(apiURLs)]+"/v1/links", bytes.NewReader(body))
		req.Header.Set("x-api-key", *key)
		resp, err := api.Do(req)
		if err != nil {
			log.Fatalf("create %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			log.Fatalf("create %d: %d %s", i, resp.StatusCode, b)
		}
		acked := time.Now()
		var slowest time.Duration
		for _, e := range edgeURLs {
			d, ok := waitLive(edge, e+"/"+slug, acked, *timeout)
			if !ok {
				failures++
			}
			slowest = max(slowest, d)
		}
		lat = append(lat, slowest)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	res := map[string]any{
		"what":       "time from 201 on POST /v1/links to 302 on every edge",
		"links":      *n,
		"edges":      len(edgeURLs),
		"failures":   failures,
		"p50_ms":     ms(pct(0.50)),
		"p90_ms":     ms(pct(0.90)),
		"p99_ms":     ms(pct(0.99)),
		"max_ms":     ms(lat[len(lat)-1]),
		"cpus":       runtime.NumCPU(),
		"measuredAt": time.Now().UTC().Format(time.RFC3339),
	}
	md := fmt.Sprintf("# Propagation: 201 → live on every edge\n\n"+
		"make cluster (3 control voters, %d edges, loopback, mTLS), %d links created one by one, round-robin over the control APIs.\n\n"+
		"| p50 | p90 | p99 | max | failures |\n|---|---|---|---|---|\n| %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d |\n\n"+
		"Measured %s on a %d-CPU machine.\n",
		len(edgeURLs), *n, ms(pct(0.5)), ms(pct(0.9)), ms(pct(0.99)), ms(lat[len(lat)-1]), failures, res["measuredAt"], runtime.NumCPU())
	if err := results.Write(*out, "propagation", res, md); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
}

// waitLive polls url until it answers 302 and returns the time since start.
func waitLive(c *http.Client, url string, start time.Time, timeout time.Duration) (time.Duration, bool) {
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusFound {
				return time.Since(start), true
			}
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
