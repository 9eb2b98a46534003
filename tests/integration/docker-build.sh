#!/usr/bin/env bash
# docker-build.sh — what docker/Dockerfile does, without a Docker engine:
# docker/build.sh (install deps, build, `make install DESTDIR`, start the
# staged daemon with its staged config and environment overrides, /healthz),
# then checks the staged tree and that docker/runtime-packages.txt provides
# every library the staged binary links.
. "$(dirname "$0")/lib/deploy.sh"

case "${PT_BUILD:-}" in
*-asan) pt_skip "docker/build.sh builds its own release tree; the sanitized run would only repeat it" ;;
esac

STAGE="$WORK/stage"
"$PT_ROOT/docker/build.sh" "$STAGE" 2>"$WORK/build.err" || { cat "$WORK/build.err" >&2; pt_fail "docker/build.sh"; }
grep -q '/healthz ok' "$WORK/build.err" || pt_fail "docker/build.sh did not check /healthz"
pt_log "docker/build.sh: built, staged, /healthz ok"

for f in usr/bin/peertrackd etc/peertrack/peertrack.conf etc/peertrack/peertrack.conf.example \
	usr/lib/systemd/system/peertrackd.service usr/lib/sysusers.d/peertrack.conf \
	usr/share/doc/peertrack/DEPLOY.md usr/share/doc/peertrack/examples/nginx-peertrack.conf; do
	[ -f "$STAGE/$f" ] || pt_fail "not staged: /$f"
done
[ -x "$STAGE/usr/bin/peertrackd" ] || pt_fail "/usr/bin/peertrackd not executable"
grep -q '^ExecStart=/usr/bin/peertrackd -c /etc/peertrack/peertrack.conf' \
	"$STAGE/usr/lib/systemd/system/peertrackd.service" || pt_fail "unit paths not filled in"
cmp -s "$STAGE/etc/peertrack/peertrack.conf" "$PT_ROOT/conf/peertrack.conf" || pt_fail "staged config differs"
pt_log "staged: binary, config, unit (paths filled in), sysusers, docs"

# The runtime image installs only docker/runtime-packages.txt: each library
# the binary needs directly must come from one of those packages.
pkgs=" $(grep -v '^#' "$PT_ROOT/docker/runtime-packages.txt" | tr '\n' ' ') "
for lib in $(objdump -p "$STAGE/usr/bin/peertrackd" | awk '/NEEDED/ {print $2}'); do
	# (awk reads to the end: an early exit would SIGPIPE ldconfig under pipefail)
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
	[ -n "$path" ] || pt_fail "$lib: not found by ldconfig"
	real=$(readlink -f "$path")
	pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null) ||
		pt_fail "$lib ($real): no Debian package owns it"
	pkg=${pkg%%:*}
	case "$pkg" in libc6) continue ;; esac
	case "$pkgs" in *" $pkg "*) ;; *) pt_fail "$lib comes from $pkg, missing in docker/runtime-packages.txt" ;; esac
done
pt_log "docker/runtime-packages.txt covers every library peertrackd links"
pt_log "ok"
