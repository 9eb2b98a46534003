#!/usr/bin/env bash
# scripts/install-npm-deps.sh on a machine whose node is too old (Debian 12's
# own nodejs is 18): it stops before npm with a message naming the version
# it found and the one it needs. A fake `node` (and `npm`) first on PATH
# stands for the old one; nothing is uninstalled. With a fake node 20 the
# check passes and an up-to-date directory is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "npm_deps_node: $*" >&2; exit 1; }

mkdir -p "$tmp/bin" "$tmp/dir/node_modules"
fake() { # VERSION — a node that prints VERSION; an npm that must not run
	printf '#!/bin/sh\n[ "$1" = --version ] && echo %s && exit 0\nexit 3\n' "$1" >"$tmp/bin/node"
	printf '#!/bin/sh\necho npm ran >>"%s/npm.ran"\nexit 3\n' "$tmp" >"$tmp/bin/npm"
	chmod +x "$tmp/bin/node" "$tmp/bin/npm"
}
echo '{}' >"$tmp/dir/package-lock.json"
touch -d '1 minute ago' "$tmp/dir/package-lock.json"
echo '{}' >"$tmp/dir/node_modules/.package-lock.json"

fake v18.19.0
rc=0; PATH="$tmp/bin:$PATH" "$root/scripts/install-npm-deps.sh" "$tmp/dir" 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] || fail "node 18: exit $rc, want 1: $(cat "$tmp/err")"
grep -q 'node v18.19.0 .* is too old' "$tmp/err" && grep -q 'need node >= 20' "$tmp/err" ||
	fail "node 18: unclear message: $(cat "$tmp/err")"
[ ! -e "$tmp/npm.ran" ] || fail "node 18: npm ran anyway"

fake garbage
rc=0; PATH="$tmp/bin:$PATH" "$root/scripts/install-npm-deps.sh" "$tmp/dir" 2>"$tmp/err" || rc=$?
[ $rc -eq 1 ] && grep -q 'need node >= 20' "$tmp/err" || fail "unparsable version: exit $rc: $(cat "$tmp/err")"

fake v20.11.1
rc=0; PATH="$tmp/bin:$PATH" "$root/scripts/install-npm-deps.sh" "$tmp/dir" 2>"$tmp/err" || rc=$?
[ $rc -eq 0 ] || fail "node 20: exit $rc: $(cat "$tmp/err")"
[ ! -e "$tmp/npm.ran" ] || fail "node 20: npm ran for an up-to-date directory"
echo "npm_deps_node: node 18 refused with a clear message, node 20 accepted"
