/* wtallow.h — the info_hash allow-list of /announce (a private tracker):
 * which info_hashes may be announced when `wt_allowlist` is on.
 *
 * A sorted array of 20-byte ids: 20 bytes per entry, O(log n) lookups
 * (one per announce), O(n) add and remove (operator commands, and a load
 * in order at start, which appends). The operator bounds it (max), so a
 * script gone wrong cannot grow it without end. The process owns it, the
 * store persists it (store.h), the admin commands edit it and /announce
 * reads it. An info_hash's text form is pt_key's (index.h: 40 hex).
 * Not thread-safe: the loop owns it.
 */
#ifndef PEERTRACK_WTALLOW_H
#define PEERTRACK_WTALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include "peertrack/wtmsg.h"

typedef struct pt_wt_allow {
	pt_wt_id *v; /* sorted by bytes (memcmp), no repeats; owned */
	size_t n, cap;
} pt_wt_allow;

void pt_wt_allow_init(pt_wt_allow *a);
/* Frees the array; the list is empty and usable again. */
void pt_wt_allow_free(pt_wt_allow *a);

/* 1 added, 0 already listed, -ENOSPC when it holds max already, -ENOMEM
 * (list unchanged). */
int pt_wt_allow_add(pt_wt_allow *a, const pt_wt_id *ih, size_t max);
/* 1 removed, 0 not listed. */
int pt_wt_allow_remove(pt_wt_allow *a, const pt_wt_id *ih);
bool pt_wt_allow_has(const pt_wt_allow *a, const pt_wt_id *ih);

#endif
