#!/bin/sh
# docker/build.sh [--no-deps] DESTDIR — builds peertrack from this tree and
# stages `make install` into DESTDIR (PREFIX=/usr, config in /etc), then
# starts the staged daemon with its staged sample config and checks that
# /healthz answers. The image's build stage (docker/Dockerfile) runs exactly
# this; so does tests/integration/docker-build.sh, so what the image does is
# tested without a Docker engine.
#   --no-deps   skip scripts/install-deps.sh (the Dockerfile runs it in an
#               earlier, cached layer)
# Objects go to a temporary directory: the tree's own build/ is not touched.
set -eu

deps=1
if [ "${1:-}" = "--no-deps" ]; then deps=0; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--no-deps] DESTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
dest=$(cd "$1" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peertrack-build.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ $deps -eq 0 ] || "$src/scripts/install-deps.sh"

# 1. build and stage
# HAVE_GST= : the GStreamer test peer is not part of a server install.
mk() { make -C "$src" --no-print-directory O="$tmp/obj" BIN="$tmp/bin" HAVE_GST= PREFIX=/usr SYSCONFDIR=/etc "$@"; }
mk -j"$(nproc 2>/dev/null || echo 2)" all >"$tmp/make.log" 2>&1 || { tail -n 50 "$tmp/make.log" >&2; exit 1; }
mk install DESTDIR="$dest" >>"$tmp/make.log" 2>&1 || { tail -n 50 "$tmp/make.log" >&2; exit 1; }
echo "build.sh: staged into $dest" >&2

# 2. smoke test: the staged binary, the staged sample config, environment
# overrides (as the container passes them), loopback and a free port.
mkdir -p "$tmp/state"
PEERTRACK_LISTEN=127.0.0.1:0 PEERTRACK_STATE_DIR="$tmp/state" \
	"$dest/usr/bin/peertrackd" -c "$dest/etc/peertrack/peertrack.conf" 2>"$tmp/daemon.err" &
pid=$!
port=""
i=0
while [ $i -lt 500 ]; do  # 10 s
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/daemon.err" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.02
	i=$((i + 1))
done
[ -n "$port" ] || { cat "$tmp/daemon.err" >&2; echo "build.sh: the staged daemon did not start" >&2; exit 1; }
# bash's /dev/tcp: the build stage has no curl.
reply=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3; cat <&3' _ "$port" | tr -d '\r')
case "$reply" in
"HTTP/1."?" 200"*'"status":"ok"'*) echo "build.sh: /healthz ok on 127.0.0.1:$port" >&2 ;;
*) cat "$tmp/daemon.err" >&2; echo "build.sh: /healthz: $reply" >&2; exit 1 ;;
esac
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ $status -eq 0 ] || { cat "$tmp/daemon.err" >&2; echo "build.sh: daemon exit status $status" >&2; exit 1; }
