#!/usr/bin/env bash
# bench-ab.sh — two peertrackd binaries side by side: a change against the
# tree it started from. Relay rounds alternate A, B, A, B ... against one
# generator (bin/peertrack-bench) so a slow phase of a shared machine hits
# both alike; idle runs alternate too, each on a fresh server. Prints every
# run and the medians; the JSON of each run goes to build/bench/ab-STAMP.jsonl.
#
#   scripts/bench-ab.sh OLD_PEERTRACKD [NEW_PEERTRACKD]     (new: bin/peertrackd)
#   ROUNDS=5 DURATION=5 INFLIGHT="1 4" IDLE_SIZES="5000" IDLE_REPEAT=3 scripts/bench-ab.sh ...
#
# The old binary: build the old commit in a scratch directory, e.g.
#   git archive COMMIT | tar -x -C /tmp/old && make -C /tmp/old -j2 all
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: scripts/bench-ab.sh OLD_PEERTRACKD [NEW_PEERTRACKD]} NEW=${2:-bin/peertrackd}
ROUNDS="${ROUNDS:-5}" DURATION="${DURATION:-5}" WARMUP="${WARMUP:-1}" PAIRS="${PAIRS:-50}"
INFLIGHT="${INFLIGHT:-1 4}" IDLE_SIZES="${IDLE_SIZES:-5000}" IDLE_REPEAT="${IDLE_REPEAT:-3}"
BENCH=bin/peertrack-bench
make -s all >/dev/null
mkdir -p build/bench
out="build/bench/ab-$(date +%Y%m%d-%H%M%S).jsonl"
. "$(dirname "$0")/lib/start.sh"
pt_scratch "EXIT INT TERM"

# start NAME BINARY: a daemon with the bench limits; sets PORT and PID.
start() {
	rm -rf "$tmp/$1-state"; mkdir -p "$tmp/$1-state"
	printf '%s\n' "state_dir = $tmp/$1-state" "max_connections = 19000" \
		"max_connections_per_ip = 1000000" "rate_messages_per_sec = 1000000" \
		"rate_burst = 1000000" "max_hashes_per_peer = 100000" >"$tmp/$1.conf"
	pt_start "$1" "$2" -c "$tmp/$1.conf" --listen 127.0.0.1:0
}
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }

run() { # LABEL ARGS...
	local line
	line=$(timeout 600 "$BENCH" --json --label "$1" "${@:2}") || { echo "run failed: $1" >&2; return 0; }
	echo "$line" >>"$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-22s %10.0f/s  target %.2f cores  rss/peer %6.0f B  load %.1f" % (r["label"], r["rate"], r["target_cores"], r["rss_per_peer_bytes"], r["load_before"]))' "$line"
}

echo "A = $OLD, B = $NEW; results in $out"
start old "$OLD"; O_PORT=$PORT O_PID=$PID
start new "$NEW"; N_PORT=$PORT N_PID=$PID
for k in $INFLIGHT; do
	echo "relay, $PAIRS pairs, $k in flight: $ROUNDS rounds of A/B"
	for r in $(seq 1 "$ROUNDS"); do
		a=(--mode relay --peers $((PAIRS * 2)) --inflight "$k" --warmup "$WARMUP" --duration "$DURATION")
		run "relay-k$k-old-$r" "${a[@]}" --target "127.0.0.1:$O_PORT" --target-pid "$O_PID"
		run "relay-k$k-new-$r" "${a[@]}" --target "127.0.0.1:$N_PORT" --target-pid "$N_PID"
	done
done
stop "$O_PID"; stop "$N_PID"
for n in $IDLE_SIZES; do
	echo "idle, $n peers x 10 hashes, a fresh server per run: $IDLE_REPEAT rounds of A/B"
	for r in $(seq 1 "$IDLE_REPEAT"); do
		for which in old new; do
			bin=$OLD; [ $which = new ] && bin=$NEW
			start "$which-idle" "$bin"
			run "idle-$n-$which-$r" --mode idle --peers "$n" --hashes 10 --workers 2 --rate 5000 --warmup 1 --duration 3 --target "127.0.0.1:$PORT" --target-pid "$PID"
			stop "$PID"
		done
	done
done
python3 - "$out" <<'PY'
import json, statistics, sys, collections
runs = [json.loads(l) for l in open(sys.argv[1])]
g = collections.defaultdict(list)
for r in runs:
    kind, *_ = r["label"].rsplit("-", 1)
    g[kind].append(r)
print("\nmedians (min..max)")
for kind in sorted(g):
    rs = g[kind]
    key = "rss_per_peer_bytes" if kind.startswith("idle") else "rate"
    v = [r[key] for r in rs]
    print("  %-18s %10.0f (%.0f..%.0f) %s" % (kind, statistics.median(v), min(v), max(v), "B/peer" if key != "rate" else "msg/s"))
# CPU time per relayed message: steadier than the rate when the machine is
# shared and the target does not get a whole core.
for kind in sorted(k for k in g if k.startswith("relay")):
    v = [r["target_cores"] * 1e6 / r["rate"] for r in g[kind] if r["rate"] > 0]
    if v:
        print("  %-18s %10.2f (%.2f..%.2f) target CPU us per message" % (kind, statistics.median(v), min(v), max(v)))
for k in sorted({x.split("-")[1] for x in g if x.startswith("relay")}):
    o = [r["rate"] for r in g["relay-%s-old" % k]]; n = [r["rate"] for r in g["relay-%s-new" % k]]
    ratios = [b / a for a, b in zip(o, n) if a]
    if ratios:
        print("  relay %s new/old per round: %s -> median %.2f" % (k, ", ".join("%.2f" % x for x in ratios), statistics.median(ratios)))
PY
