/* iplimit.c — live connections per client address.
 *
 * Open addressing with linear probing over a power-of-two table; a slot is
 * empty when its count is zero, so deletion is a backward shift and there
 * are no tombstones to age. The table grows past 5/8 load and shrinks
 * below 1/8 (never under MIN_CAP), so a burst of one-off addresses does not
 * pin memory for ever. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "peertrack/iplimit.h"

#define MIN_CAP 16u

struct slot {
	pt_addr addr;
	uint32_t count; /* 0 = empty slot */
};

struct pt_iplimit {
	struct slot *s;
	uint32_t cap; /* power of two */
	uint32_t n;
	uint64_t seed;
};

pt_iplimit *pt_iplimit_new(uint64_t seed)
{
	pt_iplimit *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->s = calloc(MIN_CAP, sizeof *l->s);
	if (!l->s) {
		free(l);
		return NULL;
	}
	l->cap = MIN_CAP;
	l->seed = seed;
	return l;
}

void pt_iplimit_free(pt_iplimit *l)
{
	if (!l)
		return;
	free(l->s);
	free(l);
}

static uint32_t home(const pt_iplimit *l, const pt_addr *a)
{
	return pt_addr_hash(a, l->seed) & (l->cap - 1);
}

/* Index of a's slot, or of the empty slot where it would go. */
static uint32_t probe(const pt_iplimit *l, const pt_addr *a)
{
	uint32_t mask = l->cap - 1, i = home(l, a);
	while (l->s[i].count && !pt_addr_equal(&l->s[i].addr, a))
		i = (i + 1) & mask;
	return i;
}

static int resize(pt_iplimit *l, uint32_t cap)
{
	struct slot *old = l->s;
	uint32_t old_cap = l->cap;
	struct slot *s = calloc(cap, sizeof *s);
	if (!s)
		return -ENOMEM;
	l->s = s;
	l->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].count)
			s[probe(l, &old[i].addr)] = old[i];
	free(old);
	return 0;
}

int pt_iplimit_acquire(pt_iplimit *l, const pt_addr *a, uint32_t max)
{
	uint32_t i = probe(l, a);
	if (l->s[i].count) {
		if (l->s[i].count >= max)
			return 0;
		l->s[i].count++;
		return l->s[i].count > INT_MAX ? INT_MAX : (int)l->s[i].count;
	}
	if (max == 0)
		return 0;
	if ((uint64_t)(l->n + 1) * 8 > (uint64_t)l->cap * 5) {
		if (l->cap > UINT32_MAX / 2 || resize(l, l->cap * 2) < 0)
			return -ENOMEM;
		i = probe(l, a);
	}
	l->s[i].addr = *a;
	l->s[i].count = 1;
	l->n++;
	return 1;
}

void pt_iplimit_release(pt_iplimit *l, const pt_addr *a)
{
	uint32_t mask = l->cap - 1, i = probe(l, a);
	if (!l->s[i].count)
		return;
	if (--l->s[i].count)
		return;
	/* Backward shift: pull later members of the probe run into the hole
	 * whenever the hole lies on their path from their home slot. */
	for (uint32_t j = (i + 1) & mask; l->s[j].count; j = (j + 1) & mask) {
		uint32_t h = home(l, &l->s[j].addr);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			l->s[i] = l->s[j];
			i = j;
		}
	}
	l->s[i].count = 0;
	l->n--;
	if (l->cap > MIN_CAP && l->n * 8 < l->cap)
		(void)resize(l, l->cap / 2); /* failing to shrink is harmless */
}

uint32_t pt_iplimit_count(const pt_iplimit *l, const pt_addr *a)
{
	return l->s[probe(l, a)].count;
}
