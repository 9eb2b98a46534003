#!/bin/bash
# soak.sh — make soak: a bounded churn run against a fresh peertrackd
# (scripts/soak.py says what the peers do and what is sampled). Minutes,
# not hours: SOAK_DURATION (default 120 s of arrivals) + drain.
#
#   SOAK_RATE=200 SOAK_LIFE=5 SOAK_DURATION=120 make soak
#   PEERTRACKD=path/to/peertrackd scripts/soak.sh      (another build)
#
# scripts/hostile.sh ATTACK runs the attacks of docs/BENCHMARKS.md
# ("Hostile load") the same way: this file with HOSTILE set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/start.sh
pt_scratch "EXIT INT TERM" /tmp/pt-soak-XXXXXX

# Silent soak peers must be dropped within the run: short liveness. The
# attacks run on the defaults.
liveness="heartbeat_ms = 2000
timeout_ms = 6000
store_flush_ms = 500"
[ -n "${HOSTILE:-}" ] && liveness=
# The storm needs room for its peers.
PEERS=${PEERS:-18000}
[ "${HOSTILE:-}" = storm ] && liveness="max_connections = $((PEERS + 2000))"
cat >"$tmp/peertrack.conf" <<CONF
listen = 127.0.0.1:0
state_dir = $tmp/state
allowed_origins = *
$liveness
${EXTRA_CONF:-}
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pt_start daemon "${PEERTRACKD:-bin/peertrackd}" -c "$tmp/peertrack.conf"
db="$tmp/state/peertrack.db"
if [ "${HOSTILE:-}" = storm ]; then
	# All at once, retrying a 503 or a 1013 as clients do; RSS per peer
	# once settled (after the warm-up, by which the post-storm heap trim
	# has run).
	bin/peertrack-bench --json --mode idle --peers "$PEERS" --hashes 10 --workers 2 \
		--rate "$PEERS" --max-pending "$PEERS" --retry "${RETRY:-8}" --warmup 12 --duration 3 \
		--target "127.0.0.1:$PORT" --target-pid "$PID" "$@"
	python3 -c "import sys; sys.path.insert(0, 'scripts'); from soak import metrics
print('daemon: handshakes evicted %d' % metrics($PORT)['peertrack_handshakes_evicted_total'])"
	exit
fi
if [ -n "${HOSTILE:-}" ]; then
	python3 scripts/hostile.py --port "$PORT" --pid "$PID" --db "$db" "$HOSTILE" "$@"
	exit
fi
echo "soak: peertrackd pid $PID port $PORT; rate ${SOAK_RATE:-200}/s, life ${SOAK_LIFE:-5} s, ${SOAK_DURATION:-120} s"
python3 scripts/soak.py --port "$PORT" --pid "$PID" --db "$db" \
	--rate "${SOAK_RATE:-200}" --life "${SOAK_LIFE:-5}" --duration "${SOAK_DURATION:-120}" \
	--warmup "${SOAK_WARMUP:-30}" --every "${SOAK_EVERY:-10}"
