#!/usr/bin/env bash
# make bench-webhooks: starts h0p dev on spare ports in a temporary data
# directory, with raised rate limits, webhooks allowed to plain http on the
# loopback and Go's profiles on the admin address, runs bench/webhooks
# against it (its receiver listens on 127.0.0.1), stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
cleanup() {
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	rm -rf "$dir"
}
pid=
trap cleanup EXIT
go build -o "$dir/h0p" ./cmd/h0p
"$dir/h0p" dev --data "$dir/data" --api-addr 127.0.0.1:28080 --edge-addr 127.0.0.1:28081 \
	--admin-addr 127.0.0.1:29090 --raft-addr 127.0.0.1:27000 --log-level warn --pprof \
	--rate-per-second 10000000 --rate-per-minute 100000000 \
	--webhook-allow-http --webhook-allow-networks 127.0.0.0/8 >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 1 100); do
	curl -fs 127.0.0.1:29090/readyz >/dev/null 2>&1 && break
	sleep 0.1
done
key=$(cut -d= -f2 "$dir/out")
go run ./bench/webhooks -api http://127.0.0.1:28080 -admin http://127.0.0.1:29090 -key "$key" "$@"
if [ -s "$dir/err" ]; then echo "h0p dev's log:"; tail -20 "$dir/err"; fi
