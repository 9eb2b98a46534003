# coturn.sh — a real coturn for the tests (sourced after proc.sh): TURN REST
# authentication (use-auth-secret) on a free port of 127.0.0.1, relaying
# only between loopback addresses, no TLS/DTLS, no CLI, with its log and
# database in $WORK. Started with pt_spawn, so the caller's cleanup stops it
# on every exit path.
TURNSERVER="${TURNSERVER:-/usr/bin/turnserver}"
TURN_REALM=peertrack.test

# pt_coturn_start SECRET... — starts (or restarts) turnserver accepting
# credentials signed by any of SECRETs; sets TURN_PORT (kept across
# restarts) and TURN_LOG.
pt_coturn_start() {
	[ -x "$TURNSERVER" ] || pt_fail "$TURNSERVER missing (Debian package coturn)"
	local args=() s try base
	for s in "$@"; do args+=(--static-auth-secret="$s"); done
	pt_coturn_stop
	for try in 1 2 3 4 5; do
		if [ -z "${TURN_PORT:-}" ] || [ "$try" -gt 1 ]; then
			TURN_PORT=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		fi
		# Relay ports: a random block of 200, away from the ephemeral range.
		base=$(( 20000 + RANDOM % 8000 ))
		TURN_N=$(( ${TURN_N:-0} + 1 ))
		TURN_LOG="$WORK/turn$TURN_N.out"
		pt_spawn "turn$TURN_N" "$TURNSERVER" -n -v --log-file=stdout --simple-log \
			--listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$TURN_PORT" \
			--min-port=$base --max-port=$((base + 199)) \
			--use-auth-secret "${args[@]}" --realm="$TURN_REALM" --allow-loopback-peers \
			--no-tls --no-dtls --no-cli --no-tcp-relay \
			--db="$WORK/turndb" --pidfile="$WORK/turn.pid"
		printf -v TURN_PID '%s' "$(eval echo "\$pid_turn$TURN_N")"
		# Its exit status is not under test (the cleanup's SIGTERM is fine).
		KILLED[$TURN_PID]=1
		# Ready when both listeners are up; a taken port ends the process.
		local n
		for n in $(seq 250); do
			if grep -qE "UDP listener opened on ?: 127\.0\.0\.1:$TURN_PORT\b" "$TURN_LOG" 2>/dev/null &&
			   grep -qE "TCP listener opened on ?: 127\.0\.0\.1:$TURN_PORT\b" "$TURN_LOG" 2>/dev/null; then
				pt_log "coturn on 127.0.0.1:$TURN_PORT (relay ports $base-$((base + 199)))"
				return 0
			fi
			kill -0 "$TURN_PID" 2>/dev/null || break
			sleep 0.02
		done
		pt_coturn_stop
	done
	pt_fail "coturn did not start: $(tail -5 "$TURN_LOG")"
}

# pt_coturn_stop — SIGTERM the running turnserver and wait for it (bounded).
pt_coturn_stop() {
	[ -n "${TURN_PID:-}" ] || return 0
	KILLED[$TURN_PID]=1
	kill -TERM "$TURN_PID" 2>/dev/null || true
	local n
	for n in $(seq 150); do kill -0 "$TURN_PID" 2>/dev/null || break; sleep 0.02; done
	kill -KILL "$TURN_PID" 2>/dev/null || true
	wait "$TURN_PID" 2>/dev/null || true
	TURN_PID=
}

# pt_turn_probe USER CREDENTIAL — 0 if coturn grants an allocation to these
# credentials (turnutils_uclient allocates, relays 100 bytes to itself).
pt_turn_probe() {
	timeout 10 turnutils_uclient -u "$1" -w "$2" -n 1 -m 1 -l 100 -e 127.0.0.1 -y \
		-p "$TURN_PORT" 127.0.0.1 >>"$WORK/probe.out" 2>&1
}

# pt_turn_cred SECRET USER — base64(HMAC-SHA1(SECRET, USER)), as coturn checks it.
pt_turn_cred() { printf '%s' "$2" | openssl dgst -sha1 -hmac "$1" -binary | base64; }
