// Package adminserver is the operator-facing HTTP server every H0p process
// runs on its admin address (never the public one): /metrics (Prometheus),
// /healthz (the process is alive), /readyz (it should receive traffic),
// what the process adds (h0p's /status), and Go's /debug/pprof/ profiles
// only when asked for (ServePprof): they expose memory contents and cost
// CPU, so they are off unless an operator turns them on.
//
// Readiness is the conjunction of named checks registered by the parts of
// the process, and is forced false once draining starts, so a load balancer
// stops sending traffic before connections close.
package adminserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports why a part of the process is not ready, or nil.
type Check func() error

// Server serves the admin endpoints.
type Server struct {
	http     *http.Server
	mux      *http.ServeMux
	ln       net.Listener
	draining atomic.Bool

	mu     sync.Mutex
	checks []namedCheck
}

type namedCheck struct {
	name  string
	check Check
}

// New listens on addr and serves metrics from g.
func New(addr string, g prometheus.Gatherer) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen admin on %s: %w", addr, err)
	}
	s := &Server{ln: ln, mux: http.NewServeMux()}
	mux := s.mux
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// ServePprof adds Go's profiles under /debug/pprof/. Call before Run.
func (s *Server) ServePprof() {
	// No /debug/pprof/cmdline: the command line may carry secrets.
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Endpoints describes the admin endpoints, for --help.
const Endpoints = "/metrics (Prometheus), /healthz (alive), /readyz (ready for traffic), /status (raft state, JSON), " +
	"and /debug/pprof/ with --pprof"

// Addr is the address the admin server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handle adds an operator endpoint (e.g. "GET /status"). Call before Run.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck registers a readiness check.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name, c})
}

// Drain makes /readyz fail from now on.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	checks := append([]namedCheck(nil), s.checks...)
	s.mu.Unlock()
	for _, c := range checks {
		if err := c.check(); err != nil {
			http.Error(w, c.name+": "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve admin: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.http.Shutdown(shutdownCtx)
}

// Close releases the listener.
func (s *Server) Close() error {
	s.http.Close()
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
