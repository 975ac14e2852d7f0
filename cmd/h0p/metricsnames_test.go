package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// metricRef is a metric name in a PromQL expression: not part of a
// recording rule's name (level:metric:operations), which rules.yml defines.
var metricRef = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(h0p_[a-zA-Z0-9_]+)`)

// jobRef is a metric selected by its scrape job, which must export it.
var jobRef = regexp.MustCompile(`(h0p_[a-zA-Z0-9_]+)\{[^}]*job="(h0p-control|h0p-edge)"`)

// exportedOnlyWith are metrics this test's cluster cannot export, each with
// the file that names it, whose package's tests check it is exported.
var exportedOnlyWith = map[string]string{
	// Needs ACME and an issued certificate: control TestCertificateExpiryMetric.
	"h0p_certificate_expiry_timestamp_seconds": "../../control/certs/expiry.go",
}

// opsExpressions are the PromQL expressions of deploy/prometheus/rules.yml
// and deploy/grafana/h0p.json (queries and template-variable queries).
func opsExpressions(t *testing.T) []string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	b, err = os.ReadFile("../../deploy/grafana/h0p.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	return exprs
}

// scrapeNames reads a node's /metrics: the names of its samples and of its
// metric families (a histogram's base name besides _bucket, _sum, _count).
func scrapeNames(t *testing.T, addr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			names[strings.Fields(f)[0]] = true
		} else if line != "" && line[0] != '#' {
			names[line[:strings.IndexAny(line, "{ ")]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// Every metric the Prometheus rules and the Grafana dashboard query is one
// the real control and edge processes export, by the job that selects it.
// The cluster is made to do what labelled metrics wait for: API requests,
// a redirect and its click, a webhook delivery.
func TestOpsFilesQueryExportedMetrics(t *testing.T) {
	exprs := opsExpressions(t)
	for name, file := range exportedOnlyWith {
		if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), `"`+name+`"`) {
			t.Errorf("%s does not name %s (%v)", file, name, err)
		}
	}
	got := make(chan struct{}, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer recv.Close()

	c := newTestCluster(t, 1, 1)
	c.nodes["c1"].flags = []string{"--webhook-allow-http", "--webhook-allow-networks", "127.0.0.0/8,::1/128"}
	c.startAll()
	c.waitLeader(30 * time.Second)
	if r := c.call("c1", "POST", "/v1/webhooks", `{"url":"`+recv.URL+`/in","events":["link.created"]}`); r.status != 201 {
		t.Fatalf("create webhook: %d %v %v", r.status, r.body, r.err)
	}
	if r := c.call("c1", "POST", "/v1/links", `{"url":"https://example.com/ops","key":"ops"}`); r.status != 201 {
		t.Fatalf("create link: %d %v %v", r.status, r.body, r.err)
	}
	if !c.waitResolves("e1", "ops", "https://example.com/ops", 30*time.Second) {
		t.Fatal("the edge does not redirect the link")
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery")
	}

	exported := map[string]map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The delivery is counted once its attempt is recorded, just after
		// the receiver answered.
		exported["h0p-control"], exported["h0p-edge"] = scrapeNames(t, c.nodes["c1"].admin), scrapeNames(t, c.nodes["e1"].admin)
		if exported["h0p-control"]["h0p_webhook_deliveries_total"] || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricRef.FindAllStringSubmatch(e, -1) {
			used[m[1]] = true
		}
		for _, m := range jobRef.FindAllStringSubmatch(e, -1) {
			if _, skip := exportedOnlyWith[m[1]]; !skip && !exported[m[2]][m[1]] {
				t.Errorf("%s selects %s from job %s, which does not export it", strings.TrimSpace(e), m[1], m[2])
			}
		}
	}
	if len(used) < 20 {
		t.Fatalf("found only %d metric names in the rules and the dashboard: %v", len(used), used)
	}
	for name := range used {
		if _, skip := exportedOnlyWith[name]; skip {
			continue
		}
		if !exported["h0p-control"][name] && !exported["h0p-edge"][name] {
			t.Errorf("%s is queried but neither control nor the edge exports it", name)
		}
	}
}
