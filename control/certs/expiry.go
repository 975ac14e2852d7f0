package certs

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

var expiryDesc = prometheus.NewDesc("h0p_certificate_expiry_timestamp_seconds",
	"When the certificate an edge serves for a custom domain expires (its notAfter, Unix seconds).",
	[]string{"host"}, nil)

// ExpiryCollector exports h0p_certificate_expiry_timestamp_seconds{host}
// for each host Hosts names that has a certificate in Store, read at each
// scrape, so every control node reports the replicated certificates
// whichever node leads, and a renewed certificate shows at once. A host
// without a certificate (not obtained yet) or whose certificate cannot be
// read has no series: the renewal log says why.
type ExpiryCollector struct {
	Store Store
	Hosts func() []string
}

var _ prometheus.Collector = ExpiryCollector{}

// Describe sends the one metric's description.
func (e ExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

// Collect reads each host's certificate.
func (e ExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, host := range e.Hosts() {
		// The scrape gives no context; the replicated store reads locally.
		c, ok, err := e.Store.Certificate(context.Background(), host)
		if err != nil || !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(c.NotAfter.Unix()), host)
	}
}
