#!/usr/bin/env bash
# Makes a PostgreSQL server available on 127.0.0.1 for the test suite and
# prints its URL, the only line this script writes to stdout:
#
#   H0P_TEST_POSTGRES_URL=$(deploy/test/postgres.sh) go test ./control/store/...
#   deploy/test/postgres.sh h0p_cluster     # another database, same server
#
# For a Debian 12 machine (CI or a developer box) where it runs as root. It
# installs the distribution's postgresql package only when no server is
# installed, uses the Debian cluster tools (pg_lsclusters, pg_ctlcluster,
# pg_createcluster) to find, create or start a cluster, and creates role h0p
# (password h0p) and database h0p_test (or the one named as $1) owned by it. Idempotent: a second run
# changes nothing and prints the same URL.
set -euo pipefail

db=${1:-h0p_test}
[[ $db =~ ^[a-z][a-z0-9_]*$ ]] || { echo "postgres.sh: bad database name $db" >&2; exit 2; }

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (it may install packages and start the server)"

# runuser as postgres from a directory that user may not read makes psql warn.
cd /

# The newest server version installed, or nothing.
server_version() {
	local bin
	for bin in /usr/lib/postgresql/*/bin/postgres; do
		if [ -x "$bin" ]; then basename "$(dirname "$(dirname "$bin")")"; fi
	done | sort -V | tail -n 1
}

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(server_version)" ]; then
	log "installing postgresql"
	apt_install postgresql
fi
version=$(server_version)
[ -n "$version" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql after install"

# Pick a cluster: a running one first, newest version first; otherwise the
# newest one that exists; otherwise create one for the newest server.
# pg_lsclusters columns: version cluster port status owner datadir logfile.
pick_cluster() {
	pg_lsclusters --no-header | sort -k1,1Vr | awk '
		$4 ~ /^online/ && !on { on = $1 " " $2 " " $3 " " $4 }
		!any { any = $1 " " $2 " " $3 " " $4 }
		END { if (on) print on; else if (any) print any }'
}
cluster=$(pick_cluster)
if [ -z "$cluster" ]; then
	log "creating cluster $version/main"
	pg_createcluster "$version" main >/dev/null
	cluster=$(pick_cluster)
	[ -n "$cluster" ] || die "pg_createcluster $version main made no cluster"
fi
read -r cver cname port status <<<"$cluster"

if [[ $status != online* ]]; then
	log "starting cluster $cver/$cname on port $port"
	quiet pg_ctlcluster "$cver" "$cname" start || die "pg_ctlcluster $cver $cname start failed"
fi

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

# pg_ctlcluster start waits for the server, but a cluster that was already
# starting (or one another run just started) may still be in recovery.
deadline=$((SECONDS + 60))
until runuser -u postgres -- pg_isready -q -p "$port"; do
	[ $SECONDS -lt $deadline ] || die "cluster $cver/$cname on port $port not ready after 60s (see pg_lsclusters and its log file)"
	sleep 0.2
done

# Converge the role (so a role left with another password is fixed too) and
# create the database only when it is missing: CREATE DATABASE cannot run in
# the DO block's transaction.
psql_admin -d postgres <<'SQL'
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'h0p') THEN
		CREATE ROLE h0p LOGIN PASSWORD 'h0p';
	ELSE
		ALTER ROLE h0p LOGIN PASSWORD 'h0p';
	END IF;
END
$$;
SQL
if [ -z "$(psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
	log "creating database $db"
	psql_admin -d postgres -c "CREATE DATABASE $db OWNER h0p"
fi

url="postgres://h0p:h0p@127.0.0.1:${port}/${db}?sslmode=disable"

# Prove the URL works over TCP with the password, as the tests will use it.
deadline=$((SECONDS + 30))
until psql -X -q -d "$url" -tA -c 'SELECT 1' >/dev/null 2>&1; do
	if [ $SECONDS -ge $deadline ]; then
		psql -X -d "$url" -c 'SELECT 1' || true
		die "cannot connect to $url (check listen_addresses and pg_hba.conf of cluster $cver/$cname)"
	fi
	sleep 0.2
done

echo "$url" >&3
