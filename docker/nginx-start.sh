#!/bin/sh
# nginx's entry point in docker/compose.yml. Writes the site of
# conf/nginx/peertrack.conf for the compose networks:
#   - the upstream is peertrackd's fixed address (PEERTRACK_UPSTREAM), not
#     127.0.0.1: nginx has its own network namespace;
#   - the "listen [::]" lines go: the container's side of Docker's default
#     bridge is IPv4 only (where the host has no IPv6 at all nginx would not
#     start), and Docker publishes 80/443 on the host's IPv6 addresses too,
#     forwarding to the container's IPv4;
# then reloads nginx whenever certbot renewed a certificate (checked every
# 12 hours), and runs nginx in the foreground.
#   SITE  the site file (default /etc/peertrack/nginx-site.conf)
#   OUT   where the result goes (default /etc/nginx/conf.d/default.conf)
#   NGINX_START_ONLY_WRITE=1  write the site and exit (for the tests)
set -eu
: "${PEERTRACK_UPSTREAM:?PEERTRACK_UPSTREAM not set (HOST:PORT of peertrackd)}"
SITE=${SITE:-/etc/peertrack/nginx-site.conf}
OUT=${OUT:-/etc/nginx/conf.d/default.conf}

sed -e "s|server 127\.0\.0\.1:8000;|server $PEERTRACK_UPSTREAM;|" -e '/listen[[:space:]]*\[::\]/d' "$SITE" >"$OUT.new"
grep -q "server $PEERTRACK_UPSTREAM;" "$OUT.new" || { echo "nginx-start: no 'server 127.0.0.1:8000;' in $SITE" >&2; exit 1; }
mv "$OUT.new" "$OUT"
[ -z "${NGINX_START_ONLY_WRITE:-}" ] || exit 0

stamp=/tmp/nginx-certs-loaded
touch "$stamp"
(
	while sleep 12h; do
		if [ -n "$(find -L /etc/letsencrypt/live -name '*.pem' -newer "$stamp" 2>/dev/null)" ]; then
			touch "$stamp"
			nginx -s reload
		fi
	done
) &
exec nginx -g 'daemon off;'
