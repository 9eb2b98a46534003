#!/usr/bin/env bash
# nginx.sh — the shipped nginx files (conf/nginx/nginx.conf and the site
# conf/nginx/peertrack.conf) in front of peertrackd, on 127.0.0.1 with a
# throw-away certificate: their sizing against the daemon's max_connections
# and the LimitNOFILE drop-in, HTTP->HTTPS redirect, ACME webroot,
# announce/lookup/signal over wss://, the client address taken from
# X-Forwarded-For (and forged ones ignored, through nginx and directly),
# /healthz and /readyz proxied, /metrics to the allowed scraper only, an
# idle WebSocket outliving nginx's proxy_read_timeout thanks to the
# daemon's pings — but not without them —,
# a reload ending the old workers' WebSockets after worker_shutdown_timeout,
# and 2000 WebSockets open at once through nginx (peertrack-bench).
. "$(dirname "$0")/lib/deploy.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || pt_fail "nginx missing (scripts/install-deps.sh installs it)"
command -v curl >/dev/null || pt_fail "curl missing"
SITE="$PT_ROOT/conf/nginx/peertrack.conf"
MAIN="$PT_ROOT/conf/nginx/nginx.conf"
DROPIN="$PT_ROOT/conf/nginx/nginx.service.d/limits.conf"
BENCH="$PT_BIN/peertrack-bench"
[ -x "$BENCH" ] || pt_fail "$BENCH missing (make builds it)"
HOST=tracker.example.org
ORIGIN=https://app.example.org

# -- the sizing the shipped files promise (docs/DEPLOY.md, "Sizing nginx") ----
directive() { sed -nE "s/^[[:space:]]*$1[[:space:]]+([0-9]+)[[:space:]]*;.*/\\1/p" "$MAIN"; }
wc_=$(directive worker_connections); rl_=$(directive worker_rlimit_nofile)
lim_=$(sed -nE 's/^LimitNOFILE=([0-9]+)$/\1/p' "$DROPIN")
maxc_=$("$DAEMON" --dump-config | sed -nE 's/^max_connections[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p')
[ -n "$wc_" ] && [ -n "$rl_" ] && [ -n "$lim_" ] && [ -n "$maxc_" ] ||
	pt_fail "sizing: worker_connections '$wc_' worker_rlimit_nofile '$rl_' LimitNOFILE '$lim_' max_connections '$maxc_'"
# Two connections per proxied WebSocket, all of them possibly in one worker.
[ "$wc_" -ge $((2 * maxc_ + 1000)) ] || pt_fail "worker_connections $wc_ < 2 x max_connections $maxc_ + 1000"
[ "$rl_" -gt "$wc_" ] || pt_fail "worker_rlimit_nofile $rl_ <= worker_connections $wc_"
[ "$lim_" -ge "$rl_" ] || pt_fail "LimitNOFILE $lim_ < worker_rlimit_nofile $rl_"
grep -qE '^[[:space:]]*worker_shutdown_timeout[[:space:]]+[0-9]+[smh]?;' "$MAIN" || pt_fail "no worker_shutdown_timeout"
pt_log "sizing: worker_connections $wc_ >= 2 x max_connections $maxc_, worker_rlimit_nofile $rl_, LimitNOFILE $lim_"

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
pt_daemon d "$(daemon_conf 5000 20000)"

# The shipped site with only addresses and paths changed; the load test's
# clients speak plain ws:// to LP, nginx proxies the same.
pt_nginx -e "s|server 127.0.0.1:8000;|server 127.0.0.1:$port_d;|" \
	-e "s|root /var/www/letsencrypt;|root $WORK/acme;|" \
	-e "s|allow 192.0.2.10;|allow 127.0.0.5;|" \
	-- "worker_shutdown_timeout 10m;" "worker_shutdown_timeout 1s;"
grep -q "proxy_read_timeout 75s;" "$WORK/nginx/site.conf" || pt_fail "site: no proxy_read_timeout 75s"
grep -q "allow 127.0.0.5;" "$WORK/nginx/site.conf" || pt_fail "site: no /metrics allow line"
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
out=$(curl -s -w ' %{http_code}' --cacert "$WORK/cert.crt" --resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP/readyz")
[ "$out" = '{"status":"ready","store":"ok"}
 200' ] || pt_fail "/readyz through nginx: '$out'"
out=$(curl -s -I -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.crt" --resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP/readyz")
[ "$out" = 200 ] || pt_fail "HEAD /readyz through nginx: $out"
for p in /stats.json /; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.crt" \
		--resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP$p")
	[ "$code" = 404 ] || pt_fail "https $p answered $code, want 404"
done
# /metrics: to the allowed scraper (127.0.0.5 stands for 192.0.2.10), not to others.
out=$(curl -s --interface 127.0.0.5 -w '\n%{http_code}' --cacert "$WORK/cert.crt" \
	--resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP/metrics")
[ "${out##*$'\n'}" = 200 ] && grep -q '^peertrack_peers ' <<<"$out" ||
	pt_fail "/metrics for the allowed address: $(tail -n 3 <<<"$out")"
for src in 127.0.0.6 127.0.0.1; do
	code=$(curl -s -o /dev/null --interface $src -w '%{http_code}' --cacert "$WORK/cert.crt" \
		--resolve "$HOST:$SP:127.0.0.1" "https://$HOST:$SP/metrics")
	[ "$code" = 403 ] || pt_fail "https /metrics from $src answered $code, want 403"
done
pt_log "http: 301 to https, ACME webroot served, /healthz and /readyz (GET, HEAD) proxied, /metrics to the allowed scraper only"

# -- wss:// through nginx, client address from X-Forwarded-For -----------------
pt_ws "${TLSOPTS[@]}" --source 127.0.0.2 flow "$WSS" >"$WORK/flow.out" || pt_fail "announce/lookup/signal through nginx"
read -r _ _ a b <"$WORK/flow.out"
a=${a#a=}; b=${b#b=}
pt_wait_line "$WORK/d.err" "peer $a connected from 127\.0\.0\.2\$" "$PT_SLOW" >/dev/null
pt_wait_line "$WORK/d.err" "peer $b connected from 127\.0\.0\.2\$" "$PT_SLOW" >/dev/null
pt_log "$(cat "$WORK/flow.out") through nginx; daemon saw 127.0.0.2 (the client), not 127.0.0.1 (nginx)"

# A client forging X-Forwarded-For / X-Real-IP is not believed, through nginx...
read -r _ id <<<"$(pt_ws "${TLSOPTS[@]}" --source 127.0.0.3 \
	--header 'X-Forwarded-For: 198.51.100.7' --header 'X-Real-IP: 198.51.100.8' hello "$WSS")"
pt_wait_line "$WORK/d.err" "peer $id connected from " "$PT_SLOW" | grep -q "from 127\.0\.0\.3\$" ||
	pt_fail "forged X-Forwarded-For through nginx believed: $(grep "peer $id connected" "$WORK/d.err")"
# ... nor directly (the daemon trusts 127.0.0.1 only).
read -r _ id <<<"$(pt_ws --origin "$ORIGIN" --source 127.0.0.4 \
	--header 'X-Forwarded-For: 198.51.100.7' --header 'X-Real-IP: 198.51.100.8' hello "ws://127.0.0.1:$port_d/v1")"
pt_wait_line "$WORK/d.err" "peer $id connected from " "$PT_SLOW" | grep -q "from 127\.0\.0\.4\$" ||
	pt_fail "forged X-Forwarded-For sent directly believed: $(grep "peer $id connected" "$WORK/d.err")"
pt_log "forged X-Forwarded-For ignored through nginx and directly"

# -- 2000 concurrent WebSockets through nginx, with the shipped sizing ---------
# peertrack-bench opens them (each announces one hash, then stays), 50 per
# source address over 127.20.x.y so the daemon's per-address limit (64, on
# the X-Forwarded-For address) holds, and counts those open at the end.
N=2000
"$BENCH" --mode idle --target "127.0.0.1:$LP" --origin "$ORIGIN" --peers $N --hashes 1 \
	--per-addr 50 --src-base 127.20.0.1 --warmup 0 --duration 1 --json \
	>"$WORK/bench.out" 2>"$WORK/bench.err" || pt_fail "peertrack-bench: $(tail -n 5 "$WORK/bench.err")"
python3 - "$WORK/bench.out" $N <<-'PY' || pt_fail "through nginx: $(cat "$WORK/bench.out")"
	import json, sys
	r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
	n = int(sys.argv[2])
	ok = r["connected"] == n and r["open_end"] == n and r["failed"] == 0 and r["refused"] == 0 and r["errors"] == 0
	sys.exit(0 if ok else 1)
	PY
! grep -q 'worker_connections are not enough' "$WORK/nginx/logs/error.log" || pt_fail "nginx ran out of worker_connections"
pt_log "$N WebSockets open at once through nginx: $(python3 -c 'import json,sys; r=json.load(sys.stdin); print("%d connected, %d open at the end, setup %.2f s" % (r["connected"], r["open_end"], r["setup_s"]))' <"$WORK/bench.out")"

# -- reload: worker_shutdown_timeout (1 s here) ends the old workers' WebSockets --
# The reload also brings proxy_read_timeout down to 1 s for the tests after it.
mark=$(pt_lines "$WORK/d.err")
pt_spawn reload_ws timeout 60 python3 "$WSCLIENT" "${TLSOPTS[@]}" idle "$WSS" 30
pt_wait_line "$WORK/d.err" "peer [A-Za-z0-9_-]+ connected from " "$PT_SLOW" "$mark" >/dev/null
sed -i "s|proxy_read_timeout 75s;|proxy_read_timeout 1s;|" "$WORK/nginx/site.conf"
grep -q "proxy_read_timeout 1s;" "$WORK/nginx/site.conf" || pt_fail "site: no proxy_read_timeout to shorten"
t0=$(date +%s%N)
kill -HUP "$pid_nginx"
rc=0; pt_wait_exit "$pid_reload_ws" "$PT_SLOW" || rc=$?
[ $rc -ne 0 ] && grep -q dropped "$WORK/reload_ws.err" ||
	pt_fail "WebSocket on an old worker not closed after the reload (rc $rc): $(cat "$WORK/reload_ws.err")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
pt_ws "${TLSOPTS[@]}" hello "$WSS" >/dev/null || pt_fail "no new connection after the reload"
pt_log "nginx reload: the old worker closed its WebSocket after ${ms} ms (worker_shutdown_timeout 1s); new connections served"

# -- idle longer than proxy_read_timeout (1 s) ------------------------------------
daemon_conf 300 10000 >"$WORK/d.conf"
mark=$(pt_lines "$WORK/d.err")
kill -HUP "$pid_d"
pt_wait_line "$WORK/d.err" 'reloaded configuration' "$PT_SLOW" "$mark" >/dev/null
pt_ws "${TLSOPTS[@]}" idle "$WSS" 3.5 >"$WORK/idle.out" 2>"$WORK/idle.err" ||
	pt_fail "idle connection through nginx dropped: $(cat "$WORK/idle.err")"
pt_log "$(tail -n1 "$WORK/idle.out") (nginx proxy_read_timeout 1s, heartbeat_ms 300)"

# Control: with pings rarer than proxy_read_timeout, nginx does cut it.
daemon_conf 5000 20000 >"$WORK/d.conf"
mark=$(pt_lines "$WORK/d.err")
kill -HUP "$pid_d"
pt_wait_line "$WORK/d.err" 'reloaded configuration' "$PT_SLOW" "$mark" >/dev/null
if pt_ws "${TLSOPTS[@]}" idle "$WSS" 3.5 >"$WORK/idle2.out" 2>"$WORK/idle2.err"; then
	pt_fail "control: idle connection survived without pings; the test above proves nothing"
fi
grep -q 'dropped' "$WORK/idle2.err" || pt_fail "control: unexpected failure: $(cat "$WORK/idle2.err")"
pt_log "control: heartbeat_ms 5000 > proxy_read_timeout, nginx dropped the idle connection"

kill -TERM "$pid_d"
rc=0; pt_wait_exit "$pid_d" "$PT_SLOW" || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon exit status $rc"
pt_log "ok"
