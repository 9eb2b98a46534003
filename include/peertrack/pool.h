/* pool.h — a pool of fixed-size records addressed by 32-bit indices.
 *
 * For tables with many small records (one per binding, per swarm): no
 * malloc per record (no allocator header, no 16-byte rounding) and 4-byte
 * links instead of 8-byte pointers. Records live in one array that doubles
 * when full; a freed record goes on a free list threaded through its first
 * four bytes and is handed out again before the array grows. The array
 * never shrinks: a pool holds its high-water mark until pt_pool_free.
 *
 * Ownership: the pool owns its array. A pointer from pt_pool_at is valid
 * until the next pt_pool_get (which may move the array); indices stay
 * valid until the record is put back. Not thread-safe.
 */
#ifndef PEERTRACK_POOL_H
#define PEERTRACK_POOL_H

#include <stddef.h>
#include <stdint.h>

#define PT_POOL_NIL UINT32_MAX /* "no record": never a valid index */

typedef struct pt_pool {
	char *a;
	uint32_t size;      /* bytes per record, >= 4 */
	uint32_t cap, used; /* records allocated, records ever handed out */
	uint32_t free_head; /* PT_POOL_NIL when the free list is empty */
	uint32_t live;      /* records handed out and not put back */
} pt_pool;

/* An empty pool of records of size bytes (at least 4); allocates nothing. */
void pt_pool_init(pt_pool *p, size_t size);

/* Frees the array; the pool is empty and reusable afterwards. */
void pt_pool_free(pt_pool *p);

/* A record's index (its contents undefined), or PT_POOL_NIL on ENOMEM or
 * when the pool already holds PT_POOL_NIL - 1 records. */
uint32_t pt_pool_get(pt_pool *p);

/* Gives record i (handed out and not yet put back) back to the pool. */
void pt_pool_put(pt_pool *p, uint32_t i);

static inline void *pt_pool_at(const pt_pool *p, uint32_t i)
{
	return p->a + (size_t)i * p->size;
}

#endif
