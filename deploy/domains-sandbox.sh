#!/usr/bin/env bash
# make domains-sandbox: a DNS server and an ACME server on 127.0.0.1, for
# trying custom domains on one machine (README, "Custom domains").
#
#   pebble-challtestsrv  DNS on 127.0.0.1:8053: every name is 127.0.0.1 / ::1,
#                        TXT records are set on http://127.0.0.1:8055/set-txt
#   pebble               ACME on https://127.0.0.1:14000/dir (its HTTPS root in
#                        data/sandbox/pebble-minica.pem), validating HTTP-01 on
#                        port 8081 (h0p dev's edge); the root it issues under at
#                        https://127.0.0.1:15000/roots/0
#
# Both are Let's Encrypt's test servers, at the version go.mod pins. `stop`
# stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=data/sandbox
stop() {
	for p in pebble challtestsrv; do
		if [ -f "$dir/$p.pid" ]; then
			kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
			rm -f "$dir/$p.pid"
		fi
	done
}
if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi
stop
mkdir -p "$dir"
go build -o "$dir/" github.com/letsencrypt/pebble/v2/cmd/pebble github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv
mod=$(go list -m -f '{{.Dir}}' github.com/letsencrypt/pebble/v2)
cp "$mod/test/certs/pebble.minica.pem" "$dir/pebble-minica.pem"
cat >"$dir/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$mod/test/certs/localhost/cert.pem", "privateKey": "$mod/test/certs/localhost/key.pem",
  "httpPort": 8081, "tlsPort": 5001, "keyAlgorithm": "ecdsa"}}
JSON
"$dir/pebble-challtestsrv" -dnsserver 127.0.0.1:8053 -management 127.0.0.1:8055 \
	-http01 "" -https01 "" -tlsalpn01 "" -doh "" >"$dir/challtestsrv.log" 2>&1 &
echo $! >"$dir/challtestsrv.pid"
PEBBLE_VA_NOSLEEP=1 "$dir/pebble" -config "$dir/pebble.json" -dnsserver 127.0.0.1:8053 >"$dir/pebble.log" 2>&1 &
echo $! >"$dir/pebble.pid"
for _ in $(seq 100); do
	if curl -sf --cacert "$dir/pebble-minica.pem" https://127.0.0.1:14000/dir >/dev/null; then
		echo "DNS on 127.0.0.1:8053 (TXT records: 127.0.0.1:8055/set-txt), ACME on https://127.0.0.1:14000/dir"
		exit 0
	fi
	sleep 0.1
done
echo "pebble did not start; see $dir/pebble.log" >&2
exit 1
