#!/usr/bin/env bash
# bench-nodes.sh — one peertrackd against two nodes sharing a Redis (issue 17),
# side by side in one run, every deployment up at once and the runs
# alternating round by round, so a slow phase of a shared machine hits all
# alike:
#   single  one peertrackd, no cluster settings
#   same    two nodes and redis-server; both peers of each relay pair on one node
#   split   the same two nodes; each pair's peers on different nodes, so every
#           message crosses Redis (one PUBLISH to the other node's inbox)
# Relay (PAIRS pairs, 500-byte payload): closed loop for the saturated rate;
# then open loop at half of the single node's median saturated rate, the same
# offered load for all three: latency p50/p99 and CPU time per relayed
# message added up over the daemons and redis-server (/proc/PID/stat).
# Lookup: HOLDERS peers hold one hash, all on the single node or dealt over
# both nodes; LOOKERS peers look it up in a closed loop (max 20).
# Prints every run and the medians (min..max) with the load average; every
# run's JSON goes to build/bench/nodes-STAMP.jsonl (docs/BENCHMARKS.md).
#
#   ROUNDS=5 DURATION=5 PAIRS=50 HOLDERS=10000 LOOKERS=20 LOOKUP_ROUNDS=3 scripts/bench-nodes.sh
#   RATE=5000 SAT_ROUNDS=0 LOOKUP_ROUNDS=0 scripts/bench-nodes.sh   # latency at one fixed load
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}" DURATION="${DURATION:-5}" WARMUP="${WARMUP:-1}" PAIRS="${PAIRS:-50}"
HOLDERS="${HOLDERS:-10000}" LOOKERS="${LOOKERS:-20}" LOOKUP_ROUNDS="${LOOKUP_ROUNDS:-3}"
# RATE=R: the open-loop rounds at R msg/s instead of half the single node's
# saturated rate (SAT_ROUNDS=0 then skips the closed-loop rounds).
RATE="${RATE:-}" SAT_ROUNDS="${SAT_ROUNDS:-$ROUNDS}"
BENCH=bin/peertrack-bench DAEMON=bin/peertrackd
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$REDIS" ] || { echo "redis-server missing (scripts/install-deps.sh --test)" >&2; exit 1; }
make -s all >/dev/null
mkdir -p build/bench
out="build/bench/nodes-$(date +%Y%m%d-%H%M%S).jsonl"
. "$(dirname "$0")/lib/start.sh"
pt_scratch "EXIT INT TERM"

pt_redis "$REDIS"

# start NAME [CLUSTER-LINES]: a daemon with the bench limits; sets PORT and PID.
start() {
	mkdir -p "$tmp/$1-state"
	printf '%s\n' "state_dir = $tmp/$1-state" "max_connections = 19000" \
		"max_connections_per_ip = 1000000" "rate_messages_per_sec = 1000000" \
		"rate_burst = 1000000" "max_hashes_per_peer = 100000" "${@:2}" >"$tmp/$1.conf"
	pt_start "$1" "$DAEMON" -c "$tmp/$1.conf" --listen 127.0.0.1:0
}
# CLUSTER_CONF: more [cluster] lines for both nodes, e.g.
# CLUSTER_CONF="cluster_lookup_cache_ms = 0" for lookups without the cache.
cluster() { printf '%s\n' "[cluster]" "cluster_redis = 127.0.0.1:$RPORT" "cluster_node = $1" \
	"cluster_redis_password_file = $tmp/redis.pw" ${CLUSTER_CONF:+"$CLUSTER_CONF"}; }
start single; S_PORT=$PORT S_PID=$PID
start n1 "$(cluster n1)"; A_PORT=$PORT A_PID=$PID
start n2 "$(cluster n2)"; B_PORT=$PORT B_PID=$PID

# The nodes see each other once a peer announced on one is found from the
# other (bounded: 30 s).
python3 - "$PWD/tests/integration/lib" "127.0.0.1:$A_PORT" "127.0.0.1:$B_PORT" <<'PY' || { echo "the two nodes never found each other's peers" >&2; exit 1; }
import sys, time, types
sys.path.insert(0, sys.argv[1])
import wsclient
o = types.SimpleNamespace(origin="http://bench.localhost", header=None, source=None, insecure=False,
                          cafile=None, servername=None, cert=None, key=None)
a = wsclient.joined("ws://%s/v1" % sys.argv[2], o)
a.call({"type": "announce", "rid": 1, "hashes": [wsclient.HASH]})
b = wsclient.joined("ws://%s/v1" % sys.argv[3], o)
end = time.monotonic() + 30
while time.monotonic() < end:
    r = b.call({"type": "lookup", "rid": 2, "hash": wsclient.HASH})
    if a.id in r.get("peers", []):
        sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
PY

single=(--target "127.0.0.1:$S_PORT" --target-pid "$S_PID")
nodes=(--target "127.0.0.1:$A_PORT" --target "127.0.0.1:$B_PORT" --target-pid "$A_PID" --target-pid "$B_PID" --target-pid "$RPID")
relay=(--mode relay --peers $((PAIRS * 2)) --warmup "$WARMUP" --duration "$DURATION")

# inbox PUBLISHes and the messages they carried, both nodes: "P M".
inbox() { python3 scripts/lib/metrics.py "$A_PORT" "$B_PORT" -- \
	peertrack_cluster_inbox_publishes_total peertrack_cluster_inbox_messages_total; }
run() { # LABEL ARGS...
	local line before after
	before=$(inbox)
	line=$(timeout 900 "$BENCH" --json --label "$1" "${@:2}") || { echo "run failed: $1" >&2; return 0; }
	after=$(inbox)
	# Messages per inbox PUBLISH over the run (warm-up included): how well
	# cluster_publish_linger_us batched.
	line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); b=sys.argv[2].split(); a=sys.argv[3].split(); p=int(a[0])-int(b[0]); m=int(a[1])-int(b[1]); r["inbox_publishes"]=p; r["inbox_msgs_per_publish"]=round(m/p,2) if p else 0; print(json.dumps(r))' "$line" "$before" "$after")
	echo "$line" >>"$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); e=r["target_cpu_each_s"]; rd=(e[2]*1e6/r["received"]) if len(e)==3 and r["received"] else 0; print("  %-20s %9.0f/s  p50 %5d us  p99 %6d us  errors %d  %.2f us CPU/msg (redis %.2f)  msgs/PUBLISH %.2f  load %.1f" % (r["label"], r["rate"], r["latency_us"]["p50"], r["latency_us"]["p99"], r["errors"], r["target_cpu_us_per_msg"], rd, r["inbox_msgs_per_publish"], r["load_before"]))' "$line"
}

echo "results in $out; redis-server $RPID on :$RPORT; single :$S_PORT, nodes :$A_PORT :$B_PORT"
echo "relay, $PAIRS pairs, closed loop (1 in flight): $SAT_ROUNDS rounds of single/same/split"
for r in $(seq 1 "$SAT_ROUNDS"); do
	run "sat-single-$r" "${relay[@]}" "${single[@]}"
	run "sat-same-$r" "${relay[@]}" "${nodes[@]}"
	run "sat-split-$r" "${relay[@]}" "${nodes[@]}" --split
done
half=$RATE
[ -n "$half" ] || half=$(python3 - "$out" <<'PY'
import json, statistics, sys
v = [json.loads(l)["rate"] for l in open(sys.argv[1]) if json.loads(l)["label"].startswith("sat-single-")]
print(int(statistics.median(v) / 2))
PY
)
echo "relay, open loop at $half msg/s (${RATE:+RATE, not }half of the single node's median): $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
	run "half-single-$r" "${relay[@]}" --msg-rate "$half" "${single[@]}"
	run "half-same-$r" "${relay[@]}" --msg-rate "$half" "${nodes[@]}"
	run "half-split-$r" "${relay[@]}" --msg-rate "$half" "${nodes[@]}" --split
done
echo "lookup, $HOLDERS holders of one hash, $LOOKERS lookers: $LOOKUP_ROUNDS rounds of single/spread"
lookup=(--mode lookup --holders "$HOLDERS" --peers "$LOOKERS" --lookup-max 20 --workers 2 --rate 4000
	--warmup "$WARMUP" --duration "$DURATION")
for r in $(seq 1 "$LOOKUP_ROUNDS"); do
	[ "$LOOKUP_ROUNDS" -gt 0 ] || break
	run "lookup-single-$r" "${lookup[@]}" "${single[@]}"
	run "lookup-spread-$r" "${lookup[@]}" "${nodes[@]}"
done

python3 - "$out" "$PWD/scripts/lib" <<'PY'
import statistics, sys
sys.path.insert(0, sys.argv[2])
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import runs
g = runs.groups(sys.argv[1])
def med(kind, f):
    return runs.med(g, kind, f)
print("\nmedians (min..max) over rounds")
for kind in ("sat-single", "sat-same", "sat-split", "half-single", "half-same", "half-split",
             "lookup-single", "lookup-spread"):
    if not g[kind]:
        continue
    rate = med(kind, lambda r: r["rate"]); p50 = med(kind, lambda r: r["latency_us"]["p50"])
    p99 = med(kind, lambda r: r["latency_us"]["p99"]); cpu = med(kind, lambda r: r["target_cpu_us_per_msg"])
    red = med(kind, lambda r: r["target_cpu_each_s"][2] * 1e6 / r["received"] if len(r["target_cpu_each_s"]) == 3 and r["received"] else 0)
    load = [r["load_before"] for r in g[kind]]
    unit = "lookup" if kind.startswith("lookup") else "msg"
    print("  %-14s %9.0f/s (%.0f..%.0f)  p50 %.0f us (%.0f..%.0f)  p99 %.0f us (%.0f..%.0f)  "
          "CPU %.2f us/%s (%.2f..%.2f), redis-server %.2f (%.2f..%.2f)  load %.1f..%.1f" %
          ((kind,) + rate + p50 + p99 + (cpu[0], unit, cpu[1], cpu[2]) + red + (min(load), max(load))))
def ratio(a, b, f, what):
    pa, pb = g[a], g[b]
    rs = [f(y) / f(x) for x, y in zip(pa, pb) if f(x)]
    if rs:
        print("  %-34s per round %s -> median %.2f" % (what, ", ".join("%.2f" % x for x in rs), statistics.median(rs)))
print("\nper round (same round, back to back)")
ratio("half-same", "half-split", lambda r: r["target_cpu_us_per_msg"], "CPU/msg split / same")
ratio("half-single", "half-split", lambda r: r["target_cpu_us_per_msg"], "CPU/msg split / single")
ratio("lookup-single", "lookup-spread", lambda r: r["target_cpu_us_per_msg"], "CPU/lookup spread / single")
ratio("lookup-single", "lookup-spread", lambda r: r["latency_us"]["p50"], "lookup p50 spread / single")
for a, b in (("half-same", "half-split"), ("half-single", "half-split")):
    d = [y["latency_us"]["p50"] - x["latency_us"]["p50"] for x, y in zip(g[a], g[b])]
    if d:
        print("  %-34s per round %s -> median %.0f us" % ("p50 %s - %s" % (b, a), ", ".join("%d" % x for x in d), statistics.median(d)))
PY
