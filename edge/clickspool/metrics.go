package clickspool

import "github.com/prometheus/client_golang/prometheus"

// metrics are the spool's and its shipper's, h0p_edge_clicks_….
type metrics struct {
	spooled      prometheus.Counter
	shipped      prometheus.Counter
	rejected     prometheus.Counter
	dropped      *prometheus.CounterVec
	corruptFiles prometheus.Counter
	writeErrors  prometheus.Counter
	shipErrors   prometheus.Counter
	shipLatency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Spool) *metrics {
	m := &metrics{
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_spooled_total",
			Help: "Clicks written to the click spool.",
		}),
		shipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_shipped_total",
			Help: "Clicks control acknowledged (their slots then emptied).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_rejected_total",
			Help: "Clicks control refused for good, kept in the spool's rejected/ directory.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_spool_dropped_total",
			Help: "Spooled clicks dropped before control had them: budget (the disk budget was full), corrupt (a segment failed its checksum).",
		}, []string{"reason"}),
		corruptFiles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_spool_corrupt_files_total",
			Help: "Torn, misnamed or corrupt files removed from the click spool.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_spool_write_errors_total",
			Help: "Failed writes of a click spool segment (the clicks wait in the queue meanwhile).",
		}),
		shipErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "h0p_edge_clicks_ship_errors_total",
			Help: "Failed attempts to ship a click batch to control (each is retried).",
		}),
		shipLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "h0p_edge_clicks_ship_duration_seconds",
			Help:    "Time to ship one click batch to control, failures included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	m.dropped.WithLabelValues("budget")
	m.dropped.WithLabelValues("corrupt")
	if reg == nil {
		return m
	}
	reg.MustRegister(m.spooled, m.shipped, m.rejected, m.dropped, m.corruptFiles, m.writeErrors, m.shipErrors, m.shipLatency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_clicks_spool_bytes",
			Help: "Bytes of the click spool's slots holding unshipped segments.",
		}, func() float64 { b, _, _ := s.stats(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_clicks_spool_empty_bytes",
			Help: "Bytes of the click spool's empty slots, kept for reuse (at most a quarter of its budget).",
		}, func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(s.freeBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_clicks_spool_segments",
			Help: "Unshipped click segments on disk.",
		}, func() float64 { _, n, _ := s.stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "h0p_edge_clicks_spool_oldest_age_seconds",
			Help: "Age of the oldest unshipped click segment (0: none).",
		}, func() float64 { _, _, age := s.stats(); return age.Seconds() }))
	return m
}
