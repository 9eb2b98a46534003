#!/usr/bin/env bash
# backup.sh — docs/OPERATIONS.md "Backup and restore", as written: while the
# daemon runs under load (peertrack-bench tracker traffic, bans being added
# over the admin socket), `sqlite3 DB ".backup FILE"` takes a copy (SQLite's
# online backup API, safe against the writer thread and the WAL). The copy
# passes `PRAGMA integrity_check`, holds every ban added before the backup
# began, and `peertrackctl --db` reads it. Restored (daemon stopped, file put
# back, -wal/-shm removed), the daemon starts on it and lists those bans.
. "$(dirname "$0")/lib/deploy.sh"

CTL="$PT_BIN/peertrackctl"
BENCH="$PT_BIN/peertrack-bench"
command -v sqlite3 >/dev/null || pt_fail "sqlite3 missing (Debian package sqlite3)"
[ -x "$BENCH" ] || pt_fail "no $BENCH"

CONF='[security]
allow_missing_origin = yes
[store]
store_flush_ms = 100'
pt_daemon d "$CONF"
DB="$WORK/d.state/peertrack.db"
ctl() { "$CTL" --socket "$WORK/d.state/admin.sock" "$@"; }

for i in $(seq 1 20); do ctl ban "198.51.100.$i" --reason "before-$i" >/dev/null || pt_fail "ban $i"; done

# Load: 200 peers announcing and looking up, and more bans, during the backup.
pt_spawn bench "$BENCH" --mode tracker --target "127.0.0.1:$port_d" --peers 200 --warmup 1 --duration 8
( for i in $(seq 1 60); do "$CTL" --socket "$WORK/d.state/admin.sock" ban "203.0.113.$i" --reason during \
	>/dev/null || exit 1; sleep 0.05; done ) &
bans_pid=$!
PIDS+=($bans_pid)
# Wait until the store is busy: sessions are being written.
for n in $(seq 200); do
	[ "$(sqlite3 -readonly "$DB" 'SELECT count(*) FROM sessions' 2>/dev/null || echo 0)" -ge 50 ] && break
	[ "$n" -lt 200 ] || pt_fail "no sessions stored under load"
	sleep 0.05
done
[ -s "$DB-wal" ] || pt_fail "no WAL file while the daemon writes (journal_mode)"

sqlite3 "$DB" ".timeout 5000" ".backup '$WORK/backup.db'" || pt_fail "sqlite3 .backup under load"
wait $bans_pid || pt_fail "bans during the backup failed"
pt_log "backup taken under load ($(sqlite3 "$WORK/backup.db" 'SELECT count(*) FROM sessions') sessions in it)"

[ "$(sqlite3 "$WORK/backup.db" 'PRAGMA integrity_check')" = ok ] || pt_fail "backup: integrity_check"
[ ! -e "$WORK/backup.db-wal" ] || [ ! -s "$WORK/backup.db-wal" ] || pt_fail "backup left a WAL to copy along"
for i in $(seq 1 20); do
	[ "$(sqlite3 "$WORK/backup.db" "SELECT reason FROM bans WHERE cidr LIKE '198.51.100.$i/%' OR cidr = '198.51.100.$i'")" = "before-$i" ] ||
		pt_fail "backup lacks the ban of 198.51.100.$i: $(sqlite3 "$WORK/backup.db" 'SELECT cidr, reason FROM bans' | head)"
done
grep -q '198.51.100.20' <<<"$("$CTL" --db "$WORK/backup.db" audit --limit 100)" || pt_fail "peertrackctl --db on the backup: no audit entry"
pt_log "backup: integrity ok, the 20 bans from before, readable by peertrackctl --db"

pt_wait_exit "$pid_bench" 30 >/dev/null || true
kill -TERM "$pid_d"; pt_wait_exit "$pid_d" 15 >/dev/null || pt_fail "daemon did not stop"

# Restore: the copy in place of the database, its old WAL and index gone.
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$WORK/backup.db" "$DB"
pt_spawn d2 "$DAEMON" -c "$WORK/d.conf" --listen 127.0.0.1:0 --set "state_dir=$WORK/d.state"
pt_wait_line "$WORK/d2.err" 'listening on 127\.0\.0\.1:[0-9]+' 20 >/dev/null
out=$(ctl bans) || pt_fail "peertrackctl bans after restore"
for i in $(seq 1 20); do
	grep -q "198\.51\.100\.$i[/ ]" <<<"$out" || pt_fail "restored daemon lacks the ban of 198.51.100.$i: $out"
done
pt_log "restored: the daemon starts on the copy and enforces the 20 bans"
pt_log "ok"
