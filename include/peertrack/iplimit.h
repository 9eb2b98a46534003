/* iplimit.h — live connections counted per client address, for the
 * per-IP connection limit. A small open-addressing map addr -> count;
 * entries vanish when their count returns to zero. */
#ifndef PEERTRACK_IPLIMIT_H
#define PEERTRACK_IPLIMIT_H

#include <stdint.h>
#include "peertrack/addr.h"

typedef struct pt_iplimit pt_iplimit;

pt_iplimit *pt_iplimit_new(uint64_t seed);
void pt_iplimit_free(pt_iplimit *l);

/* Counts one more connection from a if it has fewer than max; returns the
 * new count, 0 if a is at its limit (nothing counted), or -ENOMEM. */
int pt_iplimit_acquire(pt_iplimit *l, const pt_addr *a, uint32_t max);
/* Gives back one connection of a (no-op if a has none). */
void pt_iplimit_release(pt_iplimit *l, const pt_addr *a);
uint32_t pt_iplimit_count(const pt_iplimit *l, const pt_addr *a);

#endif
