#!/usr/bin/env bash
# Conformance — cluster: two peertrackd nodes share a real redis-server
# (password from a 0600 file, free 127.0.0.1 port). A seeder connected to
# node Aa and a fetcher connected to node Bb find each other through the
# shared index, signal across the nodes and move a 1 MiB file, verified
# with SHA-256. Then Redis stops mid-fetch: a signal to the holder on the
# other node is answered unavailable, and the fetcher gives that holder up
# at once instead of waiting out its no-progress timeout.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || pt_fail "redis-server not installed (scripts/deps-test.txt)"

RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/redis.pass"
chmod 600 "$WORK/redis.pass"
pt_spawn redis redis-server --bind 127.0.0.1 --port "$RPORT" --requirepass "$(cat "$WORK/redis.pass")" \
	--save "" --appendonly no --dir "$WORK"
pt_wait_line "$WORK/redis.out" 'Ready to accept connections' 10 >/dev/null

# node NAME TAG — a daemon of the cluster; sets port_NAME. Its liveness
# timeout is long and nothing is resumable: the second part stops a peer
# (SIGSTOP) and decides itself when the daemon sees it leave (its kill).
node() {
	local name=$1 tag=$2 line
	mkdir -p "$WORK/$name"
	cat >"$WORK/$name.conf" <<CONF
state_dir = $WORK/$name
heartbeat_ms = $PT_HB
timeout_ms = 120000
allowed_origins = http://127.0.0.1
allow_missing_origin = no
resume_window_ms = 0
[cluster]
cluster_redis = 127.0.0.1:$RPORT
cluster_node = $tag
cluster_redis_password_file = $WORK/redis.pass
cluster_heartbeat_ms = 200
cluster_dead_ms = 3000
CONF
	pt_spawn "$name" "$DAEMON" --listen 127.0.0.1:0 -c "$WORK/$name.conf"
	line=$(pt_wait_line "$WORK/$name.err" 'listening on 127\.0\.0\.1:[0-9]+' 10)
	printf -v "port_$name" '%s' "$(printf '%s\n' "$line" | sed -E 's/.*:([0-9]+).*/\1/')"
	pt_wait_line "$WORK/$name.err" "node '$tag' registered" 10 >/dev/null
}
node a Aa
node b Bb
pt_wait_line "$WORK/b.err" "node 'Aa' is alive" 10 >/dev/null

pt_random "$WORK/file" $((1 << 20))
h=$(pt_sha "$WORK/file")
PT_URL="ws://127.0.0.1:$port_a/v1"
pt_seed seed -- "$WORK/file"
case "$id_seed" in Aa*) ;; *) pt_fail "the seeder's id $id_seed lacks node a's tag" ;; esac

PT_URL="ws://127.0.0.1:$port_b/v1"
pt_spawn get timeout 60 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/file.got"
line=$(pt_wait_line "$WORK/get.out" '"event":"fetched"' 60)
grep -q '"ok":true' <<<"$line" || pt_fail "fetch: $line"
cmp -s "$WORK/file" "$WORK/file.got" || pt_fail "contents differ"
[ "$(pt_json_str "$line" peer)" = "$id_seed" ] || pt_fail "not served by the seeder on node a: $line"
fetcher=$(pt_json_str "$(head -1 "$WORK/get.out")" id)
case "$fetcher" in Bb*) ;; *) pt_fail "the fetcher's id $fetcher lacks node b's tag" ;; esac
pt_log "1 MiB across nodes: lookup $(pt_json_num "$line" lookup_ms) ms," \
       "offer->open $(pt_json_num "$line" offer_open_ms) ms, transfer $(pt_json_num "$line" transfer_ms) ms"

# Redis stops mid-fetch. A second seeder, on node b, is the fetcher's first
# choice (a same-node holder before a remote one of the same proximity) and
# is frozen, so the fetch waits on it while Redis stops; then it dies, the
# fetcher hears peer-left and offers to the seeder on node a, and node b
# answers that signal unavailable. The fetcher's no-progress timeout is
# long (120 s), so only that answer can end the attempt within the bound.
pt_seed near -- "$WORK/file"
near_pid=$(pgrep -P "$pid_near") || pt_fail "no peer process under $pid_near"
kill -STOP "$near_pid"
pt_spawn get2 timeout 200 "${PEER[@]}" --timeout 120000 --server "$PT_URL" --json fetch "$h" \
	-o "$WORK/file.got2"
line=$(pt_wait_line "$WORK/get2.err" 'offering to .* \(holder 1 of' 60)
case "$line" in
*"offering to $id_near (holder 1 of 2)"*) ;;
*) pt_fail "expected the first offer to the frozen seeder $id_near of 2 holders: $line" ;;
esac
KILLED[$pid_redis]=1
kill -TERM "$pid_redis"
pt_wait_line "$WORK/b.err" 'Redis unreachable' 20 >/dev/null
pt_kill_peer "$pid_near"
kill -CONT "$near_pid" 2>/dev/null || true
line=$(pt_wait_line "$WORK/get2.out" '"event":"fetched"' 40)
grep -q '"ok":false' <<<"$line" || pt_fail "fetch without Redis: $line"
grep -q "{\"peer\":\"$id_near\",\"result\":\"peer-gone\"" <<<"$line" ||
	pt_fail "the frozen seeder's attempt is not peer-gone: $line"
grep -q "{\"peer\":\"$id_seed\",\"result\":\"unavailable\"" <<<"$line" ||
	pt_fail "the remote seeder's attempt is not unavailable: $line"
st=0; wait "$pid_get2" || st=$?
KILLED[$pid_get2]=1
[ $st -eq 4 ] || pt_fail "the fetch without Redis exited $st, not 4 (every holder failed)"
pt_log "Redis stopped mid-fetch: the remote holder was given up as unavailable"

# The peers end first (a peer whose daemon goes away first exits 2); the
# cleanup then checks every exit status.
kill -TERM "$pid_seed"
for _ in $(seq 100); do
	kill -0 "$pid_seed" 2>/dev/null || break
	sleep 0.05
done
pt_log "ok"
