#!/usr/bin/env bash
# minbase.sh — a bare Debian 12 root: `debootstrap --variant=minbase bookworm`
# from the apt source this machine already uses (read from its apt
# configuration at run time; no mirror is named in the repository), with the
# machine's apt sources and Acquire settings copied in, so apt inside works
# the way it does outside.
#
# The root is cached as a tarball outside the checkout, one per day and apt
# configuration:
#   ${PT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/peertrack}/minbase-bookworm-ARCH-YYYYMMDD-HASH.tar.gz
# older ones are removed when a new one is made. Concurrent callers wait on a
# lock (flock) instead of bootstrapping twice. Needs root and debootstrap.
#
# Sourced (bash):
#   pt_minbase_mirror          the URI of the machine's bookworm source
#   pt_minbase_tarball         the tarball's path, bootstrapping first if needed
#   pt_minbase_unpack DIR      unpacks the root into DIR (created; must be empty)
#   pt_minbase_ns CMD...       runs CMD in new mount and PID namespaces (when
#                              CMD, their first process, ends, the kernel
#                              kills what is left in them and drops their
#                              mounts), holding the apt cache's lock
#   pt_minbase_mount DIR       (in those namespaces) mounts /proc, /dev, /sys
#                              and the apt caches (downloads and lists, kept
#                              in the cache directory) into the root DIR
#   pt_minbase_run DIR CMD...  CMD chrooted into DIR with a clean environment
#                              (VAR=VALUE words before CMD are added to it)
# Run: tests/lib/minbase.sh [--unpack DIR]  prints the tarball's path.

PT_CACHE_DIR="${PT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/peertrack}"

# The machine's apt sources: deb822 files and one-line lists.
_pt_minbase_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && printf '%s\n' "$f"
	done
	return 0
}

# Settings that only say how to fetch (proxies, validity checks): hooks and
# host-specific post-invoke scripts stay outside.
_pt_minbase_aptconf() {
	local f
	for f in /etc/apt/apt.conf.d/*; do
		[ -f "$f" ] || continue
		grep -q '^[[:space:]]*Acquire::' "$f" || continue
		grep -Eq 'Invoke|Pkgs|Hook' "$f" && continue
		printf '%s\n' "$f"
	done
	return 0
}

pt_minbase_mirror() {
	local f uri=""
	for f in $(_pt_minbase_sources); do
		case "$f" in
		*.sources)
			# Stanzas are separated by blank lines; the first one with a deb
			# type and the plain bookworm suite.
			uri=$(awk 'function flush() { if (deb && suite && uri != "" && !found) { print uri; found = 1 } deb = suite = 0; uri = "" }
				/^[[:space:]]*$/ { flush(); next }
				/^#/ { next }
				tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
				tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
				tolower($1) == "uris:" { uri = $2 }
				END { flush() }' "$f") ;;
		*)
			uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == "bookworm") { print $i; exit } }' "$f") ;;
		esac
		[ -n "$uri" ] && { printf '%s\n' "$uri"; return 0; }
	done
	echo "minbase: no bookworm source in the machine's apt configuration" >&2
	return 1
}

pt_minbase_tarball() {
	local arch key path tmp rc=0
	command -v debootstrap >/dev/null || { echo "minbase: debootstrap missing (Debian package debootstrap)" >&2; return 1; }
	[ "$(id -u)" -eq 0 ] || { echo "minbase: debootstrap needs root" >&2; return 1; }
	arch=$(dpkg --print-architecture)
	key=$(cat $(_pt_minbase_sources) $(_pt_minbase_aptconf) | sha256sum | cut -c1-12)
	path="$PT_CACHE_DIR/minbase-bookworm-$arch-$(date -u +%Y%m%d)-$key.tar.gz"
	mkdir -p "$PT_CACHE_DIR"
	(
		flock -w 900 9 || { echo "minbase: $PT_CACHE_DIR/minbase.lock held for 15 minutes" >&2; exit 1; }
		[ -s "$path" ] && exit 0
		mirror=$(pt_minbase_mirror) || exit 1
		tmp=$(mktemp -d "$PT_CACHE_DIR/minbase.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		echo "minbase: debootstrap --variant=minbase bookworm from the machine's source" >&2
		debootstrap --variant=minbase bookworm "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$tmp/debootstrap.log" >&2; exit 1; }
		rm -f "$tmp/root/etc/apt/sources.list"
		for f in $(_pt_minbase_sources); do cp "$f" "$tmp/root$f"; done
		for f in $(_pt_minbase_aptconf); do cp "$f" "$tmp/root$f"; done
		rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* 2>/dev/null
		: >"$tmp/root/etc/resolv.conf"
		tar -C "$tmp/root" --numeric-owner -cf - . | gzip -1 >"$tmp/root.tar.gz" || exit 1
		find "$PT_CACHE_DIR" -maxdepth 1 -name 'minbase-bookworm-*.tar.gz' -delete
		mv "$tmp/root.tar.gz" "$path"
	) 9>"$PT_CACHE_DIR/minbase.lock" || rc=$?
	[ $rc -eq 0 ] || return $rc
	printf '%s\n' "$path"
}

pt_minbase_unpack() {
	local dir=$1 tarball
	tarball=$(pt_minbase_tarball) || return 1
	mkdir -p "$dir"
	tar -C "$dir" --numeric-owner -xzf "$tarball" || return 1
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
}

pt_minbase_ns() {
	mkdir -p "$PT_CACHE_DIR"
	(
		flock -w 900 8 || { echo "minbase: $PT_CACHE_DIR/apt.lock held for 15 minutes" >&2; exit 1; }
		exec unshare --mount --pid --fork --kill-child -- "$@"
	) 8>"$PT_CACHE_DIR/apt.lock"
}

pt_minbase_mount() {
	local root=$1
	mount --make-rprivate /
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount --rbind /sys "$root/sys"
	mkdir -p "$PT_CACHE_DIR/apt-archives/partial" "$PT_CACHE_DIR/apt-lists/partial"
	mount --bind "$PT_CACHE_DIR/apt-archives" "$root/var/cache/apt/archives"
	mount --bind "$PT_CACHE_DIR/apt-lists" "$root/var/lib/apt/lists"
}

pt_minbase_run() {
	local root=$1; shift
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	case "${1:-}" in
	--unpack) pt_minbase_unpack "$2" ;;
	"") pt_minbase_tarball ;;
	*) echo "usage: $0 [--unpack DIR]" >&2; exit 2 ;;
	esac
fi
