#!/usr/bin/env bash
# Conformance 3 — failure: the holder serving a fetch is SIGKILLed in the
# middle of the transfer; the fetcher falls back to the other holder and
# completes (resuming where it was), and the daemon drops the dead holder
# from lookups within the heartbeat timeout — both when its socket closes
# (SIGKILL) and when it just goes silent (SIGSTOP: only the timeout can tell).
. "$(dirname "$0")/lib.sh"

# Resumable sessions off: with them a SIGKILLed holder is parked for
# resume_window_ms (it may be a network blip) and its contacts hear peer-left
# only when the window ends, so the fetcher's fallback would wait on its own
# stall timeout instead of the daemon's word. Parking is tested in resume.sh
# and test_resume; this test is about the daemon dropping a dead holder.
PT_EXTRA_CONF=$'[resume]\nresume_window_ms = 0'
pt_daemon   # heartbeat_ms $PT_HB, timeout_ms $PT_TO
pt_random "$WORK/res" $((2 << 20))
h=$(pt_sha "$WORK/res")
# Throttled (test-only) so the transfer lasts ~2 s and the kill lands mid-way.
pt_seed a --throttle 1024 -- "$WORK/res"
pt_seed b --throttle 1024 -- "$WORK/res"

pt_spawn get timeout 60 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/got"
first=$(pt_wait_line "$WORK/get.err" ': first chunk ' 20)
victim=$(printf '%s\n' "$first" | sed -E 's/^peertrack-peer: ([^:]+): first chunk.*/\1/')
case "$victim" in
"$id_a") pt_kill_peer "$pid_a"; other=$id_b ;;
"$id_b") pt_kill_peer "$pid_b"; other=$id_a ;;
*) pt_fail "first chunk from an unknown peer: $first" ;;
esac
t_kill=$(date +%s%N)
pt_log "killed $victim after its first chunk"

# timeout_ms is $PT_TO: a lookup that starts that long after the kill must not
# name the dead holder (its socket closed at once, so it should be gone far
# sooner; process start-up of the lookup client is not the daemon's time).
gone=""
for n in $(seq 40); do
	t_start=$(( ($(date +%s%N) - t_kill) / 1000000 ))
	if ! pt_lookup "$h" | grep -qxF -- "$victim"; then gone=$t_start; break; fi
	[ $t_start -lt $PT_TO ] || pt_fail "a lookup started $t_start ms after the kill still lists $victim"
	sleep 0.05
done
[ -n "$gone" ] || pt_fail "daemon still lists the killed holder"
pt_lookup "$h" | grep -qxF -- "$other" || pt_fail "lookup lost the live holder"
pt_log "dead holder absent from a lookup started $gone ms after the kill"

line=$(pt_wait_line "$WORK/get.out" '"event":"fetched"' 30)
grep -q '"ok":true' <<<"$line" || pt_fail "fetch failed: $line"
cmp -s "$WORK/res" "$WORK/got" || pt_fail "contents differ"
[ "$(pt_json_str "$line" peer)" = "$other" ] || pt_fail "not completed by the other holder: $line"
first_result=$(printf '%s\n' "$line" | grep -oE '"attempts":\[\{"peer":"[^"]+","result":"[^"]+"' | sed -E 's/.*"result":"//; s/"$//')
case "$first_result" in
peer-gone|failed|timeout) ;;
*) pt_fail "first attempt ended as '$first_result': $line" ;;
esac
pt_log "fallback after '$first_result'; completed by $other $(( ($(date +%s%N) - t_kill) / 1000000 )) ms after the kill"

# A holder that freezes keeps its TCP connection: the daemon must notice the
# silence: within timeout_ms, plus a heartbeat period and a second of slack.
pt_seed frozen -- "$WORK/res"
frozen=$(pgrep -P "$pid_frozen")
KILLED[$pid_frozen]=1 # it will find itself disconnected: not a clean exit
kill -STOP "$frozen"
t_stop=$(date +%s%N)
gone=""
for n in $(seq 150); do
	t_start=$(( ($(date +%s%N) - t_stop) / 1000000 ))
	if ! pt_lookup "$h" | grep -qxF -- "$id_frozen"; then gone=$t_start; break; fi
	[ $t_start -lt $((PT_TO + PT_HB + 1000)) ] || pt_fail "a lookup started $t_start ms after SIGSTOP still lists the frozen holder"
	sleep 0.1
done
kill -CONT "$frozen"
[ -n "$gone" ] || pt_fail "daemon still lists the frozen holder"
pt_log "frozen holder absent from a lookup started $gone ms after SIGSTOP (timeout_ms $PT_TO)"
pt_log "ok"
