#!/usr/bin/env bash
# selftest.sh — shows scripts/check-layers.sh catches each forbidden edge
# the architecture names (core -> above, base -> anything, store/admin ->
# net, ctl -> net or the store) and an unclassified header, and passes a
# tree without them. Builds small trees in a scratch directory.
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
check="$here/scripts/check-layers.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pt-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0

tree() { # a clean tree: one file per layer, each including what it may
	rm -rf "$tmp/t" && mkdir -p "$tmp/t"/include/peertrack "$tmp/t"/src/{base,core,store,net,admin,daemon,ctl}
	for h in log hash store server admin notify; do echo "/* $h */" >"$tmp/t/include/peertrack/$h.h"; done
	echo '#include "peertrack/log.h"' >"$tmp/t/src/base/log.c"
	printf '#include "peertrack/log.h"\n#include "peertrack/hash.h"\n' >"$tmp/t/src/core/hash.c"
	printf '#include "peertrack/hash.h"\n#include "peertrack/store.h"\n' >"$tmp/t/src/store/store.c"
	echo '/* net.h */' >"$tmp/t/src/net/net.h"
	printf '#include "peertrack/store.h"\n#include "net.h"\n' >"$tmp/t/src/net/server.c"
	printf '#include "peertrack/admin.h"\n#include "peertrack/store.h"\n' >"$tmp/t/src/admin/admin.c"
	printf '#include "peertrack/server.h"\n#include "peertrack/admin.h"\n#include "peertrack/notify.h"\n' >"$tmp/t/src/daemon/main.c"
	printf '#include "peertrack/admin.h"\n#include "peertrack/log.h"\n' >"$tmp/t/src/ctl/main.c"
	echo "/* notify */" >"$tmp/t/src/daemon/notify.c"
}

expect() { # expect pass|fail DESCRIPTION [FILE LINE-TO-ADD] [MESSAGE]
	local want=$1 what=$2 out rc
	tree
	[ $# -ge 4 ] && echo "$4" >>"$tmp/t/$3"
	out=$("$check" "$tmp/t" 2>&1); rc=$?
	if [ "$want" = pass ] && [ $rc -eq 0 ]; then
		echo "ok: $what"
	elif [ "$want" = fail ] && [ $rc -ne 0 ] && grep -qF -- "${5:-}" <<<"$out"; then
		echo "ok: $what -> $out"
	else
		echo "FAILED: $what (exit $rc): $out"; fails=$((fails + 1))
	fi
}

expect pass "a tree without forbidden edges"
expect fail "core -> net" src/core/hash.c '#include "peertrack/server.h"' 'src/core/hash.c:3: core -> net'
expect fail "core -> store" src/core/hash.c '#include "peertrack/store.h"' 'core -> store'
expect fail "base -> core" src/base/log.c '#include "peertrack/hash.h"' 'src/base/log.c:2: base -> core'
expect fail "store -> net (relative path)" src/store/store.c '#include "../net/net.h"' 'store -> net ("../net/net.h")'
expect fail "admin -> net" src/admin/admin.c '#include "peertrack/server.h"' 'admin -> net'
expect fail "ctl -> store writer" src/ctl/main.c '#include "peertrack/store.h"' 'ctl -> store'
expect fail "ctl -> net" src/ctl/main.c '#include "../net/net.h"' 'ctl -> net'
expect fail "an unclassified header" src/core/hash.c '#include "peertrack/new.h"' 'in no layer'
[ $fails -eq 0 ] || exit 1
