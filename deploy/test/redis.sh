#!/usr/bin/env bash
# Makes a Redis server available on 127.0.0.1 for the test suite and prints
# its URL, the only line this script writes to stdout:
#
#   H0P_TEST_REDIS_URL=$(deploy/test/redis.sh) go test ./control/ratelimit/...
#
# It installs the distribution's redis-server package when none is installed
# (that needs root; nothing else does), and starts a server of its own:
# loopback only, no persistence (no RDB snapshots, no AOF), on port 6379 when
# that port is free, else on the first free one above. Idempotent: while the
# server it started runs, a second run changes nothing and prints the same
# URL. Its pid, log and port are in $H0P_TEST_REDIS_DIR (default
# /tmp/h0p-test-redis); stop it with kill "$(cat /tmp/h0p-test-redis/pid)".
set -euo pipefail

dir=${H0P_TEST_REDIS_DIR:-/tmp/h0p-test-redis}

. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	[ "$(id -u)" -eq 0 ] || die "redis-server is not installed and installing it needs root"
	log "installing redis-server"
	apt_install redis-server
fi

ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }
url() { echo "redis://127.0.0.1:$1/0" >&3; }

mkdir -p "$dir"
if [ -f "$dir/pid" ] && [ -f "$dir/port" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && ping "$(cat "$dir/port")"; then
	url "$(cat "$dir/port")"
	exit 0
fi

# A port nothing listens on: bash's /dev/tcp connects or fails at once on
# the loopback.
port=6379
while (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
	port=$((port + 1))
	[ $port -lt 6479 ] || die "no free port in 6379-6478"
done

log "starting redis-server on 127.0.0.1:$port"
rm -f "$dir/pid"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" --dir "$dir" 3>&- </dev/null >/dev/null
echo "$port" >"$dir/port"

deadline=$((SECONDS + 30))
until ping "$port"; do
	[ $SECONDS -lt $deadline ] || die "redis-server on port $port not answering after 30s (see $dir/log)"
	sleep 0.1
done
url "$port"
