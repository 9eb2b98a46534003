#!/usr/bin/env bash
# The browser client's pure parts (clients/js/test/*.test.js) under node's
# own test runner: peer wire framing, backoff, the connection state machine
# with a fake WebSocket and clock, ICE refresh timing.
set -euo pipefail
cd "$(dirname "$0")/../../clients/js"
command -v node >/dev/null || { echo "node missing (Debian package nodejs)" >&2; exit 1; }
exec node --test test/
