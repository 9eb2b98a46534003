/* index.h — the live index: which peer holds which resource hash.
 *
 * Peers are small dense integers (handles) chosen by the caller — in the
 * daemon, the peer's slot in the registry. Hashes are 32 raw bytes; the
 * index knows nothing of any wire format, so every front-end shares it.
 *
 * Layout (flat, no per-entry malloc):
 *   hashes  open-addressing table of uint32 slots -> hash records
 *           {pt_hash, holders[] (dense peer handles), n}
 *   entries pool of (peer, hash record, position in holders, peer links)
 *   pairs   open-addressing table of uint32 slots -> entry, keyed by
 *           (peer, hash record), for O(1) "does p hold h"
 *   peers   per handle: head of its entry list and its count
 * Add, remove and each entry of a whole-peer removal cost O(1) (expected);
 * holders are a dense array, so matching samples them in O(1) each.
 * Memory per (peer, hash) entry is ~40 bytes plus ~64 bytes per distinct
 * hash (docs/DESIGN.md has the arithmetic).
 *
 * Errors are negative errno values. Not thread-safe: one loop owns it.
 */
#ifndef PEERTRACK_INDEX_H
#define PEERTRACK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "peertrack/hash.h"

typedef struct pt_index pt_index;

/* Key spaces: a key is (space, 32 bytes), so the same bytes in two spaces
 * are two keys and no front-end's clients can reach another's. /v1's
 * SHA-256 hashes are PT_SPACE_V1; /announce's 20-byte info_hashes are
 * PT_SPACE_WT, zero-padded to 32 bytes. */
enum pt_space { PT_SPACE_V1 = 0, PT_SPACE_WT = 1, PT_SPACE__COUNT };

/* A key with its space, where one value names either kind (the admin
 * commands: a 64-hex hash or a 40-hex info_hash). */
typedef struct pt_key {
	enum pt_space space;
	pt_hash h;
} pt_key;

/* Parses 64 lowercase hex (a /v1 hash) or 40 (an info_hash). 0 or -EINVAL. */
int pt_key_parse(const char *s, size_t len, pt_key *out);
/* Writes 64 or 40 lowercase hex characters plus a NUL. */
void pt_key_format(const pt_key *k, char out[PT_HASH_HEX + 1]);
bool pt_key_equal(const pt_key *a, const pt_key *b);
/* k's slot in a direct-mapped table of n (> 0) slots (lcache, ccache):
 * hashes and info_hashes are uniform bytes, so their first eight are a
 * hash already; the space keeps a /v1 hash and an info_hash with the same
 * leading bytes apart. Not keyed: for tables whose slots a client cannot
 * pick to advantage (a collision only costs a Redis read). */
uint32_t pt_key_slot(const pt_key *k, uint32_t n);

/* seed keys the table hashes (see pt_hash_hash). NULL on ENOMEM. */
pt_index *pt_index_new(uint64_t seed);
void pt_index_free(pt_index *ix);

/* 1 added, 0 the peer already held it, -ENOMEM (index unchanged), or
 * -EINVAL for peer UINT32_MAX (reserved as the "none" marker). */
int pt_index_add(pt_index *ix, uint32_t peer, const pt_hash *h);

/* 1 removed, 0 the peer did not hold it. */
int pt_index_remove(pt_index *ix, uint32_t peer, const pt_hash *h);

/* 1 if peer holds h. */
int pt_index_has(const pt_index *ix, uint32_t peer, const pt_hash *h);

/* Removes every entry of peer; returns how many. */
size_t pt_index_remove_peer(pt_index *ix, uint32_t peer);
/* Removes at most max entries of peer (any of them); returns how many. A
 * peer with many entries leaves over several calls (src/net/drain.c), so
 * no single call pays for all of them. */
size_t pt_index_remove_peer_some(pt_index *ix, uint32_t peer, size_t max);

/* The holders of h as a dense array of peer handles (order unspecified,
 * changes on every mutation). Valid until the next mutation. 0 and *out =
 * NULL when nobody holds h. */
size_t pt_index_holders(const pt_index *ix, const pt_hash *h, const uint32_t **out);

/* How many keys peer holds (all spaces). */
size_t pt_index_peer_count(const pt_index *ix, uint32_t peer);

/* Calls fn for each PT_SPACE_V1 hash peer holds (order unspecified). fn must not
 * mutate the index. */
void pt_index_peer_foreach(const pt_index *ix, uint32_t peer,
                           void (*fn)(const pt_hash *h, void *arg), void *arg);

/* The calls above in a given key space (the ones without _in are
 * PT_SPACE_V1's). add_in: -EINVAL for an unknown space. */
int pt_index_add_in(pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h);
int pt_index_remove_in(pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h);
int pt_index_has_in(const pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h);
size_t pt_index_holders_in(const pt_index *ix, enum pt_space space, const pt_hash *h,
                           const uint32_t **out);
/* Like pt_index_peer_foreach (which reports PT_SPACE_V1 keys only), for
 * keys of every space. */
void pt_index_peer_foreach_key(const pt_index *ix, uint32_t peer,
                               void (*fn)(enum pt_space space, const pt_hash *h, void *arg),
                               void *arg);
size_t pt_index_entries_in(const pt_index *ix, enum pt_space space);
size_t pt_index_hashes_in(const pt_index *ix, enum pt_space space);

/* Totals over all key spaces, for metrics. */
size_t pt_index_entries(const pt_index *ix);
size_t pt_index_hashes(const pt_index *ix);
/* Bytes the index holds in its tables and pools (not malloc overhead). */
size_t pt_index_memory(const pt_index *ix);
/* Items still waiting in a hash table's previous array: a table resizes
 * incrementally, each insert or delete moving a bounded number of items
 * across (no call pays for the whole table); 0 when no resize is under
 * way. For tests. */
size_t pt_index_moving(const pt_index *ix);

#endif
