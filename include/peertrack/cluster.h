/* cluster.h — the cluster engine: several peertrack nodes sharing the index
 * and routing signals through Redis (docs/DESIGN.md, "Cluster").
 *
 * Route by node: every id a node assigns starts with the node's 2-character
 * tag (pt_id_tag), and each node subscribes once to its own inbox channel
 * PREFIX n:TAG. A signal to a peer of another node is one PUBLISH to that
 * node's inbox (no directory lookup); PUBLISH answering 0 receivers means
 * the node is gone. Messages to one node within cluster_publish_linger_us
 * leave as one PUBLISH (outbox.h, ibatch.h); its count holds for each. The index lives in Redis as one sorted set per key,
 * PREFIX h:SPACE:HEX, member "ID ADDR", score = expiry (Redis' clock);
 * a node refreshes its peers' entries below the TTL. Nodes heartbeat a
 * registry (PREFIX nodes) and read it back: a node silent for
 * cluster_dead_ms is dead, lookups drop its peers at once and a survivor
 * purges its entries. Several Redis instances share the index by a jump
 * consistent hash of the key; the first carries the registry and the
 * inboxes.
 *
 * The engine knows ids, keys and addresses, not sessions: what arrives for
 * a local peer goes to the hooks, which the serving layer (src/net/remote.c)
 * fills. Nothing blocks the loop; every request has a timeout
 * (cluster_timeout_ms) and the queue per link is bounded
 * (cluster_max_pending). While Redis is down every call that needs it
 * fails at once with -EAGAIN. Everything runs on the loop thread.
 */
#ifndef PEERTRACK_CLUSTER_H
#define PEERTRACK_CLUSTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "peertrack/addr.h"
#include "peertrack/config.h"
#include "peertrack/id.h"
#include "peertrack/index.h"

typedef struct pt_cluster pt_cluster;

/* What arrives for this node. Each may be NULL. Ids are borrowed. */
typedef struct pt_cluster_hooks {
	void *arg;
	/* A signal for local peer `to` from remote peer `from`: frame is the
	 * complete v1 signal message (sender stamped by its node). */
	void (*signal)(void *arg, const pt_id *to, const pt_id *from, const char *frame, size_t len);
	/* A peer of another node that `to` signalled with has left. */
	void (*peer_left)(void *arg, const pt_id *to, const pt_id *gone);
	/* An operator on another node kicked local peer `id`. */
	void (*kick)(void *arg, const pt_id *id);
	/* An operator on some node (this one included) banned `cidr`
	 * ("ADDR/LEN") until until_ms (wall clock; 0 = for good), or lifted
	 * its ban (unban). */
	void (*ban)(void *arg, const char *cidr, uint64_t until_ms, const char *reason, bool unban);
	/* An operator on some node (this one included) put the 20-byte
	 * info_hash ih on the /announce allow-list (add) or took it off. */
	void (*allow)(void *arg, const uint8_t ih[20], bool add);
	/* The index is reachable again after an outage, or at start:
	 * re-announce every local holding (pt_cluster_announce). */
	void (*up)(void *arg);
	/* One line about this node for the registry (peers, entries). */
	void (*info)(void *arg, char *out, size_t len);
} pt_cluster_hooks;

/* Reads the password file, resolves the node tag; connects in the
 * background. NULL with err set (bad password file, out of memory). */
pt_cluster *pt_cluster_new(uv_loop_t *loop, const pt_config *cfg, const pt_cluster_hooks *hooks,
                           char *err, size_t errlen);
/* Closes the links: pending requests fail (their callbacks run with
 * -EAGAIN now), handles close over the next loop turns. NULL is a no-op. */
void pt_cluster_free(pt_cluster *c);

unsigned pt_cluster_tag(const pt_cluster *c);
/* True if id was assigned by this node. */
bool pt_cluster_local(const pt_cluster *c, const pt_id *id);

/* -- signals ---------------------------------------------------------------
 * status: 1 delivered to the peer's node, 0 that node is gone (peer-gone),
 * -EAGAIN Redis unreachable or too slow (unavailable). */
typedef void pt_cluster_done_fn(void *arg, int status);
/* 0 (done runs later, once), -EHOSTDOWN the peer's node is known dead
 * (peer-gone now), -EAGAIN/-ENOBUFS/-ENOMEM unavailable now. */
int pt_cluster_signal(pt_cluster *c, const pt_id *to, const pt_id *from, const char *frame,
                      size_t len, pt_cluster_done_fn *done, void *arg);
/* Fire and forget: tells to's node that `gone` left. */
int pt_cluster_peer_left(pt_cluster *c, const pt_id *to, const pt_id *gone);
/* Asks the node of `id` to kick it: done gets 1 (asked), 0 (node gone),
 * -EAGAIN. Returns as pt_cluster_signal. */
int pt_cluster_kick(pt_cluster *c, const pt_id *id, pt_cluster_done_fn *done, void *arg);
/* Tells every node about a ban or an unban (cidr as "ADDR/LEN"); fire and
 * forget: 0, -EAGAIN (Redis unreachable), -EINVAL (too long). */
int pt_cluster_ban(pt_cluster *c, const char *cidr, uint64_t until_ms, const char *reason,
                   bool unban);

/* Tells every node about an allow-list change (fire and forget): 0 or
 * -EAGAIN (Redis unreachable). */
int pt_cluster_allow(pt_cluster *c, const uint8_t ih[20], bool add);

/* -- the index --------------------------------------------------------------
 * One request per Redis instance touched, whatever n. 0 or -EAGAIN etc.
 * (nothing sent). */
int pt_cluster_announce(pt_cluster *c, const pt_id *peer, const pt_addr *addr,
                        const pt_key *keys, size_t n);
int pt_cluster_withdraw(pt_cluster *c, const pt_id *peer, const pt_addr *addr,
                        const pt_key *keys, size_t n);

typedef struct pt_cluster_cand {
	pt_id id;
	pt_addr addr;
} pt_cluster_cand;
/* Holders of k on live other nodes, at most cluster_lookup_sample, in no
 * order (status 0), or status -EAGAIN/-EPROTO and n = 0. v is valid during
 * the call. */
typedef void pt_cluster_lookup_fn(void *arg, int status, const pt_cluster_cand *v, size_t n);
/* 0 (fn runs later, once) or -EAGAIN etc. (fn never runs). */
int pt_cluster_lookup(pt_cluster *c, const pt_key *k, pt_cluster_lookup_fn *fn, void *arg);
/* The sample a recent pt_cluster_lookup of k brought, when it was full (k
 * has at least cluster_lookup_sample holders on other nodes) and is younger
 * than cluster_lookup_cache_ms, without the holders of nodes dead since
 * (lcache.h): *n of them, borrowed until the next lookup's reply. NULL:
 * ask pt_cluster_lookup. Synchronous, unlike it. */
const pt_cluster_cand *pt_cluster_lookup_cached(pt_cluster *c, const pt_key *k, size_t *n);

/* -- swarm counts ------------------------------------------------------------
 * Each node's complete/incomplete counts of a key, for /announce replies and
 * scrapes that count every node's peers: per key a hash PREFIX c:SPACE:HEX
 * on the key's instance, field = node tag, value "COMPLETE INCOMPLETE
 * EXPIRY" (EXPIRY by Redis' clock, now + cluster_entry_ttl_ms: a field a
 * node stopped writing ages out, the key itself too). A node rewrites its
 * fields below the TTL (the caller's refresh); a dead node's are ignored by
 * readers and removed by the purge. */
typedef struct pt_cluster_count {
	pt_key key;
	uint32_t complete, incomplete;  /* both 0: the field goes */
} pt_cluster_count;
/* Writes this node's fields of v[0..n): one script call per instance
 * touched. 0, or -EAGAIN (down, not registered) etc.: nothing sent. */
int pt_cluster_counts_put(pt_cluster *c, const pt_cluster_count *v, size_t n);
/* The sums of the live other nodes' counts of k as last read (ccache.h):
 * true and *complete and *incomplete, or false (not read yet, Redis down or
 * failing, cluster_count_refresh_ms = 0). Starts a read of k when its sum
 * is missing or older than cluster_count_refresh_ms; never waits. */
bool pt_cluster_counts_remote(pt_cluster *c, const pt_key *k, uint32_t *complete,
                              uint32_t *incomplete);

/* Whether the instance holding k, and the routing instance, are up. */
bool pt_cluster_index_up(const pt_cluster *c, const pt_key *k);
bool pt_cluster_up(const pt_cluster *c);
/* A request is worth sending now (links up, queues below half): the
 * re-announce paces itself on it. */
bool pt_cluster_has_room(const pt_cluster *c);

/* -- state, for metrics and peertrackctl ----------------------------------- */
typedef struct pt_cluster_stats {
	uint64_t signals_out, signals_in, signals_gone, signals_unavailable;
	uint64_t peer_left_out, peer_left_in;
	uint64_t lookups, lookups_cached, lookup_failures, announces, announce_failures;
	uint64_t withdraws, purged_keys, bad_replies, probes, stale_subscriptions;
	uint64_t heartbeats, heartbeat_failures, tag_conflicts;
	/* PUBLISHes to other nodes' inboxes, the messages they carried, and
	 * those of them carrying several (cluster_publish_linger_us). */
	uint64_t inbox_publishes, inbox_messages, inbox_batches;
	/* Swarm count fields written (or removed), reads of a key's fields,
	 * writes or reads that failed, and reads not made for the budget
	 * (cluster_count_reads_per_sec). */
	uint64_t counts_written, counts_read, counts_failures, counts_throttled;
} pt_cluster_stats;
/* Borrowed until the next call. */
const pt_cluster_stats *pt_cluster_stats_get(pt_cluster *c);

typedef struct pt_cluster_node {
	char tag[3];
	bool alive, self;
	uint64_t age_ms;    /* since its last heartbeat, by Redis' clock */
	const char *info;   /* its pt_cluster_hooks.info line */
} pt_cluster_node;
/* Calls fn for each node the registry knew at the last heartbeat. */
void pt_cluster_foreach_node(const pt_cluster *c, void (*fn)(const pt_cluster_node *n, void *arg),
                             void *arg);
typedef struct pt_cluster_link_info {
	const char *name, *role, *last_error;
	bool up;
	uint32_t pending;
	uint64_t connects, disconnects, timeouts;
} pt_cluster_link_info;
void pt_cluster_foreach_link(const pt_cluster *c,
                             void (*fn)(const pt_cluster_link_info *l, void *arg), void *arg);
/* Registered: this node's heartbeat was accepted (no tag conflict). */
bool pt_cluster_registered(const pt_cluster *c);
#endif
