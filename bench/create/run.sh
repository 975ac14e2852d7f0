#!/usr/bin/env bash
# make bench-create: starts h0p dev on spare ports with raised rate limits in
# a temporary data directory, runs bench/create against it, stops it.
#
# The control store is SQLite, or PostgreSQL when H0P_BENCH_POSTGRES_URL names
# a server (deploy/test/postgres.sh prints one): the run gets an empty schema
# of its own there, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
pg=${H0P_BENCH_POSTGRES_URL:-}
schema=bench_$$_$RANDOM
cleanup() {
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	if [ -n "$pg" ]; then psql -X -q -d "$pg" -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $schema CASCADE" || true; fi
	rm -rf "$dir"
}
pid=
trap cleanup EXIT
db=() engine=SQLite
if [ -n "$pg" ]; then
	psql -X -q -d "$pg" -c "CREATE SCHEMA $schema"
	sep='?'
	[[ $pg == *\?* ]] && sep='&'
	db=(--database-url "$pg${sep}search_path=$schema") engine=PostgreSQL
fi
go build -o "$dir/h0p" ./cmd/h0p
"$dir/h0p" dev --data "$dir/data" "${db[@]}" --api-addr 127.0.0.1:18080 --edge-addr 127.0.0.1:18081 \
	--admin-addr 127.0.0.1:19090 --raft-addr 127.0.0.1:17000 --log-level warn \
	--rate-per-second 10000000 --rate-per-minute 100000000 >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 1 100); do
	curl -fs 127.0.0.1:19090/readyz >/dev/null 2>&1 && break
	sleep 0.1
done
key=$(cut -d= -f2 "$dir/out")
go run ./bench/create -api http://127.0.0.1:18080 -key "$key" -engine "$engine" "$@"
