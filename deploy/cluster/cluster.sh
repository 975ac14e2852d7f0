#!/usr/bin/env bash
# A local H0p cluster on loopback: 3 control nodes (raft voters, sharing one
# PostgreSQL database and one key pepper) and 2 edges (raft non-voters), with
# a dev CA and node certificates. State lives in $H0P_CLUSTER_DIR (./cluster).
#
#   deploy/cluster/cluster.sh start    # make cluster
#   deploy/cluster/cluster.sh stop     # make cluster-stop
#   deploy/cluster/cluster.sh status
#
# Ports: control APIs https 8441-8443, raft 7001-7003 (control) and
# 7011-7012 (edges), edges 8081-8082, admin 9091-9093 (control) and
# 9191-9192 (edges). Raft and admin listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${H0P_CLUSTER_DIR:-./cluster}
bin=$dir/h0p
mkdir -p "$dir/pids" "$dir/logs"

controls=(c1 c2 c3)
edges=(e1 e2)

api_port() { echo $((8440 + ${1#c})); }
edge_addr() { echo "127.0.0.1:$((8080 + ${1#e}))"; }
edge_addrs() { local e out=(); for e in "${edges[@]}"; do out+=("$(edge_addr "$e")"); done; (IFS=,; echo "${out[*]}"); }
ready_port() { case $1 in c*) echo $((9090 + ${1#c})) ;; e*) echo $((9190 + ${1#e})) ;; esac; }

running() { [ -f "$dir/pids/$1.pid" ] && kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null; }

wait_ready() {
	local name=$1 port
	port=$(ready_port "$name")
	for _ in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
		running "$name" || { echo "$name exited; see $dir/logs/$name.log" >&2; tail -n 20 "$dir/logs/$name.log" >&2; return 1; }
		sleep 0.1
	done
	echo "$name not ready after 30s; see $dir/logs/$name.log" >&2
	return 1
}

launch() {
	local name=$1
	shift
	if running "$name"; then echo "$name already running"; return 0; fi
	"$bin" "$@" >>"$dir/logs/$name.out" 2>>"$dir/logs/$name.log" &
	echo $! >"$dir/pids/$name.pid"
}

start() {
	echo "building h0p…"
	go build -o "$bin" ./cmd/h0p
	[ -f "$dir/certs/ca.pem" ] || "$bin" admin certs --out "$dir/certs" --nodes c1,c2,c3,e1,e2
	[ -f "$dir/pepper" ] || (umask 077 && head -c 32 /dev/urandom >"$dir/pepper")
	db=$(deploy/test/postgres.sh h0p_cluster)
	common=(--certs "$dir/certs" --log-level info)
	control_args() {
		local n=${1#c}
		echo --node-id "$1" --raft-addr "127.0.0.1:700$n" --api-addr "127.0.0.1:$(api_port "$1")" \
			--admin-addr "127.0.0.1:$(ready_port "$1")" --data "$dir/$1" \
			--database-url "$db" --pepper-file "$dir/pepper" --short-link-scheme http --short-link-port 8081 \
			--edge-addrs "$(edge_addrs)" --rate-per-second "${H0P_RATE_PER_SECOND:-5}" --rate-per-minute "${H0P_RATE_PER_MINUTE:-100}"
	}
	# All voters start together: on a restart none can lead alone. c1 forms the
	# cluster on its first start (--bootstrap is a no-op once it has state);
	# the others keep retrying their join until c1 leads.
	# shellcheck disable=SC2046
	launch c1 control $(control_args c1) --bootstrap "${common[@]}"
	for c in c2 c3; do
		# shellcheck disable=SC2046
		launch "$c" control $(control_args "$c") --join "https://127.0.0.1:8441" "${common[@]}"
	done
	joins=https://127.0.0.1:8441,https://127.0.0.1:8442,https://127.0.0.1:8443
	for e in "${edges[@]}"; do
		n=${e#e}
		launch "$e" edge --node-id "$e" --raft-addr "127.0.0.1:701$n" --edge-addr "$(edge_addr "$e")" \
			--admin-addr "127.0.0.1:$(ready_port "$e")" --data "$dir/$e" --join "$joins" \
			--fallback-to-default "${common[@]}"
	done
	for n in "${controls[@]}" "${edges[@]}"; do wait_ready "$n"; done
	status
	key=$(cat "$dir/c1/bootstrap.key" 2>/dev/null || true)
	cat <<EOT

H0P_API_KEY=$key
Try:
  curl -s --cacert $dir/certs/ca.pem -H "x-api-key: $key" -d '{"url":"https://example.com"}' https://127.0.0.1:8442/v1/links
  curl -si 127.0.0.1:8081/<key>
Stop with: make cluster-stop
EOT
}

status() {
	printf '%-4s %-8s %-28s %-24s %s\n' node pid public admin state
	for c in "${controls[@]}"; do
		printf '%-4s %-8s %-28s %-24s %s\n' "$c" "$(cat "$dir/pids/$c.pid" 2>/dev/null || echo -)" \
			"https://127.0.0.1:$(api_port "$c")" "127.0.0.1:$(ready_port "$c")" \
			"$(curl -s "http://127.0.0.1:$(ready_port "$c")/readyz" 2>/dev/null || echo down)"
	done
	for e in "${edges[@]}"; do
		printf '%-4s %-8s %-28s %-24s %s\n' "$e" "$(cat "$dir/pids/$e.pid" 2>/dev/null || echo -)" \
			"http://127.0.0.1:808${e#e}" "127.0.0.1:$(ready_port "$e")" \
			"$(curl -s "http://127.0.0.1:$(ready_port "$e")/readyz" 2>/dev/null || echo down)"
	done
}

stop() {
	for f in "$dir"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		fi
		rm -f "$f"
	done
	echo "cluster stopped (state kept in $dir; delete it to start over)"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
