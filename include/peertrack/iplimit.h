/* iplimit.h — budgets per client address: live connections (the per-IP
 * connection limit), connections still in their handshake, and hashes
 * held in the index. A small open-addressing map addr -> counters; an
 * entry vanishes when all its counters return to zero.
 *
 * Errors are negative errno values. Not thread-safe: one loop owns it. */
#ifndef PEERTRACK_IPLIMIT_H
#define PEERTRACK_IPLIMIT_H

#include <stdint.h>
#include "peertrack/addr.h"

typedef struct pt_iplimit pt_iplimit;

/* What is counted per address. */
enum pt_ipcount {
	PT_IP_CONNS = 0,  /* admitted WebSocket connections */
	PT_IP_HALFOPEN,   /* accepted sockets whose upgrade is not complete */
	PT_IP_HASHES,     /* (peer, hash) entries its peers hold in the index */
	PT_IP__COUNT
};

pt_iplimit *pt_iplimit_new(uint64_t seed);
void pt_iplimit_free(pt_iplimit *l);

/* Counts n more of kind for a if that keeps it at or below max: returns 1,
 * or 0 if it would pass max (nothing counted), or -ENOMEM. n = 0 is 1. */
int pt_iplimit_take(pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind, uint32_t n,
                    uint32_t max);
/* Gives back n of kind (clamped at what a has). */
void pt_iplimit_give(pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind, uint32_t n);
uint32_t pt_iplimit_get(const pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind);
/* Addresses with any counter above zero. */
uint32_t pt_iplimit_addresses(const pt_iplimit *l);

/* The connection counter (PT_IP_CONNS): acquire counts one more if a has
 * fewer than max and returns the new count, 0 if a is at its limit
 * (nothing counted), or -ENOMEM; release gives one back (no-op if none). */
int pt_iplimit_acquire(pt_iplimit *l, const pt_addr *a, uint32_t max);
void pt_iplimit_release(pt_iplimit *l, const pt_addr *a);
uint32_t pt_iplimit_count(const pt_iplimit *l, const pt_addr *a);

#endif
