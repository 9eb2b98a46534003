#!/usr/bin/env bash
# demo.sh — `make demo`: peertrackd and the demo site (examples/site/) on
# 127.0.0.1, one origin served by nginx (the site, the browser client under
# /peertrack/, the manifest, and /v1 proxied to the daemon). Prints the URL
# and runs until Ctrl-C, which stops both; state lives in a temporary
# directory that goes with them.
#   scripts/demo.sh            DEMO_PORT (8080): the site's port
# Needs bin/peertrackd, bin/peertrackctl (make daemon) and nginx
# (scripts/install-deps.sh --demo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${PT_BIN:-$root/bin}"
case "$BIN" in /*) ;; *) BIN="$root/$BIN" ;; esac
PORT="${DEMO_PORT:-8080}"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ -x "$BIN/peertrackd" ] && [ -x "$BIN/peertrackctl" ] || die "$BIN/peertrackd or peertrackctl missing (make daemon)"
[ -x "$NGINX" ] || die "nginx missing (scripts/install-deps.sh --demo installs it)"

work="$(mktemp -d "${TMPDIR:-/tmp}/peertrack-demo.XXXXXX")"
pids=()
cleanup() {
	local p n
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for n in $(seq 50); do
		alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break; sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; say stopping; exit 0' INT TERM

# The daemon, on a port of its choosing; the page reaches it through nginx.
mkdir -p "$work/state" "$work/tmp"
cat >"$work/peertrack.conf" <<CONF
state_dir = $work/state
allowed_origins = http://127.0.0.1:$PORT
trusted_proxies = 127.0.0.1/32
CONF
# Both servers in sessions of their own: Ctrl-C reaches this script only,
# which stops them in order (cleanup) and says so.
setsid "$BIN/peertrackd" -c "$work/peertrack.conf" --listen 127.0.0.1:0 2>"$work/peertrackd.log" &
pids+=($!)
tport=""
for _ in $(seq 100); do
	tport=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$work/peertrackd.log" | head -n1)
	[ -n "$tport" ] && break
	kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/peertrackd.log" >&2; die "peertrackd did not start"; }
	sleep 0.1
done
[ -n "$tport" ] || die "peertrackd did not say where it listens in 10 s"

"$BIN/peertrackctl" manifest "$root/examples/site/assets" --prefix /assets/ -o "$work/peertrack-manifest.json"

# As root, nginx's workers would drop to "nobody", who may not read a
# checkout under /root: they keep the caller's user (the demo listens on
# 127.0.0.1 only).
user=""
[ "$(id -u)" -ne 0 ] || user="user root;"
sed -e "s|@USER@|$user|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$PORT|g" -e "s|@TRACKER_PORT@|$tport|g" \
    -e "s|@SITE@|$root/examples/site|g" -e "s|@CLIENT@|$root/clients/js/src|g" \
    "$root/examples/site/nginx.conf.in" >"$work/nginx.conf"
setsid "$NGINX" -p "$work" -e stderr -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
up=0
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
	kill -0 "${pids[1]}" 2>/dev/null || die "nginx did not start (is port $PORT free? DEMO_PORT=... picks another)"
	sleep 0.1
done
[ $up -eq 1 ] || die "nginx does not answer on 127.0.0.1:$PORT"

cat <<MSG

  peertrack demo: http://127.0.0.1:$PORT/

  Open it in two browsers (or a normal and a private window): the second
  gets the pictures and the video from the first. Offload, as the daemon
  records it:  $BIN/peertrackctl --socket $work/state/admin.sock stats
  Ctrl-C stops the demo.

MSG
# Until Ctrl-C, or until either program ends on its own.
wait -n "${pids[@]}" || true
say "a server stopped:"; tail -n 5 "$work/peertrackd.log" >&2
exit 1
