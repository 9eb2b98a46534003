/* badpeer.h — reports that a peer served bytes whose SHA-256 is not the
 * hash it announced (the v1 `bad-peer` message, docs/PROTOCOL.md). One
 * table per reported peer counts, per hash, the distinct networks that
 * reported it, so the caller can act (withdraw the hash from the liar) only
 * once `bad_peer_reports` different networks agree: one reporter, or many
 * connections from one address, cannot evict an honest peer.
 *
 * A network is the full address for IPv4 and the /64 for IPv6 (one host
 * commonly holds a whole /64). The table is bounded: at most `cap` (hash,
 * network) entries, in arrival order; a new one past that replaces the
 * oldest.
 *
 * Ownership: the table is owned by whoever made it (a session) and freed
 * with pt_badpeer_free; nothing else points into it. */
#ifndef PEERTRACK_BADPEER_H
#define PEERTRACK_BADPEER_H

#include <stdint.h>
#include "peertrack/addr.h"
#include "peertrack/hash.h"

typedef struct pt_badpeer pt_badpeer;

/* An empty table for at most cap (>= 1) entries, or NULL (out of memory). */
pt_badpeer *pt_badpeer_new(uint32_t cap);
/* NULL is a no-op. */
void pt_badpeer_free(pt_badpeer *b);

/* `reporter` says the peer lied about `hash`. Returns how many distinct
 * networks have now reported that hash (>= 1) when this report counted,
 * or 0 when that network had already reported it (not counted again). */
int pt_badpeer_note(pt_badpeer *b, const pt_hash *hash, const pt_addr *reporter);

/* Drops the entries of `hash` (after acting on them): how many. */
uint32_t pt_badpeer_forget(pt_badpeer *b, const pt_hash *hash);

/* Entries held (pending reports against the peer). */
uint32_t pt_badpeer_count(const pt_badpeer *b);

#endif
