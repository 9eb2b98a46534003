#!/usr/bin/env bash
# The JS client (clients/js) in headless Chromium: jsclient.mjs c-interop
# (what it checks: the header of tests/browser/jsclient.mjs).
. "$(dirname "$0")/lib.sh"
browser_prereqs yes
run_driver c-interop "$here/jsclient.mjs"
