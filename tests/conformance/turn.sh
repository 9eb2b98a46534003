#!/usr/bin/env bash
# Conformance — through a TURN relay: a real coturn (use-auth-secret) and a
# peertrackd that hands out its credentials in welcome.ice_servers. Two C
# peers forced to relay-only move a file through coturn (its log shows the
# allocations, made with each peer's own welcome credentials); coturn
# refuses an expired and a forged credential; after a secret rotation (the
# daemon re-reads its secret file on SIGHUP, coturn takes both secrets)
# credentials signed with the old and the new secret both work, until the
# old secret leaves coturn.
. "$(dirname "$0")/lib.sh"
. "$PT_ROOT/tests/lib/coturn.sh"
WSCLIENT="$PT_ROOT/tests/integration/lib/wsclient.py"
OLD=old-Secret-4f1a NEW=new-Secret-c93e

# ice_of — "USER CRED" of a fresh connection's TURN entry.
ice_of() {
	timeout 20 python3 "$WSCLIENT" --origin http://127.0.0.1 ice "$PT_URL" | sed -n 's/^turn //p'
}

pt_coturn_start "$OLD"
printf '%s\n' "$OLD" >"$WORK/turn.secret"
chmod 600 "$WORK/turn.secret"
PT_EXTRA_CONF="turn_urls = turn:127.0.0.1:$TURN_PORT?transport=udp
turn_secret_file = $WORK/turn.secret
turn_credential_ttl_s = 600"
pt_daemon

# 1. A relayed transfer between two relay-only C peers.
pt_random "$WORK/file" $((1 << 20))
h=$(pt_sha "$WORK/file")
pt_seed seed --relay-only -- "$WORK/file"
pt_spawn get timeout 120 "${PEER[@]}" --server "$PT_URL" --json --relay-only fetch "$h" -o "$WORK/file.got"
line=$(pt_wait_line "$WORK/get.out" '"event":"fetched"' 90)
grep -q '"ok":true' <<<"$line" || pt_fail "relayed fetch: $line"
cmp -s "$WORK/file" "$WORK/file.got" || pt_fail "relayed fetch: contents differ"
fetcher=$(pt_json_str "$(head -1 "$WORK/get.out")" id)
for id in "$id_seed" "$fetcher"; do
	grep -qE "user <[0-9]+:$id>: incoming packet ALLOCATE processed, success" "$TURN_LOG" ||
		pt_fail "coturn made no relay allocation for $id"
done
pt_log "relayed 1 MiB: offer->open $(pt_json_num "$line" offer_open_ms) ms, $(pt_json_num "$line" mib_per_s) MiB/s"

# 2. What coturn refuses: a forged and an expired credential.
read -r user cred <<<"$(ice_of)"
[ -n "$cred" ] || pt_fail "no TURN credential in welcome"
[ "$cred" = "$(pt_turn_cred "$OLD" "$user")" ] || pt_fail "welcome's credential is not HMAC-SHA1($user)"
pt_turn_probe "$user" "$cred" || pt_fail "coturn refused a welcome credential"
pt_turn_probe "$user" "$(pt_turn_cred forged-secret "$user")" && pt_fail "coturn took a forged credential"
grep -qF "Cannot find credentials of user <$user>" "$TURN_LOG" || pt_fail "coturn did not log the forged credential"
past="$(( $(date +%s) - 60 )):${user#*:}"
pt_turn_probe "$past" "$(pt_turn_cred "$OLD" "$past")" && pt_fail "coturn took an expired credential"

# 3. Rotation: coturn takes both secrets, the daemon signs with the new one.
read -r user_old cred_old <<<"$(ice_of)"
pt_coturn_start "$NEW" "$OLD"
printf '%s\n%s\n' "$NEW" "$OLD" >"$WORK/turn.secret"
mark=$(wc -l <"$WORK/daemon.err")
kill -HUP "$pid_daemon"
pt_wait_line "$WORK/daemon.err" 'reloaded configuration' 10 "$mark" >/dev/null
read -r user_new cred_new <<<"$(ice_of)"
[ "$cred_new" = "$(pt_turn_cred "$NEW" "$user_new")" ] || pt_fail "after SIGHUP, not signed with the new secret"
pt_turn_probe "$user_old" "$cred_old" || pt_fail "rotation: the old secret's credential was refused"
pt_turn_probe "$user_new" "$cred_new" || pt_fail "rotation: the new secret's credential was refused"
# ... until the old secret is removed from coturn.
pt_coturn_start "$NEW"
pt_turn_probe "$user_old" "$cred_old" && pt_fail "the old secret still works after its removal"
pt_turn_probe "$user_new" "$cred_new" || pt_fail "the new secret's credential was refused"
grep -qF "$OLD" "$WORK/daemon.err" && pt_fail "a secret is in the daemon's log"
pt_log "ok"
