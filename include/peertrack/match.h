/* match.h — peer matching: pick the best holders of a hash for an asker.
 *
 * Ranking (strategy PT_MATCH_PROXIMITY):
 *   1. network proximity to the asker (pt_addr_proximity: same address,
 *      same /24|/48, same /16|/32, other);
 *   2. fewest recent hand-outs (a decaying counter per peer, halved every
 *      half_life_ms), so one seeder is not handed to everybody;
 *   3. random.
 * PT_MATCH_RANDOM skips 1 and 2.
 *
 * Cost is bounded: when a hash has more than `sample` holders, `sample`
 * of them are drawn uniformly at random (Floyd's algorithm, O(sample))
 * and only those are ranked. A lookup is
 * therefore O(sample + k log k) whatever the holder count.
 *
 * The matcher keeps per-peer attributes in a flat array indexed by the
 * same handles as the index. Not thread-safe.
 */
#ifndef PEERTRACK_MATCH_H
#define PEERTRACK_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/addr.h"

enum pt_match_strategy { PT_MATCH_PROXIMITY = 0, PT_MATCH_RANDOM = 1 };

typedef struct pt_match pt_match;

typedef struct pt_match_opts {
	enum pt_match_strategy strategy;
	uint32_t sample;       /* candidates ranked per lookup, >= 1 */
	uint32_t half_life_ms; /* hand-out counter decay, >= 1 */
} pt_match_opts;

/* seed feeds the PRNG (tests pass a fixed one). NULL on ENOMEM. */
pt_match *pt_match_new(uint64_t seed);
void pt_match_free(pt_match *m);

/* Registers (or re-registers) a peer handle with its address; resets its
 * hand-out counter. -ENOMEM or 0. */
int pt_match_set_peer(pt_match *m, uint32_t peer, const pt_addr *addr);
void pt_match_clear_peer(pt_match *m, uint32_t peer);
/* Marks a peer that is leaving while the index still lists it among some
 * hashes' holders: pt_match_pick never returns it until the handle is
 * registered again (pt_match_set_peer). 0 or -ENOMEM. */
int pt_match_drop_peer(pt_match *m, uint32_t peer);

/* Picks up to k holders, best first, into out (room for k). Never returns
 * `asker` or a dropped peer (a dropped peer drawn into the sample leaves
 * it one candidate short). Counts a hand-out for the first only (the peer the asker will
 * try; the rest are fallbacks). Returns how many. */
size_t pt_match_pick(pt_match *m, const pt_match_opts *o,
                     const uint32_t *holders, size_t n_holders,
                     uint32_t asker, const pt_addr *asker_addr,
                     uint64_t now_ms, uint32_t *out, size_t k);

#endif
