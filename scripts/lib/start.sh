# start.sh — sourced by scripts that run servers on 127.0.0.1 and need
# their port (scripts/bench*.sh, soak.sh, tests/integration/bench-smoke.sh).
# pt_scratch makes $tmp (a scratch directory) and the array pids that
# pt_start and pt_redis use, and cleans both up.

# pt_scratch SIGNALS [MKTEMP-ARGS...]: $tmp from `mktemp -d ARGS`, an empty
# pids, and a trap on SIGNALS (e.g. "EXIT INT TERM") that kills every pid
# in pids, waits for the script's children and removes $tmp.
pt_scratch() {
	local signals=$1; shift
	tmp=$(mktemp -d "$@")
	pids=()
	# shellcheck disable=SC2086
	trap pt_scratch_cleanup $signals
}
pt_scratch_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}

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

# pt_redis REDIS-SERVER: redis-server on a free 127.0.0.1 port with a
# password ($tmp/redis.pw), nothing on disk; sets RPORT and RPID (in pids).
# Exits the script if it never accepts connections.
pt_redis() {
	local redis=$1 try
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$tmp/redis.pw"
	chmod 600 "$tmp/redis.pw"
	RPID=""
	for try in 1 2 3 4 5; do
		RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		printf '%s\n' "bind 127.0.0.1" "port $RPORT" "requirepass $(cat "$tmp/redis.pw")" 'save ""' \
			"appendonly no" "dir $tmp" "logfile $tmp/redis.log" >"$tmp/redis.conf"
		chmod 600 "$tmp/redis.conf"
		"$redis" "$tmp/redis.conf" &
		RPID=$!
		for _ in $(seq 1 100); do
			grep -q 'Ready to accept connections' "$tmp/redis.log" 2>/dev/null && break
			kill -0 "$RPID" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$RPID" 2>/dev/null && grep -q 'Ready to accept connections' "$tmp/redis.log"; then
			pids+=("$RPID"); return 0
		fi
		kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; RPID=""
	done
	echo "redis-server did not start: $(tail -n 3 "$tmp/redis.log")" >&2; exit 1
}
