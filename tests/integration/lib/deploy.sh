# deploy.sh — shared by the deployment tests (tests/integration/{tls,nginx,
# systemd,docker-build}.sh); sourced, not run. Every process started here is
# killed on exit, every wait is bounded, everything binds to 127.0.0.1.
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/proc.sh"
WSCLIENT="$PT_ROOT/tests/integration/lib/wsclient.py"

pt_skip() { pt_log "skipped: $*"; exit 0; }

pt_cleanup() {
	local rc=$? pid n alive
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for n in $(seq 100); do
		alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.05
	done
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pt_finish $rc 40 "$WORK"/*.out "$WORK"/*.err "$WORK"/nginx/logs/error.log
}
pt_begin deploy

# pt_lines FILE — how many lines FILE has now (a mark for pt_wait_line).
pt_lines() { wc -l <"$1"; }

# pt_wait_exit PID SECONDS — waits for PID (a child) to end; its status.
pt_wait_exit() {
	local pid=$1 secs=$2 n
	for n in $(seq $((secs * 50))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	kill -0 "$pid" 2>/dev/null && pt_fail "process $pid still running after ${secs}s"
	wait "$pid"
}

# pt_daemon NAME CONFIG-TEXT — starts peertrackd with that config on a free
# port of 127.0.0.1 (state in $WORK/NAME.state); sets port_NAME.
pt_daemon() {
	local name=$1 line
	printf '%s\n' "$2" >"$WORK/$name.conf"
	mkdir -p "$WORK/$name.state"
	pt_spawn "$name" "$DAEMON" -c "$WORK/$name.conf" --listen 127.0.0.1:0 \
		--set "state_dir=$WORK/$name.state"
	line=$(pt_wait_line "$WORK/$name.err" 'listening on 127\.0\.0\.1:[0-9]+' 20)
	printf -v "port_$name" '%s' "$(printf '%s\n' "$line" | sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/')"
}

# pt_selfsigned NAME CN — a throw-away EC certificate: $WORK/NAME.crt/.key.
pt_selfsigned() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$2" -addext "subjectAltName=DNS:$2,IP:127.0.0.1" \
		-keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null || pt_fail "openssl req"
}

# pt_fingerprint FILE — SHA-256 fingerprint of a PEM certificate (hex, upper).
pt_fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'
}

# pt_served_fingerprint PORT — the same, of what a new TLS client is served.
pt_served_fingerprint() {
	timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'
}

pt_ws() { timeout 60 python3 "$WSCLIENT" "$@"; }

command -v python3 >/dev/null || pt_fail "python3 missing (scripts/install-deps.sh)"
command -v openssl >/dev/null || pt_fail "openssl missing (scripts/install-deps.sh)"
