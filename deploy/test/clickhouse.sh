#!/usr/bin/env bash
# Makes a ClickHouse server available on 127.0.0.1 for the test suite and
# prints its HTTP URL, the only line this script writes to stdout:
#
#   H0P_TEST_CLICKHOUSE_URL=$(deploy/test/clickhouse.sh) go test ./control/analytics/chstore/
#   deploy/test/clickhouse.sh h0p_bench      # another database, same server
#
# For a Debian 12 machine (CI or a developer box) where it runs as root. It
# installs the distribution's clickhouse-server package only when no server
# is installed, and runs a server of its own (not the package's service):
# HTTP on 127.0.0.1:${H0P_CLICKHOUSE_PORT:-8123}, native protocol on the
# next port, data under /var/lib/h0p-clickhouse (-<port> for another
# port), user default without a password. It creates database h0p_test
# (or the one named as $1). Idempotent: a second run finds the server
# answering and prints the same URL.
set -euo pipefail

db=${1:-h0p_test}
[[ $db =~ ^[a-z][a-z0-9_]*$ ]] || { echo "clickhouse.sh: bad database name $db" >&2; exit 2; }
port=${H0P_CLICKHOUSE_PORT:-8123}
dir=/var/lib/h0p-clickhouse${H0P_CLICKHOUSE_PORT:+-$port} # a server per port
base="http://127.0.0.1:${port}/"

. "$(dirname "$0")/lib.sh"

answers() { [ "$(curl -fsS --max-time 2 --data-binary 'SELECT 1' "$base" 2>/dev/null)" = 1 ]; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it may install packages and start the server)"
PATH=$PATH:/usr/sbin # where Debian puts clickhouse-server

if ! command -v curl >/dev/null; then
	log "installing curl"
	apt_install curl
fi

# The server command: clickhouse-server, or the single clickhouse binary
# of newer packages with its server subcommand.
server=()
find_server() {
	if command -v clickhouse-server >/dev/null; then
		server=("$(command -v clickhouse-server)")
	elif command -v clickhouse >/dev/null; then
		server=("$(command -v clickhouse)" server)
	fi
}
find_server
if [ ${#server[@]} -eq 0 ] && ! answers; then
	log "installing clickhouse-server"
	apt_install clickhouse-server
	find_server
	[ ${#server[@]} -gt 0 ] || die "no clickhouse-server binary after install"
fi

if ! answers; then
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log"
	# A configuration of our own, so the package's service (if any) and its
	# ports and data stay untouched.
	cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
	<logger>
		<level>warning</level>
		<log>$dir/log/server.log</log>
		<errorlog>$dir/log/error.log</errorlog>
		<size>100M</size>
		<count>2</count>
	</logger>
	<listen_host>127.0.0.1</listen_host>
	<http_port>$port</http_port>
	<tcp_port>$((port + 1))</tcp_port>
	<path>$dir/data/</path>
	<tmp_path>$dir/tmp/</tmp_path>
	<user_files_path>$dir/user_files/</user_files_path>
	<users_config>$dir/users.xml</users_config>
	<default_profile>default</default_profile>
	<default_database>default</default_database>
	<timezone>UTC</timezone>
	<mark_cache_size>268435456</mark_cache_size>
	<uncompressed_cache_size>268435456</uncompressed_cache_size>
	<max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
	cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
	<profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
	<users>
		<default>
			<password></password>
			<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
			<profile>default</profile>
			<quota>default</quota>
		</default>
	</users>
	<quotas><default></default></quotas>
</yandex>
XML
	log "starting ${server[*]} on 127.0.0.1:$port (data in $dir)"
	quiet "${server[@]}" --config-file="$dir/config.xml" --pid-file="$dir/server.pid" --daemon ||
		die "${server[*]} failed to start (see $dir/log/error.log)"
fi

deadline=$((SECONDS + 60))
until answers; do
	[ $SECONDS -lt $deadline ] || die "no answer to SELECT 1 at $base after 60s (see $dir/log/error.log)"
	sleep 0.2
done

curl -fsS --data-binary "CREATE DATABASE IF NOT EXISTS $db" "$base" >/dev/null ||
	die "cannot create database $db"

echo "${base}?database=${db}" >&3
