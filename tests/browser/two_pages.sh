#!/usr/bin/env bash
# Conformance 6 — two Chromium pages exchange a file through peertrackd with
# no C peer involved; verified (SHA-256), ICE pairs on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
browser_prereqs no
run_driver two-pages
