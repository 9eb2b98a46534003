/* server.h — one event loop's serving state: libwebsockets on a libuv loop
 * (owned by the caller), the listener and its front-ends, the live tables
 * (registry, index, matcher) and the sessions. The process around it
 * (src/daemon/: config sources, store, bans, admin socket, signals) owns
 * everything else and lends the store and the bans (pt_server_env).
 *
 * Life cycle:  pt_server_new -> pt_server_start (binds; fails cleanly if the
 * port is taken) -> uv_run(loop) -> pt_server_free once uv_run returned.
 * pt_server_stop closes the listener, closes every peer with 1001 and lets
 * the loop's handles end within a grace period. Every call is on the loop
 * thread.
 */
#ifndef PEERTRACK_SERVER_H
#define PEERTRACK_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "peertrack/addr.h"
#include "peertrack/banlist.h"
#include "peertrack/cluster.h"
#include "peertrack/config.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/peerinfo.h"
#include "peertrack/wtmsg.h"
#include "peertrack/store.h"
#include "peertrack/wtallow.h"

typedef struct pt_server pt_server;

/* What the process lends the server; borrowed: both outlive it. */
typedef struct pt_server_env {
	pt_store *store;        /* session and message events go here; NULL = none */
	const pt_banlist *bans; /* consulted at admission; NULL = none */
	const pt_wt_allow *wt_allowed; /* /announce's info_hash allow-list, consulted
	                                  when wt_allowlist is on; NULL = empty */
} pt_server_env;

/* Takes a deep copy of cfg. NULL on out of memory. */
pt_server *pt_server_new(uv_loop_t *loop, const pt_config *cfg, const pt_server_env *env);

/* Creates the lws context and binds the listener. 0, or -1 after logging
 * why (port in use, bad TLS files, ...). */
int pt_server_start(pt_server *s);

/* The bound port (useful with port 0). */
int pt_server_port(const pt_server *s);

/* Closes the listener and every peer (1001); the server's handles close
 * within a grace period, so the loop can end. Idempotent. */
void pt_server_stop(pt_server *s);

/* Reload, in two steps the process drives. reload_tls: renewed files at
 * the same paths, for new connections, whatever the config file says
 * (logged either way). reconfigure: applies the reloadable keys of fresh
 * (a validated config): 0, or -ENOMEM with nothing changed. */
void pt_server_reload_tls(pt_server *s);
int pt_server_reconfigure(pt_server *s, const pt_config *fresh);
/* The outcome of the process's last reload, for /metrics. */
void pt_server_note_reload(pt_server *s, bool ok, uint64_t wall_ms);

/* After uv_run returned: releases everything, closes the loop's handles it
 * opened. NULL is a no-op. */
void pt_server_free(pt_server *s);

/* -- what the process may ask (admin, store sampling) --------------------- */

typedef struct pt_server_status {
	int port;
	uint64_t uptime_ms;
	uint32_t peers, sockets, max_connections;
	uint64_t index_entries, index_hashes;
	uint64_t bad_counted, bad_ignored, bad_withdrawn; /* bad-peer reports */
} pt_server_status;

void pt_server_status_get(pt_server *s, pt_server_status *out);

/* Calls fn (may be NULL) for each live peer whose address is in `in` and
 * that holds `has` (either NULL = any), in no particular order, until it
 * returns false. Returns how many matched (all of them, even after a stop). */
uint32_t pt_server_foreach_peer(pt_server *s, const pt_cidr *in, const pt_key *has,
                                pt_peer_fn fn, void *arg);
/* The live peers holding h, in the index's order: fn (may be NULL) for
 * each until it returns false. Returns how many hold h. */
uint32_t pt_server_holders(pt_server *s, const pt_key *k, pt_peer_fn fn, void *arg);
/* One live peer: 0, or -ENOENT. */
int pt_server_peer(pt_server *s, const pt_id *id, pt_peer_info *out);
/* The hashes a live peer holds: fn for each. 0, or -ENOENT. */
int pt_server_peer_hashes(pt_server *s, const pt_id *id, void (*fn)(const pt_key *k, void *arg),
                          void *arg);
/* Closes a live peer with 4003 (an operator's kick): 0, or -ENOENT. In
 * cluster mode an id of another node is handed to that node: 0 when it
 * was asked (the node then kicks it if it is there), -ENOENT when that
 * node is known dead or Redis is unreachable. */
int pt_server_kick(pt_server *s, const pt_id *id);
/* Closes the live peers in c with 1008 (banned); returns how many. */
int pt_server_drop(pt_server *s, const pt_cidr *c);

/* -- cluster mode (docs/OPERATIONS.md, "Cluster"); no-ops without it ------- */
/* What the process does with a ban or unban an operator made on another
 * node (add it to its list, persist it, drop the peers): fn is called on
 * the loop thread. until_ms: wall clock, 0 = for good. unban: the ban of
 * cidr is lifted (until_ms and reason unused). */
typedef void pt_server_ban_fn(void *arg, const pt_cidr *c, uint64_t until_ms, const char *reason,
                              bool unban);
void pt_server_on_cluster_ban(pt_server *s, pt_server_ban_fn *fn, void *arg);
/* Tells the other nodes about a ban made here (fire and forget): 0, or
 * -EAGAIN (Redis unreachable: the other nodes do not hear of it), or
 * -ENOTCONN without a cluster. */
int pt_server_cluster_ban(pt_server *s, const pt_cidr *c, uint64_t until_ms, const char *reason,
                          bool unban);
/* The same for the /announce allow-list: an info_hash another node's
 * operator allowed (add) or disallowed; and telling the others of one made
 * here (0, -EAGAIN, -ENOTCONN as for bans). */
typedef void pt_server_allow_fn(void *arg, const pt_wt_id *ih, bool add);
void pt_server_on_cluster_allow(pt_server *s, pt_server_allow_fn *fn, void *arg);
int pt_server_cluster_allow(pt_server *s, const pt_wt_id *ih, bool add);
/* The holders of k on the other live nodes (pt_cluster_lookup: a sample of
 * at most cluster_lookup_sample, never blocking): 0 (fn runs later, once),
 * -ENOTCONN without a cluster, -EAGAIN etc. (Redis unreachable; fn never
 * runs). */
int pt_server_remote_holders(pt_server *s, const pt_key *k, pt_cluster_lookup_fn *fn, void *arg);
/* The cluster's state as the admin status shows it: a new object, or NULL
 * (no cluster, or out of memory). */
struct json_t;
struct json_t *pt_server_cluster_json(pt_server *s);

#endif
