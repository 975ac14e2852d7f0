#!/usr/bin/env bash
# make bench-edge: installs nginx, wrk, taskset and chrt from Debian if missing, then runs
# bench/edge (edge vs nginx on the same random links) and writes
# bench/results/edge.json and edge.md. Extra arguments go to bench/edge,
# e.g. bench/edge/run.sh -links 100000 -rounds 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || ! command -v taskset >/dev/null || ! command -v chrt >/dev/null; then
	apt-get install -y nginx-light wrk util-linux >/dev/null
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/bench-edge" ./bench/edge
go build -o "$dir/h0p" ./cmd/h0p # the control node the shipping edge posts its clicks to
"$dir/bench-edge" -h0p "$dir/h0p" "$@"
