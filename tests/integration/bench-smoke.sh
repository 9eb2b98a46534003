#!/usr/bin/env bash
# bench-smoke.sh — peertrack-bench runs (about 2 s each) in every mode against
# a real daemon with a few peers, and once against the echo/forward baseline;
# each run must report sane, non-zero figures; relay over two daemons
# (several --target) relays on both. Not a benchmark: `make bench`
# is (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
PT_BIN="${PT_BIN:-bin}" PT_BUILD="${PT_BUILD:-build}"
BENCH="$PT_BIN/peertrack-bench" ECHO="$PT_BUILD/tests/bench/echo_server"
for f in "$BENCH" "$PT_BIN/peertrackd"; do
	[ -x "$f" ] || { echo "missing $f (build it first)"; exit 1; }
done

. "$(dirname "$0")/../../scripts/lib/start.sh"
pt_scratch EXIT

mkdir -p "$tmp/state"
cat >"$tmp/pt.conf" <<EOF
state_dir = $tmp/state
max_connections_per_ip = 100000
rate_messages_per_sec = 1000000
rate_burst = 1000000
wt_rate_messages_per_sec = 1000000
wt_rate_burst = 1000000
EOF
pt_start daemon "$PT_BIN/peertrackd" -c "$tmp/pt.conf" --listen 127.0.0.1:0
DPORT=$PORT DPID=$PID

# check FILE EXPR...: each python expression over the run's JSON `r` must hold.
check() {
	local file=$1; shift
	python3 - "$file" "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {}, {"r": r})]
if bad:
    print("FAILED:", "; ".join(bad)); print(json.dumps(r, indent=1)); sys.exit(1)
EOF
}

run() {
	local name=$1; shift
	echo "== $name: peertrack-bench $*"
	timeout 60 "$BENCH" --json --warmup 0.3 --duration 1.5 "$@" >"$tmp/$name.json"
	cat "$tmp/$name.json"
}

base=(--target "127.0.0.1:$DPORT" --target-pid "$DPID")
run idle "${base[@]}" --mode idle --peers 40 --hashes 10 --workers 2
check "$tmp/idle.json" 'r["connected"] == 40' 'r["failed"] == 0' 'r["refused"] == 0' \
	'r["src_mismatch"] == 0' 'r["rss_end_kb"] > 0' 'r["connect_rate"] > 0' 'r["workers"] == 2'

run relay "${base[@]}" --mode relay --peers 8 --inflight 2
check "$tmp/relay.json" 'r["connected"] == 8' 'r["received"] > 100' 'r["errors"] == 0' \
	'0 < r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["max"]' \
	'r["latency_us"]["count"] == r["received"]' 'r["target_cpu_s"] > 0' 'r["gen_cpu_s"] > 0'

run relay-open "${base[@]}" --mode relay --peers 8 --msg-rate 500
check "$tmp/relay-open.json" 'r["received"] > 300' 'r["received"] < 1500' 'r["errors"] == 0'

run tracker "${base[@]}" --mode tracker --peers 10 --population 500
check "$tmp/tracker.json" 'r["connected"] == 10' 'r["received"] > 100' 'r["errors"] == 0' \
	'r["latency_us"]["p50"] > 0'

run lookup "${base[@]}" --mode lookup --holders 20 --peers 4
check "$tmp/lookup.json" 'r["connected"] == 24' 'r["received"] > 100' 'r["errors"] == 0'

# The WebTorrent workload on /announce: announce+offer -> offer -> answer
# cycles (three responses each, one latency sample), and idle peers in 10
# swarms each, every setup announce answered without a failure.
run relay-wt "${base[@]}" --mode relay --proto wt --peers 8 --inflight 2
check "$tmp/relay-wt.json" 'r["connected"] == 8' 'r["received"] > 100' 'r["errors"] == 0' \
	'r["latency_us"]["count"] > 30' 'r["received"] >= 2 * r["latency_us"]["count"]' \
	'r["sent"] >= r["latency_us"]["count"]'
run idle-wt "${base[@]}" --mode idle --proto wt --peers 20 --hashes 10
check "$tmp/idle-wt.json" 'r["connected"] == 20' 'r["failed"] == 0' 'r["errors"] == 0' \
	'r["rss_end_kb"] > 0'
# Setup failures are not in the window's counts: the daemon's are.
curl -s "http://127.0.0.1:$DPORT/metrics" >"$tmp/metrics"
grep -qx 'peertrack_wt_failures_total 0' "$tmp/metrics" ||
	{ grep '^peertrack_wt' "$tmp/metrics"; echo "FAILED: /announce failures during the wt runs"; exit 1; }
grep -q '^peertrack_wt_offers_relayed_total [1-9]' "$tmp/metrics" ||
	{ echo "FAILED: no offer relayed"; exit 1; }

# Without an Origin header the daemon refuses (1008): the generator must
# count refusals, not report them as connected peers.
run no-origin "${base[@]}" --mode idle --peers 4 --origin none || true
check "$tmp/no-origin.json" 'r["refused"] == 4' 'r["close_codes"]["1008"] == 4'

# A storm paced by the daemon: its one handshake place is held by a silent
# socket until, half of handshake_timeout_ms old, a newcomer may take it
# (2 s: the generator's first attempts come well before), so every first
# attempt is answered 503; with --retry the generator comes back
# (jittered, growing delays) until every peer is in.
mkdir -p "$tmp/state-paced"
cat >"$tmp/paced.conf" <<EOF
state_dir = $tmp/state-paced
max_connections_per_ip = 100000
max_halfopen = 1
halfopen_idle_ms = 600000
handshake_timeout_ms = 4000
EOF
pt_start paced "$PT_BIN/peertrackd" -c "$tmp/paced.conf" --listen 127.0.0.1:0
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
run paced --target "127.0.0.1:$PORT" --mode idle --peers 20 --hashes 2 --max-pending 20 \
	--retry 8 --retry-ms 200
exec 3<&-
check "$tmp/paced.json" 'r["connected"] == 20' 'r["failed"] == 0' 'r["refused"] == 0' \
	'r["http503"] >= 20' 'r["retries"] == r["http503"] + r["hs_dropped"]'

# Two nodes: relay pairs dealt over both targets, CPU time added up over
# both daemons; each node's own counter shows it relayed its share.
mkdir -p "$tmp/state2"
sed "s|^state_dir = .*|state_dir = $tmp/state2|" "$tmp/pt.conf" >"$tmp/pt2.conf"
pt_start daemon2 "$PT_BIN/peertrackd" -c "$tmp/pt2.conf" --listen 127.0.0.1:0
D2PORT=$PORT D2PID=$PID
relayed() { curl -s "http://127.0.0.1:$1/metrics" | sed -nE 's/^peertrack_relayed_total(\{[^}]*\})? ([0-9]+)$/\2/p' | awk '{ s += $1 } END { print s + 0 }'; }
r1=$(relayed "$DPORT"); r2=$(relayed "$D2PORT")
run relay-2nodes --target "127.0.0.1:$DPORT" --target "127.0.0.1:$D2PORT" --target-pid "$DPID" --target-pid "$D2PID" \
	--mode relay --peers 8 --inflight 2
check "$tmp/relay-2nodes.json" 'len(r["target_cpu_each_s"]) == 2' 'r["connected"] == 8' 'r["received"] > 100' 'r["errors"] == 0' \
	'r["targets"] == 2' 'r["target_pids"] == 2' 'r["split"] == False' 'r["target_cpu_us_per_msg"] > 0'
r1=$(( $(relayed "$DPORT") - r1 )); r2=$(( $(relayed "$D2PORT") - r2 ))
[ "$r1" -gt 100 ] && [ "$r2" -gt 100 ] || { echo "relay over two nodes: node 1 relayed $r1, node 2 $r2"; exit 1; }
echo "two nodes relayed $r1 and $r2"
# --split wants two targets and relay.
if "$BENCH" --mode relay --split --target "127.0.0.1:$DPORT" >/dev/null 2>&1; then
	echo "--split with one target accepted"; exit 1
fi

if [ -x "$ECHO" ]; then
	pt_start echo "$ECHO" --listen 127.0.0.1:0
	run echo --target "127.0.0.1:$PORT" --target-pid "$PID" --proto echo --mode relay --peers 8
	check "$tmp/echo.json" 'r["connected"] == 8' 'r["received"] > 100' 'r["errors"] == 0'
fi

echo "== scale"
timeout 60 "$BENCH" --mode scale --scale-list 10,1000 --json >"$tmp/scale.json"
cat "$tmp/scale.json"
check "$tmp/scale.json" 'len(r["points"]) == 2' 'all(p["ns_median"] > 0 for p in r["points"])'

kill -0 "$DPID" || { echo "daemon died"; cat "$tmp/daemon.log"; exit 1; }
echo "bench smoke: ok"
