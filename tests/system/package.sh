#!/usr/bin/env bash
# package.sh — the Debian package: `make deb` builds
# peertrack_VERSION_ARCH.deb (in a copy of the tree), lintian finds no error
# or warning, the file list and maintainer scripts are what Debian practice
# asks (conffile, unit enabled by debhelper, sysusers.d user). Then, in a bare
# Debian 12 root (tests/lib/minbase.sh) with the package's dependencies:
# `dpkg -i`, the installed `peertrackd --check-config`, `peertrackctl --help`,
# the daemon started the way the unit starts it (its ExecStartPre= and
# ExecStart= lines, as the user peertrack, with systemd's RUNTIME_DIRECTORY),
# node 1 of the template peertrackd@.service beside it the same way (its
# node file, state and runtime directories), each peertrackctl invocation
# docs/DEPLOY.md documents, SIGTERM; a local
# edit of the conffile survives a reinstall; `dpkg --purge` leaves nothing
# behind but the system user (Debian keeps those).
set -euo pipefail
. "$(dirname "$0")/../lib/minbase.sh"

fail() { echo "package: FAIL: $*" >&2; exit 1; }

if [ "${1:-}" = --inside ]; then
	root=$2 deb=/tmp/$(basename "$3")
	pt_minbase_mount "$root"
	in_root() { pt_minbase_run "$root" "$@"; }
	snapshot() {
		in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
			-o -path /var/log -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \) -prune \
			-o -print | sort
	}
	t0=$(date +%s)
	in_root apt-get -q update >"$root/tmp/apt.log" 2>&1 || { tail -n 20 "$root/tmp/apt.log" >&2; exit 1; }
	# The package's dependencies (first of each alternative), then the package by dpkg.
	deps=$(in_root dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep .)
	# shellcheck disable=SC2086
	in_root apt-get -q install -y --no-install-recommends $deps >>"$root/tmp/apt.log" 2>&1 ||
		{ tail -n 20 "$root/tmp/apt.log" >&2; exit 1; }
	echo "package: root with the dependencies ($(echo $deps)): $(( $(date +%s) - t0 ))s" >&2
	snapshot >"$root/tmp/before"

	in_root dpkg -i "$deb" >"$root/tmp/dpkg.log" 2>&1 || { cat "$root/tmp/dpkg.log" >&2; fail "dpkg -i"; }
	in_root getent passwd peertrack >/dev/null || fail "no user peertrack after install (sysusers.d)"
	[ -L "$root/etc/systemd/system/multi-user.target.wants/peertrackd.service" ] || fail "unit not enabled"
	in_root peertrackd -c /etc/peertrack/peertrack.conf --check-config || fail "installed peertrackd --check-config"
	in_root peertrackctl --help >/dev/null || fail "installed peertrackctl --help"
	[ "$(in_root peertrackd --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')" = "$4" ] || fail "peertrackd --version is not $4"
	echo "package: installed; user, unit enabled, --check-config, --help, --version" >&2

	# Start it as the unit does: what systemd would do first (directories), then
	# ExecStartPre= and ExecStart= with %S and %t filled in, on a free port.
	unit="$root/lib/systemd/system/peertrackd.service"
	pre=$(sed -n 's/^ExecStartPre=//p' "$unit" | sed 's|%S|/var/lib|g; s|%t|/run|g')
	start=$(sed -n 's/^ExecStart=//p' "$unit" | sed 's|%S|/var/lib|g; s|%t|/run|g')
	[ -n "$pre" ] && [ -n "$start" ] || fail "unit without ExecStartPre=/ExecStart="
	in_root install -d -o peertrack -g peertrack -m 0750 /var/lib/peertrack /run/peertrack
	# chroot, env, setpriv and sh each exec the next: the pid is the daemon's.
	as_unit=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
		RUNTIME_DIRECTORY=/run/peertrack STATE_DIRECTORY=/var/lib/peertrack
		setpriv --reuid=peertrack --regid=peertrack --init-groups sh -c 'umask 0027; exec "$@"' _)
	# shellcheck disable=SC2086
	"${as_unit[@]}" $pre || fail "ExecStartPre=$pre"
	# shellcheck disable=SC2086
	"${as_unit[@]}" $start --listen 127.0.0.1:0 >"$root/tmp/d.out" 2>"$root/tmp/d.err" &
	d=$!
	port=""
	for _ in $(seq 500); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$root/tmp/d.err" | head -n 1)
		[ -n "$port" ] && break
		kill -0 $d 2>/dev/null || break
		sleep 0.02
	done
	[ -n "$port" ] || { cat "$root/tmp/d.err" >&2; fail "the daemon as the unit runs it did not start"; }
	reply=$(curl -s --max-time 10 "http://127.0.0.1:$port/healthz") || fail "no /healthz on $port"
	case "$reply" in *'"status":"ok"'*) ;; *) fail "/healthz: $reply" ;; esac
	[ -S "$root/run/peertrack/admin.sock" ] || fail "no admin socket in /run/peertrack"
	[ ! -e "$root/var/lib/peertrack/admin.sock" ] || fail "admin socket in the state directory"
	[ -f "$root/var/lib/peertrack/peertrack.db" ] || fail "no store in /var/lib/peertrack"
	echo "package: started as the unit does; /healthz on $port, socket in /run/peertrack" >&2

	# Node 1 of the template, as systemd would start peertrackd@1: its node
	# file's variables (EnvironmentFile=), the directories, ExecStartPre=,
	# ExecStart= with %S, %t and %i filled in.
	tmpl="$root/lib/systemd/system/peertrackd@.service"
	envfile=$(sed -n 's/^EnvironmentFile=//p' "$tmpl" | sed 's|%i|1|g')
	[ "$envfile" = /etc/peertrack/node-1.env ] || fail "template's EnvironmentFile=$envfile"
	printf '# node 1\nPEERTRACK_LISTEN=127.0.0.1:0\n' >"$root$envfile"
	npre=$(sed -n 's/^ExecStartPre=//p' "$tmpl" | sed 's|%S|/var/lib|g; s|%t|/run|g; s|%i|1|g')
	nstart=$(sed -n 's/^ExecStart=//p' "$tmpl" | sed 's|%S|/var/lib|g; s|%t|/run|g; s|%i|1|g')
	nrun=/run/$(sed -n 's/^RuntimeDirectory=//p' "$tmpl" | sed 's|%i|1|g')
	nstate=/var/lib/$(sed -n 's/^StateDirectory=//p' "$tmpl" | sed 's|%i|1|g')
	[ "$nrun" = /run/peertrack-1 ] && [ "$nstate" = /var/lib/peertrack/1 ] || fail "template's directories: $nrun $nstate"
	in_root install -d -o peertrack -g peertrack -m 0750 "$nstate" "$nrun"
	mapfile -t nenv < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$root$envfile")
	as_node=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "${nenv[@]}"
		RUNTIME_DIRECTORY="$nrun" STATE_DIRECTORY="$nstate"
		setpriv --reuid=peertrack --regid=peertrack --init-groups sh -c 'umask 0027; exec "$@"' _)
	# shellcheck disable=SC2086
	"${as_node[@]}" $npre || fail "node 1: ExecStartPre=$npre"
	# shellcheck disable=SC2086
	"${as_node[@]}" $nstart >"$root/tmp/n1.out" 2>"$root/tmp/n1.err" &
	n1=$!
	nport=""
	for _ in $(seq 500); do
		nport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$root/tmp/n1.err" | head -n 1)
		[ -n "$nport" ] && break
		kill -0 $n1 2>/dev/null || break
		sleep 0.02
	done
	[ -n "$nport" ] || { cat "$root/tmp/n1.err" >&2; fail "node 1 as the template runs it did not start"; }
	[ "$nport" != "$port" ] || fail "node 1 on the plain unit's port"
	reply=$(curl -s --max-time 10 "http://127.0.0.1:$nport/healthz") || fail "node 1: no /healthz on $nport"
	case "$reply" in *'"status":"ok"'*) ;; *) fail "node 1 /healthz: $reply" ;; esac
	[ -S "$root$nrun/admin.sock" ] || fail "node 1: no admin socket in $nrun"
	[ -f "$root$nstate/peertrack.db" ] || fail "node 1: no store in $nstate"
	echo "package: node 1 started as peertrackd@1 does; /healthz on $nport, socket in $nrun, store in $nstate" >&2

	# Each peertrackctl command of docs/DEPLOY.md, as root, from /.
	n=0
	while IFS= read -r cmd; do
		out=$(in_root sh -c "cd / && ${cmd#sudo }" 2>&1) || fail "'$cmd': $out"
		case "$out" in *version*"$4"*) ;; *) fail "'$cmd' printed: $out" ;; esac
		n=$((n + 1))
	done <"$root/tmp/deploy-commands"
	[ $n -ge 3 ] || fail "only $n peertrackctl commands found in docs/DEPLOY.md"
	echo "package: the $n peertrackctl commands of docs/DEPLOY.md reach the daemon" >&2

	for p in $d $n1; do
		kill -TERM $p
		for _ in $(seq 300); do kill -0 $p 2>/dev/null || break; sleep 0.05; done
		rc=0; wait $p || rc=$?
		[ $rc -eq 0 ] || fail "daemon $p exit status $rc after SIGTERM"
	done
	rm -f "$root$envfile" # the operator's, not the package's: purge leaves it

	# A local edit of the conffile survives a reinstall (upgrade path).
	sed -i 's/^#max_connections = .*/max_connections = 123/' "$root/etc/peertrack/peertrack.conf"
	in_root dpkg -i "$deb" >>"$root/tmp/dpkg.log" 2>&1 || { tail -n 20 "$root/tmp/dpkg.log" >&2; fail "dpkg -i again"; }
	grep -qx 'max_connections = 123' "$root/etc/peertrack/peertrack.conf" || fail "reinstall overwrote the edited conffile"

	in_root dpkg --purge peertrack >>"$root/tmp/dpkg.log" 2>&1 || { tail -n 20 "$root/tmp/dpkg.log" >&2; fail "dpkg --purge"; }
	snapshot >"$root/tmp/after"
	# The user stays: sysusers' entries in passwd/group/shadow and their backups.
	left=$(diff "$root/tmp/before" "$root/tmp/after" | grep '^[<>]' |
		grep -vE '^> /etc/(passwd|group|shadow|gshadow)-?$' || true)
	[ -z "$left" ] || fail "after purge, differs from before install: $left"
	[ ! -e "$root/run/peertrack" ] && [ ! -e "$root/run/peertrack-1" ] || fail "/run/peertrack or /run/peertrack-1 left"
	echo "package: purged; nothing left but the user peertrack" >&2
	exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "package: skipped: needs root (chroot)"; exit 0; }
for tool in dpkg-buildpackage dh lintian debootstrap unshare curl git; do
	command -v $tool >/dev/null || fail "$tool missing (scripts/deps-test.txt)"
done
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peertrack-package.XXXXXX")
trap 'rm -rf --one-file-system "$WORK"' EXIT
trap 'exit 130' INT TERM

version=$(cat "$ROOT_DIR/VERSION")
arch=$(dpkg --print-architecture)
[ "$(dpkg-parsechangelog -l "$ROOT_DIR/debian/changelog" -S Version)" = "$version" ] ||
	fail "debian/changelog's version is not VERSION ($version)"
t0=$(date +%s)
make -C "$ROOT_DIR" --no-print-directory deb DEB_OUT="$WORK/deb" >"$WORK/deb.log" 2>&1 ||
	{ tail -n 40 "$WORK/deb.log" >&2; fail "make deb"; }
deb="$WORK/deb/peertrack_${version}_${arch}.deb"
[ -f "$deb" ] || fail "make deb made no $(basename "$deb"): $(ls "$WORK/deb")"
[ -z "$(git -C "$ROOT_DIR" status --porcelain --ignored -- debian)" ] || fail "make deb left files in debian/"
echo "package: make deb: $(basename "$deb") in $(( $(date +%s) - t0 ))s" >&2

t0=$(date +%s)
lint=$(lintian --fail-on error,warning "$deb" 2>&1 | grep -v 'running with root privileges' || true)
[ -z "$(printf '%s\n' "$lint" | grep -E '^[EW]: ')" ] || fail "lintian: $lint"
echo "package: lintian clean (${lint:-no tags}) in $(( $(date +%s) - t0 ))s" >&2

# The file list: daemon and CLI, man pages, unit, sysusers, conffile, docs.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$WORK/files"
for f in /usr/bin/peertrackd /usr/bin/peertrackctl /etc/peertrack/peertrack.conf \
	/lib/systemd/system/peertrackd.service /lib/systemd/system/peertrackd@.service \
	/usr/lib/sysusers.d/peertrack.conf \
	/usr/share/man/man8/peertrackd.8.gz /usr/share/man/man8/peertrackctl.8.gz \
	/usr/share/man/man5/peertrack.conf.5.gz /usr/share/doc/peertrack/copyright \
	/usr/share/doc/peertrack/DEPLOY.md.gz; do
	grep -qx "$f" "$WORK/files" || fail "not in the package: $f"
done
grep -E '/(bin|sbin)/' "$WORK/files" | grep -vxE '/usr/bin(/peertrackd|/peertrackctl)?' &&
	fail "other programs in the package"
grep -E '^/(var|run)/' "$WORK/files" && fail "the package ships state or runtime files"
dpkg-deb -e "$deb" "$WORK/control"
[ "$(cat "$WORK/control/conffiles")" = /etc/peertrack/peertrack.conf ] || fail "conffiles: $(cat "$WORK/control/conffiles")"
grep -q 'systemd-sysusers.*peertrack.conf' "$WORK/control/postinst" || fail "postinst does not create the user"
grep -q "deb-systemd-helper enable 'peertrackd.service'" "$WORK/control/postinst" || fail "postinst does not enable the unit"
[ "$(grep -n 'systemd-sysusers' "$WORK/control/postinst" | head -1 | cut -d: -f1)" -lt \
  "$(grep -n 'deb-systemd-invoke' "$WORK/control/postinst" | head -1 | cut -d: -f1)" ] ||
	fail "postinst starts the service before it creates the user"
cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/peertrack/peertrack.conf) "$ROOT_DIR/conf/peertrack.conf" ||
	fail "the conffile is not conf/peertrack.conf"
echo "package: file list, conffile, postinst (user before start, unit enabled)" >&2

t0=$(date +%s)
pt_minbase_unpack "$WORK/root" >/dev/null
cp "$deb" "$WORK/root/tmp/"
# The documented invocations: `sudo ... peertrackctl ...` lines of DEPLOY.md's sh blocks.
awk '/^```sh$/ {sh = 1; next} /^```/ {sh = 0} sh && /^sudo ([A-Z_]+=[^ ]+ )*peertrackctl / {sub(/ +#.*/, ""); print}' \
	"$ROOT_DIR/docs/DEPLOY.md" >"$WORK/root/tmp/deploy-commands"
pt_minbase_ns "$0" --inside "$WORK/root" "$deb" "$version"
echo "package: ok (root part $(( $(date +%s) - t0 ))s)" >&2
