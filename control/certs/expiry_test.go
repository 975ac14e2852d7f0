package certs

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestExpiryCollector(t *testing.T) {
	notAfter := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	store := newMemStore()
	store.certs["a.example.test"] = Certificate{Host: "a.example.test", NotAfter: notAfter}
	store.certs["b.example.test"] = Certificate{Host: "b.example.test", NotAfter: notAfter.Add(24 * time.Hour)}
	for _, tt := range []struct {
		name  string
		hosts []string
		want  string
	}{
		{"none", nil, ""},
		{"host without a certificate", []string{"c.example.test"}, ""},
		{"each host with one", []string{"a.example.test", "b.example.test", "c.example.test"}, `
# HELP h0p_certificate_expiry_timestamp_seconds When the certificate an edge serves for a custom domain expires (its notAfter, Unix seconds).
# TYPE h0p_certificate_expiry_timestamp_seconds gauge
h0p_certificate_expiry_timestamp_seconds{host="a.example.test"} 1.8039024e+09
h0p_certificate_expiry_timestamp_seconds{host="b.example.test"} 1.8039888e+09
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(ExpiryCollector{Store: store, Hosts: func() []string { return tt.hosts }})
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want)); err != nil {
				t.Error(err)
			}
		})
	}
}
