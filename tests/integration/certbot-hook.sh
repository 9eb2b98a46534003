#!/usr/bin/env bash
# certbot-hook.sh — conf/certbot/peertrack-deploy-hook (only its four
# settings changed to this test's paths, and the reload to a SIGHUP of this
# test's daemon) as certbot runs it, against a native-TLS peertrackd:
# another domain's renewal installs nothing and reloads nothing; the
# tracker's own renewal installs the pair (mode 0640, the group) and the
# daemon serves it to new connections; run without RENEWED_LINEAGE it
# refuses with a message.
. "$(dirname "$0")/lib/deploy.sh"

HOOK_SRC="$PT_ROOT/conf/certbot/peertrack-deploy-hook"
LIVE="$WORK/letsencrypt/live"
mkdir -p "$LIVE/tracker.example.org" "$LIVE/other.example.org" "$WORK/tls"
pt_selfsigned old localhost
pt_selfsigned new localhost
pt_selfsigned other localhost
cp "$WORK/old.crt" "$WORK/tls/fullchain.pem"; cp "$WORK/old.key" "$WORK/tls/privkey.pem"
cp "$WORK/new.crt" "$LIVE/tracker.example.org/fullchain.pem"; cp "$WORK/new.key" "$LIVE/tracker.example.org/privkey.pem"
cp "$WORK/other.crt" "$LIVE/other.example.org/fullchain.pem"; cp "$WORK/other.key" "$LIVE/other.example.org/privkey.pem"

pt_daemon d "[security]
allow_missing_origin = yes
[tls]
tls_cert = $WORK/tls/fullchain.pem
tls_key = $WORK/tls/privkey.pem"
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/old.crt")" ] || pt_fail "not serving the old certificate"

GROUP=$(id -gn)
set -- "LINEAGE=/etc/letsencrypt/live/tracker.example.org" "LINEAGE=$LIVE/tracker.example.org" \
       "DEST=/etc/peertrack/tls" "DEST=$WORK/tls" \
       "GROUP=peertrack" "GROUP=$GROUP" \
       'RELOAD="systemctl reload peertrackd"' "RELOAD=\"kill -HUP $pid_d\""
cp "$HOOK_SRC" "$WORK/hook"
while [ $# -gt 0 ]; do
	grep -qxF -- "$1" "$WORK/hook" || pt_fail "hook: no line '$1'"
	python3 -c 'import sys; p, a, b = sys.argv[1:]; s = open(p).read(); open(p, "w").write(s.replace(a + "\n", b + "\n"))' "$WORK/hook" "$1" "$2"
	shift 2
done

# -- another domain renewed: nothing installed, no reload -------------------
mark=$(pt_lines "$WORK/d.err")
RENEWED_LINEAGE="$LIVE/other.example.org" RENEWED_DOMAINS=other.example.org "$WORK/hook" 2>"$WORK/other.err" ||
	pt_fail "hook failed for another lineage: $(cat "$WORK/other.err")"
grep -q 'nothing to do' "$WORK/other.err" || pt_fail "hook: no word for another lineage"
cmp -s "$WORK/tls/fullchain.pem" "$WORK/old.crt" && cmp -s "$WORK/tls/privkey.pem" "$WORK/old.key" ||
	pt_fail "another domain's renewal replaced peertrackd's files"
! grep -q 'reloaded' <(tail -n +$((mark + 1)) "$WORK/d.err") || pt_fail "another domain's renewal reloaded the daemon"
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/old.crt")" ] || pt_fail "served certificate changed"
pt_log "other.example.org renewed: nothing installed, no reload"

# -- without RENEWED_LINEAGE: refused ---------------------------------------
rc=0; env -u RENEWED_LINEAGE "$WORK/hook" 2>"$WORK/unset.err" || rc=$?
[ $rc -eq 2 ] && grep -q 'RENEWED_LINEAGE is not set' "$WORK/unset.err" || pt_fail "without RENEWED_LINEAGE: exit $rc"

# -- the tracker's own lineage: installed and served ------------------------
mark=$(pt_lines "$WORK/d.err")
RENEWED_LINEAGE="$LIVE/tracker.example.org/" RENEWED_DOMAINS=tracker.example.org "$WORK/hook" 2>"$WORK/own.err" ||
	pt_fail "hook failed for the tracker's lineage: $(cat "$WORK/own.err")"
pt_wait_line "$WORK/d.err" 'TLS certificate reloaded' 10 "$mark" >/dev/null
cmp -s "$WORK/tls/fullchain.pem" "$WORK/new.crt" && cmp -s "$WORK/tls/privkey.pem" "$WORK/new.key" ||
	pt_fail "the renewed pair was not installed"
for f in fullchain.pem privkey.pem; do
	[ "$(stat -c '%a %G' "$WORK/tls/$f")" = "640 $GROUP" ] || pt_fail "$f: $(stat -c '%a %G' "$WORK/tls/$f")"
done
[ ! -e "$WORK/tls/fullchain.pem.new" ] && [ ! -e "$WORK/tls/privkey.pem.new" ] || pt_fail "temporary files left"
[ "$(pt_served_fingerprint "$port_d")" = "$(pt_fingerprint "$WORK/new.crt")" ] ||
	pt_fail "new connections do not get the renewed certificate"
pt_log "tracker.example.org renewed: pair installed 0640, daemon reloaded, new certificate served"

kill -TERM "$pid_d"
rc=0; pt_wait_exit "$pid_d" 10 || rc=$?
[ $rc -eq 0 ] || pt_fail "daemon exit status $rc"
pt_log "ok"
