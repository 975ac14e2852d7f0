package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/edge/clickspool"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/clustercert"
)

// Edge modes (-clicks): what takes the clicks off the edge's queue.
const (
	// ship is h0p edge's: the edge, its click spool and its shipper,
	// which posts each batch over mutual TLS to a control node in a
	// process of its own (POST /cluster/v1/clicks).
	ship = "ship"
	// drain is the edge alone, a consumer draining its queue and
	// counting the clicks in memory.
	drain = "drain"
)

// child is the edge process of one layout (-serve).
type child struct {
	dir     string // the size's data (see data)
	mode    string // ship or drain
	addr    string // the edge's
	tlsAddr string // the edge's HTTPS address ("": none)
	admin   string // GET /clicks: clickState
	control string // control's API address (ship)
	loaded  string // created once every link's answer is in memory
	profile string // CPU profile
}

// clickState is what the edge child says of its clicks, from its metrics.
type clickState struct {
	// Redirects are the edge's redirects (h0p_edge_requests_total
	// {outcome="redirect"}); Untracked, those that captured no click.
	Redirects int64 `json:"redirects"`
	Untracked int64 `json:"untracked"`
	// Captured are the clicks taken off the queue: written to the spool
	// (ship) or counted by the consumer (drain).
	Captured int64 `json:"captured"`
	// Dropped: the queue was full (h0p_edge_clicks_dropped_total).
	Dropped int64 `json:"dropped"`
	// SpoolDropped: the spool's budget or a corrupt segment
	// (h0p_edge_clicks_spool_dropped_total); Rejected: refused by control.
	SpoolDropped int64 `json:"spool_dropped"`
	Rejected     int64 `json:"rejected"`
	Shipped      int64 `json:"shipped"` // acknowledged by control
	Queue        int64 `json:"queue"`
	Segments     int64 `json:"segments"` // unshipped, on disk
	// Settled: every redirect's click was captured or dropped, and (ship)
	// every captured click shipped or dropped: nothing in flight.
	Settled bool `json:"settled"`
}

// serve runs the edge of c.mode until SIGTERM.
func (c child) serve() error {
	if c.profile != "" {
		f, err := os.Create(c.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	fasthttpServer, loops := os.Getenv("H0P_BENCH_FASTHTTP") != "", 0
	if !fasthttpServer && edge.EventLoopsSupported {
		// As h0p edge does (cmd/h0p/procs.go): a loop per P, and one P
		// more for the rest of the process (in ship mode the spool and
		// the shipper), which a busy loop never gives up.
		loops = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(loops + 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				log.Printf("edge child: close: %v", err)
			}
		}
	}()

	// Its own copy of the edge store, without raft (bench/README.md).
	storeDir := drainStoreDir
	if c.mode == ship {
		storeDir = edgeStoreDir
	}
	store, err := replication.OpenStore(filepath.Join(c.dir, storeDir), logger)
	if err != nil {
		return err
	}
	closers = append(closers, store.Close)
	cfg := edge.Config{Addr: c.addr, DefaultDomain: domain, Logger: logger, Registerer: reg,
		FasthttpServer: fasthttpServer, Loops: loops}
	if c.tlsAddr != "" {
		if cfg.CertificateKeys, err = certificateKeys(c.dir); err != nil {
			return err
		}
		cfg.TLSAddr = c.tlsAddr
	}
	srv, err := edge.New(cfg, store)
	if err != nil {
		return err
	}
	closers = append(closers, srv.Close)
	go signalLoaded(store, reg, c.loaded)

	var (
		run      func(context.Context) error
		captured func(metrics) int64
	)
	switch c.mode {
	case ship:
		shipper, err := openShipping(c, srv, logger, reg)
		if err != nil {
			return err
		}
		run = func(ctx context.Context) error { return shipper.RunBeside(ctx, srv.Run) }
		captured = func(m metrics) int64 { return m.get("h0p_edge_clicks_spooled_total") }
	default:
		var n atomic.Int64
		run = func(ctx context.Context) error {
			// The consumer takes the queue as often as the shipper
			// does, and counts what it took.
			go func() {
				tick := time.NewTicker(clickspool.TakeEvery)
				defer tick.Stop()
				var taken clicks.Encoder
				for range tick.C {
					srv.TakeClicks(&taken)
					n.Add(int64(taken.Clicks()))
				}
			}()
			return srv.Run(ctx)
		}
		captured = func(metrics) int64 { return n.Load() }
	}

	adminLn, err := net.Listen("tcp", c.admin)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clicks", func(w http.ResponseWriter, _ *http.Request) {
		st, err := stateOf(reg, c.mode, captured)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(st)
	})
	admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go admin.Serve(adminLn)
	closers = append(closers, admin.Close)

	if err := run(ctx); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	log.Printf("edge (%s) Go memory: heap in use %d MiB, heap sys %d MiB, total sys %d MiB, GC cycles %d",
		c.mode, ms.HeapInuse>>20, ms.HeapSys>>20, ms.Sys>>20, ms.NumGC)
	return nil
}

// openShipping opens what h0p edge puts behind its edge: the click spool
// in dir/clicks (its budget and segments as h0p edge's), and the shipper
// whose sink is control's ingest over the cluster path, POST
// /cluster/v1/clicks with the edge's certificate.
func openShipping(c child, srv *edge.Server, logger *slog.Logger, reg *prometheus.Registry) (*clickspool.Shipper, error) {
	id, err := clustercert.Load(filepath.Join(c.dir, certsDir), edgeNodeID)
	if err != nil {
		return nil, err
	}
	spool, err := clickspool.Open(filepath.Join(c.dir, spoolDir), clickspool.Options{
		NodeID: edgeNodeID, SegmentBytes: cluster.MaxClicksBody, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	sender := &cluster.ClickSender{Client: id.Client(), URLs: []string{"https://" + c.control}}
	return &clickspool.Shipper{Spool: spool, Queue: srv, Logger: logger, Sink: sender}, nil
}

// stateOf reads the click counts of reg's metrics.
func stateOf(reg *prometheus.Registry, mode string, captured func(metrics) int64) (clickState, error) {
	m, err := gather(reg)
	if err != nil {
		return clickState{}, err
	}
	s := clickState{
		Redirects:    m.get(`h0p_edge_requests_total{outcome="redirect"}`),
		Untracked:    m.get("h0p_edge_clicks_untracked_total"),
		Captured:     captured(m),
		Dropped:      m.get("h0p_edge_clicks_dropped_total"),
		SpoolDropped: m.get("h0p_edge_clicks_spool_dropped_total"),
		Rejected:     m.get("h0p_edge_clicks_rejected_total"),
		Shipped:      m.get("h0p_edge_clicks_shipped_total"),
		Queue:        m.get("h0p_edge_click_queue_depth"),
		Segments:     m.get("h0p_edge_clicks_spool_segments"),
	}
	s.Settled = s.Queue == 0 && s.Segments == 0 && s.Redirects == s.Untracked+s.Captured+s.Dropped &&
		(mode != ship || s.Captured == s.Shipped+s.SpoolDropped+s.Rejected)
	return s, nil
}

// metrics are the values of counters and gauges by name, summed over
// their series, and by name{label="value"}, summed over the series with
// that label's value.
type metrics map[string]float64

func (m metrics) get(name string) int64 { return int64(m[name]) }

func gather(reg *prometheus.Registry) (metrics, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	m := metrics{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			v := s.GetCounter().GetValue() + s.GetGauge().GetValue()
			m[mf.GetName()] += v
			for _, l := range s.GetLabel() {
				m[fmt.Sprintf("%s{%s=%q}", mf.GetName(), l.GetName(), l.GetValue())] += v
			}
		}
	}
	return m, nil
}

// signalLoaded creates the file loaded once the edge holds the answer of
// every link of store in memory.
func signalLoaded(store *replication.Store, reg *prometheus.Registry, loaded string) {
	want, err := store.LinkCount()
	if err != nil {
		log.Fatal(err)
	}
	for {
		m, err := gather(reg)
		if err != nil {
			log.Fatal(err)
		}
		if uint64(m.get("h0p_edge_answer_table_links")) >= want {
			must(os.WriteFile(loaded, nil, 0o644))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
