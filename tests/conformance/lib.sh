# lib.sh — shared by the conformance tests (sourced, not run). Each test runs
# a real peertrackd on 127.0.0.1 and peertrack-peer processes around it.
# Every process started here is killed on exit; every wait is bounded.
set -euo pipefail

PT_ROOT="${PT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PT_BIN="${PT_BIN:-bin}"
case "$PT_BIN" in /*) ;; *) PT_BIN="$PT_ROOT/$PT_BIN" ;; esac
PEER="$PT_BIN/peertrack-peer"
DAEMON="$PT_BIN/peertrackd"

pt_log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }
pt_fail() { pt_log "FAIL: $*"; exit 1; }

# GStreamer and glib under ASan mostly report their own caches as leaks and
# run slowly; the daemon is exercised sanitized by the other suites.
case "${PT_BUILD:-}" in
*-asan) pt_log "skipped under ${PT_BUILD}: GStreamer/glib are not sanitizer-clean"; exit 0 ;;
esac
[ -x "$DAEMON" ] || pt_fail "$DAEMON not built"
[ -x "$PEER" ] || pt_fail "$PEER not built (GStreamer development packages missing?)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/peertrack-conf.XXXXXX")"
PIDS=()

pt_cleanup() {
	local rc=$? pid n
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	# Give them 3 s to leave cleanly, then no choice.
	for n in $(seq 60); do
		local alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.05
	done
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ $rc -ne 0 ] || [ -n "${PT_KEEP:-}" ]; then
		for f in "$WORK"/*.out "$WORK"/*.err; do
			[ -s "$f" ] || continue
			echo "---- $(basename "$f")" >&2; tail -n 30 "$f" >&2
		done
	fi
	[ -n "${PT_KEEP:-}" ] && pt_log "kept $WORK" || rm -rf "$WORK"
	exit $rc
}
trap pt_cleanup EXIT
trap 'exit 130' INT TERM

# pt_spawn NAME CMD... — runs CMD in the background, stdout in
# $WORK/NAME.out, stderr in $WORK/NAME.err; sets pid_NAME.
pt_spawn() {
	local name=$1; shift
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	printf -v "pid_$name" '%s' $!
}

# pt_wait_line FILE REGEX SECONDS — waits for a line matching REGEX (ERE)
# to appear in FILE and prints it; fails after SECONDS.
pt_wait_line() {
	local file=$1 re=$2 secs=$3 line deadline
	deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	while :; do
		if line=$(grep -m1 -E -- "$re" "$file" 2>/dev/null); then
			printf '%s\n' "$line"; return 0
		fi
		[ "$(date +%s%N)" -lt $deadline ] || pt_fail "no line /$re/ in $(basename "$file") after ${secs}s"
		sleep 0.02
	done
}

# pt_daemon — starts peertrackd on a free port of 127.0.0.1 with short
# heartbeats; sets PT_URL.
pt_daemon() {
	cat >"$WORK/peertrack.conf" <<CONF
[liveness]
heartbeat_ms = 500
timeout_ms = 1500
[security]
allowed_origins = ${PT_ORIGINS:-http://127.0.0.1}
allow_missing_origin = no
CONF
	pt_spawn daemon "$DAEMON" --listen 127.0.0.1:0 -c "$WORK/peertrack.conf"
	local line
	line=$(pt_wait_line "$WORK/daemon.err" 'listening on 127\.0\.0\.1:[0-9]+' 10)
	PT_PORT=$(printf '%s\n' "$line" | sed -E 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/')
	PT_URL="ws://127.0.0.1:$PT_PORT/v1"
	pt_log "daemon on $PT_URL"
}

# pt_seed NAME [PEER OPTIONS...] -- FILE... — a seeder; waits until it is
# announced and sets id_NAME.
pt_seed() {
	local name=$1; shift
	local opts=()
	while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
	pt_spawn "$name" timeout 120 "$PEER" --server "$PT_URL" "${opts[@]}" seed "$@"
	local line
	line=$(pt_wait_line "$WORK/$name.out" '^ready ' 20)
	printf -v "id_$name" '%s' "${line#ready }"
}

# pt_random FILE BYTES
pt_random() { head -c "$2" /dev/urandom >"$1"; }
pt_sha() { sha256sum "$1" | cut -c1-64; }

# pt_json_field FILE-OR-LINE KEY — a scalar of a one-line JSON object.
pt_json_num() { printf '%s\n' "$1" | grep -oE "\"$2\":[0-9.]+" | head -1 | cut -d: -f2; }
pt_json_str() { printf '%s\n' "$1" | grep -oE "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# pt_lookup HASH — the holders' ids, one per line (empty if none).
pt_lookup() { timeout 10 "$PEER" --server "$PT_URL" lookup "$1" 2>>"$WORK/lookup.err" | sed 1d || true; }
