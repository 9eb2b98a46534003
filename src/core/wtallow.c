/* wtallow.c — the info_hash allow-list (wtallow.h): a sorted array. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/wtallow.h"

void pt_wt_allow_init(pt_wt_allow *a)
{
	memset(a, 0, sizeof(*a));
}

void pt_wt_allow_free(pt_wt_allow *a)
{
	free(a->v);
	pt_wt_allow_init(a);
}

/* The first position whose id is not below ih; *found when it equals ih. */
static size_t lower_bound(const pt_wt_allow *a, const pt_wt_id *ih, bool *found)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(a->v[mid].b, ih->b, PT_WT_ID_BYTES) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < a->n && !memcmp(a->v[lo].b, ih->b, PT_WT_ID_BYTES);
	return lo;
}

int pt_wt_allow_add(pt_wt_allow *a, const pt_wt_id *ih, size_t max)
{
	bool found;
	size_t at = lower_bound(a, ih, &found);

	if (found)
		return 0;
	if (a->n >= max)
		return -ENOSPC;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		pt_wt_id *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	memmove(&a->v[at + 1], &a->v[at], (a->n - at) * sizeof(*a->v));
	a->v[at] = *ih;
	a->n++;
	return 1;
}

int pt_wt_allow_remove(pt_wt_allow *a, const pt_wt_id *ih)
{
	bool found;
	size_t at = lower_bound(a, ih, &found);

	if (!found)
		return 0;
	memmove(&a->v[at], &a->v[at + 1], (a->n - at - 1) * sizeof(*a->v));
	a->n--;
	return 1;
}

bool pt_wt_allow_has(const pt_wt_allow *a, const pt_wt_id *ih)
{
	bool found;

	(void)lower_bound(a, ih, &found);
	return found;
}
