#!/usr/bin/env bash
# Conformance 5 — headless Chromium and the C peer: Chromium fetches a file
# the C peer seeds, the C peer fetches a file Chromium seeds; both verified
# (SHA-256), and the ICE pairs checked to be on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
browser_prereqs yes
run_driver c-interop
