#!/usr/bin/env bash
# man_pages.sh — peertrackd(8), peertrackctl(8) and peertrack.conf(5) render
# with `man -l` and no groff or man warning at all (the check itself is
# shown to catch a broken page); the hand-written pages name every option
# and command the programs' --help lists. (peertrack.conf(5) is generated
# from the key table; tests/unit/test_config.c checks it, docs/CONFIG.md and
# conf/peertrack.conf against that table.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN="${PT_BIN:-bin}"; case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peertrack-man.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "man_pages: FAIL: $*" >&2; exit 1; }
command -v man >/dev/null || fail "man missing (Debian package man-db)"

# Warnings of every kind; the rendering itself goes to /dev/null.
# (-Tutf8: without it and a terminal, man-db shows no warning; w: groff's
# every warning.)
warnings() { MANWIDTH=80 LC_ALL=C.UTF-8 man -l -Tutf8 --warnings=w "$1" 2>&1 >/dev/null; }

printf '.TH BROKEN 8\n.SH NAME\nbroken \\- a page\n.XY not a macro\n\\fQtext\n' >"$WORK/broken.8"
[ -n "$(warnings "$WORK/broken.8")" ] || fail "man -l --warnings reports nothing for a broken page"

for page in man/peertrackd.8 man/peertrackctl.8 man/peertrack.conf.5; do
	[ -f "$ROOT/$page" ] || fail "no $page"
	out=$(warnings "$ROOT/$page")
	[ -z "$out" ] || fail "$page: $out"
	MANWIDTH=80 man -l "$ROOT/$page" 2>/dev/null | col -b >"$WORK/$(basename "$page").txt"
	[ -s "$WORK/$(basename "$page").txt" ] || fail "$page renders empty"
done
echo "man_pages: the three pages render without warnings" >&2

# Every long option of each program is in its page.
for prog in peertrackd peertrackctl; do
	for opt in $("$BIN/$prog" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
		grep -qF -- "$opt" "$WORK/$prog.8.txt" || fail "$prog(8) does not mention $opt"
	done
done
# Every command of peertrackctl, with its usage as --help prints it.
"$BIN/peertrackctl" --help | sed -n '/^Commands:/,/^$/p' | sed '1d;/^$/d' |
	sed -E 's/^  (.*[^ ]) {2,}.*$/\1/' >"$WORK/commands"
[ "$(wc -l <"$WORK/commands")" -ge 10 ] || fail "could not read the command list from peertrackctl --help"
tr -s ' ' <"$WORK/peertrackctl.8.txt" | sed 's/^ //' >"$WORK/ctl.flat"
while IFS= read -r usage; do
	# At the start of a line, alone or followed by its description.
	awk -v u="$usage" 'index($0, u) == 1 && (length($0) == length(u) || substr($0, length(u) + 1, 1) == " ") { f = 1 }
		END { exit !f }' "$WORK/ctl.flat" || fail "peertrackctl(8) lacks the command line '$usage'"
done <"$WORK/commands"
echo "man_pages: every option and command of --help is in the pages" >&2
