package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/h0p/h0p/shared/adminserver"
)

// runner is one server of a process.
type runner struct {
	name string
	run  func(context.Context) error
}

// serve runs the admin server and the given servers until ctx ends or one of
// them fails. Shutdown order: readiness fails first, then (after drainDelay)
// the servers stop accepting and finish in-flight requests, and the admin
// server goes last so metrics stay scrapable while draining.
func serve(ctx context.Context, logger *slog.Logger, admin *adminserver.Server, drainDelay time.Duration, runners ...runner) error {
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	defer stopAdmin()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	failed := make(chan struct{}, len(runners)+1)
	start := func(ctx context.Context, r runner) {
		wg.Go(func() {
			if err := r.run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
				mu.Unlock()
				failed <- struct{}{}
			}
		})
	}
	start(adminCtx, runner{"admin", admin.Run})
	for _, r := range runners {
		start(serveCtx, r)
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down: readiness off, draining")
	case <-failed:
		logger.Error("a server stopped; shutting down")
	}
	admin.Drain()
	if drainDelay > 0 && ctx.Err() != nil {
		time.Sleep(drainDelay)
	}
	stopServing()
	stopAdmin()
	wg.Wait()
	return errors.Join(errs...)
}

// newRegistry is a process's metric registry with the Go and process
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// closers closes what a process opened, in reverse order of opening.
type closers []func() error

func (c *closers) add(f func() error) { *c = append(*c, f) }

func (c closers) close() error {
	var errs []error
	for i := len(c) - 1; i >= 0; i-- {
		errs = append(errs, c[i]())
	}
	return errors.Join(errs...)
}
