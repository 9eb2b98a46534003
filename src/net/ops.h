/* ops.h — private to the daemon: the operations side of the server (the
 * sqlite store, bans, the admin socket, metrics), kept out of the
 * connection code, which only calls these hooks. Loop thread only.
 * Included by net.h. */
#ifndef PEERTRACK_OPS_H
#define PEERTRACK_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include "peertrack/banlist.h"
#include "peertrack/buf.h"
#include "peertrack/store.h"

struct pt_server;
struct pt_admin;

/* ops.c. start: creates state_dir, opens the store (loading bans) and the
 * admin socket; before lws. stop: closes the admin socket (loop handles).
 * free: after the loop ended, commits and closes the store. */
int pt_ops_start(struct pt_server *s);
void pt_ops_stop(struct pt_server *s);
void pt_ops_free(struct pt_server *s);
/* From the sweep: about once a second, samples gauges and expires bans. */
void pt_ops_tick(struct pt_server *s);

/* The ban in force for a, or NULL. */
const pt_ban *pt_ops_banned(struct pt_server *s, const pt_addr *a);
/* Adds (or replaces) a ban, persists it and closes the live peers it
 * covers with 1008. for_ms 0 = never expires. Returns how many peers were
 * dropped, or -ENOMEM. */
int pt_ops_ban(struct pt_server *s, const pt_cidr *c, uint64_t for_ms, const char *reason,
               pt_ban *out);
/* 1 removed, 0 there was no such ban. */
int pt_ops_unban(struct pt_server *s, const pt_cidr *c);

/* Session and message events, for the store and the counters. */
void pt_ops_session_open(pt_session *p);
void pt_ops_session_close(pt_session *p, enum pt_leave why);
void pt_ops_report(pt_session *p, const pt_msg *m);
void pt_ops_count(struct pt_server *s, const pt_hash *h, size_t n, enum pt_store_counter c);

/* admin.c: the Unix socket listener. 0 or -1 (logged). */
int pt_admin_start(struct pt_server *s, const char *path, struct pt_admin **out);
/* Closes the listener and every client; the memory goes once libuv is
 * done with the handles. */
void pt_admin_close(struct pt_admin *a);

/* metrics.c: the bodies of GET /metrics (Prometheus text exposition
 * format 0.0.4) and GET /stats.json. 0 or -ENOMEM. */
int pt_metrics_render(struct pt_server *s, pt_buf *b);
int pt_stats_render(struct pt_server *s, pt_buf *b);
/* The store commits: its last commit succeeded and commits keep coming
 * (reported by /readyz and peertrack_up, never a reason to stop serving). */
bool pt_ops_store_ok(struct pt_server *s);

#endif
