#!/bin/bash
# hostile.sh ATTACK [options] — one attack of scripts/hostile.py (index,
# store, halfopen, hsmem) against a fresh peertrackd on its default
# budgets; EXTRA_CONF adds config lines. docs/BENCHMARKS.md, "Hostile load".
# hostile.sh storm [peertrack-bench options]: PEERS (18 000) peers with 10
# hashes each connecting at once, retrying 503/1013 as clients do
# (RETRY=8 times); "Reconnect storm".
HOSTILE=${1:?usage: hostile.sh index|store|halfopen|hsmem|storm [options]}
shift
export HOSTILE
exec "$(dirname "$0")/soak.sh" "$@"
