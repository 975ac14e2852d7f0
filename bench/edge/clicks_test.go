package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestParseModes(t *testing.T) {
	for _, tc := range []struct {
		names   string
		want    []string
		wantErr string
	}{
		{names: "ship,drain", want: []string{ship, drain}},
		{names: " drain , ship ", want: []string{drain, ship}},
		{names: "ship,ship", want: []string{ship}},
		{names: "count", wantErr: `unknown -clicks mode "count"`},
		{names: "", wantErr: "unknown -clicks mode"},
	} {
		got, err := parseModes(tc.names)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseModes(%q): error %v, want one containing %q", tc.names, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseModes(%q) = %v, %v; want %v", tc.names, got, err, tc.want)
		}
	}
}

// edgeMetrics registers the metrics stateOf reads, under their names.
type edgeMetrics struct {
	reg      *prometheus.Registry
	mode     string
	captured func(metrics) int64

	requests                                       *prometheus.CounterVec
	redirects, notFound                            prometheus.Counter
	dropped, spooled, shipped, rejected, untracked prometheus.Counter
	spoolDropped                                   *prometheus.CounterVec
	budget, corrupt                                prometheus.Counter
	queue, segments                                prometheus.Gauge
}

func newEdgeMetrics(t *testing.T) *edgeMetrics {
	t.Helper()
	m := &edgeMetrics{reg: prometheus.NewRegistry(), mode: ship}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "h0p_edge_requests_total"}, []string{"outcome"})
	m.redirects, m.notFound = m.requests.WithLabelValues("redirect"), m.requests.WithLabelValues("not_found")
	counter := func(name string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
		m.reg.MustRegister(c)
		return c
	}
	m.dropped = counter("h0p_edge_clicks_dropped_total")
	m.spooled = counter("h0p_edge_clicks_spooled_total")
	m.shipped = counter("h0p_edge_clicks_shipped_total")
	m.rejected = counter("h0p_edge_clicks_rejected_total")
	m.untracked = counter("h0p_edge_clicks_untracked_total")
	m.spoolDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "h0p_edge_clicks_spool_dropped_total"}, []string{"reason"})
	m.budget, m.corrupt = m.spoolDropped.WithLabelValues("budget"), m.spoolDropped.WithLabelValues("corrupt")
	m.queue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "h0p_edge_click_queue_depth"})
	m.segments = prometheus.NewGauge(prometheus.GaugeOpts{Name: "h0p_edge_clicks_spool_segments"})
	m.reg.MustRegister(m.requests, m.spoolDropped, m.queue, m.segments)
	m.captured = func(v metrics) int64 { return v.get("h0p_edge_clicks_spooled_total") }
	return m
}

func (m *edgeMetrics) state(t *testing.T) clickState {
	t.Helper()
	st, err := stateOf(m.reg, m.mode, m.captured)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStateOfSettlesOnceEveryClickShipped(t *testing.T) {
	m := newEdgeMetrics(t)
	if st := m.state(t); !st.Settled {
		t.Errorf("nothing served: %+v, want settled", st)
	}
	m.redirects.Add(100)
	m.notFound.Add(7) // no click
	m.queue.Set(40)
	if st := m.state(t); st.Settled || st.Redirects != 100 || st.Queue != 40 {
		t.Errorf("clicks in the queue: %+v, want unsettled, 100 redirects", st)
	}
	m.queue.Set(0)
	m.spooled.Add(90)
	m.dropped.Add(5)
	m.untracked.Add(3)
	m.segments.Set(2)
	if st := m.state(t); st.Settled {
		t.Errorf("2 clicks taken off the queue, not spooled: %+v, want unsettled", st)
	}
	m.spooled.Add(2)
	if st := m.state(t); st.Settled {
		t.Errorf("segments unshipped: %+v, want unsettled", st)
	}
	m.segments.Set(0)
	m.shipped.Add(80)
	m.budget.Add(8)
	m.corrupt.Add(3)
	m.rejected.Add(1)
	st := m.state(t)
	want := clickState{Redirects: 100, Untracked: 3, Captured: 92, Dropped: 5, SpoolDropped: 11, Rejected: 1, Shipped: 80, Settled: true}
	if st != want {
		t.Errorf("all shipped or dropped: %+v, want %+v", st, want)
	}

	// The drain edge has no spool: its consumer's count is what it captured.
	m.mode, m.captured = drain, func(metrics) int64 { return 92 }
	m.shipped.Add(5) // ignored without a spool
	if st := m.state(t); !st.Settled {
		t.Errorf("drain mode: %+v, want settled", st)
	}
}

func TestClickReportExact(t *testing.T) {
	good := clickReport{Answered: 990, clickState: clickState{Redirects: 1000, Untracked: 0, Captured: 1000, Shipped: 1000, Settled: true},
		Stored: 1000, Counted: 1000}
	if !good.exact(ship) {
		t.Errorf("%+v: want exact", good)
	}
	for name, change := range map[string]func(*clickReport){
		"a queue drop":      func(c *clickReport) { c.Dropped, c.Captured = 1, 999 },
		"a spool drop":      func(c *clickReport) { c.SpoolDropped = 1 },
		"a rejected click":  func(c *clickReport) { c.Rejected = 1 },
		"unsettled":         func(c *clickReport) { c.Settled = false },
		"a click not taken": func(c *clickReport) { c.Captured = 999 },
		"one stored less":   func(c *clickReport) { c.Stored = 999 },
		"one stored twice":  func(c *clickReport) { c.Stored = 1001 },
		"one counted less":  func(c *clickReport) { c.Counted = 999 },
	} {
		c := good
		change(&c)
		if c.exact(ship) {
			t.Errorf("%s: %+v exact", name, c)
		}
	}
	drained := good
	drained.Stored, drained.Counted = 0, 0
	if !drained.exact(drain) || drained.exact(ship) {
		t.Errorf("drain mode, nothing stored: exact in drain mode only")
	}
}

func TestRatios(t *testing.T) {
	run := func(rps, p99, cpu float64) wrkRun { return wrkRun{RPS: rps, P99US: p99, CPUUS: cpu} }
	r := sizeResult{
		Edge:  []wrkRun{run(80, 4, 10), run(120, 6, 10)},
		Drain: []wrkRun{run(100, 2, 5), run(100, 3, 5)},
		Nginx: []wrkRun{run(100, 4, 10), run(100, 3, 5)},
		Bare:  []wrkRun{run(50, 1, 1), run(150, 1, 1)},
	}
	r.ratios()
	for name, got := range map[string][2]float64{
		"rps":           {r.RatioRPS, 1},        // (0.8 + 1.2) / 2
		"p99":           {r.RatioP99, 1.5},      // (1 + 2) / 2
		"cpu":           {r.RatioCPU, 1.5},      // (1 + 2) / 2
		"drain rps":     {r.RatioDrainRPS, 1},   // (1 + 1) / 2
		"drain p99":     {r.RatioDrainP99, .75}, // (0.5 + 1) / 2
		"drain cpu":     {r.RatioDrainCPU, .75}, // (0.5 + 1) / 2
		"ship/drain":    {r.RatioShipDrainRPS, 1},
		"fasthttp+map":  {r.RatioBareRPS, 1},
		"paced, absent": {r.RatioPacedP99, 0},
	} {
		if math.Abs(got[0]-got[1]) > 1e-9 {
			t.Errorf("%s: %v, want %v", name, got[0], got[1])
		}
	}

	alone := sizeResult{Drain: r.Drain, Nginx: r.Nginx, Bare: r.Bare}
	alone.ratios()
	if alone.RatioRPS != 1 || alone.RatioDrainRPS != 0 || alone.RatioShipDrainRPS != 0 {
		t.Errorf("drain alone: %+v, want its ratios as the edge's", alone)
	}
}

func TestCopyDir(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	files := map[string]string{"MANIFEST-000001": "m", "sub/000002.sst": "sst", "CURRENT": "c"}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(from, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(from, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyDir(from, to); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if b, err := os.ReadFile(filepath.Join(to, name)); err != nil || string(b) != body {
			t.Errorf("%s: %q, %v; want %q", name, b, err, body)
		}
	}
}
