#!/usr/bin/env bash
# systemd.sh — the unit (systemd/peertrackd.service) passes
# `systemd-analyze verify` without a single complaint and has what the
# deployment needs; the daemon speaks the notify protocol: READY=1 once its
# port answers, WATCHDOG=1 pings at half WATCHDOG_USEC, RELOADING=1 then
# READY=1 around SIGHUP, STOPPING=1 on SIGTERM — in that order. The node
# template (systemd/peertrackd@.service) verifies clean too, keeps the
# plain unit's settings to the letter, and its command lines run two nodes
# side by side, each with its node file's port, its own store and admin
# socket; a node given another's port fails with a clear error.
. "$(dirname "$0")/lib/deploy.sh"

UNIT="$PT_ROOT/systemd/peertrackd.service"
[ -f "$UNIT" ] || pt_fail "no $UNIT"

# -- the unit ------------------------------------------------------------------
# As `make install` would write it, pointing at the binary under test.
mkdir -p "$WORK/etc/peertrack"
sed "s|@BINDIR@|$PT_BIN|g; s|@SYSCONFDIR@|$WORK/etc|g; s|@DOCDIR@|/usr/share/doc/peertrack|g" "$UNIT" >"$WORK/peertrackd.service"
grep -q '@[A-Z]*@' "$WORK/peertrackd.service" && pt_fail "unit: placeholder left: $(grep '@[A-Z]*@' "$WORK/peertrackd.service")"
if command -v systemd-analyze >/dev/null; then
	# verify exits 0 on unknown keys and bad values: any output is a failure.
	rc=0; out=$(cd "$WORK" && systemd-analyze verify "$WORK/peertrackd.service" 2>&1) || rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || pt_fail "systemd-analyze verify (rc $rc): $out"
	pt_log "systemd-analyze verify: clean"
else
	pt_fail "systemd-analyze missing (Debian package systemd)"
fi
for want in '^Type=notify$' '^WatchdogSec=' '^ExecReload=' '^User=peertrack$' '^StateDirectory=' \
	'^RuntimeDirectory=' '^ConfigurationDirectory=' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' \
	'^ProtectHome=yes$' '^PrivateTmp=yes$' '^RestrictAddressFamilies=' \
	'^SystemCallFilter=@system-service$' '^CapabilityBoundingSet=$' '^LimitNOFILE=[0-9]+$'; do
	grep -Eq "$want" "$UNIT" || pt_fail "unit lacks /$want/"
done
# A reload validates the file before signalling: systemctl reload fails on a
# bad file instead of reporting success.
reloads=$(grep '^ExecReload=' "$UNIT" | tr '\n' ' ')
case "$reloads" in
"ExecReload=@BINDIR@/peertrackd -c @SYSCONFDIR@/peertrack/peertrack.conf --check-config ExecReload=/bin/kill -HUP \$MAINPID ") ;;
*) pt_fail "ExecReload does not validate before kill -HUP: $reloads" ;;
esac
# Enough descriptors for the default connection limit, plus headroom.
nofile=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
maxconn=$(sed -n 's/^#max_connections = //p' "$PT_ROOT/conf/peertrack.conf")
[ -n "$maxconn" ] && [ "$nofile" -ge $((maxconn + 64)) ] ||
	pt_fail "LimitNOFILE=$nofile is not above max_connections=$maxconn + 64"
pt_log "unit: notify, watchdog, reload, dedicated user, directories, hardening, LimitNOFILE=$nofile"

# -- the node template -----------------------------------------------------------
TEMPLATE="$PT_ROOT/systemd/peertrackd@.service"
[ -f "$TEMPLATE" ] || pt_fail "no $TEMPLATE"
fill() { sed "s|@BINDIR@|$PT_BIN|g; s|@SYSCONFDIR@|$WORK/etc|g; s|@DOCDIR@|/usr/share/doc/peertrack|g" "$1"; }
# An instance's file under its own name: systemd-analyze loads it as node n1.
fill "$TEMPLATE" >"$WORK/peertrackd@n1.service"
grep -q '@[A-Z]*@' "$WORK/peertrackd@n1.service" && pt_fail "template: placeholder left"
rc=0; out=$(cd "$WORK" && systemd-analyze verify "$WORK/peertrackd@n1.service" 2>&1) || rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] || pt_fail "systemd-analyze verify peertrackd@n1 (rc $rc): $out"
# From the first "# One descriptor" line on, the template is the plain unit.
tail_of() { sed -n '/^# One descriptor per WebSocket peer/,$p' "$1"; }
[ -n "$(tail_of "$UNIT")" ] && cmp -s <(tail_of "$UNIT") <(tail_of "$TEMPLATE") ||
	pt_fail "template's limits and hardening differ from peertrackd.service: $(diff <(tail_of "$UNIT") <(tail_of "$TEMPLATE") | head -5)"
for key in Type NotifyAccess ExecStartPre ExecReload WatchdogSec Restart RestartSec TimeoutStopSec \
	User Group UMask StateDirectoryMode RuntimeDirectoryMode ConfigurationDirectory ConfigurationDirectoryMode; do
	[ "$(grep "^$key=" "$UNIT")" = "$(grep "^$key=" "$TEMPLATE")" ] || pt_fail "template's $key= differs from peertrackd.service's"
done
for want in '^EnvironmentFile=@SYSCONFDIR@/peertrack/node-%i\.env$' '^AssertPathExists=@SYSCONFDIR@/peertrack/node-%i\.env$' \
	'^StateDirectory=peertrack/%i$' '^RuntimeDirectory=peertrack-%i$' \
	'^ExecStart=@BINDIR@/peertrackd -c @SYSCONFDIR@/peertrack/peertrack\.conf --set state_dir=%S/peertrack/%i$'; do
	grep -Eq "$want" "$TEMPLATE" || pt_fail "template lacks /$want/"
done
pt_log "template: systemd-analyze verify clean; plain unit's settings; node file, state and runtime directories per instance"

# Two nodes as systemd would run them: the node file's variables, then
# ExecStartPre= and ExecStart= with %S, %i filled in, RUNTIME_DIRECTORY set.
mkdir -p "$WORK/etc/peertrack" "$WORK/lib" "$WORK/run"
printf '%s\n' '[security]' 'allow_missing_origin = yes' >"$WORK/etc/peertrack/peertrack.conf"
node_cmd() { # NODE KEY — the template's KEY= line for NODE, as words
	sed -n "s/^$2=//p" "$WORK/peertrackd@n1.service" | sed "s|%S|$WORK/lib|g; s|%i|$1|g"
}
start_node() { # NODE — sets port_NODE
	local node=$1 envs line
	mapfile -t envs < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$WORK/etc/peertrack/node-$node.env")
	mkdir -p "$WORK/run/peertrack-$node"
	# shellcheck disable=SC2046
	env "${envs[@]}" $(node_cmd "$node" ExecStartPre) >/dev/null 2>"$WORK/pre-$node.err" ||
		pt_fail "node $node: ExecStartPre: $(cat "$WORK/pre-$node.err")"
	# shellcheck disable=SC2046
	pt_spawn "node_$node" env "${envs[@]}" RUNTIME_DIRECTORY="$WORK/run/peertrack-$node" $(node_cmd "$node" ExecStart)
	line=$(pt_wait_line "$WORK/node_$node.err" 'listening on 127\.0\.0\.1:[0-9]+|cannot listen' "$PT_SLOW")
	printf -v "port_$node" '%s' "$(printf '%s\n' "$line" | sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p')"
}
for node in a b; do
	printf '# node %s\nPEERTRACK_LISTEN=127.0.0.1:0\nPEERTRACK_LOG_LEVEL=debug\n' $node >"$WORK/etc/peertrack/node-$node.env"
	start_node $node
done
[ -n "$port_a" ] && [ -n "$port_b" ] && [ "$port_a" != "$port_b" ] || pt_fail "nodes on ports '$port_a' and '$port_b'"
for node in a b; do
	[ -f "$WORK/lib/peertrack/$node/peertrack.db" ] || pt_fail "node $node: no store in state/peertrack/$node"
	[ -S "$WORK/run/peertrack-$node/admin.sock" ] || pt_fail "node $node: no admin socket in peertrack-$node"
done
read -r _ id <<<"$(pt_ws hello "ws://127.0.0.1:$port_a/v1" 2>/dev/null)" || true
[ -n "${id:-}" ] || pt_fail "no peer id from node a"
# The node file applies (log_level debug: the peer's connect line), the
# rest comes from the shared file, which says nothing of it.
grep -q '^log_level *= *debug' <("$DAEMON" -c "$WORK/etc/peertrack/peertrack.conf" --dump-config 2>/dev/null) &&
	pt_fail "the shared file alone already says debug: the check proves nothing"
pt_wait_line "$WORK/node_a.err" "peer $id connected from" "$PT_SLOW" >/dev/null
# Each admin socket reaches its own node.
for node in a b; do
	port=port_$node
	out=$("$PT_BIN/peertrackctl" -s "$WORK/run/peertrack-$node/admin.sock" --json status) ||
		pt_fail "peertrackctl on node $node's socket: $out"
	grep -q "\"port\": ${!port}," <<<"$out" || pt_fail "node $node's socket answers for another node: $out"
done
pt_log "nodes a (:$port_a) and b (:$port_b) from the template's command lines: own store, own admin socket"

# A node whose file names a port another node holds: a clear error, exit 1.
printf 'PEERTRACK_LISTEN=127.0.0.1:%s\n' "$port_a" >"$WORK/etc/peertrack/node-c.env"
start_node c
rc=0; pt_wait_exit "$pid_node_c" "$PT_SLOW" || rc=$?
[ $rc -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$port_a (address in use: every node needs a port of its own" "$WORK/node_c.err" ||
	pt_fail "node c on node a's port: rc $rc, $(tail -n 2 "$WORK/node_c.err")"
pt_log "node c on node a's port: exit 1, '$(grep -o 'cannot listen.*own' "$WORK/node_c.err")'"
for node in a b; do
	pid=pid_node_$node
	kill -TERM "${!pid}"
	rc=0; pt_wait_exit "${!pid}" "$PT_SLOW" || rc=$?
	[ $rc -eq 0 ] || pt_fail "node $node: exit status $rc"
done

# -- the notify protocol ----------------------------------------------------------
# A datagram socket playing systemd: one line per notification on stdout.
pt_spawn notify python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(1.0)
end = time.monotonic() + 600
while time.monotonic() < end:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        continue
    print(msg.replace("\n", " "), flush=True)
    if "STOPPING=1" in msg:
        break
' "$WORK/notify.sock"
pt_wait_line "$WORK/notify.out" '^bound$' "$PT_SLOW" >/dev/null

cat >"$WORK/d.conf" <<EOF
[security]
allow_missing_origin = yes
EOF
mkdir -p "$WORK/d.state"
# WATCHDOG_USEC=2 s: pings every second or so.
pt_spawn d env NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=2000000 "$DAEMON" -c "$WORK/d.conf" --listen 127.0.0.1:0 --set "state_dir=$WORK/d.state"

ready=$(pt_wait_line "$WORK/notify.out" 'READY=1' "$PT_SLOW")
port=$(printf '%s\n' "$ready" | sed -nE 's/.*listening on port ([0-9]+).*/\1/p')
[ -n "$port" ] || pt_fail "READY=1 without the port in STATUS: '$ready'"
# READY means serving: the port answers at once.
out=$(curl -s --max-time "$PT_SLOW" "http://127.0.0.1:$port/healthz") || pt_fail "port $port not answering after READY=1"
case "$out" in *'"status":"ok"'*) ;; *) pt_fail "/healthz after READY=1: '$out'" ;; esac
pt_log "READY=1 ($ready); /healthz answers on port $port"

# Two watchdog pings after READY, about a second apart.
pt_wait_line "$WORK/notify.out" 'WATCHDOG=1' "$PT_SLOW" "$(grep -n 'READY=1' "$WORK/notify.out" | head -1 | cut -d: -f1)" >/dev/null
mark=$(pt_lines "$WORK/notify.out")
pt_wait_line "$WORK/notify.out" 'WATCHDOG=1' "$PT_SLOW" "$mark" >/dev/null
pt_log "WATCHDOG=1 pings arrive (WATCHDOG_USEC=2000000)"

mark=$(pt_lines "$WORK/notify.out")
kill -HUP "$pid_d"
pt_wait_line "$WORK/notify.out" 'RELOADING=1' "$PT_SLOW" "$mark" >/dev/null
pt_wait_line "$WORK/notify.out" '^READY=1' "$PT_SLOW" "$(grep -n 'RELOADING=1' "$WORK/notify.out" | tail -1 | cut -d: -f1)" >/dev/null
pt_log "SIGHUP: RELOADING=1 then READY=1"

kill -TERM "$pid_d"
rc=0; pt_wait_exit "$pid_d" "$PT_SLOW" || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon exit status $rc"
pt_wait_line "$WORK/notify.out" 'STOPPING=1' "$PT_SLOW" >/dev/null

# The whole sequence, in order (watchdog pings may fall anywhere after READY).
seq=$(grep -v '^bound$' "$WORK/notify.out" | grep -v '^WATCHDOG=1$' | sed -E 's/^(READY=1|RELOADING=1|STOPPING=1).*/\1/' | tr '\n' ' ')
[ "$seq" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ] || pt_fail "notification order: '$seq'"
first_wd=$(grep -n '^WATCHDOG=1$' "$WORK/notify.out" | head -1 | cut -d: -f1)
first_ready=$(grep -n '^READY=1' "$WORK/notify.out" | head -1 | cut -d: -f1)
[ "$first_wd" -gt "$first_ready" ] || pt_fail "WATCHDOG=1 before READY=1"
pt_log "order: READY=1, WATCHDOG=1..., RELOADING=1, READY=1, STOPPING=1"

# Without NOTIFY_SOCKET nothing breaks (not started by systemd).
pt_daemon plain "[security]
allow_missing_origin = yes"
kill -TERM "$pid_plain"
rc=0; pt_wait_exit "$pid_plain" "$PT_SLOW" || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon without NOTIFY_SOCKET: exit status $rc"
pt_log "ok"
