# lib.sh — shared by the browser tests (sourced, not run): checks the tools,
# installs playwright-core with `npm ci` when node_modules is missing, and
# runs driver.mjs in fresh network and PID namespaces.
#
# The network namespace holds only `lo`, so Chromium cannot use the host's
# other addresses even as the source of a check to 127.0.0.1 (it would,
# given the chance: it pairs every local interface with the remote
# candidates). The PID namespace makes cleanup certain: when the driver
# goes, the kernel kills every process it left (daemon, Chromium, peers).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PT_ROOT="${PT_ROOT:-$(cd "$here/../.." && pwd)}"
PT_BIN="${PT_BIN:-bin}"
case "$PT_BIN" in /*) ;; *) PT_BIN="$PT_ROOT/$PT_BIN" ;; esac
export PT_BIN PT_ROOT

say() { printf 'browser: %s\n' "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# node_prereqs DIR MODULE — node and ip present, and DIR's locked npm
# packages installed. `make deps-test` installs them
# (scripts/install-npm-deps.sh); when DIR/node_modules/MODULE is missing
# (`make test` without it, or a lock file that gained MODULE) the same script
# installs DIR's now.
node_prereqs() {
	local dir=$1 module=$2
	[ -x "$PT_BIN/peertrackd" ] || die "$PT_BIN/peertrackd not built"
	command -v node >/dev/null || die "node missing (Debian package nodejs)"
	command -v ip >/dev/null || die "ip missing (Debian package iproute2)"
	if [ ! -d "$dir/node_modules/$module" ]; then
		say "$module missing in $(basename "$dir")/node_modules (make deps-test installs it): installing"
		"$PT_ROOT/scripts/install-npm-deps.sh" "$dir" || die "cannot install the npm packages of $dir"
	fi
}

browser_prereqs() {
	local need_peer=$1
	if [ "$need_peer" = yes ]; then
		[ -x "$PT_BIN/peertrack-peer" ] || die "$PT_BIN/peertrack-peer not built"
		# As in tests/conformance/lib.sh: the peer's own sanitizer settings.
		export PT_PEER_ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"
		export PT_PEER_LSAN_OPTIONS="suppressions=$PT_ROOT/tests/conformance/lsan-peer.supp:print_suppressions=0"
	fi
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing (Debian package chromium)"
	# playwright-core downloads no browser.
	node_prereqs "$here" playwright-core
}

# run_driver MODE [SCRIPT] — a node script (driver.mjs), bounded (150 s, or
# PT_DRIVER_TIMEOUT for benchmarks), in its own namespaces, with MODE as its
# argument.
run_driver() {
	local mode=$1 script=${2:-$here/driver.mjs} ns=(unshare --net --pid --fork --kill-child --mount-proc)
	[ "$(id -u)" -eq 0 ] || ns+=(--map-root-user)
	"${ns[@]}" true 2>/dev/null || die "cannot create network/PID namespaces (unshare)"
	local pid rc=0
	timeout -k 5 "${PT_DRIVER_TIMEOUT:-150}" "${ns[@]}" sh -c 'ip link set lo up && exec node "$0" "$1"' \
		"$script" "$mode" &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
	wait $pid || rc=$?
	trap - EXIT
	return $rc
}
