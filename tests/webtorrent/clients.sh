#!/usr/bin/env bash
# Real WebTorrent-protocol clients against /announce: two, then four
# bittorrent-tracker websocket clients (WebRTC from node-datachannel) find
# each other through peertrackd alone and every pair exchanges 48 KiB over a
# data channel, SHA-256 checked; a scrape counts them all; then two clients
# on two cluster nodes sharing a redis-server do the same (the scrape on one
# node counts the other node's client too). In fresh network
# and PID namespaces holding only lo (tests/browser/lib.sh), so every socket,
# ICE included, is on 127.0.0.1.
. "$(dirname "$0")/../browser/lib.sh"
wt="$(cd "$(dirname "$0")" && pwd)"
node_prereqs "$wt" bittorrent-tracker
say "webtorrent: 2 clients"
run_driver 2 "$wt/clients.mjs"
say "webtorrent: 4 clients"
run_driver 4 "$wt/clients.mjs"
say "webtorrent: 2 clients on 2 cluster nodes"
run_driver cluster "$wt/clients.mjs"
