#!/usr/bin/env bash
# tls.sh — native TLS: wss:// with a self-signed certificate, certificate
# renewal picked up on SIGHUP while an existing wss:// connection stays up,
# a bad renewal refused, bad files refused at start, and mutual TLS (tls_ca).
. "$(dirname "$0")/lib/deploy.sh"

pt_selfsigned c1 localhost
pt_selfsigned c2 localhost
cp "$WORK/c1.crt" "$WORK/live.crt"; cp "$WORK/c1.key" "$WORK/live.key"

# -- refused configurations ------------------------------------------------
rc=0; "$DAEMON" --set "tls_cert=$WORK/live.crt" --check-config >/dev/null 2>"$WORK/check.err" || rc=$?
[ $rc -eq 2 ] || pt_fail "tls_cert without tls_key: exit $rc, want 2"
grep -q 'tls_cert and tls_key must be set together' "$WORK/check.err" || pt_fail "no reason given"
rc=0; timeout 20 "$DAEMON" --listen 127.0.0.1:0 --set "state_dir=$WORK" \
	--set "tls_cert=$WORK/c1.crt" --set "tls_key=$WORK/c2.key" 2>"$WORK/mismatch.err" || rc=$?
[ $rc -eq 1 ] || pt_fail "mismatched key: exit $rc, want 1"
grep -q 'does not match' "$WORK/mismatch.err" || pt_fail "mismatched key: no reason given"
pt_log "refused: tls_cert without tls_key, a key that does not match"

# -- wss:// -------------------------------------------------------------------
pt_daemon d "[log]
log_level = debug
[liveness]
heartbeat_ms = 500
timeout_ms = 5000
[security]
allow_missing_origin = yes
[tls]
tls_cert = $WORK/live.crt
tls_key = $WORK/live.key"
URL="wss://127.0.0.1:$port_d/v1"

pt_ws --cafile "$WORK/c1.crt" --servername localhost flow "$URL" >"$WORK/flow1.out" ||
	pt_fail "announce/lookup/signal over wss://"
pt_log "$(cat "$WORK/flow1.out") over $URL (certificate verified)"
pt_ws refused "ws://127.0.0.1:$port_d/v1" >/dev/null || pt_fail "plain ws:// accepted on the TLS port"
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/c1.crt")" ] ||
	pt_fail "served certificate is not c1"

# -- renewal on SIGHUP, live connection kept --------------------------------
coproc HOLD { pt_ws --cafile "$WORK/c1.crt" --servername localhost hold "$URL" 2>"$WORK/hold.err"; }
PIDS+=("$HOLD_PID")
read -r -t 20 word hold_id hold_fp <&"${HOLD[0]}" || pt_fail "held client did not connect"
[ "$word" = connected ] && [ "$hold_fp" = "$(pt_fingerprint "$WORK/c1.crt")" ] ||
	pt_fail "held client: '$word $hold_id $hold_fp'"

# Renew the way certbot's deploy hook would: replace the files, then SIGHUP.
cp "$WORK/c2.crt" "$WORK/live.crt.new"; mv "$WORK/live.crt.new" "$WORK/live.crt"
cp "$WORK/c2.key" "$WORK/live.key.new"; mv "$WORK/live.key.new" "$WORK/live.key"
mark=$(pt_lines "$WORK/d.err")
kill -HUP "$pid_d"
pt_wait_line "$WORK/d.err" 'TLS certificate reloaded' 10 "$mark" >/dev/null
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/c2.crt")" ] ||
	pt_fail "a new connection does not see the renewed certificate"
pt_ws --cafile "$WORK/c2.crt" --servername localhost flow "$URL" >/dev/null ||
	pt_fail "wss:// with the renewed certificate"
echo go >&"${HOLD[1]}"
read -r -t 20 word <&"${HOLD[0]}" || true
[ "$word" = alive ] || pt_fail "the connection made before SIGHUP did not survive: $(cat "$WORK/hold.err")"
pt_log "SIGHUP: new connections get c2, the connection made with c1 stayed up"

# A renewal caught half-way (key of another certificate) is refused and the
# running certificate stays.
cp "$WORK/c1.key" "$WORK/live.key"
mark=$(pt_lines "$WORK/d.err")
kill -HUP "$pid_d"
pt_wait_line "$WORK/d.err" 'TLS reload refused, keeping the running certificate' 10 "$mark" >/dev/null
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/c2.crt")" ] ||
	pt_fail "a refused renewal changed the served certificate"
pt_ws --cafile "$WORK/c2.crt" --servername localhost flow "$URL" >/dev/null ||
	pt_fail "wss:// after a refused renewal"
pt_log "half-done renewal refused, c2 still served"

# -- mutual TLS ----------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
	-keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client \
	-keyout "$WORK/client.key" -out "$WORK/client.csr" 2>/dev/null
openssl x509 -req -in "$WORK/client.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
	-CAcreateserial -days 2 -out "$WORK/client.crt" 2>/dev/null
pt_daemon m "[security]
allow_missing_origin = yes
[tls]
tls_cert = $WORK/c1.crt
tls_key = $WORK/c1.key
tls_ca = $WORK/ca.crt"
MURL="wss://127.0.0.1:$port_m/v1"
pt_ws --insecure --cert "$WORK/client.crt" --key "$WORK/client.key" flow "$MURL" >/dev/null ||
	pt_fail "mutual TLS: a client certificate from tls_ca was refused"
pt_ws --insecure refused "$MURL" >/dev/null || pt_fail "mutual TLS: a client without certificate got in"
pt_ws --insecure --cert "$WORK/c2.crt" --key "$WORK/c2.key" refused "$MURL" >/dev/null ||
	pt_fail "mutual TLS: a certificate not issued by tls_ca got in"
pt_log "tls_ca: issued certificate accepted; none, or a foreign one, refused"

kill -TERM "$pid_d" "$pid_m"
rc=0; pt_wait_exit "$pid_d" 10 || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon exit status $rc"
rc=0; pt_wait_exit "$pid_m" 10 || rc=$?
[ $rc -eq 0 ] || pt_fail "mTLS daemon exit status $rc"
pt_log "ok"
