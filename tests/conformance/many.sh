#!/usr/bin/env bash
# Conformance 2 — many: one seeder, five fetchers at once; then the seeder
# leaves and a second wave of five is served by the first wave alone.
# The second wave leaves as soon as it is done, so it cannot serve itself.
. "$(dirname "$0")/lib.sh"

N=5
pt_daemon
pt_random "$WORK/res" $((2 << 20))
h=$(pt_sha "$WORK/res")
pt_seed seed -- "$WORK/res"

# wave NAME [--stay] — N concurrent fetchers (with --stay they serve
# afterwards; without, they leave once done, so no one in their own wave
# can be served by them); checks every result and prints
# "ID SERVED-BY TRANSFER-MS" per fetcher.
wave() {
	local w=$1 stay=${2:-} i line
	for i in $(seq $N); do
		pt_spawn "${w}_$i" timeout 60 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/$w.$i" $stay
	done
	for i in $(seq $N); do
		line=$(pt_wait_line "$WORK/${w}_$i.out" '"event":"fetched"' 60)
		grep -q '"ok":true' <<<"$line" || pt_fail "$w $i: $line"
		cmp -s "$WORK/res" "$WORK/$w.$i" || pt_fail "$w $i: contents differ"
		[ -z "$stay" ] || pt_wait_line "$WORK/${w}_$i.out" '"event":"ready"' 10 >/dev/null
		printf '%s %s %s\n' "$(pt_json_str "$(head -1 "$WORK/${w}_$i.out")" id)" \
		       "$(pt_json_str "$line" peer)" "$(pt_json_num "$line" transfer_ms)"
	done
}

wave1=$(wave w1 --stay)
pt_log "wave 1 (id, served by, transfer ms):"; printf '%s\n' "$wave1" >&2
# A fetcher that starts late may be served by one of its wave that is done.
ids1=$(printf '%s\n' "$wave1" | awk '{print $1}')
for by in $(printf '%s\n' "$wave1" | awk '{print $2}'); do
	[ "$by" = "$id_seed" ] || grep -qxF -- "$by" <<<"$ids1" ||
		pt_fail "wave 1 served by $by, neither the seeder nor a wave-1 peer"
done
printf '%s\n' "$wave1" | awk '{print $2}' | grep -qxF -- "$id_seed" || pt_fail "the seeder served nobody"

kill -TERM "$pid_seed"
for n in $(seq 100); do kill -0 "$pid_seed" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$pid_seed" 2>/dev/null || pt_fail "seeder did not stop on SIGTERM"
# Its WebSocket is closed: the daemon must forget it at once (bounded wait).
for n in $(seq 50); do pt_lookup "$h" | grep -qxF -- "$id_seed" || break; sleep 0.1; done
! pt_lookup "$h" | grep -qxF -- "$id_seed" || pt_fail "the stopped seeder is still a holder"
[ "$(pt_lookup "$h" | grep -c .)" -eq $N ] || pt_fail "lookup does not list the $N wave-1 peers"

wave2=$(wave w2)
pt_log "wave 2 (id, served by, transfer ms):"; printf '%s\n' "$wave2" >&2
for by in $(printf '%s\n' "$wave2" | awk '{print $2}'); do
	grep -qxF -- "$by" <<<"$ids1" || pt_fail "wave 2 served by $by, not a wave-1 peer"
done
pt_log "ok"
