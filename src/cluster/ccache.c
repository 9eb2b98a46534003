/* ccache.c — the cache of other nodes' swarm counts (ccache.h). */
#include <stdlib.h>
#include <string.h>

#include "peertrack/ccache.h"

/* How many ttl_ms a sum may be answered with while it is read again. */
#define STALE_TTLS 4

typedef struct slot {
	pt_key key;
	uint64_t read_ms;   /* when its sum came; 0: no sum */
	uint64_t retry_ms;  /* no read before (a read failed) */
	uint32_t complete, incomplete;
	bool in_flight;
} slot;

struct pt_ccache {
	uint32_t n_slots, ttl_ms;
	slot s[];
};

pt_ccache *pt_ccache_new(uint32_t slots, uint32_t ttl_ms)
{
	pt_ccache *cc;

	if (!slots || !ttl_ms)
		return NULL;
	if (!(cc = calloc(1, sizeof(*cc) + (size_t)slots * sizeof(slot))))
		return NULL;
	cc->n_slots = slots;
	cc->ttl_ms = ttl_ms;
	return cc;
}

void pt_ccache_free(pt_ccache *cc)
{
	free(cc);
}

static slot *slot_of(pt_ccache *cc, const pt_key *k)
{
	return &cc->s[pt_key_slot(k, cc->n_slots)];
}

bool pt_ccache_get(pt_ccache *cc, const pt_key *k, uint64_t now_ms, uint32_t *complete,
                   uint32_t *incomplete, bool *read)
{
	slot *s = slot_of(cc, k);
	bool mine = pt_key_equal(&s->key, k), have;
	uint64_t age;

	*read = false;
	if (!mine) {
		/* Another key's read is in flight: that one keeps the slot. */
		if (s->in_flight)
			return false;
		s->key = *k;
		s->read_ms = s->retry_ms = 0;
	}
	age = now_ms - s->read_ms;
	have = s->read_ms && age < (uint64_t)cc->ttl_ms * STALE_TTLS;
	if ((!have || age >= cc->ttl_ms) && !s->in_flight && now_ms >= s->retry_ms) {
		s->in_flight = true;
		*read = true;
	}
	if (!have)
		return false;
	*complete = s->complete;
	*incomplete = s->incomplete;
	return true;
}

void pt_ccache_put(pt_ccache *cc, const pt_key *k, uint32_t complete, uint32_t incomplete,
                   uint64_t now_ms)
{
	slot *s = slot_of(cc, k);

	if (!pt_key_equal(&s->key, k))
		return;
	s->in_flight = false;
	s->complete = complete;
	s->incomplete = incomplete;
	s->read_ms = now_ms ? now_ms : 1;
}

void pt_ccache_fail(pt_ccache *cc, const pt_key *k, bool forget, uint64_t now_ms)
{
	slot *s = slot_of(cc, k);

	if (!pt_key_equal(&s->key, k))
		return;
	s->in_flight = false;
	if (forget) {
		s->read_ms = 0;
		s->retry_ms = now_ms + cc->ttl_ms;
	}
}

void pt_ccache_clear(pt_ccache *cc)
{
	for (uint32_t i = 0; cc && i < cc->n_slots; i++)
		cc->s[i].read_ms = 0;
}
