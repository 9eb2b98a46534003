#!/usr/bin/env bash
# container.sh — the container image (docker/Dockerfile), built and run with
# podman and runc, with no image registry: the base image is the
# debootstrap minbase root of tests/lib/minbase.sh, imported with
# `podman import` and passed as BASE. Then, as an operator runs it:
#   podman run with a mounted config file and a state volume, host network,
#     PEERTRACK_LISTEN on a free 127.0.0.1 port;
#   the mounted config is in force (its allowed_origins: another origin is
#     refused), a client announces, looks up and signals through it;
#   `peertrackctl status` inside the container finds the admin socket;
#   the image's HEALTHCHECK succeeds (`podman healthcheck run`);
#   `podman stop` (SIGTERM) ends it with exit status 0 within its timeout,
#     and the database in the volume holds the client's sessions and hash.
#
# The machine: runc (crun 1.8 refuses its hybrid cgroups), containers.conf
# with default_ulimits = [] (raising RLIMIT_NOFILE is not permitted here),
# builds with --network=host so apt inside reaches the machine's source.
# The base image stays in podman's store for the next run (one a day, as the
# minbase tarball), and so does the last image built (its layers are the
# next build's cache: only the layers from the sources on are rebuilt),
# tagged localhost/peertrack-test:latest, with its build stage tagged
# localhost/peertrack-test:build (untagged, each run's build stage was left
# behind as a dangling image of some 650 MB). On every exit path the images
# these tags no longer name, the container and the volume are removed.
set -euo pipefail
. "$(dirname "$0")/../lib/proc.sh"
. "$(dirname "$0")/../lib/minbase.sh"
WSCLIENT="$PT_ROOT/tests/integration/lib/wsclient.py"
ORIGIN=https://app.example.org

[ "$(id -u)" -eq 0 ] || { pt_log "skipped: needs root (debootstrap, rootful podman)"; exit 0; }
for tool in podman runc sqlite3 python3 curl; do
	command -v $tool >/dev/null || pt_fail "$tool missing (scripts/install-deps.sh --test installs it)"
done

TAG="localhost/peertrack-test:latest"
TAG_BUILD="localhost/peertrack-test:build"
CTR="peertrack-test-$$"
VOL="peertrack-test-state-$$"
old=() # the images the tags named before this run's builds
pt_cleanup() {
	local rc=$? id
	podman rm -f -t 0 "$CTR" >/dev/null 2>&1 || true
	podman volume rm -f "$VOL" >/dev/null 2>&1 || true
	# Replaced by this run's builds (no tag left): gone. Still tagged (a
	# build failed, or nothing changed): kept, it is the cache.
	for id in "${old[@]}"; do
		[ -n "$(podman image inspect --format '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ] ||
			podman rmi "$id" >/dev/null 2>&1 || true
	done
	pt_finish $rc 40 "$WORK"/*.err "$WORK"/*.log
}
pt_begin container

export CONTAINERS_CONF="$WORK/containers.conf"
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

# -- the base image: the minbase root, imported once per tarball ------------
tarball=$(pt_minbase_tarball) || pt_fail "no minbase root"
BASE="localhost/peertrack-minbase:$(basename "$tarball" .tar.gz | sed 's/^minbase-//')"
if ! podman image exists "$BASE"; then
	podman import "$tarball" "$BASE" >"$WORK/import.log" 2>&1 || pt_fail "podman import: $(tail -n 5 "$WORK/import.log")"
	# Older days' base images: no longer used by anything new.
	podman images --format '{{.Repository}}:{{.Tag}}' --filter reference='localhost/peertrack-minbase' |
		grep -vxF "$BASE" | xargs -r podman rmi >/dev/null 2>&1 || true
fi
# Whether podman can run a container here at all (kernel, cgroups, runtime):
# the only condition under which this test is skipped.
if ! podman run --rm --network host --pull=never "$BASE" true >"$WORK/probe.log" 2>&1; then
	pt_log "skipped: podman cannot run a container on this machine: $(tail -n 3 "$WORK/probe.log" | tr '\n' ' ')"
	exit 0
fi
pt_log "base image $BASE"

# -- build -------------------------------------------------------------------
# --format docker: the OCI format has no HEALTHCHECK. The image is used by
# its id: another run may move the tag meanwhile.
# The build stage first, under a tag of its own, so that it is not left
# dangling; the second build takes it from the cache.
t0=$SECONDS
for tag in "$TAG" "$TAG_BUILD"; do
	id=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
	[ -z "$id" ] || old+=("$id")
done
build() { # LOG PODMAN-BUILD-ARGS...
	local log=$1; shift
	podman build --format docker --network=host --pull=never --build-arg BASE="$BASE" \
		--ignorefile "$PT_ROOT/docker/Dockerfile.dockerignore" -f "$PT_ROOT/docker/Dockerfile" \
		"$@" "$PT_ROOT" >"$WORK/$log" 2>&1 || pt_fail "podman build: $(tail -n 20 "$WORK/$log")"
}
build build-stage.log --target build -t "$TAG_BUILD"
build build.log --iidfile "$WORK/iid" -t "$TAG"
IMAGE=$(cat "$WORK/iid"); IMAGE=${IMAGE#sha256:}
pt_log "built $TAG ($IMAGE) in $((SECONDS - t0)) s"
hc=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")
case "$hc" in *peertrack-healthcheck*) ;; *) pt_fail "image without its HEALTHCHECK: $hc" ;; esac

# -- run: mounted config, state volume, host network on a free port ---------
cat >"$WORK/peertrack.conf" <<EOF
[log]
log_level = debug
[security]
allowed_origins = $ORIGIN
EOF
chmod 0644 "$WORK/peertrack.conf"
podman volume create "$VOL" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
# --health-interval=disable: no periodic run (podman would schedule it with
# systemd timers, and systemd is not running here); `podman healthcheck run`
# below runs the image's check once.
podman run -d --name "$CTR" --network host --pull=never --health-interval=disable \
	-v "$WORK/peertrack.conf:/etc/peertrack/peertrack.conf:ro" -v "$VOL:/var/lib/peertrack" \
	-e PEERTRACK_LISTEN="127.0.0.1:$PORT" "$IMAGE" >"$WORK/run.log" 2>&1 ||
	pt_fail "podman run: $(cat "$WORK/run.log")"
logs() { podman logs "$CTR" >"$WORK/daemon.err" 2>&1 || true; }
up=""
for _ in $(seq 150); do # 15 s
	logs
	grep -q "listening on 127\.0\.0\.1:$PORT" "$WORK/daemon.err" && { up=1; break; }
	[ "$(podman inspect --format '{{.State.Running}}' "$CTR")" = true ] || break
	sleep 0.1
done
[ -n "$up" ] || pt_fail "the container's daemon did not listen on 127.0.0.1:$PORT"
pt_log "container $CTR: peertrackd on 127.0.0.1:$PORT (host network)"

# -- through it: the mounted config holds, a client works ---------------------
out=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/healthz")
case "$out" in *'"status":"ok"'*) ;; *) pt_fail "/healthz: $out" ;; esac
timeout 30 python3 "$WSCLIENT" --origin https://elsewhere.example refused "ws://127.0.0.1:$PORT/v1" \
	>"$WORK/refused.out" 2>"$WORK/refused.err" ||
	pt_fail "a foreign origin was not refused: the mounted config is not in force"
timeout 30 python3 "$WSCLIENT" --origin "$ORIGIN" flow "ws://127.0.0.1:$PORT/v1" \
	>"$WORK/flow.out" 2>"$WORK/flow.err" || pt_fail "client: $(cat "$WORK/flow.err")"
read -r _ _ a b <"$WORK/flow.out"
a=${a#a=}; b=${b#b=}
pt_log "mounted config in force (foreign origin refused); $(cat "$WORK/flow.out")"

# -- inside: peertrackctl, the healthcheck ------------------------------------
out=$(podman exec "$CTR" peertrackctl status 2>&1) || pt_fail "peertrackctl status in the container: $out"
grep -qi 'peers' <<<"$out" || pt_fail "peertrackctl status: $out"
pt_log "podman exec $CTR peertrackctl status: $(head -n 1 <<<"$out")"
out=$(podman healthcheck run "$CTR" 2>&1) || pt_fail "healthcheck: $out"
pt_log "podman healthcheck run: ${out:-healthy}"

# -- SIGTERM: clean exit, the database in the volume --------------------------
t0=$SECONDS
podman stop -t 20 "$CTR" >/dev/null 2>"$WORK/stop.err" || pt_fail "podman stop: $(cat "$WORK/stop.err")"
logs
code=$(podman inspect --format '{{.State.ExitCode}}' "$CTR")
[ "$code" = 0 ] || pt_fail "exit status $code after SIGTERM"
grep -q 'stopped' "$WORK/daemon.err" || pt_fail "no 'stopped' in the log"
db="$(podman volume inspect --format '{{.Mountpoint}}' "$VOL")/peertrack.db"
[ -f "$db" ] || pt_fail "no database in the volume"
[ "$(sqlite3 "file:$db?mode=ro" 'PRAGMA integrity_check')" = ok ] || pt_fail "database integrity"
n=$(sqlite3 "file:$db?mode=ro" "SELECT count(*) FROM sessions WHERE id IN ('$a', '$b') AND disconnected_at IS NOT NULL")
[ "$n" = 2 ] || pt_fail "sessions of $a and $b in the database: $n"
n=$(sqlite3 "file:$db?mode=ro" "SELECT announces FROM resources LIMIT 1")
[ "$n" = 1 ] || pt_fail "the announced hash in the database: '$n'"
pt_log "SIGTERM: exit 0 after $((SECONDS - t0)) s; database in the volume holds both sessions and the hash"
pt_log "ok"
