#!/usr/bin/env bash
# deps_order.sh — the cheap stand-in for fresh_machine.sh, runnable without
# root: `make run` in a copy of the tree where pkg-config answers nothing
# until the dependency step has run (a shim pkg-config, and INSTALL_DEPS
# that only marks the step done). A Makefile that reads pkg-config before
# its deps step links with no libraries and fails, as it did on a fresh
# machine; this one must build, and the daemon must serve /healthz.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peertrack-deps.XXXXXX")
run=""
cleanup() {
	[ -n "$run" ] && kill -TERM -- "-$run" 2>/dev/null || true
	for _ in $(seq 100); do [ -n "$run" ] && kill -0 "$run" 2>/dev/null || break; sleep 0.05; done
	[ -n "$run" ] && kill -KILL -- "-$run" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "deps_order: FAIL: $*" >&2; [ -f "$WORK/run.log" ] && tail -n 30 "$WORK/run.log" >&2; exit 1; }

real=$(command -v pkg-config) || fail "pkg-config missing"
mkdir -p "$WORK/shim" "$WORK/tree"
cat >"$WORK/shim/pkg-config" <<SHIM
#!/bin/sh
# Nothing is installed until the deps step has run.
[ -e "$WORK/deps-installed" ] || exit 1
exec "$real" "\$@"
SHIM
chmod +x "$WORK/shim/pkg-config"
cd "$ROOT"
git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
	tar --null -T - -cf - | tar -C "$WORK/tree" -xf -

# Unoptimised, to keep the build short; the Makefile logic is the same.
setsid env PATH="$WORK/shim:$PATH" PEERTRACK_LISTEN=127.0.0.1:0 \
	make -C "$WORK/tree" --no-print-directory run INSTALL_DEPS="touch $WORK/deps-installed" \
	OPTFLAGS=-O0 LDFLAGS= AR=ar >"$WORK/run.log" 2>&1 &
run=$!
port=""
for _ in $(seq 6000); do # 10 minutes on a loaded machine
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$WORK/run.log" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$run" 2>/dev/null || fail "make run ended without a listening daemon"
	sleep 0.1
done
[ -n "$port" ] || fail "make run: no listening daemon after 10 minutes"
[ -e "$WORK/deps-installed" ] || fail "make run did not run the deps step"
reply=$(curl -s --max-time 10 "http://127.0.0.1:$port/healthz") || fail "no /healthz on $port"
case "$reply" in *'"status":"ok"'*) ;; *) fail "/healthz: $reply" ;; esac
for f in bin/peertrack-bench bin/peertrack-peer; do
	[ ! -e "$WORK/tree/$f" ] || fail "make run built $f"
done
echo "deps_order: make run with pkg-config empty until the deps step: built, serving on $port" >&2
