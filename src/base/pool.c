/* pool.c — fixed-size records by 32-bit index (pool.h). */
#include <stdlib.h>
#include <string.h>

#include "peertrack/pool.h"

#define MIN_CAP 64u

void pt_pool_init(pt_pool *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = (uint32_t)(size < 4 ? 4 : size);
	p->free_head = PT_POOL_NIL;
}

void pt_pool_free(pt_pool *p)
{
	free(p->a);
	pt_pool_init(p, p->size);
}

uint32_t pt_pool_get(pt_pool *p)
{
	uint32_t i = p->free_head;

	if (i != PT_POOL_NIL) {
		memcpy(&p->free_head, pt_pool_at(p, i), sizeof(uint32_t));
	} else {
		if (p->used == p->cap) {
			/* Doubling keeps the copy cost amortised; glibc moves large
			 * arrays with mremap, and pages past used stay untouched,
			 * so they cost no resident memory. */
			uint32_t cap = p->cap ? p->cap * 2 : MIN_CAP;
			char *a;

			if (p->cap >= PT_POOL_NIL / 2)
				cap = PT_POOL_NIL - 1;
			if (cap <= p->cap || !(a = realloc(p->a, (size_t)cap * p->size)))
				return PT_POOL_NIL;
			p->a = a;
			p->cap = cap;
		}
		i = p->used++;
	}
	p->live++;
	return i;
}

void pt_pool_put(pt_pool *p, uint32_t i)
{
	memcpy(pt_pool_at(p, i), &p->free_head, sizeof(uint32_t));
	p->free_head = i;
	p->live--;
}
