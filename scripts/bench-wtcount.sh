#!/usr/bin/env bash
# bench-wtcount.sh — what /announce's swarm counts across nodes cost (issue 17,
# cluster_count_refresh_ms). Two pairs of nodes on one redis-server, each pair
# under its own cluster_prefix so they never see each other: "on" keeps the
# default (250 ms), "off" sets 0 (each node counts its own peers). Side by
# side in one run, the two alternating round by round:
#   relay  PAIRS WebTorrent pairs, each pair's peers on the two nodes, closed
#          loop (announce with an offer, the relayed offer, the answer):
#          responses/s, p50/p99, CPU per response (both nodes + Redis)
#   churn  CHURN peers dealt over the two nodes each join HASHES swarms of a
#          POPULATION, idle DURATION s and leave: CPU (both nodes + Redis)
#          per swarm joined and left, from /proc around the whole run, once
#          the nodes have no peers left and their writes are done
# Every run's JSON goes to build/bench/wtcount-STAMP.jsonl (docs/BENCHMARKS.md).
#
#   ROUNDS=3 DURATION=3 PAIRS=50 CHURN=2000 HASHES=10 POPULATION=5000 scripts/bench-wtcount.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-3}" WARMUP="${WARMUP:-1}" PAIRS="${PAIRS:-50}"
CHURN="${CHURN:-2000}" HASHES="${HASHES:-10}" POPULATION="${POPULATION:-5000}"
BENCH=bin/peertrack-bench DAEMON=${PEERTRACKD:-bin/peertrackd}
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$REDIS" ] || { echo "redis-server missing (scripts/install-deps.sh --test)" >&2; exit 1; }
make -s all >/dev/null
mkdir -p build/bench
out="build/bench/wtcount-$(date +%Y%m%d-%H%M%S).jsonl"
. "$(dirname "$0")/lib/start.sh"
pt_scratch "EXIT INT TERM"
pt_redis "$REDIS"

# node NAME PREFIX REFRESH_MS: a node of the pair under PREFIX; sets PORT and PID.
node() {
	mkdir -p "$tmp/$1-state"
	printf '%s\n' "state_dir = $tmp/$1-state" "max_connections = 19000" \
		"max_connections_per_ip = 1000000" "max_hashes_per_ip = 10000000" \
		"wt_rate_messages_per_sec = 1000000" "wt_rate_burst = 1000000" \
		"wt_max_swarms_per_connection = 1000" "[cluster]" "cluster_redis = 127.0.0.1:$RPORT" \
		"cluster_node = $1" "cluster_redis_password_file = $tmp/redis.pw" \
		"cluster_prefix = $2" "cluster_count_refresh_ms = $3" >"$tmp/$1.conf"
	pt_start "$1" "$DAEMON" -c "$tmp/$1.conf" --listen 127.0.0.1:0
}
node a1 "pa:" 250; A1=$PORT A1_PID=$PID
node a2 "pa:" 250; A2=$PORT A2_PID=$PID
node b1 "pb:" 0; B1=$PORT B1_PID=$PID
node b2 "pb:" 0; B2=$PORT B2_PID=$PID
for n in a1 a2 b1 b2; do # both nodes of each pair registered and alive to each other
	for _ in $(seq 1 100); do grep -q "is alive" "$tmp/$n.log" && break; sleep 0.1; done
	grep -q "is alive" "$tmp/$n.log" || { echo "$n never saw its pair" >&2; exit 1; }
done
on=(--target "127.0.0.1:$A1" --target "127.0.0.1:$A2" --target-pid "$A1_PID" --target-pid "$A2_PID" --target-pid "$RPID")
off=(--target "127.0.0.1:$B1" --target "127.0.0.1:$B2" --target-pid "$B1_PID" --target-pid "$B2_PID" --target-pid "$RPID")

# CPU seconds of PIDs together (utime + stime).
cpu() { python3 - "$@" <<'PY'
import os, sys
t = os.sysconf("SC_CLK_TCK")
print(sum(sum(int(x) for x in open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[11:13]) for p in sys.argv[1:]) / t)
PY
}
# Waits (bounded: 60 s) until the nodes at PORTS have no /announce peer and
# no swarm left, then a second for their last count writes.
drained() {
	local i
	for i in $(seq 1 300); do
		[ "$(python3 scripts/lib/metrics.py "$@" -- "peertrack_wt_peers " "peertrack_wt_swarms ")" = "0 0" ] && break
		sleep 0.2
	done
	sleep 1
}
# Swarm count fields written and reads, both nodes at PORTS: "W R".
counts() { python3 scripts/lib/metrics.py "$@" -- 'peertrack_cluster_swarm_counts_total{op="written"}' \
	'peertrack_cluster_swarm_counts_total{op="read"}'; }
relay() { # LABEL ARGS...
	local line
	line=$(timeout 900 "$BENCH" --json --label "$1" --mode relay --proto wt --split --peers $((PAIRS * 2)) \
		--warmup "$WARMUP" --duration "$DURATION" "${@:2}") || { echo "run failed: $1" >&2; return 0; }
	echo "$line" >>"$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); e=r["target_cpu_each_s"]; print("  %-14s %9.0f/s  p50 %5d us  p99 %6d us  errors %d  %.2f us CPU/response (redis %.2f)  load %.1f" % (r["label"], r["rate"], r["latency_us"]["p50"], r["latency_us"]["p99"], r["errors"], r["target_cpu_us_per_msg"], e[2]*1e6/r["received"] if r["received"] else 0, r["load_before"]))' "$line"
}
churn() { # LABEL PORT1 PORT2 PID1 PID2
	local c0 c1 r0 r1 k0 k1 line
	c0=$(cpu "$4" "$5"); r0=$(cpu "$RPID"); k0=$(counts "$2" "$3")
	line=$(timeout 900 "$BENCH" --json --label "$1" --mode idle --proto wt --peers "$CHURN" --hashes "$HASHES" \
		--population "$POPULATION" --workers 2 --rate 5000 --warmup 1 --duration "$DURATION" \
		--target "127.0.0.1:$2" --target "127.0.0.1:$3") || { echo "run failed: $1" >&2; return 0; }
	drained "$2" "$3"
	c1=$(cpu "$4" "$5"); r1=$(cpu "$RPID"); k1=$(counts "$2" "$3")
	line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); n=int(sys.argv[6])*int(sys.argv[7]); r["joins"]=n; r["nodes_cpu_s"]=float(sys.argv[3])-float(sys.argv[2]); r["redis_cpu_s"]=float(sys.argv[5])-float(sys.argv[4]); r["cpu_us_per_join"]=(r["nodes_cpu_s"]+r["redis_cpu_s"])*1e6/n; a=sys.argv[8].split(); b=sys.argv[9].split(); r["counts_written"]=int(b[0])-int(a[0]); r["counts_read"]=int(b[1])-int(a[1]); print(json.dumps(r))' "$line" "$c0" "$c1" "$r0" "$r1" "$CHURN" "$HASHES" "$k0" "$k1")
	echo "$line" >>"$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-14s %d swarm joins+leaves: nodes %.2f s + redis %.2f s CPU = %.1f us per join+leave  (count fields written %d, reads %d)  load %.1f" % (r["label"], r["joins"], r["nodes_cpu_s"], r["redis_cpu_s"], r["cpu_us_per_join"], r["counts_written"], r["counts_read"], r["load_before"]))' "$line"
}

echo "results in $out; redis-server $RPID on :$RPORT; counts on :$A1 :$A2, off :$B1 :$B2"
for r in $(seq 1 "$ROUNDS"); do
	relay "relay-on-$r" "${on[@]}"
	relay "relay-off-$r" "${off[@]}"
	churn "churn-on-$r" "$A1" "$A2" "$A1_PID" "$A2_PID"
	churn "churn-off-$r" "$B1" "$B2" "$B1_PID" "$B2_PID"
done

python3 - "$out" "$PWD/scripts/lib" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import runs
g = runs.groups(sys.argv[1])
def med(kind, f):
    return runs.med(g, kind, f)
print("\nmedians (min..max) over rounds")
for kind in ("relay-on", "relay-off"):
    if g[kind]:
        print("  %-10s %9.0f/s (%.0f..%.0f)  p50 %.0f us (%.0f..%.0f)  p99 %.0f us (%.0f..%.0f)  CPU %.2f us/response (%.2f..%.2f)" %
              ((kind,) + med(kind, lambda r: r["rate"]) + med(kind, lambda r: r["latency_us"]["p50"]) +
               med(kind, lambda r: r["latency_us"]["p99"]) + med(kind, lambda r: r["target_cpu_us_per_msg"])))
for kind in ("churn-on", "churn-off"):
    if g[kind]:
        print("  %-10s %.1f us CPU per swarm join+leave (%.1f..%.1f), of which redis %.1f (%.1f..%.1f)" %
              ((kind,) + med(kind, lambda r: r["cpu_us_per_join"]) + med(kind, lambda r: r["redis_cpu_s"] * 1e6 / r["joins"])))
PY
