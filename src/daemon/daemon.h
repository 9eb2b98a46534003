/* daemon.h — private to src/daemon: the peertrackd process context.
 *
 * The process owns what lives as long as it does: the configuration and
 * where it comes from, the store, the ban list, the admin socket, signals
 * and systemd notification. It lends the store and the bans to the serving
 * state of its loop (pt_server, server.h) and answers the admin socket
 * through pt_admin_ops (adminsock.h).
 */
#ifndef PEERTRACK_DAEMON_H
#define PEERTRACK_DAEMON_H

#include <stddef.h>
#include "peertrack/config.h"

/* A "key=value" override and where it came from, applied after the file
 * in order: the environment's first, then the command line's. */
typedef struct pt_override {
	char *kv;              /* owned by the caller */
	const char *origin;    /* "environment", or NULL for the command line */
} pt_override;

/* The one way a configuration is built, at start and at every reload:
 * defaults, the file (path may be NULL), the overrides, then the
 * cross-field checks. 0, or -1 with err set (out is then freed). */
int pt_daemon_config_build(const char *path, const pt_override *ov, size_t nov, pt_config *out,
                           char *err, size_t errlen);

/* Runs peertrackd on cfg (built by pt_daemon_config_build from the same
 * path and overrides, which each reload reads again) until SIGTERM/SIGINT.
 * Returns the exit status: 0 after a clean stop, 1 if it could not start. */
int pt_daemon_run(const pt_config *cfg, const char *path, const pt_override *ov, size_t nov);

#endif
