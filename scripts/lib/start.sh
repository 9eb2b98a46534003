# start.sh — sourced by scripts that run servers on 127.0.0.1 and need
# their port (scripts/bench.sh, tests/integration/bench-smoke.sh).
# The caller provides $tmp (a scratch directory) and the array pids.

# pt_start NAME CMD...: runs CMD in the background with stdout+stderr in
# $tmp/NAME.log, waits (at most 15 s) for its "listening on
# 127.0.0.1:PORT" line, and sets PORT and PID. Exits the script if the
# server dies or never says it listens.
pt_start() {
	local name=$1; shift
	"$@" >"$tmp/$name.log" 2>&1 &
	PID=$!; pids+=("$PID")
	for _ in $(seq 1 150); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "$name did not start:" >&2; cat "$tmp/$name.log" >&2; exit 1
}
