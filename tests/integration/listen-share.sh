#!/usr/bin/env bash
# listen-share.sh — listen_share: two peertrackd nodes on one 127.0.0.1 port
# (SO_REUSEPORT on a socket of peertrackd's own, connections adopted by
# libwebsockets) both accept: 32 clients from 32 source addresses spread
# over them, each node's own metrics_listen port counting exactly its own
# share; that port answers /healthz and refuses a WebSocket upgrade. A
# third daemon without listen_share cannot take the port and says why
# (exit 1); with one node stopped, the other takes every new connection.
. "$(dirname "$0")/lib/deploy.sh"

conf="[log]
log_level = debug
[security]
allow_missing_origin = yes"
# node NAME PORT [--set K=V]... — a node on PORT with its own state and metrics port.
node() {
	local name=$1 port=$2 line; shift 2
	printf '%s\n' "$conf" >"$WORK/$name.conf"
	mkdir -p "$WORK/$name.state"
	pt_spawn "$name" "$DAEMON" -c "$WORK/$name.conf" --listen "127.0.0.1:$port" \
		--set "state_dir=$WORK/$name.state" "$@"
	line=$(pt_wait_line "$WORK/$name.err" 'listening on 127\.0\.0\.1:[0-9]+|cannot listen' 20)
	case "$line" in *"listening on 127.0.0.1:$port (shared: listen_share)"*) return 0 ;; esac
	return 1
}
shared=(--set listen_share=yes --set metrics_listen=127.0.0.1:0)
for try in 1 2 3 4 5; do
	P=$(pt_free_port)
	node a "$P" "${shared[@]}" || { pt_wait_exit "$pid_a" 10 || true; continue; }
	node b "$P" "${shared[@]}" && break
	pt_fail "node b could not share node a's port $P: $(grep -h 'cannot listen' "$WORK/b.err")"
done
[ -n "${pid_b:-}" ] || pt_fail "no free port for node a"
metrics_port() { sed -nE 's/.*metrics on 127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/$1.err" | head -n 1; }
MA=$(metrics_port a) MB=$(metrics_port b)
[ -n "$MA" ] && [ -n "$MB" ] || pt_fail "metrics_listen ports: '$MA' '$MB'"
pt_log "nodes a and b both listening on 127.0.0.1:$P; metrics on :$MA and :$MB"

# A daemon without listen_share cannot bind a port the nodes share.
printf '%s\n' "$conf" >"$WORK/c.conf"; mkdir -p "$WORK/c.state"
rc=0; "$DAEMON" -c "$WORK/c.conf" --listen "127.0.0.1:$P" --set "state_dir=$WORK/c.state" 2>"$WORK/c.err" || rc=$?
[ $rc -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$P (address in use: every node needs a port of its own, or listen_share = yes on every one" "$WORK/c.err" ||
	pt_fail "a daemon without listen_share on the shared port: rc $rc, $(grep ERROR "$WORK/c.err" | tail -n 1)"
pt_log "without listen_share: exit 1, '$(grep -o 'cannot listen.*every one' "$WORK/c.err")'"

connections() { # METRICS-PORT — peertrack_connections_total there
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | sed -nE 's/^peertrack_connections_total ([0-9]+)$/\1/p'
}
# clients PREFIX N — N clients, one per source address PREFIX.1..N, in one
# process: "SOURCE ID" lines.
clients() { timeout 120 python3 - "$PT_ROOT/tests/integration/lib" "ws://127.0.0.1:$P/v1" "$1" "$2" <<-'PY'
	import sys, types
	sys.path.insert(0, sys.argv[1])
	import wsclient
	for i in range(1, int(sys.argv[4]) + 1):
	    src = "%s.%d" % (sys.argv[3], i)
	    o = types.SimpleNamespace(origin=None, header=None, source=src, insecure=False,
	                              cafile=None, servername=None, cert=None, key=None)
	    ws = wsclient.joined(sys.argv[2], o)
	    print(src, ws.id, flush=True)
	    ws.close()
	PY
}
clients 127.0.3 32 >"$WORK/clients.out" || pt_fail "clients on the shared port: $(tail -n 2 "$WORK/clients.out")"
[ "$(wc -l <"$WORK/clients.out")" -eq 32 ] || pt_fail "$(wc -l <"$WORK/clients.out") of 32 clients welcomed"
declare -A on=([a]=0 [b]=0)
while read -r src id; do
	n=none
	for x in a b; do grep -q "peer $id connected from ${src//./\\.}\$" "$WORK/$x.err" && n=$x; done
	[ "$n" != none ] || pt_fail "client $id from $src: neither node logged it"
	on[$n]=$((on[$n] + 1))
done <"$WORK/clients.out"
[ "${on[a]}" -gt 0 ] && [ "${on[b]}" -gt 0 ] || pt_fail "not spread: node a ${on[a]}, node b ${on[b]} of 32"
ca=$(connections "$MA") cb=$(connections "$MB")
[ "$ca" = "${on[a]}" ] && [ "$cb" = "${on[b]}" ] ||
	pt_fail "each metrics port should count its own node: a $ca (logged ${on[a]}), b $cb (logged ${on[b]})"
pt_log "32 clients on :$P: node a took ${on[a]}, node b ${on[b]}; each node's metrics port counts its own"

# The metrics port: plain HTTP of this node alone.
case "$(curl -s --max-time 5 "http://127.0.0.1:$MA/healthz")" in *'"status":"ok"'*) ;; *) pt_fail "/healthz on the metrics port" ;; esac
if pt_ws hello "ws://127.0.0.1:$MA/v1" >/dev/null 2>&1; then pt_fail "the metrics port took a WebSocket"; fi
pt_log "metrics port: /healthz answers, a WebSocket upgrade is refused"

# Node a stops: the kernel hands every new connection to node b.
kill -TERM "$pid_a"
rc=0; pt_wait_exit "$pid_a" 15 || rc=$?
[ $rc -eq 0 ] || pt_fail "node a exit status $rc"
before=$(connections "$MB")
clients 127.0.4 8 >"$WORK/after.out" || pt_fail "clients with node a gone: $(tail -n 2 "$WORK/after.out")"
after=$(connections "$MB")
[ $((after - before)) -eq 8 ] || pt_fail "node b took $((after - before)) of 8 with node a stopped"
pt_log "node a stopped: node b took all 8 new clients"

kill -TERM "$pid_b"
rc=0; pt_wait_exit "$pid_b" 15 || rc=$?
[ $rc -eq 0 ] || pt_fail "node b exit status $rc"
pt_log "ok"
