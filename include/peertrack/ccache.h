/* ccache.h — a small cache of the other nodes' swarm counts (cluster mode):
 * for each recently asked key, the sums of the complete/incomplete counts
 * the live other nodes wrote to Redis (cluster.h, "swarm counts"), so that
 * an /announce reply or a scrape adds them without waiting on Redis.
 *
 * Direct-mapped like lcache.h: a key has one slot (a hash of it), nothing
 * grows, at most `slots` entries. A slot is read again (one request) when
 * its sum is older than ttl_ms; it is answered with up to 4 x ttl_ms, past
 * that it is a miss. At most one read is in flight per slot, so per key:
 * a slot whose read is in flight is not taken by another key meanwhile,
 * and the read's answer (or failure) is what frees it. Everything runs on
 * the loop thread.
 */
#ifndef PEERTRACK_CCACHE_H
#define PEERTRACK_CCACHE_H
#include <stdbool.h>
#include <stdint.h>

#include "peertrack/index.h"

typedef struct pt_ccache pt_ccache;

/* NULL when slots or ttl_ms is 0 (off) or out of memory. NULL is a valid
 * argument to pt_ccache_free. */
pt_ccache *pt_ccache_new(uint32_t slots, uint32_t ttl_ms);
void pt_ccache_free(pt_ccache *cc);

/* The sums for k: true with *complete and *incomplete when a usable one is
 * kept. *read: the caller is to read k now (the slot is marked in flight
 * for k and must be settled by pt_ccache_put or pt_ccache_fail). */
bool pt_ccache_get(pt_ccache *cc, const pt_key *k, uint64_t now_ms, uint32_t *complete,
                   uint32_t *incomplete, bool *read);
/* The read of k answered these sums. */
void pt_ccache_put(pt_ccache *cc, const pt_key *k, uint32_t complete, uint32_t incomplete,
                   uint64_t now_ms);
/* The read of k failed (forget: its sum goes too, so that a failing Redis
 * means this node's counts alone rather than old sums, and k is not read
 * again before now_ms + ttl_ms), or was not sent (!forget: the sum kept
 * stays usable while it is young enough). */
void pt_ccache_fail(pt_ccache *cc, const pt_key *k, bool forget, uint64_t now_ms);
/* Forgets every sum (a node died: sums counting it must not be answered);
 * reads in flight stay in flight. NULL is a no-op. */
void pt_ccache_clear(pt_ccache *cc);

#endif
