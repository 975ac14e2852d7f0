// Package deploy holds no code: it is where the operations files live
// (Prometheus rules, the Grafana dashboard, systemd units, the container
// image) and its tests check them against the tools that read them
// (promtool, systemd-analyze) and against the h0p binary built from this
// tree: every flag and H0P_* variable they name must exist. Whether the
// metrics the rules and the dashboard query are exported is checked in
// cmd/h0p (metricsnames_test.go), which runs real nodes.
//
// promtool and systemd-analyze are skipped when absent, unless
// H0P_REQUIRE_PROMTOOL=1 or H0P_REQUIRE_SYSTEMD_ANALYZE=1 asks for them.
package deploy
