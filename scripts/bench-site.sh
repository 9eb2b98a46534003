#!/usr/bin/env bash
# bench-site.sh — the demo site's second visitor, navigation to the last
# picture (docs/BENCHMARKS.md, "Browser: second visitor"): via peers, via the
# origin through the service worker, and without the worker, side by side in
# each round, on loopback (tests/browser/site.mjs bench, in the browser tests'
# network namespace). Prints one JSON line.
#   scripts/bench-site.sh [ROUNDS]      (default 5; make all first)
set -euo pipefail
cd "$(dirname "$0")/.."
export PT_SITE_ROUNDS="${1:-5}" PT_DRIVER_TIMEOUT=$(( 120 + 90 * ${1:-5} ))
. tests/browser/lib.sh
[ -x /usr/sbin/nginx ] || die "nginx missing (scripts/install-deps.sh --test installs it)"
browser_prereqs no
run_driver bench "$here/site.mjs"
