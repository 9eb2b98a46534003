#!/usr/bin/env bash
# Two headless Chromium processes play one ffmpeg-made HLS stream through
# hls.js + p2p-media-loader-hlsjs 2.x with peertrackd's /announce the only
# tracker; the second gets segments from the first (hls.mjs). In fresh
# network and PID namespaces holding only lo (tests/browser/lib.sh).
. "$(dirname "$0")/../browser/lib.sh"
wt="$(cd "$(dirname "$0")" && pwd)"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing (Debian package chromium)"
command -v ffmpeg >/dev/null || die "ffmpeg missing (Debian package ffmpeg)"
node_prereqs "$wt" p2p-media-loader-hlsjs
run_driver play "$wt/hls.mjs"
