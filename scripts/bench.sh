#!/usr/bin/env bash
# bench.sh — `make bench`: peertrackd against the echo/forward baseline
# (tests/bench/echo_server.c) and the PeerJS server (npm `peer`), all on
# 127.0.0.1, driven by bin/peertrack-bench. Results: one JSON object per
# run in build/bench/runs-STAMP.jsonl, the summary (ratios pair by pair,
# medians, spread) printed and written to build/bench/summary-STAMP.json.
#
#   scripts/bench.sh                 the whole suite (about 15 minutes)
#   ROUNDS=3 DURATION=3 scripts/bench.sh   shorter
#   ONLY="relay idle" scripts/bench.sh     some parts: relay latency idle tracker lookup wt
#   PEERTRACKD=/tmp/old/bin/peertrackd scripts/bench.sh   another daemon binary (a before/after)
#   PIN=1 scripts/bench.sh           servers on CPU 0, the generator on CPU 1 (taskset): on
#                                    a 2-core machine each side then has one core of its own,
#                                    so a round's rate does not depend on how the scheduler
#                                    shared the cores between generator and target
#
# wt: the WebTorrent tracker protocol. Rounds alternate peertrackd's
# /announce, the reference bittorrent-tracker server (npm, in
# tests/webtorrent, run with node) and peertrackd's /v1 relay (the same
# daemon), WT_PAIRS pairs each; then idle peers in 10 swarms each on
# /announce against /v1 peers holding 10 hashes, a fresh daemon per run.
#
# Relay runs alternate A, A', B, B', C ... (peertrack, peertrack with 4 KiB
# receive buffers, the echo/forward baseline plain and coalescing, peerjs) so a
# slow phase of the machine hits every target alike; each round gives one
# ratio per comparison. Every wait is bounded; a trap kills every server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}" DURATION="${DURATION:-5}" WARMUP="${WARMUP:-1}"
PAIRS="${PAIRS:-50}" SIZE="${SIZE:-500}"
IDLE_SIZES="${IDLE_SIZES:-1000 5000 18000}" IDLE_REPEAT="${IDLE_REPEAT:-2}"
HOLDERS="${HOLDERS:-10 100 1000 10000 17000}" LOOKUP_ROUNDS="${LOOKUP_ROUNDS:-3}"
ONLY="${ONLY:-relay latency idle tracker lookup wt}"
WT_PAIRS="${WT_PAIRS:-50}" WT_IDLE="${WT_IDLE:-5000}"
WT_DIR=tests/webtorrent
BENCH=bin/peertrack-bench DAEMON=${PEERTRACKD:-bin/peertrackd} ECHO=build/tests/bench/echo_server
PEERJS_DIR=tests/bench/peerjs
SRV=() GEN=()
if [ "${PIN:-0}" = 1 ]; then
	[ "$(nproc)" -ge 2 ] || { echo "PIN=1 needs 2 CPUs" >&2; exit 2; }
	SRV=(taskset -c 0) GEN=(taskset -c 1)
fi

make -s all build/tests/bench/echo_server >/dev/null
mkdir -p build/bench
stamp=$(date +%Y%m%d-%H%M%S)
out="build/bench/runs-$stamp.jsonl" summary="build/bench/summary-$stamp.json"
. "$(dirname "$0")/lib/start.sh"
pt_scratch "EXIT INT TERM"

have_peerjs=0
if command -v node >/dev/null && command -v npm >/dev/null; then
	# `make bench` installed it (make deps-test); a plain run installs it now.
	scripts/install-npm-deps.sh "$PEERJS_DIR" >/dev/null 2>&1 || true
	[ -d "$PEERJS_DIR/node_modules/peer" ] && have_peerjs=1
fi
[ $have_peerjs = 1 ] || echo "note: node/npm or the peer package missing: PeerJS runs skipped"

stop() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

# start_daemon [NAME [EXTRA-CONFIG-LINE]]: sets D_PORT and D_PID.
start_daemon() {
	local name=${1:-daemon}
	rm -rf "$tmp/$name-state"; mkdir -p "$tmp/$name-state"
	cat >"$tmp/$name.conf" <<EOF
state_dir = $tmp/$name-state
max_connections = 19000
max_connections_per_ip = 1000000
rate_messages_per_sec = 1000000
rate_burst = 1000000
max_hashes_per_peer = 100000
wt_rate_messages_per_sec = 1000000
wt_rate_burst = 1000000
${2:-}
EOF
	pt_start "$name" "${SRV[@]}" "$DAEMON" -c "$tmp/$name.conf" --listen 127.0.0.1:0
	D_PORT=$PORT D_PID=$PID
}
# The same daemon with 4 KiB lws receive buffers (ws_rx_buffer_bytes): the
# relay/memory trade-off, measured beside the default.
RX4K="ws_rx_buffer_bytes = 4096"
start_echo() { pt_start echo "${SRV[@]}" "$ECHO" --listen 127.0.0.1:0; E_PORT=$PORT E_PID=$PID; }
# The baseline sending the way peertrackd does (one write per peer per loop
# turn): measured beside the plain forwarder so neither is handicapped.
start_echo_co() { pt_start echoco "${SRV[@]}" "$ECHO" --listen 127.0.0.1:0 --coalesce; C_PORT=$PORT C_PID=$PID; }
start_peerjs() { pt_start peerjs "${SRV[@]}" node "$PEERJS_DIR/start.js" 0; J_PORT=$PORT J_PID=$PID; }
start_reftracker() { pt_start reftracker "${SRV[@]}" node "$WT_DIR/tracker-server.mjs" 0; R_PORT=$PORT R_PID=$PID; }

# bench LABEL ARGS...: one run, its JSON appended to $out (with the label).
bench() {
	local label=$1; shift
	local line
	if ! line=$(timeout 600 "${GEN[@]}" "$BENCH" --json --label "$label" "$@"); then
		echo "run failed: $label $*" >&2
		return 0
	fi
	echo "$line" >>"$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-28s %10.0f/s  p50 %6d us  p99 %6d us  conn %6d  gen %.2f / target %.2f cores  rss/peer %6.0f B  load %.1f" % (r["label"], r["rate"], r["latency_us"]["p50"], r["latency_us"]["p99"], r["connected"], r["gen_cores"], r["target_cores"], r["rss_per_peer_bytes"], r["load_before"]))' "$line"
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "files: ulimit -Hn $(ulimit -Hn); results in $out"

relay_args=(--mode relay --peers $((PAIRS * 2)) --size "$SIZE" --warmup "$WARMUP" --duration "$DURATION")
if want relay || want latency; then
	start_daemon rx4k "$RX4K"; X_PORT=$D_PORT X_PID=$D_PID
	start_daemon; start_echo; start_echo_co
	if [ $have_peerjs = 1 ]; then start_peerjs; fi
	for k in 1 4; do
		want relay || break
		echo "relay, $PAIRS pairs, $SIZE-byte payload, $k in flight per pair: $ROUNDS rounds of A/A'/B/B'/C"
		for r in $(seq 1 "$ROUNDS"); do
			bench "relay-k$k-peertrack-$r" "${relay_args[@]}" --inflight $k --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
			bench "relay-k$k-rx4k-$r" "${relay_args[@]}" --inflight $k --target "127.0.0.1:$X_PORT" --target-pid "$X_PID"
			bench "relay-k$k-echo-$r" "${relay_args[@]}" --inflight $k --proto echo --target "127.0.0.1:$E_PORT" --target-pid "$E_PID"
			bench "relay-k$k-echoco-$r" "${relay_args[@]}" --inflight $k --proto echo --target "127.0.0.1:$C_PORT" --target-pid "$C_PID"
			if [ $have_peerjs = 1 ]; then bench "relay-k$k-peerjs-$r" "${relay_args[@]}" --inflight $k --proto peerjs --target "127.0.0.1:$J_PORT" --target-pid "$J_PID"; fi
		done
	done
	if want latency; then
		# Half of peertrack's saturated rate (the best median of the runs above,
		# or RATE=), open loop: latency counts from the scheduled send time.
		sat=${RATE:-$(python3 - "$out" <<'EOF'
import json, sys, statistics
rs = [json.loads(l) for l in open(sys.argv[1])]
best = 0
for k in (1, 4):
    v = [r["rate"] for r in rs if r["label"].startswith("relay-k%d-peertrack-" % k)]
    if v: best = max(best, statistics.median(v))
print(int(best) or 40000)
EOF
)}
		half=$((sat / 2))
		echo "latency at half of peertrack's saturated rate: $half msg/s (open loop), $ROUNDS rounds"
		for r in $(seq 1 "$ROUNDS"); do
			bench "latency-half-peertrack-$r" "${relay_args[@]}" --msg-rate "$half" --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
			bench "latency-half-echo-$r" "${relay_args[@]}" --msg-rate "$half" --proto echo --target "127.0.0.1:$E_PORT" --target-pid "$E_PID"
		done
	fi
	stop "$D_PID"; stop "$X_PID"; stop "$E_PID"; stop "$C_PID"
	if [ $have_peerjs = 1 ]; then stop "$J_PID"; fi
fi

if want tracker; then
	echo "tracker: 50 peers, closed loop, 80% lookup / 10% announce / 10% withdraw, Zipf(1.0) over 10000 hashes"
	start_daemon
	for r in $(seq 1 "$ROUNDS"); do
		bench "tracker-$r" --mode tracker --peers 50 --hashes 10 --population 10000 --warmup "$WARMUP" --duration "$DURATION" --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
	done
	stop "$D_PID"
fi

if want lookup; then
	echo "lookup cost against one hash's holder count: live (20 askers, closed loop), then in process"
	start_daemon
	# Twice: asking for 20 peers (the default max_lookup_peers), where a
	# hash with fewer holders also gets a shorter answer, and asking for 10,
	# where every answer has the same size and only the holder count varies.
	for m in 20 10; do
		for r in $(seq 1 "$LOOKUP_ROUNDS"); do
			for h in $HOLDERS; do
				bench "lookup-m$m-h$h-$r" --mode lookup --holders "$h" --lookup-max "$m" --peers 20 --rate 5000 --warmup "$WARMUP" --duration "$DURATION" --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
			done
		done
	done
	stop "$D_PID"
	line=$(timeout 600 "$BENCH" --mode scale --json --label scale --scale-list 10,100,1000,10000,100000)
	echo "$line" >>"$out"
	"$BENCH" --mode scale --scale-list 10,100,1000,10000,100000 | sed 's/^/  /'
fi

if want idle; then
	echo "idle: N peers announcing 10 hashes each, then heartbeats only; a fresh server per run"
	for n in $IDLE_SIZES; do
		for r in $(seq 1 "$IDLE_REPEAT"); do
			start_daemon
			bench "idle-$n-peertrack-$r" --mode idle --peers "$n" --hashes 10 --workers 2 --rate 5000 --warmup 1 --duration 3 --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
			stop "$D_PID"
		done
	done
	n=$(echo "$IDLE_SIZES" | awk '{print $NF}')
	start_daemon rx4k "$RX4K"
	bench "idle-$n-rx4k-1" --mode idle --peers "$n" --hashes 10 --workers 2 --rate 5000 --warmup 1 --duration 3 --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
	stop "$D_PID"
	start_echo
	bench "idle-$n-echo-1" --mode idle --proto echo --peers "$n" --workers 2 --rate 5000 --warmup 1 --duration 3 --target "127.0.0.1:$E_PORT" --target-pid "$E_PID"
	stop "$E_PID"
	if [ $have_peerjs = 1 ]; then
		start_peerjs
		bench "idle-5000-peerjs-1" --mode idle --proto peerjs --peers 5000 --workers 2 --rate 2000 --warmup 1 --duration 3 --target "127.0.0.1:$J_PORT" --target-pid "$J_PID"
		stop "$J_PID"
	fi
fi

if want wt; then
	have_ref=0
	if command -v node >/dev/null && scripts/install-npm-deps.sh "$WT_DIR" >/dev/null 2>&1 &&
	   [ -d "$WT_DIR/node_modules/bittorrent-tracker" ]; then have_ref=1; fi
	[ $have_ref = 1 ] || echo "note: node or bittorrent-tracker missing: reference tracker runs skipped"
	wt_args=(--mode relay --peers $((WT_PAIRS * 2)) --size "$SIZE" --warmup "$WARMUP" --duration "$DURATION")
	echo "wt: $WT_PAIRS pairs, announce+offer -> offer -> answer ($SIZE-byte SDP), every response counted: $ROUNDS rounds of /announce, reference, /v1 relay"
	start_daemon
	if [ $have_ref = 1 ]; then start_reftracker; fi
	for r in $(seq 1 "$ROUNDS"); do
		bench "wt-relay-peertrack-$r" "${wt_args[@]}" --proto wt --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
		if [ $have_ref = 1 ]; then bench "wt-relay-reference-$r" "${wt_args[@]}" --proto wt --target "127.0.0.1:$R_PORT" --target-pid "$R_PID"; fi
		bench "wt-relay-v1-$r" "${wt_args[@]}" --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
	done
	stop "$D_PID"
	if [ $have_ref = 1 ]; then stop "$R_PID"; fi
	echo "wt idle: $WT_IDLE peers in 10 swarms each on /announce vs 10 hashes each on /v1, a fresh daemon per run"
	for r in $(seq 1 "$IDLE_REPEAT"); do
		for p in wt peertrack; do
			start_daemon
			bench "wt-idle-$p-$r" --mode idle --proto "$p" --peers "$WT_IDLE" --hashes 10 --workers 2 --rate 5000 --warmup 1 --duration 3 --target "127.0.0.1:$D_PORT" --target-pid "$D_PID"
			stop "$D_PID"
		done
	done
fi

python3 - "$out" "$summary" <<'EOF'
import json, statistics, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
by = {r["label"]: r for r in rs}
S = {"runs": sys.argv[1], "relay": {}, "latency": {}, "idle": {}, "tracker": {}, "lookup": {}}

def series(prefix):
    out = []
    i = 1
    while prefix + str(i) in by:
        out.append(by[prefix + str(i)]); i += 1
    return out

def spread(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)} if v else None

print("\n== summary")
for k, variant in ((1, "peertrack"), (1, "rx4k"), (4, "peertrack"), (4, "rx4k")):
    a = series("relay-k%d-%s-" % (k, variant))
    if not a: continue
    entry = {"peertrack": spread([r["rate"] for r in a]),
             "peertrack_p99_us": spread([r["latency_us"]["p99"] for r in a])}
    line = "relay %d in flight: %s %.0f/s (%.0f..%.0f)" % (k, variant, entry["peertrack"]["median"], entry["peertrack"]["min"], entry["peertrack"]["max"])
    for other in ("echo", "echoco", "peerjs"):
        b = series("relay-k%d-%s-" % (k, other))
        if not b: continue
        ratios = [x["rate"] / y["rate"] for x, y in zip(a, b) if y["rate"] > 0]
        entry[other] = spread([r["rate"] for r in b])
        entry["ratio_vs_" + other] = {"pairs": [round(x, 3) for x in ratios], **spread(ratios)}
        line += "; %s %.0f/s, ratio %.2f (%.2f..%.2f) %s" % (other, entry[other]["median"], entry["ratio_vs_" + other]["median"], min(ratios), max(ratios), [round(x, 2) for x in ratios])
        # Messages per second of the target's CPU: steadier than raw rates
        # when other work shares the cores.
        eff = [(x["rate"] / x["target_cores"]) / (y["rate"] / y["target_cores"])
               for x, y in zip(a, b) if x["target_cores"] > 0 and y["target_cores"] > 0 and y["rate"] > 0]
        if eff:
            entry["per_cpu_ratio_vs_" + other] = {"pairs": [round(x, 3) for x in eff], **spread(eff)}
            line += " [per target CPU-second: %.2f (%.2f..%.2f)]" % (statistics.median(eff), min(eff), max(eff))
    entry["gen_cores"] = spread([r["gen_cores"] for r in a])
    entry["gen_per_target_cpu"] = spread([r["gen_cores"] / r["target_cores"] for r in a if r["target_cores"] > 0])
    entry["target_cores"] = spread([r["target_cores"] for r in a])
    entry["load"] = spread([r["load_before"] for r in a])
    S["relay"]["k%d" % k + ("" if variant == "peertrack" else "-" + variant)] = entry
    print(line)
for t in ("peertrack", "echo"):
    a = series("latency-half-%s-" % t)
    if a:
        S["latency"][t] = {"msg_rate": a[0]["msg_rate"], "rate": spread([r["rate"] for r in a]),
                           "p50_us": spread([r["latency_us"]["p50"] for r in a]),
                           "p99_us": spread([r["latency_us"]["p99"] for r in a]),
                           "p999_us": spread([r["latency_us"]["p999"] for r in a]),
                           # The same offered load for both: the target's CPU per
                           # message, free of closed-loop batching effects.
                           "cpu_us_per_msg": spread([1e6 * r["target_cores"] / r["rate"] for r in a if r["rate"] > 0])}
        x = S["latency"][t]
        print("latency at %.0f msg/s, %s: p50 %d us, p99 %d us (%d..%d), p99.9 %d us; target CPU %.2f us/msg (%.2f..%.2f)" % (x["msg_rate"], t, x["p50_us"]["median"], x["p99_us"]["median"], x["p99_us"]["min"], x["p99_us"]["max"], x["p999_us"]["median"], x["cpu_us_per_msg"]["median"], x["cpu_us_per_msg"]["min"], x["cpu_us_per_msg"]["max"]))
a = series("tracker-")
if a:
    S["tracker"] = {"rate": spread([r["rate"] for r in a]), "p50_us": spread([r["latency_us"]["p50"] for r in a]),
                    "p99_us": spread([r["latency_us"]["p99"] for r in a])}
    print("tracker: %.0f req/s (%.0f..%.0f), p50 %d us, p99 %d us" % (S["tracker"]["rate"]["median"], S["tracker"]["rate"]["min"], S["tracker"]["rate"]["max"], S["tracker"]["p50_us"]["median"], S["tracker"]["p99_us"]["median"]))
for r in rs:
    if r["label"].startswith("lookup-m"):
        S["lookup"].setdefault("max%d" % r["lookup_max"], {}).setdefault(str(r["holders"]), []).append(
            {"rate": r["rate"], "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"]})
    if r["label"] == "scale":
        S["lookup"]["in_process"] = r["points"]
for m, byh in S["lookup"].items():
    if m == "in_process":
        continue
    live = {h: statistics.median([x["rate"] for x in v]) for h, v in byh.items()}
    ref = statistics.median(live.values())
    for h, v in byh.items():
        print("lookup (%s), %s holders: median %.0f req/s (%+.0f%% vs the median of all holder counts), runs %s, p50 %s us" % (m, h, live[h], 100 * (live[h] / ref - 1), [round(x["rate"]) for x in v], [x["p50_us"] for x in v]))
for r in rs:
    if r["label"].startswith("idle-"):
        _, n, proto, i = r["label"].split("-")
        S["idle"].setdefault(proto + "-" + n, []).append({"connected": r["connected"], "rss_per_peer_bytes": r["rss_per_peer_bytes"],
            "rss_before_kb": r["rss_before_kb"], "rss_end_kb": r["rss_end_kb"], "connect_rate": r["connect_rate"], "load": r["load_before"]})
for k, v in S["idle"].items():
    print("idle %s: %s bytes/peer, %s connected, %s conn/s" % (k, [round(x["rss_per_peer_bytes"]) for x in v], [x["connected"] for x in v], [round(x["connect_rate"]) for x in v]))
# wt: responses/s of /announce against the reference and against the /v1
# relay of the same daemon, round by round; idle bytes per peer.
a = series("wt-relay-peertrack-")
if a:
    S["wt"] = {"peertrack": spread([r["rate"] for r in a]), "load": spread([r["load_before"] for r in a])}
    line = "wt relay: /announce %.0f responses/s (%.0f..%.0f)" % (S["wt"]["peertrack"]["median"], S["wt"]["peertrack"]["min"], S["wt"]["peertrack"]["max"])
    for other in ("reference", "v1"):
        b = series("wt-relay-%s-" % other)
        if not b: continue
        ratios = [x["rate"] / y["rate"] for x, y in zip(a, b) if y["rate"] > 0]
        eff = [(x["rate"] / x["target_cores"]) / (y["rate"] / y["target_cores"])
               for x, y in zip(a, b) if x["target_cores"] > 0 and y["target_cores"] > 0 and y["rate"] > 0]
        S["wt"][other] = spread([r["rate"] for r in b])
        S["wt"]["ratio_vs_" + other] = {"pairs": [round(x, 3) for x in ratios], **spread(ratios)}
        if eff:
            S["wt"]["per_cpu_ratio_vs_" + other] = {"pairs": [round(x, 3) for x in eff], **spread(eff)}
        line += "; %s %.0f/s, ratio %.2f (%.2f..%.2f) %s" % (other, S["wt"][other]["median"], statistics.median(ratios), min(ratios), max(ratios), [round(x, 2) for x in ratios])
        if eff:
            line += " [per target CPU-second: %.2f (%.2f..%.2f)]" % (statistics.median(eff), min(eff), max(eff))
    line += "; load %.1f..%.1f" % (S["wt"]["load"]["min"], S["wt"]["load"]["max"])
    print(line)
    for p in ("wt", "peertrack"):
        v = series("wt-idle-%s-" % p)
        if v:
            S["wt"]["idle_" + p] = [{"rss_per_peer_bytes": x["rss_per_peer_bytes"], "connected": x["connected"], "load": x["load_before"]} for x in v]
    wi, vi = S["wt"].get("idle_wt"), S["wt"].get("idle_peertrack")
    if wi and vi:
        ratios = [x["rss_per_peer_bytes"] / y["rss_per_peer_bytes"] for x, y in zip(wi, vi) if y["rss_per_peer_bytes"] > 0]
        print("wt idle (10 swarms/peer vs 10 hashes/peer): /announce %s B/peer, /v1 %s B/peer, ratio %s" % ([round(x["rss_per_peer_bytes"]) for x in wi], [round(x["rss_per_peer_bytes"]) for x in vi], [round(x, 2) for x in ratios]))
json.dump(S, open(sys.argv[2], "w"), indent=1)
print("summary:", sys.argv[2])
EOF
