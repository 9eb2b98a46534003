#!/usr/bin/env bash
# Conformance — a seeder outlives its daemon. The daemon is SIGKILLed (the
# seeder's connection drops without a close frame, so it presents its
# resume token to the daemon started in its place, which refuses it:
# tokens do not survive a restart) and then stopped with SIGTERM (close
# 1001: a fresh session after a jittered delay). Each time the seeder
# carries on under a new id, announces what it holds again, and a fetcher
# is served by it under that id (the peer wire header carries the id).
. "$(dirname "$0")/lib.sh"

pt_daemon
port=$PT_PORT
pt_random "$WORK/file" $((256 << 10))
h=$(pt_sha "$WORK/file")
pt_seed seed -- "$WORK/file"
pt_log "seeder $id_seed"

# restart NAME — a new daemon on the same port and configuration.
restart() {
	pt_spawn "$1" "$DAEMON" --listen "127.0.0.1:$port" -c "$WORK/peertrack.conf"
	pt_wait_line "$WORK/$1.err" "listening on 127\.0\.0\.1:$port" 10 >/dev/null
}

# renewed FROM — the seeder's id after its next 'renewed' line (and the
# 'ready' that follows its re-announce).
renewed() {
	local line id
	line=$(pt_wait_line "$WORK/seed.out" '^renewed ' 60 "$1") || exit 1
	id=${line#renewed }
	pt_wait_line "$WORK/seed.out" "^ready $id\$" 20 "$1" >/dev/null
	printf '%s\n' "$id"
}

# 1. A crash: a drop, a resume refused by the new daemon, the same
#    connection adopted under its fresh id.
KILLED[$pid_daemon]=1
kill -KILL "$pid_daemon"
lines=$(wc -l <"$WORK/seed.out")
restart daemon2
id2=$(renewed "$lines")
[ "$id2" != "$id_seed" ] || pt_fail "the seeder kept its id $id2 across a daemon restart"
grep -q 'resume refused: resume-expired' "$WORK/seed.err" || pt_fail "no refused resume in the seeder's log"
holders=$(pt_lookup "$h")
[ "$holders" = "$id2" ] || pt_fail "after the crash the holders are '$holders', not the seeder's new id $id2"
pt_log "after a crash: resume refused, renewed as $id2"

# 2. A clean stop: close 1001, a fresh connection after 1-2 s.
lines=$(wc -l <"$WORK/seed.out")
kill -TERM "$pid_daemon2"
st=0; wait "$pid_daemon2" || st=$?
KILLED[$pid_daemon2]=1
[ $st -eq 0 ] || pt_fail "the first restarted daemon exited with $st on SIGTERM"
restart daemon3
id3=$(renewed "$lines")
[ "$id3" != "$id2" ] || pt_fail "the seeder kept its id $id3 across a daemon stop"
grep -q '(1001' "$WORK/seed.err" || pt_fail "the seeder did not see close 1001"
pt_spawn get timeout 120 "${PEER[@]}" --server "$PT_URL" --json fetch "$h" -o "$WORK/file.got"
line=$(pt_wait_line "$WORK/get.out" '"event":"fetched"' 90)
grep -q '"ok":true' <<<"$line" || pt_fail "fetch after the restarts: $line"
cmp -s "$WORK/file" "$WORK/file.got" || pt_fail "contents differ"
[ "$(pt_json_str "$line" peer)" = "$id3" ] || pt_fail "not served by the renewed seeder $id3: $line"
kill -0 "$pid_seed" || pt_fail "the seeder exited"
pt_log "after a stop: renewed as $id3 and served a fetch"
pt_log "ok"
