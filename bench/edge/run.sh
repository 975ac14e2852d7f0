#!/usr/bin/env bash
# make bench-edge: installs nginx, wrk and taskset from Debian if missing, then runs
# bench/edge (edge vs nginx on the same random links) and writes
# bench/results/edge.json and edge.md. Extra arguments go to bench/edge,
# e.g. bench/edge/run.sh -links 100000 -rounds 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || ! command -v taskset >/dev/null; then
	apt-get install -y nginx-light wrk util-linux >/dev/null
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/bench-edge" ./bench/edge
"$dir/bench-edge" "$@"
