/* adminsock.h — the admin socket: a Unix stream socket (mode 0660) on the
 * daemon's loop speaking the admin protocol (admin.h). It serves the
 * command table through the narrow interface below, which the process
 * (src/daemon/) provides: the socket knows no server, store or session.
 * Loop thread only.
 */
#ifndef PEERTRACK_ADMINSOCK_H
#define PEERTRACK_ADMINSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include "peertrack/addr.h"
#include "peertrack/banlist.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/index.h"
#include "peertrack/peerinfo.h"
#include "peertrack/wtallow.h"

/* A holder on another node (cluster mode): its node is pt_id_tag(&id). */
typedef struct pt_admin_remote {
	pt_id id;
	pt_addr addr;
} pt_admin_remote;
/* status 0 with the holders (v valid during the call), or a negative errno
 * (-EAGAIN: Redis unreachable or too slow) and n = 0. */
typedef void pt_admin_remote_fn(void *fnarg, int status, const pt_admin_remote *v, size_t n);

/* What the admin commands may ask of the process, on the loop thread; arg
 * is the process's. Every call is synchronous but remote_holders. */
typedef struct pt_admin_ops {
	void *arg;
	/* `status`: a new JSON object, or NULL (out of memory). */
	json_t *(*status)(void *arg);
	/* Live peers (filters may be NULL); see pt_server_foreach_peer. */
	uint32_t (*peers)(void *arg, const pt_cidr *in, const pt_key *has, pt_peer_fn fn, void *fnarg);
	uint32_t (*holders)(void *arg, const pt_key *k, pt_peer_fn fn, void *fnarg);
	/* One peer, its hashes, closing it: 0 or -ENOENT. */
	int (*peer)(void *arg, const pt_id *id, pt_peer_info *out);
	int (*peer_hashes)(void *arg, const pt_id *id, void (*fn)(const pt_key *k, void *a), void *fnarg);
	int (*kick)(void *arg, const pt_id *id);
	/* Adds or replaces a ban (persisted) and drops its live peers: how
	 * many, or -ENOMEM. for_ms 0 = never expires; *out = the ban. */
	int (*ban)(void *arg, const pt_cidr *c, uint64_t for_ms, const char *reason, pt_ban *out);
	/* 1 removed, 0 no such ban. */
	int (*unban)(void *arg, const pt_cidr *c);
	/* The bans in force (expired ones dropped first); borrowed. */
	const pt_banlist *(*bans)(void *arg);
	/* Re-reads the configuration: 0 applied, -1 refused (why is logged). */
	int (*reload)(void *arg);
	/* Records a mutating command in the audit log. */
	void (*audit)(void *arg, const char *actor, const char *action, const char *detail);
	/* The /announce info_hash allow-list, persisted. allow: 1 added, 0
	 * already listed, -ENOSPC (wt_max_allowed), -ENOMEM; disallow: 1
	 * removed, 0 not listed. allowed: the list (borrowed) and whether
	 * wt_allowlist is on. */
	int (*allow)(void *arg, const pt_wt_id *ih);
	int (*disallow)(void *arg, const pt_wt_id *ih);
	const pt_wt_allow *(*allowed)(void *arg, bool *enabled);
	/* Cluster mode: the holders of k on the other live nodes (a bounded
	 * sample), asked of Redis without blocking. 0: fn runs later, exactly
	 * once (also when the process shuts down); -ENOTCONN: not in cluster
	 * mode, or k is not shared between nodes; another negative errno
	 * (-EAGAIN: Redis unreachable now): fn never runs. May be NULL. */
	int (*remote_holders)(void *arg, const pt_key *k, pt_admin_remote_fn *fn, void *fnarg);
} pt_admin_ops;

typedef struct pt_admin pt_admin;

/* Listens on path (a stale socket there is replaced). db_path: the store
 * file the database commands read, with their own read-only connections
 * in libuv's thread pool. ops and db_path are copied. 0, or -1 (logged). */
int pt_admin_start(uv_loop_t *loop, const char *path, const char *db_path,
                   const pt_admin_ops *ops, pt_admin **out);
/* Closes the listener and every client; the memory goes once libuv is done
 * with the handles. NULL is a no-op. */
void pt_admin_close(pt_admin *a);

#endif
