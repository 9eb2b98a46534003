#!/usr/bin/env bash
# fresh_machine.sh — the README's first command on a machine with nothing
# installed: a bare Debian 12 root (debootstrap minbase, tests/lib/minbase.sh),
# in it only git and make, a clone of this repository (its HEAD), `make run`.
# It must install its own build dependencies, build in one go and serve:
# /healthz answers on 127.0.0.1, and `bin/peertrackctl status` from the
# checkout finds the admin socket. Then the daemon is stopped with SIGTERM,
# and `scripts/install-deps.sh --test` with a service in its list must leave
# that service neither running nor enabled.
#
# The root runs in its own mount and PID namespaces: /proc, /dev and /sys are
# mounted there only, and when the namespace's first process ends (however it
# ends) the kernel kills what is left in it and drops the mounts. apt's
# downloads and lists are kept in the cache directory, outside the checkout.
# The daemon listens on a free port (PEERTRACK_LISTEN=127.0.0.1:0, an
# environment override of the embedded default) so it cannot collide with
# another daemon on 8000.
set -euo pipefail
. "$(dirname "$0")/../lib/minbase.sh"

if [ "${1:-}" = --inside ]; then
	# PID 1 of the new namespaces. $2 is the root.
	root=$2
	pt_minbase_mount "$root"
	in_root() { pt_minbase_run "$root" "$@"; }

	t0=$(date +%s)
	in_root apt-get -q update >"$root/tmp/apt.log" 2>&1 || { tail -n 20 "$root/tmp/apt.log" >&2; exit 1; }
	in_root apt-get -q install -y --no-install-recommends git make >>"$root/tmp/apt.log" 2>&1 ||
		{ tail -n 20 "$root/tmp/apt.log" >&2; exit 1; }
	for p in pkg-config gcc libwebsockets-dev; do
		if in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			echo "fresh_machine: $p is installed before make run: not a fresh machine" >&2; exit 1
		fi
	done
	in_root git -c advice.detachedHead=false clone -q /tmp/peertrack.bundle /root/peertrack
	echo "fresh_machine: root with git and make, clone: $(( $(date +%s) - t0 ))s" >&2

	t0=$(date +%s)
	# The README's command. setsid: its own process group, to stop it whole.
	setsid chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 PEERTRACK_LISTEN=127.0.0.1:0 \
		sh -c 'cd /root/peertrack && exec make run' >"$root/tmp/run.log" 2>&1 &
	run=$!
	port=""
	for _ in $(seq 7200); do # 12 minutes: apt and a full build
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$root/tmp/run.log" | head -n 1)
		[ -n "$port" ] && break
		kill -0 $run 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$port" ] || { tail -n 40 "$root/tmp/run.log" >&2; echo "fresh_machine: make run did not get to a listening daemon" >&2; exit 1; }
	echo "fresh_machine: make run: listening on 127.0.0.1:$port after $(( $(date +%s) - t0 ))s" >&2
	for p in chromium nginx libgstreamer1.0-dev libcmocka-dev nodejs; do
		if in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			echo "fresh_machine: make run installed $p, a test dependency" >&2; exit 1
		fi
	done
	for f in bin/peertrack-bench bin/peertrack-peer; do
		[ ! -e "$root/root/peertrack/$f" ] || { echo "fresh_machine: make run built $f" >&2; exit 1; }
	done
	# Same network namespace: the host's curl reaches the daemon in the root.
	reply=$(curl -s --max-time 10 "http://127.0.0.1:$port/healthz") || { echo "fresh_machine: no /healthz on $port" >&2; exit 1; }
	case "$reply" in *'"status":"ok"'*) ;; *) echo "fresh_machine: /healthz: $reply" >&2; exit 1 ;; esac
	out=$(in_root sh -c 'cd /root/peertrack && bin/peertrackctl status' 2>&1) ||
		{ echo "fresh_machine: bin/peertrackctl status from the checkout: $out" >&2; exit 1; }
	echo "fresh_machine: /healthz ok; bin/peertrackctl status: $(echo "$out" | head -n 1)" >&2

	kill -TERM -- -$run
	for _ in $(seq 300); do kill -0 $run 2>/dev/null || break; sleep 0.05; done
	if kill -0 $run 2>/dev/null; then echo "fresh_machine: make run still running 15 s after SIGTERM" >&2; exit 1; fi

	# The test set's services: scripts/install-deps.sh --test with a list of
	# one service, redis-server (it listens on loopback only, should a start
	# get through). It must not be started nor left enabled, with or without
	# systemd (there is none in this root: sysv links and deb-systemd-helper's).
	t0=$(date +%s)
	printf 'redis-server\n' >"$root/tmp/deps-test.txt"
	in_root PT_DEPS_TEST_LIST=/tmp/deps-test.txt sh -c 'cd /root/peertrack && scripts/install-deps.sh --test' \
		>"$root/tmp/deps.log" 2>&1 || { tail -n 20 "$root/tmp/deps.log" >&2; echo "fresh_machine: install-deps.sh --test" >&2; exit 1; }
	in_root dpkg-query -W -f='${Status}' redis-server | grep -q 'ok installed' || { echo "fresh_machine: redis-server not installed" >&2; exit 1; }
	[ ! -e "$root/usr/sbin/policy-rc.d" ] || { echo "fresh_machine: policy-rc.d left behind" >&2; exit 1; }
	for p in "$root"/proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" != redis-server ] || { echo "fresh_machine: redis-server was started" >&2; exit 1; }
	done
	if ls "$root"/etc/systemd/system/*.wants/redis-server.service "$root"/etc/rc[2345].d/S*redis-server >/dev/null 2>&1; then
		echo "fresh_machine: redis-server left enabled: $(ls "$root"/etc/systemd/system/*.wants/ "$root"/etc/rc[2345].d/ | grep redis)" >&2; exit 1
	fi
	echo "fresh_machine: install-deps.sh --test: redis-server installed, not started, not enabled ($(( $(date +%s) - t0 ))s)" >&2
	in_root apt-get -q autoclean >/dev/null 2>&1 || true
	exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "fresh_machine: skipped: needs root (debootstrap, chroot)"; exit 0; }
for tool in debootstrap unshare chroot git curl; do
	command -v $tool >/dev/null || { echo "fresh_machine: $tool missing" >&2; exit 1; }
done
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peertrack-fresh.XXXXXX")
# The namespaces are gone when unshare returns; nothing is mounted under
# $WORK in this one, so removing it is safe on every path.
trap 'rm -rf --one-file-system "$WORK"' EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
pt_minbase_unpack "$WORK/root" >/dev/null
echo "fresh_machine: bare root unpacked: $(( $(date +%s) - t0 ))s" >&2
git -C "$ROOT_DIR" bundle create "$WORK/root/tmp/peertrack.bundle" HEAD 2>/dev/null
pt_minbase_ns "$0" --inside "$WORK/root"
echo "fresh_machine: ok" >&2
