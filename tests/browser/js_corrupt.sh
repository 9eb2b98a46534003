#!/usr/bin/env bash
# The JS client (clients/js) in headless Chromium: jsclient.mjs corrupt
# (what it checks: the header of tests/browser/jsclient.mjs).
. "$(dirname "$0")/lib.sh"
browser_prereqs no
run_driver corrupt "$here/jsclient.mjs"
