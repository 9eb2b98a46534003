/* ops.h — private to src/net: what the serving side tells the store and
 * asks of the bans (both lent by the process, src/daemon/), and the
 * metrics bodies. The connection code only calls these hooks. Loop thread
 * only. Included by net.h. */
#ifndef PEERTRACK_OPS_H
#define PEERTRACK_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include "peertrack/banlist.h"
#include "peertrack/buf.h"
#include "peertrack/store.h"

struct pt_server;

/* The ban in force for a, or NULL. */
const pt_ban *pt_ops_banned(struct pt_server *s, const pt_addr *a);

/* Session and message events, for the store and the counters. */
void pt_ops_session_open(pt_session *p);
void pt_ops_session_close(pt_session *p, enum pt_leave why);
/* 0, or -EAGAIN: the store had no room for it (the client is told busy). */
int pt_ops_report(pt_session *p, const pt_msg *m);
/* Counts the n hashes for the store, within p's store_rows_per_peer_per_min. */
void pt_ops_count(pt_session *p, const pt_hash *h, size_t n, enum pt_store_counter c);
/* The same in a key space: /announce counts its info_hashes (PT_SPACE_WT). */
void pt_ops_count_in(pt_session *p, enum pt_space space, const pt_hash *h, size_t n,
                     enum pt_store_counter c);

/* metrics.c: the bodies of GET /metrics (Prometheus text exposition
 * format 0.0.4) and GET /stats.json. 0 or -ENOMEM. */
int pt_metrics_render(struct pt_server *s, pt_buf *b);
int pt_stats_render(struct pt_server *s, pt_buf *b);
/* The store commits: its last commit succeeded and commits keep coming
 * (reported by /readyz and peertrack_up, never a reason to stop serving). */
bool pt_ops_store_ok(struct pt_server *s);

#endif
