/* lcache.c — the cache of remote lookup samples (lcache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/lcache.h"

typedef struct slot {
	pt_key key;
	uint64_t expires_ms; /* 0: empty */
	uint32_t n;
	pt_cluster_cand *v;  /* max of them, from the first put on */
} slot;

struct pt_lcache {
	uint32_t n_slots, max, ttl_ms;
	slot s[];
};

pt_lcache *pt_lcache_new(uint32_t slots, uint32_t max, uint32_t ttl_ms)
{
	pt_lcache *lc;

	if (!slots || !max || !ttl_ms)
		return NULL;
	if (!(lc = calloc(1, sizeof(*lc) + (size_t)slots * sizeof(slot))))
		return NULL;
	lc->n_slots = slots;
	lc->max = max;
	lc->ttl_ms = ttl_ms;
	return lc;
}

void pt_lcache_free(pt_lcache *lc)
{
	if (!lc)
		return;
	for (uint32_t i = 0; i < lc->n_slots; i++)
		free(lc->s[i].v);
	free(lc);
}

static slot *slot_of(pt_lcache *lc, const pt_key *k)
{
	return &lc->s[pt_key_slot(k, lc->n_slots)];
}

int pt_lcache_put(pt_lcache *lc, const pt_key *k, const pt_cluster_cand *v, size_t n,
                  uint64_t now_ms)
{
	slot *s = slot_of(lc, k);

	if (!s->v && !(s->v = malloc((size_t)lc->max * sizeof(*s->v)))) {
		s->expires_ms = 0;
		return -ENOMEM;
	}
	if (n > lc->max)
		n = lc->max;
	if (n)
		memcpy(s->v, v, n * sizeof(*v));
	s->key = *k;
	s->n = (uint32_t)n;
	s->expires_ms = now_ms + lc->ttl_ms;
	return 0;
}

const pt_cluster_cand *pt_lcache_get(pt_lcache *lc, const pt_key *k, uint64_t now_ms,
                                     pt_lcache_keep_fn *keep, void *arg, size_t *n)
{
	slot *s = slot_of(lc, k);
	uint32_t m = 0;

	if (!s->expires_ms || now_ms >= s->expires_ms || !pt_key_equal(&s->key, k))
		return NULL;
	for (uint32_t i = 0; i < s->n; i++)
		if (!keep || keep(arg, &s->v[i]))
			s->v[m++] = s->v[i];
	s->n = m;
	*n = m;
	return s->v;
}
