#!/usr/bin/env bash
# Real WebTorrent (webtorrent 3.x, its browser bundle) in two headless
# Chromium processes, peertrackd's /announce the only tracker: one seeds a
# generated file, the other downloads it by magnet URI, SHA-256 equal. In
# fresh network and PID namespaces holding only lo (tests/browser/lib.sh).
. "$(dirname "$0")/../browser/lib.sh"
wt="$(cd "$(dirname "$0")" && pwd)"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing (Debian package chromium)"
node_prereqs "$wt" webtorrent
run_driver seed-and-fetch "$wt/browser.mjs"
