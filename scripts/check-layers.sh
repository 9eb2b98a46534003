#!/usr/bin/env bash
# check-layers.sh — fails when a source file includes across a forbidden
# edge of the layering in docs/DESIGN.md ("Architecture").
#   scripts/check-layers.sh [ROOT]     (ROOT defaults to the repository)
# A file's layer is its folder under src/ (src/net/x.c is net). A public
# header (include/peertrack/ is one flat folder of contracts) belongs to the
# layer of the source that implements it, src/LAYER/NAME.c; a header with no
# such source is given its layer in the table below. Every #include "..."
# of every file under src/ and include/peertrack/ is resolved and checked
# against ALLOWED.
# Exit 0: no forbidden edge; 1: each one listed as FILE:LINE: A -> B.
set -u
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"

# Public headers without a source of the same name, by layer. A new one
# goes here, or the check fails.
declare -A HEADER=(
	[mix.h]=base [sat.h]=base
	[peerinfo.h]=core
	[adminsock.h]=admin
)

# What each layer may include (itself included). base is the floor; core is
# pure logic over base; store and admin sit beside net, never on it; the
# daemon is the top; ctl is a client (the command table, no net, no store
# writer); peer and bench are programs over the core.
declare -A ALLOWED=(
	[base]="base"
	[core]="base core"
	[cluster]="base core cluster"
	[store]="base core store"
	[net]="base core store cluster net"
	[admin]="base core store admin"
	[daemon]="base core store cluster net admin daemon"
	[ctl]="base core admin ctl"
	[bench]="base core bench"
	[peer]="base core peer"
)

bad=0
complain() { printf '%s\n' "$*"; bad=1; }

layer_of() { # path relative to root -> layer, or "" if unknown
	local h c
	case "$1" in
	include/peertrack/*)
		h=${1#include/peertrack/}
		if [ -n "${HEADER[$h]:-}" ]; then printf '%s' "${HEADER[$h]}"; return; fi
		for c in src/*/"${h%.h}.c"; do
			[ -f "$c" ] && { c=${c#src/}; printf '%s' "${c%%/*}"; return; }
		done ;;
	src/*/*) local d="${1#src/}"; printf '%s' "${d%%/*}" ;;
	*) printf '' ;;
	esac
}

cd "$root" || exit 2
while IFS= read -r f; do
	from=$(layer_of "$f")
	if [ -z "$from" ] || [ -z "${ALLOWED[$from]:-}" ]; then
		complain "$f: not in a known layer (add it to scripts/check-layers.sh)"
		continue
	fi
	while IFS=: read -r line inc; do
		case "$inc" in
		peertrack/*) target="include/$inc" ;;
		*) target=$(realpath -m --relative-to=. "$(dirname "$f")/$inc") ;;
		esac
		to=$(layer_of "$target")
		if [ -z "$to" ]; then
			complain "$f:$line: includes \"$inc\", which is in no layer (add it to scripts/check-layers.sh)"
		elif [[ " ${ALLOWED[$from]} " != *" $to "* ]]; then
			complain "$f:$line: $from -> $to (\"$inc\"): forbidden edge"
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	         sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(find src include/peertrack -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
exit $bad
