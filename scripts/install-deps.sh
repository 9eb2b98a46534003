#!/bin/sh
# Installs, with apt, every Debian 12 package that peertrack's build and
# tests need. Idempotent: it does nothing when all are present. Needs root
# (or sudo) only when something is missing.
set -eu

PKGS="build-essential pkg-config
libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libjansson-dev libssl-dev
libinih-dev libsqlite3-dev sqlite3 libsystemd-dev libcmocka-dev
openssl ca-certificates procps iproute2"

# Extra groups are added by the features that need them (see docs/).
[ -f "$(dirname "$0")/deps-extra.txt" ] && PKGS="$PKGS $(grep -v '^#' "$(dirname "$0")/deps-extra.txt" | tr '\n' ' ')"

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
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
