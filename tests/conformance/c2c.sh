#!/usr/bin/env bash
# Conformance 1 — C to C: a seeder and fetchers move 1 MiB and 16 MiB files
# through a real peertrackd; contents are verified with SHA-256, and a third
# client's lookup then names both the seeder and the fetcher as holders.
# Every peer sends Origin: http://127.0.0.1, the only origin allowed here.
. "$(dirname "$0")/lib.sh"

pt_daemon
pt_random "$WORK/small" $((1 << 20))
pt_random "$WORK/big" $((16 << 20))
pt_seed seed -- "$WORK/small" "$WORK/big"
pt_log "seeder $id_seed"

for f in small big; do
	h=$(pt_sha "$WORK/$f")
	pt_spawn "get_$f" timeout 60 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/$f.got" --stay
	line=$(pt_wait_line "$WORK/get_$f.out" '"event":"fetched"' 60)
	grep -q '"ok":true' <<<"$line" || pt_fail "$f: $line"
	[ "$(pt_sha "$WORK/$f.got")" = "$h" ] || pt_fail "$f: written file does not hash to $h"
	cmp -s "$WORK/$f" "$WORK/$f.got" || pt_fail "$f: contents differ"
	[ "$(pt_json_str "$line" peer)" = "$id_seed" ] || pt_fail "$f: not served by the seeder: $line"
	pt_wait_line "$WORK/get_$f.out" '"event":"ready"' 10 >/dev/null
	fetcher=$(pt_json_str "$(head -1 "$WORK/get_$f.out")" id)
	pt_log "$f: $(stat -c %s "$WORK/$f") bytes, lookup $(pt_json_num "$line" lookup_ms) ms," \
	       "offer->open $(pt_json_num "$line" offer_open_ms) ms, transfer $(pt_json_num "$line" transfer_ms) ms," \
	       "$(pt_json_num "$line" mib_per_s) MiB/s"
	holders=$(pt_lookup "$h")
	grep -qxF -- "$id_seed" <<<"$holders" || pt_fail "$f: lookup lacks the seeder: $holders"
	grep -qxF -- "$fetcher" <<<"$holders" || pt_fail "$f: lookup lacks the fetcher $fetcher: $holders"
	[ "$(printf '%s\n' "$holders" | grep -c .)" -eq 2 ] || pt_fail "$f: lookup: $holders"
done
# The daemon only takes the allowed Origin (http://127.0.0.1 here).
rc=0
timeout 20 "${PEER[@]}" --server "$PT_URL" --origin http://127.0.0.2 lookup "$h" \
	>"$WORK/origin.out" 2>"$WORK/origin.err" || rc=$?
[ $rc -eq 2 ] && grep -q '(1008' "$WORK/origin.err" ||
	pt_fail "a foreign Origin was not refused with 1008 (exit $rc): $(cat "$WORK/origin.err")"
pt_log "ok"
