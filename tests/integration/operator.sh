#!/usr/bin/env bash
# operator.sh — what an operator sees of peertrackd outside the protocol:
#   - --dump-config prints the configuration in effect (file, environment,
#     --set/--listen), loadable again as it is;
#   - under systemd (JOURNAL_STREAM naming stderr) every log line carries
#     its syslog priority, so journalctl -p works;
#   - allowed_origins = * draws a warning when listening beyond loopback
#     (in a network namespace of the test's own), and none on loopback;
#   - the admin socket is 0660 whatever the umask.
. "$(dirname "$0")/lib/deploy.sh"

# -- --dump-config ----------------------------------------------------------------
cat >"$WORK/dump.conf" <<EOF
[log]
log_level = debug
[security]
allowed_origins = https://a.example https://b.example
trusted_proxies = 10.0.0.0/8, ::1
EOF
PEERTRACK_MAX_CONNECTIONS=77 "$DAEMON" -c "$WORK/dump.conf" --set rate_burst=9 \
	--listen 127.0.0.1:1234 --dump-config >"$WORK/dump.out" 2>"$WORK/dump.err" ||
	pt_fail "--dump-config failed: $(cat "$WORK/dump.err")"
for want in '^log_level = debug$' '^max_connections = 77$' '^rate_burst = 9$' \
	'^listen = 127\.0\.0\.1:1234$' '^allowed_origins = https://a\.example https://b\.example$' \
	'^trusted_proxies = 10\.0\.0\.0/8 ::1/128$' '^heartbeat_ms = 15000$' "^# peertrackd effective configuration: the defaults, then $WORK/dump.conf"; do
	grep -Eq -- "$want" "$WORK/dump.out" || pt_fail "--dump-config lacks /$want/"
done
# Changed keys are marked, defaults are not.
grep -B1 '^rate_burst = 9$' "$WORK/dump.out" | grep -q '^# changed from the default$' ||
	pt_fail "rate_burst not marked as changed"
grep -B1 '^heartbeat_ms = 15000$' "$WORK/dump.out" | grep -q '^# changed' &&
	pt_fail "heartbeat_ms marked as changed"
# Every key appears exactly once (the sample has each commented out), and the
# dump loads back to itself.
keys=$(grep -Ec '^[a-z_]+ =' "$WORK/dump.out")
[ "$keys" -eq "$(grep -Ec '^#[a-z_]+ =' "$PT_ROOT/conf/peertrack.conf")" ] ||
	pt_fail "--dump-config has $keys keys, the sample has another count"
"$DAEMON" -c "$WORK/dump.out" --check-config >/dev/null || pt_fail "the dump does not load"
"$DAEMON" -c "$WORK/dump.out" --dump-config | tail -n +5 >"$WORK/dump2.out"
tail -n +5 "$WORK/dump.out" | diff - "$WORK/dump2.out" >&2 || pt_fail "dump of the dump differs"
# An invalid configuration is refused, not dumped.
"$DAEMON" --set timeout_ms=100 --set heartbeat_ms=200 --dump-config >/dev/null 2>&1 &&
	pt_fail "--dump-config printed an invalid configuration"
pt_log "--dump-config: file, environment and options applied; loads back to itself"

# -- syslog priorities under journald ------------------------------------------------
mkdir -p "$WORK/j.state"
: >"$WORK/j.err"
jstream=$(stat -c '%d:%i' "$WORK/j.err")
# Also: the admin socket under an empty umask.
pt_spawn j sh -c 'umask 000; exec env JOURNAL_STREAM="$0" "$@"' "$jstream" "$DAEMON" \
	--listen 127.0.0.1:0 --set "state_dir=$WORK/j.state" --set allow_missing_origin=yes
pt_wait_line "$WORK/j.err" 'listening on 127\.0\.0\.1:[0-9]+' 20 >/dev/null
grep -Eq '^<6>INFO listening on 127\.0\.0\.1:' "$WORK/j.err" || pt_fail "no <6> prefix: $(head -3 "$WORK/j.err")"
grep -Evq '^<[3467]>(ERROR|WARN|INFO|DEBUG) ' "$WORK/j.err" &&
	pt_fail "a line without its priority: $(grep -Ev '^<[3467]>' "$WORK/j.err" | head -1)"
mode=$(stat -c '%a' "$WORK/j.state/admin.sock")
[ "$mode" = 660 ] || pt_fail "admin socket mode $mode under umask 000"
kill -TERM "$pid_j"
pt_wait_exit "$pid_j" 10 || pt_fail "daemon exit status $?"
grep -Eq '^<6>INFO stopped$' "$WORK/j.err" || pt_fail "no <6>INFO stopped"
pt_log "journald: every line has its <N> priority; admin socket 0660 under umask 000"

# -- allowed_origins = * beyond loopback ---------------------------------------------------
# On loopback (behind a proxy): no warning.
pt_daemon lo "[security]
allow_missing_origin = yes"
pt_wait_line "$WORK/lo.err" 'INFO peertrackd .* ready' 20 >/dev/null
grep -q 'allowed_origins = \*' "$WORK/lo.err" && pt_fail "origin warning on loopback"
# On every address, inside a namespace of our own: warned; with a list, not.
command -v unshare >/dev/null || pt_fail "unshare missing (util-linux)"
for origins in '*' 'https://a.example'; do
	n=$((${n:-0} + 1))
	mkdir -p "$WORK/ns$n.state"
	pt_spawn "ns$n" timeout 60 unshare --net --kill-child --fork sh -c 'ip link set lo up && exec "$@"' sh \
		"$DAEMON" --listen 0.0.0.0:0 --set "state_dir=$WORK/ns$n.state" --set "allowed_origins=$origins"
	# "ready" follows the start's last line.
	pt_wait_line "$WORK/ns$n.err" 'INFO peertrackd .* ready' 20 >/dev/null
	pid="pid_ns$n"
	kill -TERM "${!pid}"
	pt_wait_exit "${!pid}" 10 || true
	if [ "$origins" = '*' ]; then
		grep -q 'WARN allowed_origins = \* while listening on 0\.0\.0\.0:0' "$WORK/ns$n.err" ||
			pt_fail "no warning for allowed_origins = * on 0.0.0.0"
	else
		grep -q 'allowed_origins' "$WORK/ns$n.err" && pt_fail "warning although origins are listed"
	fi
done
pt_log "allowed_origins = *: warned on 0.0.0.0 (own namespace), not on loopback or with a list"
pt_log "ok"
