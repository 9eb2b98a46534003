#!/bin/sh
# The image's HEALTHCHECK (/usr/local/bin/peertrack-healthcheck): GET /healthz
# where the daemon listens. PEERTRACK_LISTEN is what it listens on in the
# image (the variable overrides the config file); a wildcard address is
# reached on loopback. https (certificate not verified: it is for a public
# name, this asks 127.0.0.1) when PEERTRACK_TLS_CERT is set.
listen=${PEERTRACK_LISTEN:-127.0.0.1:8000}
host=${listen%:*}
port=${listen##*:}
case $host in
0.0.0.0) host=127.0.0.1 ;;
"[::]") host="[::1]" ;;
esac
scheme=http
[ -z "${PEERTRACK_TLS_CERT:-}" ] || scheme=https
exec curl -fsS -k --max-time 4 -o /dev/null "$scheme://$host:$port/healthz"
