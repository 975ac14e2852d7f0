# H0p — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
FUZZTIME ?= 10s

.PHONY: domains-sandbox domains-sandbox-stop run test test-faults build lint fuzz cluster cluster-stop bench-propagation bench-snapshot bench-fanout bench-create bench-edge bench-analytics bench-webhooks bench-qr bench-files bench-dashboard

# Control + edge in one process on embedded defaults; prints the bootstrap key
# on first start. Data in ./data.
run:
	$(GO) run ./cmd/h0p dev

# A DNS server and an ACME server (Let's Encrypt's test servers) on
# 127.0.0.1, for trying custom domains with h0p dev (README, "Custom
# domains"); domains-sandbox-stop stops them.
domains-sandbox:
	deploy/domains-sandbox.sh
domains-sandbox-stop:
	deploy/domains-sandbox.sh stop

# Everything CI checks: formatting, vet, and all tests with the race detector,
# against a real PostgreSQL (deploy/test/postgres.sh installs and starts one
# when H0P_TEST_POSTGRES_URL is not set; it needs root), and Redis and
# ClickHouse alike (deploy/test/redis.sh, deploy/test/clickhouse.sh).
test: lint
	H0P_TEST_POSTGRES_URL=$${H0P_TEST_POSTGRES_URL:-$$(deploy/test/postgres.sh)} && \
	  H0P_TEST_REDIS_URL=$${H0P_TEST_REDIS_URL:-$$(deploy/test/redis.sh)} && \
	  H0P_TEST_CLICKHOUSE_URL=$${H0P_TEST_CLICKHOUSE_URL:-$$(deploy/test/clickhouse.sh)} && \
	  export H0P_TEST_POSTGRES_URL H0P_TEST_REDIS_URL H0P_TEST_CLICKHOUSE_URL && \
	  $(GO) test -race -count=1 ./...

# The long cluster fault scenarios (real processes, SIGKILL/SIGSTOP, 50,000
# writes, every click counted through crashes and outages, on PostgreSQL's
# click store and on ClickHouse's); CI runs them after make test.
test-faults:
	H0P_TEST_POSTGRES_URL=$${H0P_TEST_POSTGRES_URL:-$$(deploy/test/postgres.sh)} && \
	  H0P_TEST_CLICKHOUSE_URL=$${H0P_TEST_CLICKHOUSE_URL:-$$(deploy/test/clickhouse.sh)} && \
	  export H0P_TEST_POSTGRES_URL H0P_TEST_CLICKHOUSE_URL && \
	  H0P_FAULTS=1 $(GO) test -count=1 -timeout 30m -run 'TestFault' -v ./cmd/h0p

# Propagation (201 → live on every edge) against a running make cluster
# started with raised rate limits:
#   H0P_RATE_PER_SECOND=100000 H0P_RATE_PER_MINUTE=10000000 make cluster
bench-propagation:
	H0P_API_KEY=$$(cat cluster/c1/bootstrap.key) $(GO) run ./bench/propagation -n 1000

# Links created per second against h0p dev: single (8 clients) and bulk.
bench-create:
	bench/create/run.sh

# Edge vs nginx (and a bare fasthttp floor) on 100,000 and 1,000,000 links, CPUs shared and pinned (about 18 minutes).
bench-edge:
	bench/edge/run.sh

# Snapshot install of 1,000,000 links to a fresh edge (in-process nodes, mTLS).
bench-snapshot:
	$(GO) run ./bench/snapshot -links 1000000

# Raft fan-out: one leader and K non-voter edges (10, 25, 50, 100, 200) on
# loopback; the leader's CPU and bytes idle and at 50 writes/s, create → live
# on every edge, a new edge's catch-up by snapshot at 100,000 links (about
# 4 minutes, 13 GiB of memory at 200 edges).
bench-fanout:
	$(GO) run ./bench/fanout

# The click stores (control/analytics/pebblestore, pgstore, chstore): ingest of
# 10,000,000 clicks, the stats queries on them, small batches from many edges,
# a SQLite baseline; pgstore in a schema of the test PostgreSQL
# (deploy/test/postgres.sh when H0P_TEST_POSTGRES_URL is not set), chstore
# in a database of the test ClickHouse (deploy/test/clickhouse.sh). Stores
# under /tmp and the schemas are deleted after; 5 to 10 minutes, 2 GB of
# memory and 5 GB of PostgreSQL's disk.
bench-analytics:
	H0P_TEST_POSTGRES_URL=$${H0P_TEST_POSTGRES_URL:-$$(deploy/test/postgres.sh)} && \
	  $(GO) run ./bench/analytics -clicks 10000000 -postgres "$$H0P_TEST_POSTGRES_URL" -clickhouse "$${H0P_TEST_CLICKHOUSE_URL:-$$(deploy/test/clickhouse.sh)}"

# Webhook deliveries of h0p dev to a receiver on 127.0.0.1: sustained
# deliveries/s to 1 and 10 endpoints, and the delay from a create to its
# delivery at 50 links/s (about 2 minutes).
bench-webhooks:
	bench/webhooks/run.sh -profile /tmp/h0p-webhooks.prof

# QR code renders on one core (control/qr): PNG, SVG, PNG with a logo, and
# the matrix and PNG encoding alone as the floor (about 15 seconds).
bench-qr:
	$(GO) run ./bench/qr

# File storage (control/files/blobs): Put throughput of 10 MiB and 100 KiB
# objects into a directory under /tmp and into gofakes3 on loopback, beside
# their floors (write + fsync + rename; an HTTP PUT to a discarding server).
# About 75 seconds.
bench-files:
	$(GO) run ./bench/files

# The dashboard's pages in an org of 100,000 links and 1,000,000 clicks
# (control in-process on 127.0.0.1, SQLite): p50/p90/p99/max of each page
# beside its API calls alone, against the 200 ms budget (about 5 minutes).
bench-dashboard:
	$(GO) run ./bench/dashboard

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/h0p ./cmd/h0p

lint:
	@out=$$(gofmt -l .); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Runs every fuzz target for FUZZTIME each (go test takes one target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# 3 control nodes + 2 edges on loopback with generated certs (state in ./cluster).
cluster:
	deploy/cluster/cluster.sh start

cluster-stop:
	deploy/cluster/cluster.sh stop
