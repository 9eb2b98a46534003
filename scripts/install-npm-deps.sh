#!/bin/sh
# Installs the npm packages of the JS test tooling, each directory from its
# committed package-lock.json (`npm ci --ignore-scripts`: exact versions, no
# install scripts run). `make deps-test` runs it after scripts/install-deps.sh
# --test; a test whose packages are missing runs it for its own directory.
#
#   scripts/install-npm-deps.sh          every directory below
#   scripts/install-npm-deps.sh DIR...   those (each with a package-lock.json)
#
# Idempotent: a directory whose node_modules was installed from its current
# lock file (node_modules/.package-lock.json newer than package-lock.json) is
# left alone. npm comes with Debian's nodejs only as the separate package
# `npm`, which conflicts with a nodejs that bundles its own npm, so it cannot
# be in scripts/deps-test.txt: it is installed here, with apt, when missing.
# Nothing needs install scripts: playwright-core downloads no browser (the
# tests use Debian's chromium) and node-datachannel's binary is an npm
# package of its own; esbuild's binary (clients/js, for measuring the
# bundle size) is its optional dependency @esbuild/linux-x64, no script.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- "$root/tests/browser" "$root/tests/webtorrent" "$root/tests/bench/peerjs" "$root/clients/js"
fi

command -v node >/dev/null 2>&1 || { echo "install-npm-deps: node missing (Debian package nodejs: make deps-test)" >&2; exit 1; }
# The tools need node 20 or later (playwright-core, webtorrent 3.x; clients/js
# "engines"). Debian 12's own nodejs is 18 and nothing in Debian 12 is newer:
# stop here, before npm half-installs packages that then fail obscurely.
NODE_MIN=20
node_v=$(node --version 2>/dev/null || true)
node_major=${node_v#v}; node_major=${node_major%%.*}
case "$node_major" in ''|*[!0-9]*) node_major=0 ;; esac
if [ "$node_major" -lt "$NODE_MIN" ]; then
	echo "install-npm-deps: node ${node_v:-(no version)} at $(command -v node) is too old: the JS test tools" \
		"(playwright-core, webtorrent 3.x) need node >= $NODE_MIN. Debian 12's nodejs is 18; install" \
		"nodejs $NODE_MIN or later (Debian 13 ships it) and run make deps-test again." >&2
	exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || { echo "install-npm-deps: need root to install npm" >&2; exit 1; }
		SUDO=sudo
	fi
	echo "install-npm-deps: installing npm" >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends npm >&2
fi

for dir; do
	[ -f "$dir/package-lock.json" ] || { echo "install-npm-deps: no package-lock.json in $dir" >&2; exit 1; }
	if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
		continue
	fi
	echo "install-npm-deps: npm ci in ${dir#"$root"/}" >&2
	(cd "$dir" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund >&2) ||
		{ echo "install-npm-deps: npm ci failed in $dir" >&2; exit 1; }
done
