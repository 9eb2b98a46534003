#!/usr/bin/env bash
# Conformance — headless Chromium and the C peer through a TURN relay: a
# real coturn (use-auth-secret) in the test's network namespace; Chromium
# with iceTransportPolicy "relay" and the C peer with --relay-only, both
# with the credentials of their welcome.ice_servers; a file each way,
# verified (SHA-256), each side's candidate pair checked to be a relay one
# and coturn's log checked for each peer's allocation.
. "$(dirname "$0")/lib.sh"
browser_prereqs yes
[ -x /usr/bin/turnserver ] || die "/usr/bin/turnserver missing (Debian package coturn)"
run_driver c-relay
