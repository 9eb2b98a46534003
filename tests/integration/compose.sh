#!/usr/bin/env bash
# compose.sh — docker/compose.yml, without a Docker engine:
#   its shape: no service shares another's network namespace; every image
#     pinned (no "latest"), nginx on a stable (even) branch; every service's
#     log size bounded; peertrackd on the internal network only, without
#     published ports; the addresses that must agree do (nginx's address =
#     PEERTRACK_TRUSTED_PROXIES, peertrackd's = PEERTRACK_UPSTREAM, both in
#     the backend subnet); the files it mounts exist;
#   its network, emulated: two network namespaces made here, joined by a veth
#     pair with the compose file's addresses: peertrackd with the compose
#     environment in one, nginx in the other with the shipped nginx.conf and
#     the site docker/nginx-start.sh writes (no [::] listens). A client
#     through nginx is seen by its own address; peertrackd restarts and
#     nginx, untouched, serves again.
. "$(dirname "$0")/lib/deploy.sh"

[ "$(id -u)" -eq 0 ] || pt_skip "needs root (network namespaces)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || pt_fail "nginx missing"
python3 -c 'import yaml' 2>/dev/null || pt_fail "python3-yaml missing (scripts/install-deps.sh --test)"
COMPOSE="$PT_ROOT/docker/compose.yml"
HOST=tracker.example.org

# -- the file --------------------------------------------------------------------
python3 - "$COMPOSE" >"$WORK/shape.out" 2>&1 <<'PY' || pt_fail "compose.yml: $(cat "$WORK/shape.out")"
import ipaddress, os, re, sys, yaml
path = sys.argv[1]
c = yaml.safe_load(open(path))
svc, bad = c["services"], []
for name, s in svc.items():
    nm = s.get("network_mode", "")
    if nm.startswith("service:") or nm.startswith("container:"):
        bad.append("%s shares the network namespace of %s" % (name, nm))
    img = s.get("image", "")
    if "build" not in s:
        tag = img.rsplit(":", 1)[1] if ":" in img.split("/")[-1] else ""
        if not re.search(r"\d", tag) or tag == "latest":
            bad.append("%s: image %r not pinned to a version" % (name, img))
    opts = (s.get("logging") or {}).get("options") or {}
    if not opts.get("max-size") or not opts.get("max-file"):
        bad.append("%s: log size not bounded" % name)
    for v in s.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            if not os.path.exists(os.path.join(os.path.dirname(path), src)):
                bad.append("%s mounts %s, which does not exist" % (name, src))
m = re.match(r"^nginx:1\.(\d+)(\.\d+)?(-\w+)?$", svc["nginx"]["image"])
if not m or int(m.group(1)) % 2:
    bad.append("nginx image %r is not a stable branch (1.EVEN)" % svc["nginx"]["image"])
d, n = svc["peertrackd"], svc["nginx"]
if d.get("ports"):
    bad.append("peertrackd publishes ports")
if sorted(p.split(":")[-1] for p in n.get("ports", [])) != ["443", "80"]:
    bad.append("nginx does not publish 80 and 443")
net = c["networks"]["backend"]
if not net.get("internal"):
    bad.append("the backend network is not internal")
if list(d["networks"]) != ["backend"]:
    bad.append("peertrackd is on %s, not only backend" % list(d["networks"]))
subnet = ipaddress.ip_network(net["ipam"]["config"][0]["subnet"])
d_ip = d["networks"]["backend"]["ipv4_address"]
n_ip = n["networks"]["backend"]["ipv4_address"]
for ip in (d_ip, n_ip):
    if ipaddress.ip_address(ip) not in subnet:
        bad.append("%s outside %s" % (ip, subnet))
env_d, env_n = d["environment"], n["environment"]
if env_d["PEERTRACK_TRUSTED_PROXIES"] != n_ip + "/32":
    bad.append("trusted_proxies %s is not nginx's %s" % (env_d["PEERTRACK_TRUSTED_PROXIES"], n_ip))
port = env_d["PEERTRACK_LISTEN"].rsplit(":", 1)[1]
if env_n["PEERTRACK_UPSTREAM"] != "%s:%s" % (d_ip, port):
    bad.append("upstream %s is not peertrackd's %s:%s" % (env_n["PEERTRACK_UPSTREAM"], d_ip, port))
if bad:
    sys.exit("\n".join(bad))
print(d_ip, n_ip, subnet.prefixlen, env_d["PEERTRACK_LISTEN"], env_d["PEERTRACK_TRUSTED_PROXIES"],
      env_d["PEERTRACK_ALLOWED_ORIGINS"], env_n["PEERTRACK_UPSTREAM"])
PY
read -r D_IP N_IP PREFIX LISTEN TRUSTED ORIGIN UPSTREAM <"$WORK/shape.out"
pt_log "compose.yml: own namespaces, pinned images, bounded logs; nginx $N_IP -> peertrackd $UPSTREAM (trusted_proxies $TRUSTED)"

# -- the network, emulated -----------------------------------------------------------
NSN="pt-nginx-$$" NSD="pt-daemon-$$"
# Run by pt_cleanup once the processes are gone.
pt_cleanup_after() { ip netns del "$NSN" 2>/dev/null || true; ip netns del "$NSD" 2>/dev/null || true; }
ip netns add "$NSN" && ip netns add "$NSD" || pt_fail "ip netns add"
ip link add "vn$$" type veth peer name "vd$$" || pt_fail "veth"
ip link set "vn$$" netns "$NSN" && ip link set "vd$$" netns "$NSD"
ip -n "$NSN" addr add "$N_IP/$PREFIX" dev "vn$$"
ip -n "$NSD" addr add "$D_IP/$PREFIX" dev "vd$$"
for ns in "$NSN" "$NSD"; do ip -n "$ns" link set lo up; done
ip -n "$NSN" link set "vn$$" up && ip -n "$NSD" link set "vd$$" up || pt_fail "links up"

start_daemon() { # NAME
	mkdir -p "$WORK/state"
	pt_spawn "$1" ip netns exec "$NSD" env PEERTRACK_LISTEN="$LISTEN" PEERTRACK_TRUSTED_PROXIES="$TRUSTED" \
		PEERTRACK_ALLOWED_ORIGINS="$ORIGIN" PEERTRACK_LOG_LEVEL=debug "$DAEMON" --set "state_dir=$WORK/state"
	pt_wait_line "$WORK/$1.err" "listening on ${LISTEN//./\\.}" 20 >/dev/null
}
start_daemon d1

# nginx: the shipped nginx.conf and the site as nginx-start.sh writes it
# (certificate and webroot paths moved here first, as nginx.sh does).
pt_selfsigned cert "$HOST"
mkdir -p "$WORK/nginx" "$WORK/acme"
sed -e "s|/etc/letsencrypt/live/$HOST/fullchain.pem|$WORK/cert.crt|" \
    -e "s|/etc/letsencrypt/live/$HOST/privkey.pem|$WORK/cert.key|" \
    -e "s|root /var/www/letsencrypt;|root $WORK/acme;|" \
    "$PT_ROOT/conf/nginx/peertrack.conf" >"$WORK/site.in"
PEERTRACK_UPSTREAM="$UPSTREAM" SITE="$WORK/site.in" OUT="$WORK/nginx/site.conf" NGINX_START_ONLY_WRITE=1 \
	sh "$PT_ROOT/docker/nginx-start.sh" || pt_fail "nginx-start.sh"
! grep -q 'listen[[:space:]]*\[::\]' "$WORK/nginx/site.conf" || pt_fail "the compose site still listens on [::]"
grep -q "server $UPSTREAM;" "$WORK/nginx/site.conf" || pt_fail "the compose site's upstream is not $UPSTREAM"
pt_nginx_main_conf "$WORK/nginx/nginx.conf"
chmod a+rx "$WORK" "$WORK/acme"
pt_spawn nginx ip netns exec "$NSN" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
up=""
for _ in $(seq 250); do
	ip netns exec "$NSN" curl -sk -o /dev/null "https://127.0.0.1/healthz" 2>/dev/null && { up=1; break; }
	kill -0 "$pid_nginx" 2>/dev/null || break
	sleep 0.02
done
[ -n "$up" ] || pt_fail "nginx did not answer in its namespace"

WSS="wss://127.0.0.1:443/v1"
client() { # LOGNAME: a flow through nginx; checks the daemon saw 127.0.0.1 (the client), not nginx
	ip netns exec "$NSN" timeout 60 python3 "$WSCLIENT" --cafile "$WORK/cert.crt" --servername "$HOST" \
		--origin "$ORIGIN" flow "$WSS" >"$WORK/flow.out" || pt_fail "client through nginx"
	read -r _ _ a _ <"$WORK/flow.out"
	pt_wait_line "$WORK/$1.err" "peer ${a#a=} connected from 127\.0\.0\.1\$" 5 >/dev/null
}
client d1
pt_log "through nginx ($N_IP, own namespace) to peertrackd ($D_IP): $(cat "$WORK/flow.out"); the daemon saw the client's address"

# peertrackd restarts (a new container at the same address); nginx is not touched.
kill -TERM "$pid_d1"
rc=0; pt_wait_exit "$pid_d1" 10 || rc=$?
[ $rc -eq 0 ] || pt_fail "peertrackd exit status $rc"
start_daemon d2
client d2
kill -0 "$pid_nginx" || pt_fail "nginx died"
pt_log "peertrackd restarted: nginx, untouched, serves again"
pt_log "ok"
