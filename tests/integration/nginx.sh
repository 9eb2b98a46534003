#!/usr/bin/env bash
# nginx.sh — the shipped nginx site (conf/nginx/peertrack.conf) in front of
# peertrackd, on 127.0.0.1 with a throw-away certificate: HTTP->HTTPS
# redirect, ACME webroot, announce/lookup/signal over wss://, the client
# address taken from X-Forwarded-For (and forged ones ignored, through nginx
# and directly), /metrics hidden, and an idle WebSocket outliving nginx's
# proxy_read_timeout thanks to the daemon's pings — but not without them.
. "$(dirname "$0")/lib/deploy.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || pt_fail "nginx missing (scripts/install-deps.sh installs it)"
command -v curl >/dev/null || pt_fail "curl missing"
SITE="$PT_ROOT/conf/nginx/peertrack.conf"
HOST=tracker.example.org
ORIGIN=https://app.example.org

pt_selfsigned cert "$HOST"
mkdir -p "$WORK/acme/.well-known/acme-challenge" "$WORK/nginx/logs"
echo "token-$$" >"$WORK/acme/.well-known/acme-challenge/probe"
# Run as root, nginx's workers drop to www-data: let them read the webroot.
chmod a+rx "$WORK" "$WORK/acme" "$WORK/acme/.well-known" "$WORK/acme/.well-known/acme-challenge"
chmod a+r "$WORK/acme/.well-known/acme-challenge/probe"

daemon_conf() { # HEARTBEAT_MS TIMEOUT_MS
	printf '%s\n' "[log]
log_level = debug
[liveness]
heartbeat_ms = $1
timeout_ms = $2
[security]
allowed_origins = $ORIGIN
trusted_proxies = 127.0.0.1/32"
}
pt_daemon d "$(daemon_conf 300 10000)"

# nginx cannot report the port it got for port 0: take free ones, and try
# again if another process took them in between.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_nginx() {
	local try
	for try in 1 2 3 4 5; do
		HP=$(free_port); SP=$(free_port)
		[ "$HP" != "$SP" ] || continue
		# The shipped site, with only addresses, paths and one timeout changed.
		sed -e "s|listen 80;|listen 127.0.0.1:$HP;|" \
		    -e "s|listen 443 ssl;|listen 127.0.0.1:$SP ssl;|" \
		    -e '/listen \[::\]/d' \
		    -e "s|server 127.0.0.1:8000;|server 127.0.0.1:$port_d;|" \
		    -e "s|/etc/letsencrypt/live/$HOST/fullchain.pem|$WORK/cert.crt|" \
		    -e "s|/etc/letsencrypt/live/$HOST/privkey.pem|$WORK/cert.key|" \
		    -e "s|root /var/www/letsencrypt;|root $WORK/acme;|" \
		    -e "s|proxy_read_timeout 75s;|proxy_read_timeout 1s;|" \
		    "$SITE" >"$WORK/nginx/site.conf"
		grep -q "proxy_read_timeout 1s;" "$WORK/nginx/site.conf" || pt_fail "site: no proxy_read_timeout to shorten"
		cat >"$WORK/nginx/nginx.conf" <<-EOF
		worker_processes 1;
		error_log $WORK/nginx/logs/error.log info;
		pid $WORK/nginx/nginx.pid;
		events { worker_connections 64; }
		http {
		    access_log $WORK/nginx/logs/access.log;
		    client_body_temp_path $WORK/nginx/body;
		    proxy_temp_path $WORK/nginx/proxy;
		    fastcgi_temp_path $WORK/nginx/fastcgi;
		    uwsgi_temp_path $WORK/nginx/uwsgi;
		    scgi_temp_path $WORK/nginx/scgi;
		    include $WORK/nginx/site.conf;
		}
		EOF
		: >"$WORK/nginx/logs/error.log"
		pt_spawn nginx "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
		# Up when the HTTPS port answers; or dead (port taken: try again).
		local n
		for n in $(seq 250); do
			if curl -sk -o /dev/null "https://127.0.0.1:$SP/healthz" 2>/dev/null; then return 0; fi
			kill -0 "$pid_nginx" 2>/dev/null || break
			sleep 0.02
		done
		kill -0 "$pid_nginx" 2>/dev/null && pt_fail "nginx did not answer within 5 s"
		grep -q 'Address already in use' "$WORK/nginx/logs/error.log" "$WORK/nginx.err" ||
			pt_fail "nginx did not start"
	done
	pt_fail "no free ports for nginx"
}
start_nginx
pt_log "nginx on 127.0.0.1:$HP (http) and :$SP (https) in front of peertrackd :$port_d"
WSS="wss://127.0.0.1:$SP/v1"
TLSOPTS=(--cafile "$WORK/cert.crt" --servername "$HOST" --origin "$ORIGIN")

# -- HTTP: redirect, ACME webroot, /healthz, /metrics ---------------------------
out=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $HOST" "http://127.0.0.1:$HP/v1?x=1")
[ "$out" = "301 https://$HOST/v1?x=1" ] || pt_fail "http -> https redirect: '$out'"
out=$(curl -s -H "Host: $HOST" "http://127.0.0.1:$HP/.well-known/acme-challenge/probe")
[ "$out" = "token-$$" ] || pt_fail "ACME webroot over http: '$out'"
out=$(curl -s --cacert "$WORK/cert.crt" --resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP/healthz")
case "$out" in *'"status":"ok"'*) ;; *) pt_fail "/healthz through nginx: '$out'" ;; esac
for p in /metrics /stats.json /; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.crt" \
		--resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP$p")
	[ "$code" = 404 ] || pt_fail "https $p answered $code, want 404"
done
pt_log "http: 301 to https, ACME webroot served, /healthz proxied, /metrics hidden"

# -- wss:// through nginx, client address from X-Forwarded-For -----------------
pt_ws "${TLSOPTS[@]}" --source 127.0.0.2 flow "$WSS" >"$WORK/flow.out" || pt_fail "announce/lookup/signal through nginx"
read -r _ _ a b <"$WORK/flow.out"
a=${a#a=}; b=${b#b=}
pt_wait_line "$WORK/d.err" "peer $a connected from 127\.0\.0\.2\$" 5 >/dev/null
pt_wait_line "$WORK/d.err" "peer $b connected from 127\.0\.0\.2\$" 5 >/dev/null
pt_log "$(cat "$WORK/flow.out") through nginx; daemon saw 127.0.0.2 (the client), not 127.0.0.1 (nginx)"

# A client forging X-Forwarded-For / X-Real-IP is not believed, through nginx...
read -r _ id <<<"$(pt_ws "${TLSOPTS[@]}" --source 127.0.0.3 \
	--header 'X-Forwarded-For: 198.51.100.7' --header 'X-Real-IP: 198.51.100.8' hello "$WSS")"
pt_wait_line "$WORK/d.err" "peer $id connected from " 5 | grep -q "from 127\.0\.0\.3\$" ||
	pt_fail "forged X-Forwarded-For through nginx believed: $(grep "peer $id connected" "$WORK/d.err")"
# ... nor directly (the daemon trusts 127.0.0.1 only).
read -r _ id <<<"$(pt_ws --origin "$ORIGIN" --source 127.0.0.4 \
	--header 'X-Forwarded-For: 198.51.100.7' --header 'X-Real-IP: 198.51.100.8' hello "ws://127.0.0.1:$port_d/v1")"
pt_wait_line "$WORK/d.err" "peer $id connected from " 5 | grep -q "from 127\.0\.0\.4\$" ||
	pt_fail "forged X-Forwarded-For sent directly believed: $(grep "peer $id connected" "$WORK/d.err")"
pt_log "forged X-Forwarded-For ignored through nginx and directly"

# -- idle longer than proxy_read_timeout (1 s) ------------------------------------
pt_ws "${TLSOPTS[@]}" idle "$WSS" 3.5 >"$WORK/idle.out" 2>"$WORK/idle.err" ||
	pt_fail "idle connection through nginx dropped: $(cat "$WORK/idle.err")"
pt_log "$(tail -n1 "$WORK/idle.out") (nginx proxy_read_timeout 1s, heartbeat_ms 300)"

# Control: with pings rarer than proxy_read_timeout, nginx does cut it.
daemon_conf 5000 20000 >"$WORK/d.conf"
mark=$(pt_lines "$WORK/d.err")
kill -HUP "$pid_d"
pt_wait_line "$WORK/d.err" 'reloaded configuration' 10 "$mark" >/dev/null
if pt_ws "${TLSOPTS[@]}" idle "$WSS" 3.5 >"$WORK/idle2.out" 2>"$WORK/idle2.err"; then
	pt_fail "control: idle connection survived without pings; the test above proves nothing"
fi
grep -q 'dropped' "$WORK/idle2.err" || pt_fail "control: unexpected failure: $(cat "$WORK/idle2.err")"
pt_log "control: heartbeat_ms 5000 > proxy_read_timeout, nginx dropped the idle connection"

kill -TERM "$pid_d"
rc=0; pt_wait_exit "$pid_d" 10 || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon exit status $rc"
pt_log "ok"
