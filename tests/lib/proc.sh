# proc.sh — sourced by the shell test libraries (tests/conformance/lib.sh,
# tests/integration/lib/deploy.sh): paths, logging, a scratch directory,
# background processes and bounded waits. The caller defines its own
# pt_cleanup (shutdown order and what counts as failure differ), ending
# with pt_finish, and then calls pt_begin TAG.
set -euo pipefail

PT_ROOT="${PT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PT_BIN="${PT_BIN:-bin}"
case "$PT_BIN" in /*) ;; *) PT_BIN="$PT_ROOT/$PT_BIN" ;; esac
DAEMON="$PT_BIN/peertrackd"

pt_log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }
pt_fail() { pt_log "FAIL: $*"; exit 1; }

PIDS=()
declare -A PNAME=()

# pt_begin TAG — creates $WORK and arms pt_cleanup: after the caller's own
# checks, so a test that cannot run leaves nothing behind.
pt_begin() {
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/peertrack-$1.XXXXXX")"
	trap pt_cleanup EXIT
	trap 'exit 130' INT TERM
}

# pt_spawn NAME CMD... — runs CMD in the background, stdout in
# $WORK/NAME.out, stderr in $WORK/NAME.err; sets pid_NAME.
pt_spawn() {
	local name=$1; shift
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	PNAME[$!]=$name
	printf -v "pid_$name" '%s' $!
}

# pt_wait_line FILE REGEX SECONDS [FROM] — waits for a line matching REGEX
# (ERE) in FILE, after its first FROM lines, and prints it.
pt_wait_line() {
	local file=$1 re=$2 secs=$3 from=${4:-0} line deadline
	deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	while :; do
		if line=$(tail -n +$((from + 1)) "$file" 2>/dev/null | grep -m1 -E -- "$re"); then
			printf '%s\n' "$line"; return 0
		fi
		[ "$(date +%s%N)" -lt $deadline ] || pt_fail "no line /$re/ in $(basename "$file") after ${secs}s"
		sleep 0.02
	done
}

# pt_finish RC LINES FILE... — the end of every pt_cleanup: on failure (or
# with PT_KEEP set) shows the last LINES lines of each non-empty FILE, then
# removes $WORK (or keeps it with PT_KEEP) and exits RC.
pt_finish() {
	local rc=$1 lines=$2 f; shift 2
	if [ "$rc" -ne 0 ] || [ -n "${PT_KEEP:-}" ]; then
		for f in "$@"; do
			[ -s "$f" ] || continue
			echo "---- ${f#"$WORK"/}" >&2; tail -n "$lines" "$f" >&2
		done
	fi
	[ -n "${PT_KEEP:-}" ] && pt_log "kept $WORK" || rm -rf "$WORK"
	exit "$rc"
}
