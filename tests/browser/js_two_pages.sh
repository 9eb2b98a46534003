#!/usr/bin/env bash
# The JS client (clients/js): two Chromium pages, one seeds and one fetches
# through the module over WebRTC; SHA-256 verified; offload reported.
. "$(dirname "$0")/lib.sh"
browser_prereqs no
run_driver two-pages "$here/jsclient.mjs"
