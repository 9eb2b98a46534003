#!/usr/bin/env bash
# Conformance 4 — integrity: a holder serving corrupted bytes is caught by
# the SHA-256 check, reported (stderr and --json), and the fetch completes
# from an honest holder.
. "$(dirname "$0")/lib.sh"

pt_daemon
pt_random "$WORK/res" $((1 << 20))
h=$(pt_sha "$WORK/res")
pt_seed liar --corrupt -- "$WORK/res"

# Alone, the liar makes the fetch fail with exit status 4 and a report.
rc=0
timeout 30 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/bad" >"$WORK/alone.out" 2>"$WORK/alone.err" || rc=$?
[ $rc -eq 4 ] || pt_fail "fetch from the liar alone: exit $rc, wanted 4"
grep -q "\"result\":\"hash-mismatch\"" "$WORK/alone.out" || pt_fail "no hash-mismatch in --json"
grep -q "integrity failure" "$WORK/alone.err" || pt_fail "no integrity report on stderr"
[ ! -e "$WORK/bad" ] || pt_fail "corrupt content was written out"

# The honest holder connects from 127.0.0.2: the daemon ranks the liar,
# on the fetcher's own address, first (same address before same /24).
pt_seed honest --bind 127.0.0.2 -- "$WORK/res"
ok=""
for try in 1 2 3 4 5; do
	rc=0
	timeout 30 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/got$try" >"$WORK/try$try.out" 2>"$WORK/try$try.err" || rc=$?
	line=$(grep '"event":"fetched"' "$WORK/try$try.out" || true)
	[ $rc -eq 0 ] || pt_fail "try $try: exit $rc: $line"
	cmp -s "$WORK/res" "$WORK/got$try" || pt_fail "try $try: contents differ"
	[ "$(pt_json_str "$line" peer)" = "$id_honest" ] || pt_fail "try $try: completed by someone else: $line"
	# Only a try where the liar came first shows the fallback.
	if grep -qF "\"attempts\":[{\"peer\":\"$id_liar\",\"result\":\"hash-mismatch\"" <<<"$line"; then
		grep -q "integrity failure" "$WORK/try$try.err" || pt_fail "try $try: mismatch not reported on stderr"
		ok=$try; break
	fi
	pt_log "try $try: the honest holder was ranked first; again"
done
[ -n "$ok" ] || pt_fail "the liar was never tried first"
pt_log "liar detected and reported; completed by the honest holder (try $ok): $(pt_json_num "$line" total_ms) ms"
pt_log "ok"
