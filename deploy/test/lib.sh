# Sourced by the scripts beside it, which each make a test server available
# and print its URL, the only line they write to stdout.

# Keep stdout (fd 3) for the URL alone; everything else (apt, the servers'
# tools, our notes) goes to stderr.
exec 3>&1 1>&2

log() { echo "${0##*/}: $*" >&2; }
die() { log "$*"; exit 1; }

# quiet runs a command that may start a server as a daemon (apt's postinst,
# pg_ctlcluster) without letting it inherit fd 3 (the caller's $(...) pipe,
# which would then never reach EOF and hang the caller) or our stdout/stderr
# (a CI runner waiting for its log pipe to close). Its output is shown only
# when it fails.
quiet() {
	local out rc=0
	out=$(mktemp)
	"$@" 3>&- </dev/null >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then cat "$out" >&2; fi
	rm -f "$out"
	return "$rc"
}

# apt_install installs packages, refreshing the package lists only when
# the ones at hand fail (fresh images ship without them, others stale).
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if ! quiet apt-get install -y -qq "$@"; then
		log "install failed with the current package lists; running apt-get update"
		quiet apt-get update -qq
		quiet apt-get install -y -qq "$@"
	fi
}
