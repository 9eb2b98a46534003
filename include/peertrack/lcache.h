/* lcache.h — a small cache of remote lookup samples (cluster mode): what
 * Redis answered for a hot key, reused for ttl_ms by later lookups of that
 * key on this node instead of a script call each.
 *
 * Only a sample that filled cluster_lookup_sample goes in (the caller's
 * rule): the key has at least that many holders, so any answer is a random
 * sample anyway and reusing one for a moment changes which holders are
 * seen, not whether some are. Small swarms are always read from Redis.
 *
 * Direct-mapped: a key has one slot (a hash of it), a put replaces the
 * slot's entry, and nothing grows: at most `slots` entries of `max`
 * candidates, allocated on first use. Keys chosen to collide only push
 * each other out (more Redis reads, no harm). Everything runs on the loop
 * thread.
 */
#ifndef PEERTRACK_LCACHE_H
#define PEERTRACK_LCACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peertrack/cluster.h"
#include "peertrack/index.h"

typedef struct pt_lcache pt_lcache;

/* NULL when slots, max or ttl_ms is 0 (caching off) or out of memory. The
 * cache owns its memory; pt_lcache_free(NULL) does nothing. */
pt_lcache *pt_lcache_new(uint32_t slots, uint32_t max, uint32_t ttl_ms);
void pt_lcache_free(pt_lcache *lc);

/* Keeps a copy of v[0..n) (at most max) for k until now_ms + ttl_ms.
 * -ENOMEM leaves the slot empty. */
int pt_lcache_put(pt_lcache *lc, const pt_key *k, const pt_cluster_cand *v, size_t n,
                  uint64_t now_ms);

/* Decides, at each hit, whether a cached candidate may still be handed
 * out (its node may have died since the put). */
typedef bool pt_lcache_keep_fn(void *arg, const pt_cluster_cand *c);

/* The fresh entry of k, with the candidates `keep` refuses dropped from it
 * for good; *n its count (possibly 0). Borrowed: valid until the next put
 * or free. NULL on a miss (none, another key in the slot, or expired). */
const pt_cluster_cand *pt_lcache_get(pt_lcache *lc, const pt_key *k, uint64_t now_ms,
                                     pt_lcache_keep_fn *keep, void *arg, size_t *n);

#endif
