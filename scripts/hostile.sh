#!/bin/bash
# hostile.sh ATTACK [options] — one attack of scripts/hostile.py (index,
# store, halfopen) against a fresh peertrackd on its default budgets;
# EXTRA_CONF adds config lines. docs/BENCHMARKS.md, "Hostile load".
HOSTILE=${1:?usage: hostile.sh index|store|halfopen [options]} 
shift
export HOSTILE
exec "$(dirname "$0")/soak.sh" "$@"
