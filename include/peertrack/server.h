/* server.h — the peertrackd server: one libuv loop (owned by the caller)
 * carrying libwebsockets, the live index and every front-end.
 *
 * Life cycle:  pt_server_new -> pt_server_start (binds; fails cleanly if the
 * port is taken) -> uv_run(loop) -> pt_server_free once uv_run returned.
 * pt_server_stop (SIGTERM/SIGINT) closes the listener, closes every peer
 * with 1001 and lets the loop end within stop_grace_ms. pt_server_reload
 * (SIGHUP) re-reads the config file and applies what may change at run time.
 */
#ifndef PEERTRACK_SERVER_H
#define PEERTRACK_SERVER_H

#include <uv.h>
#include "peertrack/config.h"

typedef struct pt_server pt_server;

/* Hooks for the process that embeds the server (systemd notification and the
 * like). Any may be NULL. Called on the loop thread. */
typedef struct pt_server_hooks {
	void (*ready)(void *arg, int port);   /* listening, store open */
	void (*reloading)(void *arg);
	void (*reloaded)(void *arg);
	void (*stopping)(void *arg);
	void (*tick)(void *arg);              /* about once a second, from the loop */
	void *arg;
} pt_server_hooks;

/* Takes a deep copy of cfg. config_path (may be NULL) is what SIGHUP
 * re-reads; overrides (may be NULL) are re-applied after each re-read, as
 * "key=value" strings, so command-line options keep winning. */
pt_server *pt_server_new(uv_loop_t *loop, const pt_config *cfg, const char *config_path,
                         const char *const *overrides, const pt_server_hooks *hooks);

/* Creates the lws context and binds the listener. 0, or -1 after logging
 * why (port in use, bad TLS files, ...). Installs SIGTERM/SIGINT/SIGHUP
 * handlers on the loop. */
int pt_server_start(pt_server *s);

/* The bound port (useful with port 0). */
int pt_server_port(const pt_server *s);

void pt_server_stop(pt_server *s);
/* 0 when the new config was applied, -1 if it was refused (logged; the
 * running config stays). */
int pt_server_reload(pt_server *s);

/* After uv_run returned: releases everything, closes the loop's handles it
 * opened. */
void pt_server_free(pt_server *s);

#endif
