#!/bin/sh
# Installs, with apt, the Debian 12 packages peertrack needs.
#
#   scripts/install-deps.sh          what building and running peertrackd and
#                                    peertrackctl need (`make`, `make run`,
#                                    `make install`): the list below
#   scripts/install-deps.sh --test   that, plus scripts/deps-test.txt: what
#                                    the tests and tools need (`make check`)
#   scripts/install-deps.sh --demo   that, plus nginx: `make demo` serves the
#                                    demo site (examples/site/) with it
#
# Idempotent: it does nothing when all are present. Needs root (or sudo) only
# when something is missing. Services among the packages (nginx, redis-server,
# coturn ...) are not started by the install (a policy-rc.d denies it) and are
# disabled afterwards, with or without systemd running: peertrack's tests
# start their own instances on 127.0.0.1.
set -eu

# The build set: a compiler, pkg-config and the libraries peertrackd links.
PKGS="build-essential pkg-config
libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libjansson-dev libssl-dev
libinih-dev libsqlite3-dev libsystemd-dev libhiredis-dev"

# PT_DEPS_TEST_LIST: another list file instead (tests/system/fresh_machine.sh).
TEST_LIST="${PT_DEPS_TEST_LIST:-$(dirname "$0")/deps-test.txt}"
case "${1:-}" in
--test) PKGS="$PKGS $(grep -v '^[[:space:]]*#' "$TEST_LIST" | tr '\n' ' ')" ;;
--demo) PKGS="$PKGS nginx" ;;
"") ;;
*) echo "usage: $0 [--test|--demo]" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 == "ii" {print $2}' | sort; }

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: need root to install:$missing" >&2; exit 1
	fi
fi

# invoke-rc.d (what maintainer scripts call to start a service, under systemd
# or not) asks /usr/sbin/policy-rc.d first: exit 101 = "not allowed". One that
# is already there (a container's) is left as it is.
POLICY=/usr/sbin/policy-rc.d
ours=0
before=$(mktemp)
cleanup() {
	[ $ours -eq 0 ] || $SUDO rm -f "$POLICY"
	rm -f "$before"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# written by peertrack scripts/install-deps.sh for the duration of an install\nexit 101\n' |
		$SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 0755 "$POLICY"
	ours=1
fi
installed >"$before"

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing

# Services that came with this install (asked for or pulled in): disabled,
# so none starts at the next boot either. Services installed before are the
# machine owner's and are left alone.
for pkg in $(installed | comm -13 "$before" -); do
	for unit in $(dpkg-query -L "$pkg" 2>/dev/null | sed -n 's|^/lib/systemd/system/\([^/@]*\.\(service\|socket\)\)$|\1|p; s|^/usr/lib/systemd/system/\([^/@]*\.\(service\|socket\)\)$|\1|p'); do
		# Both edit the enablement links without a running systemd; without
		# systemd installed, deb-systemd-helper (what maintainer scripts
		# use) still removes the links postinst made.
		if command -v systemctl >/dev/null 2>&1; then
			[ "$(systemctl is-enabled "$unit" 2>/dev/null)" = enabled ] || continue
			echo "install-deps: disabling $unit (from $pkg)" >&2
			$SUDO systemctl disable --quiet "$unit" 2>/dev/null || true
		elif command -v deb-systemd-helper >/dev/null 2>&1; then
			deb-systemd-helper --quiet was-enabled "$unit" 2>/dev/null || continue
			echo "install-deps: disabling $unit (from $pkg)" >&2
			$SUDO deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
		fi
	done
	for script in $(dpkg-query -L "$pkg" 2>/dev/null | sed -n 's|^/etc/init.d/\([^/]*\)$|\1|p'); do
		if ls /etc/rc[2345].d/S*"$script" >/dev/null 2>&1; then
			echo "install-deps: disabling /etc/init.d/$script (from $pkg)" >&2
			$SUDO update-rc.d "$script" disable >/dev/null 2>&1 || true
		fi
	done
done
