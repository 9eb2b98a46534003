# lib.sh — shared by the conformance tests (sourced, not run). Each test runs
# a real peertrackd on 127.0.0.1 and peertrack-peer processes around it.
# Every process started here is killed on exit; every wait is bounded.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
PEER="$PT_BIN/peertrack-peer"

[ -x "$DAEMON" ] || pt_fail "$DAEMON not built"
[ -x "$PEER" ] || pt_fail "$PEER not built (GStreamer development packages missing?)"
# In a sanitized build the peer runs sanitized too. glib leaks one buffer
# from its ELF constructor; suppressing it needs the full unwinder (glib has
# no frame pointers), which is slow but keeps every other leak visible.
PEER=(env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"
      "LSAN_OPTIONS=suppressions=$PT_ROOT/tests/conformance/lsan-peer.supp:print_suppressions=0"
      "$PEER")
# Liveness settings of the test daemon, and the peers' no-progress timeout:
# short, so failures show fast, but with room for a loaded 2-core machine
# (sanitized GStreamer connects in seconds there, not milliseconds).
case "${PT_BUILD:-}" in
*-asan) PT_HB=2000 PT_TO=12000; PEER+=(--timeout 30000) ;;
*) PT_HB=1000 PT_TO=5000; PEER+=(--timeout 15000) ;;
esac

declare -A KILLED=()

# On exit: SIGTERM everything still running, give it 3 s, then SIGKILL. Every
# process must have ended with status 0 (SIGTERM included: the daemon and
# the peer exit 0 on it), unless the test killed it on purpose — so a crash
# on shutdown fails the test.
pt_cleanup() {
	local rc=$? pid n alive st group
	# Peers first, the daemon last: a peer whose daemon goes away first exits 2.
	for group in peers daemon; do
		for pid in "${PIDS[@]}"; do
			[ "${PNAME[$pid]}" = daemon ] && [ $group = peers ] && continue
			kill -TERM "$pid" 2>/dev/null || true
		done
		for n in $(seq 60); do
			alive=0
			for pid in "${PIDS[@]}"; do
				[ "${PNAME[$pid]}" = daemon ] && [ $group = peers ] && continue
				kill -0 "$pid" 2>/dev/null && alive=1
			done
			[ $alive -eq 0 ] && break
			sleep 0.05
		done
	done
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			pt_log "${PNAME[$pid]} ($pid) ignored SIGTERM"
			kill -KILL "$pid" 2>/dev/null || true
			[ $rc -ne 0 ] || rc=1
		fi
	done
	for pid in "${PIDS[@]}"; do
		st=0; wait "$pid" 2>/dev/null || st=$?
		if [ $st -ne 0 ] && [ -z "${KILLED[$pid]:-}" ]; then
			pt_log "${PNAME[$pid]} ($pid) exited with status $st"
			[ $rc -ne 0 ] || rc=1
		fi
	done
	pt_finish $rc 30 "$WORK"/*.out "$WORK"/*.err
}
pt_begin conf

# pt_daemon — starts peertrackd on a free port of 127.0.0.1 with short
# heartbeats (and the lines of PT_EXTRA_CONF); sets PT_URL and PT_PORT.
pt_daemon() {
	cat >"$WORK/peertrack.conf" <<CONF
state_dir = $WORK
[liveness]
heartbeat_ms = $PT_HB
timeout_ms = $PT_TO
[security]
allowed_origins = ${PT_ORIGINS:-http://127.0.0.1}
allow_missing_origin = no
${PT_EXTRA_CONF:-}
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
	pt_spawn "$name" timeout 300 "${PEER[@]}" --server "$PT_URL" "${opts[@]}" seed "$@"
	local line
	line=$(pt_wait_line "$WORK/$name.out" '^ready ' 20)
	printf -v "id_$name" '%s' "${line#ready }"
}

# pt_kill_peer PID — SIGKILL a process started as `timeout ... peertrack-peer`:
# the peer itself (timeout's child), not just the wrapper.
pt_kill_peer() {
	local child
	child=$(pgrep -P "$1" || true)
	[ -n "$child" ] || pt_fail "no child process under $1"
	KILLED[$1]=1
	kill -KILL "$child"
}

# pt_random FILE BYTES
pt_random() { head -c "$2" /dev/urandom >"$1"; }
pt_sha() { sha256sum "$1" | cut -c1-64; }

# pt_json_field FILE-OR-LINE KEY — a scalar of a one-line JSON object.
pt_json_num() { printf '%s\n' "$1" | grep -oE "\"$2\":[0-9.]+" | head -1 | cut -d: -f2; }
pt_json_str() { printf '%s\n' "$1" | grep -oE "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# pt_lookup HASH — the holders' ids, one per line (empty if none).
pt_lookup() { timeout 20 "${PEER[@]}" --server "$PT_URL" lookup "$1" 2>>"$WORK/lookup.err" | sed 1d || true; }
