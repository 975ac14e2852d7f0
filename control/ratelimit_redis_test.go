package control_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/ratelimit/redislimit/redistest"
	"github.com/h0p/h0p/control/store/pgtest"
)

// answer is what a rate-limit test reads of a response.
type answer struct {
	status     int
	code       string // the error envelope's
	retryAfter string
	rateLimit  string
}

func get(t *testing.T, url, key string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return answer{resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit")}
}

// Three control nodes on one PostgreSQL store and one Redis: 600 requests
// with one key, spread over the three at once, get the key's 100 a minute,
// not 300; the other 500 are refused 429 by whichever node they reach.
func TestRedisRateLimitsSharedByThreeNodes(t *testing.T) {
	redisURL := redistest.URL(t)
	_, dbURL := pgtest.Schema(t)
	dir := t.TempDir()
	shared := func(c *control.Config) {
		c.DatabaseURL, c.PepperFile = dbURL, filepath.Join(dir, "pepper")
		c.RateLimitRedisURL = redisURL
		c.RateLimits = ratelimit.Limits{PerSecond: 1000, PerMinute: 100}
	}
	var nodes []*stack
	for _, name := range []string{"a", "b", "c"} {
		s := mustStartStack(t, filepath.Join(dir, name), nil, shared)
		defer s.stop(t)
		nodes = append(nodes, s)
	}
	var key string
	if _, err := nodes[0].control.Bootstrap(context.Background(), func(k string) error { key = k; return nil }); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	count := map[int]int{}
	var wg sync.WaitGroup
	for g := range 30 {
		wg.Go(func() {
			for i := range 20 {
				a := get(t, nodes[(g+i)%3].control.URL()+"/v1/links", key)
				mu.Lock()
				count[a.status]++
				mu.Unlock()
				if a.status == 429 && (a.code != "RATE_LIMITED" || a.rateLimit == "" || a.retryAfter == "") {
					t.Errorf("429 without its envelope or headers: %+v", a)
				}
			}
		})
	}
	wg.Wait()
	if count[200] != 100 || count[429] != 500 {
		t.Errorf("answers by status: %v, want 100 200s and 500 429s", count)
	}
}

// Redis killed mid-test: a node that fails open lets requests through,
// unlimited, and counts each in h0p_ratelimit_redis_errors_total; a node
// that fails closed refuses them 503 UNAVAILABLE with Retry-After. Redis
// started again, both limit again.
func TestRedisRateLimitsWhileRedisIsDown(t *testing.T) {
	srv := redistest.StartServer(t)
	limits := ratelimit.Limits{PerSecond: 1000, PerMinute: 3}
	reg := prometheus.NewRegistry()
	open := mustStartStack(t, t.TempDir(), nil, func(c *control.Config) {
		c.RateLimitRedisURL, c.RateLimits, c.Registerer = srv.URL(), limits, reg
	})
	defer open.stop(t)
	closed := mustStartStack(t, t.TempDir(), nil, func(c *control.Config) {
		c.RateLimitRedisURL, c.RateLimits, c.RateLimitFailClosed = srv.URL(), limits, true
	})
	defer closed.stop(t)
	keys := map[*stack]string{}
	for _, s := range []*stack{open, closed} {
		if _, err := s.control.Bootstrap(context.Background(), func(k string) error { keys[s] = k; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// limited checks that each node holds its key to its limits; first, if
	// Redis just came back, it waits for the node to reach it (go-redis
	// redials in the background), spending one request of the key.
	limited := func(when string, restarted bool) {
		t.Helper()
		for name, s := range map[string]*stack{"open": open, "closed": closed} {
			first := 0
			if restarted {
				first = 1
				deadline := time.Now().Add(10 * time.Second)
				for a := get(t, s.control.URL()+"/v1/links", keys[s]); a.rateLimit == ""; a = get(t, s.control.URL()+"/v1/links", keys[s]) {
					if time.Now().After(deadline) {
						t.Fatalf("%s, %s node: still no RateLimit header after 10s: %+v", when, name, a)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			for i := first; i < 3; i++ {
				if a := get(t, s.control.URL()+"/v1/links", keys[s]); a.status != 200 {
					t.Fatalf("%s, %s node, request %d: %+v", when, name, i+1, a)
				}
			}
			if a := get(t, s.control.URL()+"/v1/links", keys[s]); a.status != 429 {
				t.Fatalf("%s, %s node, fourth request: %+v, want 429", when, name, a)
			}
		}
	}
	limited("before the outage", false)

	srv.Kill()
	for i := range 5 {
		if a := get(t, open.control.URL()+"/v1/links", keys[open]); a.status != 200 || a.rateLimit != "" {
			t.Errorf("Redis down, open node, request %d: %+v, want 200 without RateLimit", i+1, a)
		}
		if a := get(t, closed.control.URL()+"/v1/links", keys[closed]); a.status != 503 || a.code != "UNAVAILABLE" || a.retryAfter != "1" {
			t.Errorf("Redis down, closed node, request %d: %+v, want 503 UNAVAILABLE, Retry-After 1", i+1, a)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var errs float64
	for _, mf := range mfs {
		if mf.GetName() == "h0p_ratelimit_redis_errors_total" {
			errs = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if errs != 5 {
		t.Errorf("h0p_ratelimit_redis_errors_total = %v, want 5", errs)
	}

	// Nothing was persisted: the keys start afresh, and their limits hold.
	srv.Start()
	limited("after Redis restarted", true)
}

// A Redis URL that does not parse is refused without echoing its password
// (url.Parse's error quotes the whole URL).
func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://u:s3cret@127.0.0.1:port/0", "redis://u:s3cret@127.0.0.1:6379/db", "http://u:s3cret@127.0.0.1:6379"} {
		srv, err := control.Open(context.Background(), control.Config{APIAddr: "127.0.0.1:0", DataDir: t.TempDir(),
			DefaultDomain: "localhost", Logger: quiet, RateLimitRedisURL: u}, nil)
		if err == nil {
			srv.Close()
			t.Fatalf("%s: opened", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
	}
}
