#!/usr/bin/env bash
# The demo site (examples/site/) through nginx and peertrackd, visitors in
# headless Chromium: a second visitor gets every file from the first (none
# from the origin), SHA-256 checked, the video's Range request answered from
# peer bytes, a second tab taking over the connection, the daemon restarted
# and the next visitor served by peers again, stats showing the offload
# (site.mjs offload); and the page loading whole from the origin within the
# worker's timeout with no holder, a holder sending corrupted bytes (caught),
# a holder that never answers, no WebRTC, no tracker (site.mjs fallback).
. "$(dirname "$0")/lib.sh"
[ -x /usr/sbin/nginx ] || die "nginx missing (scripts/install-deps.sh --test installs it)"
[ -x "$PT_BIN/peertrackctl" ] || die "$PT_BIN/peertrackctl not built"
browser_prereqs no
run_driver offload "$here/site.mjs"
run_driver fallback "$here/site.mjs"
