#!/usr/bin/env bash
# nginx-nodes.sh — the shipped nginx site (conf/nginx/peertrack.conf) in
# front of two peertrackd nodes, its upstream given a second server line as
# docs/DEPLOY.md ("Several nodes") says: `hash $remote_addr consistent`
# spreads clients from 32 source addresses over both nodes and proxies to
# each; every connection of one address lands on the same node; the nodes
# share a password-protected redis-server (the cluster engine), so two
# clients behind nginx on different nodes find each other (announce/lookup)
# and relay signals both ways, each stamped with its sender; with that
# node stopped, its clients go to the other, where their resume token is
# refused with resume-expired (tokens are per node) and the fresh session
# works.
. "$(dirname "$0")/lib/deploy.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || pt_fail "nginx missing (scripts/install-deps.sh installs it)"
SITE="$PT_ROOT/conf/nginx/peertrack.conf"
HOST=tracker.example.org
ORIGIN=https://app.example.org
grep -Eq '^[[:space:]]*hash \$remote_addr consistent;' "$SITE" || pt_fail "site: upstream without 'hash \$remote_addr consistent;'"

pt_redis redis
conf="[log]
log_level = debug
[security]
allowed_origins = $ORIGIN
trusted_proxies = 127.0.0.1/32
[cluster]
cluster_redis = 127.0.0.1:$port_redis
cluster_redis_password_file = $WORK/redis.pw"
pt_daemon a "$conf
cluster_node = na"
pt_daemon b "$conf
cluster_node = nb"

pt_selfsigned cert "$HOST"
# The shipped site with its addresses changed and the upstream given both
# nodes.
pt_nginx -e "s|server 127.0.0.1:8000;|server 127.0.0.1:$port_a;|" \
	-e "s|# server 127.0.0.1:8001;|server 127.0.0.1:$port_b;|" \
	-e "s|root /var/www/letsencrypt;|root $WORK;|"
grep -q "server 127.0.0.1:$port_b;" "$WORK/nginx/site.conf" || pt_fail "site: no '# server 127.0.0.1:8001;' line to enable"
URL="ws://127.0.0.1:$LP/v1"
pt_log "nginx :$LP in front of nodes a :$port_a and b :$port_b"

# A client per source address, twice each: "SOURCE ID1 ID2" lines.
drive() { timeout 120 python3 - "$PT_ROOT/tests/integration/lib" "$URL" "$ORIGIN" "$@" <<-'PY'
	import sys, time, types
	sys.path.insert(0, sys.argv[1])
	import wsclient
	url, origin, what = sys.argv[2], sys.argv[3], sys.argv[4]
	def opts(src):
	    return types.SimpleNamespace(origin=origin, header=None, source=src, insecure=False,
	                                 cafile=None, servername=None, cert=None, key=None)
	if what == "spread":
	    for i in range(1, 33):
	        src = "127.0.1.%d" % i
	        ids = []
	        for _ in range(2):
	            ws = wsclient.joined(url, opts(src))
	            ids.append(ws.id)
	            ws.close()
	        print(src, *ids, flush=True)
	elif what == "cross":
	    # a on one node announces; b on the other finds it, then signals
	    # go both ways (bounded: the nodes may take a heartbeat to meet).
	    a = wsclient.joined(url, opts(sys.argv[5]))
	    b = wsclient.joined(url, opts(sys.argv[6]))
	    r = a.call({"type": "announce", "rid": 1, "hashes": [wsclient.HASH]})
	    wsclient.check(r.get("type") == "ack", "announce: %r" % r)
	    end = time.monotonic() + 20
	    while True:
	        r = b.call({"type": "lookup", "rid": 2, "hash": wsclient.HASH})
	        if a.id in r.get("peers", []):
	            break
	        wsclient.check(time.monotonic() < end, "lookup on the other node never found %s: %r" % (a.id, r))
	        time.sleep(0.1)
	    b.send({"type": "signal", "to": a.id, "data": {"sdp": "offer"}})
	    r = a.recv(("signal",))
	    wsclient.check(r.get("from") == b.id and r.get("data") == {"sdp": "offer"}, "signal b->a: %r" % r)
	    a.send({"type": "signal", "to": b.id, "data": {"sdp": "answer"}})
	    r = b.recv(("signal",))
	    wsclient.check(r.get("from") == a.id and r.get("data") == {"sdp": "answer"}, "signal a->b: %r" % r)
	    print(a.id, b.id, flush=True)
	    a.close()
	    b.close()
	elif what == "token":
	    # Connect, keep the token, drop without a close frame: parked.
	    ws = wsclient.joined(url, opts(sys.argv[5]))
	    print(ws.id, ws.welcome["resume_token"], flush=True)
	    ws.sock.close()
	elif what == "resume":
	    ws = wsclient.joined(url, opts(sys.argv[5]))
	    r = ws.call({"type": "resume", "rid": "r1", "token": sys.argv[6]})
	    wsclient.check(r.get("type") == "error", "resume on another node: %r" % r)
	    a = ws.call({"type": "announce", "rid": 2, "hashes": [wsclient.HASH]})
	    wsclient.check(a.get("type") == "ack", "announce after the refused resume: %r" % a)
	    print(ws.id, r["code"], flush=True)
	    ws.close()
	PY
}
node_of() { # ID — a or b: the node that logged its connection
	local n
	for n in a b; do grep -q "peer $1 connected from " "$WORK/$n.err" && { echo $n; return; }; done
	echo none
}
drive spread >"$WORK/spread.out" || pt_fail "clients through nginx: $(tail -n 3 "$WORK/spread.out")"
[ "$(wc -l <"$WORK/spread.out")" -eq 32 ] || pt_fail "spread: $(wc -l <"$WORK/spread.out") of 32 addresses connected"
declare -A count=([a]=0 [b]=0) where=()
while read -r src id1 id2; do
	n1=$(node_of "$id1"); n2=$(node_of "$id2")
	[ "$n1" != none ] && [ "$n1" = "$n2" ] || pt_fail "$src: first connection on node $n1, second on $n2"
	grep -q "peer $id1 connected from ${src//./\\.}\$" "$WORK/$n1.err" || pt_fail "$src: node $n1 saw another address for $id1"
	count[$n1]=$((count[$n1] + 1)); where[$src]=$n1
done <"$WORK/spread.out"
[ "${count[a]}" -gt 0 ] && [ "${count[b]}" -gt 0 ] || pt_fail "not spread: node a ${count[a]}, node b ${count[b]} addresses"
pt_log "32 addresses, 2 connections each: node a got ${count[a]}, node b ${count[b]}; each address's connections on one node, its address from X-Forwarded-For"

# Two clients behind nginx, hashed to different nodes, find each other and
# relay through Redis.
for src_a in "${!where[@]}"; do [ "${where[$src_a]}" = a ] && break; done
for src_b in "${!where[@]}"; do [ "${where[$src_b]}" = b ] && break; done
read -r ida idb <<<"$(drive cross "$src_a" "$src_b")" || pt_fail "cross-node flow through nginx"
[ "$(node_of "$ida")" = a ] && [ "$(node_of "$idb")" = b ] || pt_fail "cross: $ida on $(node_of "$ida"), $idb on $(node_of "$idb")"
pt_log "$src_a on node a and $src_b on node b, both through nginx: lookup across nodes, signals both ways, sender stamped"

# A client of node a parks its session, node a stops: its reconnect lands
# on b, which does not know the token.
for src in "${!where[@]}"; do [ "${where[$src]}" = a ] && break; done
read -r pid_id token <<<"$(drive token "$src")"
[ "$(node_of "$pid_id")" = a ] || pt_fail "$src's new connection not on node a"
kill -TERM "$pid_a"
rc=0; pt_wait_exit "$pid_a" 15 || rc=$?
[ $rc -eq 0 ] || pt_fail "node a exit status $rc"
read -r nid code <<<"$(drive resume "$src" "$token")" || pt_fail "resume through nginx with node a gone"
[ "$(node_of "$nid")" = b ] || pt_fail "$src's reconnect not on node b"
case "$code" in resume-expired) ;; *) pt_fail "resume on node b answered $code" ;; esac
pt_log "node a stopped: $src reconnects to node b, its token answered $code, the new session announces"

kill -TERM "$pid_b"
rc=0; pt_wait_exit "$pid_b" 15 || rc=$?
[ $rc -eq 0 ] || pt_fail "node b exit status $rc"
pt_log "ok"
