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
	# A test's own teardown after its processes (network namespaces ...).
	if declare -F pt_cleanup_after >/dev/null; then pt_cleanup_after || true; fi
	pt_finish $rc 40 "$WORK"/*.out "$WORK"/*.err "$WORK"/nginx/logs/error.log
}
pt_begin deploy

# PT_SLOW — the bound, in seconds, of a wait for an event that comes in well
# under a second on an idle machine (a port answering, a log line, a child's
# exit): at load 20+ such events have taken more than 10 s. Only a failing
# test ever waits that long.
PT_SLOW=${PT_SLOW:-60}

# pt_lines FILE — how many lines FILE has now (a mark for pt_wait_line).
pt_lines() { wc -l <"$1"; }

# pt_wait_exit PID SECONDS — waits for PID (a child) to end; its status.
pt_wait_exit() {
	local pid=$1 secs=$2 deadline
	deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s%N)" -lt $deadline ]; do
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
	line=$(pt_wait_line "$WORK/$name.err" 'listening on 127\.0\.0\.1:[0-9]+' "$PT_SLOW")
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

# pt_redis NAME — redis-server on a free 127.0.0.1 port with a password
# (requirepass; the password in $WORK/NAME.pw, mode 0600), nothing on disk;
# sets port_NAME and pid_NAME. Port clashes are retried.
pt_redis() {
	local name=$1 try port n redis
	redis=$(command -v redis-server || echo /usr/bin/redis-server)
	[ -x "$redis" ] || pt_fail "redis-server missing (scripts/install-deps.sh --test)"
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/$name.pw"
	chmod 600 "$WORK/$name.pw"
	for try in 1 2 3 4 5; do
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		printf '%s\n' "bind 127.0.0.1" "port $port" "requirepass $(cat "$WORK/$name.pw")" 'save ""' \
			"appendonly no" "dir $WORK" 'logfile ""' >"$WORK/$name.redis.conf"
		chmod 600 "$WORK/$name.redis.conf"
		pt_spawn "$name" "$redis" "$WORK/$name.redis.conf"
		for n in $(seq 250); do
			grep -q 'Ready to accept connections' "$WORK/$name.out" 2>/dev/null && { printf -v "port_$name" '%s' "$port"; return 0; }
			local pid=pid_$name
			kill -0 "${!pid}" 2>/dev/null || break
			sleep 0.02
		done
		grep -q 'Address already in use' "$WORK/$name.out" || pt_fail "redis-server did not start: $(tail -n 3 "$WORK/$name.out")"
	done
	pt_fail "no free port for redis-server"
}

# pt_nginx SED-ARGS... [-- FROM TO...] — nginx (pid_nginx) on the shipped
# site conf/nginx/peertrack.conf for $HOST, on free ports of 127.0.0.1: HP
# (http), SP (https) and LP, a plain listener on the TLS server; the
# certificate $WORK/cert.crt/.key, no IPv6 listener, then the caller's sed
# arguments (the upstream, say). The main conf is pt_nginx_main_conf's,
# with the FROM TO pairs after `--`. Returns once LP answers /healthz; a
# port taken in between (nginx exits) is retried with others.
pt_nginx() {
	local sed_args=() main=() try deadline nginx
	nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sed_args+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	main=("$@")
	mkdir -p "$WORK/nginx/logs"
	for try in 1 2 3 4 5; do
		HP=$(pt_free_port); SP=$(pt_free_port); LP=$(pt_free_port)
		[ "$HP" != "$SP" ] && [ "$SP" != "$LP" ] && [ "$HP" != "$LP" ] || continue
		sed -e "s|listen 80;|listen 127.0.0.1:$HP;|" \
		    -e "s|listen 443 ssl;|listen 127.0.0.1:$SP ssl; listen 127.0.0.1:$LP;|" \
		    -e '/listen \[::\]/d' \
		    -e "s|/etc/letsencrypt/live/$HOST/fullchain.pem|$WORK/cert.crt|" \
		    -e "s|/etc/letsencrypt/live/$HOST/privkey.pem|$WORK/cert.key|" \
		    "${sed_args[@]}" "$PT_ROOT/conf/nginx/peertrack.conf" >"$WORK/nginx/site.conf"
		pt_nginx_main_conf "$WORK/nginx/nginx.conf" "${main[@]}"
		: >"$WORK/nginx/logs/error.log"
		pt_spawn nginx "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
		deadline=$(( $(date +%s%N) + PT_SLOW * 1000000000 ))
		while [ "$(date +%s%N)" -lt $deadline ]; do
			if curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$LP/healthz" 2>/dev/null; then return 0; fi
			kill -0 "$pid_nginx" 2>/dev/null || break
			sleep 0.02
		done
		kill -0 "$pid_nginx" 2>/dev/null && pt_fail "nginx did not answer within $PT_SLOW s"
		grep -q 'Address already in use' "$WORK/nginx/logs/error.log" "$WORK/nginx.err" ||
			pt_fail "nginx did not start"
	done
	pt_fail "no free ports for nginx"
}

# pt_free_port — a port of 127.0.0.1 free now (callers retry a clash).
pt_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# pt_nginx_main_conf OUT [FROM TO]... — conf/nginx/nginx.conf into OUT with
# its paths moved under $WORK/nginx (pid, logs, temp files; the site is
# $WORK/nginx/site.conf) and each FROM replaced by TO; every replacement
# must apply once.
pt_nginx_main_conf() {
	local out=$1 hard rl
	shift
	mkdir -p "$WORK/nginx/logs"
	set -- "$@" "pid /run/nginx.pid;" "pid $WORK/nginx/nginx.pid;" \
	       "error_log /var/log/nginx/error.log;" "error_log $WORK/nginx/logs/error.log info;" \
	       "access_log /var/log/nginx/access.log;" "access_log $WORK/nginx/logs/access.log;" \
	       "include /etc/nginx/modules-enabled/*.conf;" "" \
	       "include /etc/nginx/conf.d/*.conf;" "client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy; fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;" \
	       "include /etc/nginx/sites-enabled/*;" "include $WORK/nginx/site.conf;"
	# Workers drop to www-data only when nginx runs as root.
	[ "$(id -u)" = 0 ] || set -- "$@" "user www-data;" ""
	# Where raising the hard limit is not permitted (containers), the
	# workers' setrlimit would fail with an alert: stay within it.
	rl=$(sed -nE 's/^[[:space:]]*worker_rlimit_nofile[[:space:]]+([0-9]+);.*/\1/p' "$PT_ROOT/conf/nginx/nginx.conf")
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge "$rl" ] ||
		set -- "$@" "worker_rlimit_nofile $rl;" "worker_rlimit_nofile $hard;"
	python3 - "$PT_ROOT/conf/nginx/nginx.conf" "$out" "$@" <<-'PY' || pt_fail "conf/nginx/nginx.conf: a line to change is missing"
	import sys
	src, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
	s = open(src).read()
	for a, b in zip(pairs[::2], pairs[1::2]):
	    if s.count(a) != 1:
	        sys.exit("no line '%s'" % a)
	    s = s.replace(a, b)
	open(out, "w").write(s)
	PY
}

command -v python3 >/dev/null || pt_fail "python3 missing (scripts/install-deps.sh)"
command -v openssl >/dev/null || pt_fail "openssl missing (scripts/install-deps.sh)"
