/* iplimit.c — budgets per client address (iplimit.h).
 *
 * Open addressing with linear probing over a power-of-two table; a slot is
 * empty when all its counters are zero, so deletion is a backward shift and there
 * are no tombstones to age. The table grows past 5/8 load and shrinks
 * below 1/8 (never under MIN_CAP), so a burst of one-off addresses does not
 * pin memory for ever. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/iplimit.h"

#define MIN_CAP 16u

struct slot {
	pt_addr addr;
	uint32_t c[PT_IP__COUNT]; /* all 0 = empty slot */
};

static bool used(const struct slot *s)
{
	uint32_t any = 0;

	for (int k = 0; k < PT_IP__COUNT; k++)
		any |= s->c[k];
	return any != 0;
}

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
	while (used(&l->s[i]) && !pt_addr_equal(&l->s[i].addr, a))
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
		if (used(&old[i]))
			s[probe(l, &old[i].addr)] = old[i];
	free(old);
	return 0;
}

int pt_iplimit_take(pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind, uint32_t n,
                    uint32_t max)
{
	uint32_t i = probe(l, a);

	if ((unsigned)kind >= PT_IP__COUNT)
		return -EINVAL;
	if (!n)
		return 1;
	if (used(&l->s[i])) {
		if ((uint64_t)l->s[i].c[kind] + n > max)
			return 0;
		l->s[i].c[kind] += n;
		return 1;
	}
	if (n > max)
		return 0;
	if ((uint64_t)(l->n + 1) * 8 > (uint64_t)l->cap * 5) {
		if (l->cap > UINT32_MAX / 2 || resize(l, l->cap * 2) < 0)
			return -ENOMEM;
		i = probe(l, a);
	}
	memset(&l->s[i], 0, sizeof(l->s[i]));
	l->s[i].addr = *a;
	l->s[i].c[kind] = n;
	l->n++;
	return 1;
}

void pt_iplimit_give(pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind, uint32_t n)
{
	uint32_t mask = l->cap - 1, i = probe(l, a);

	if ((unsigned)kind >= PT_IP__COUNT || !used(&l->s[i]))
		return;
	l->s[i].c[kind] = l->s[i].c[kind] > n ? l->s[i].c[kind] - n : 0;
	if (used(&l->s[i]))
		return;
	/* Backward shift: pull later members of the probe run into the hole
	 * whenever the hole lies on their path from their home slot. */
	for (uint32_t j = (i + 1) & mask; used(&l->s[j]); j = (j + 1) & mask) {
		uint32_t h = home(l, &l->s[j].addr);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			l->s[i] = l->s[j];
			i = j;
		}
	}
	memset(l->s[i].c, 0, sizeof(l->s[i].c));
	l->n--;
	if (l->cap > MIN_CAP && l->n * 8 < l->cap)
		(void)resize(l, l->cap / 2); /* failing to shrink is harmless */
}

uint32_t pt_iplimit_get(const pt_iplimit *l, const pt_addr *a, enum pt_ipcount kind)
{
	return (unsigned)kind < PT_IP__COUNT ? l->s[probe(l, a)].c[kind] : 0;
}

uint32_t pt_iplimit_addresses(const pt_iplimit *l)
{
	return l->n;
}

int pt_iplimit_acquire(pt_iplimit *l, const pt_addr *a, uint32_t max)
{
	int r = pt_iplimit_take(l, a, PT_IP_CONNS, 1, max);

	return r <= 0 ? r : (int)(pt_iplimit_get(l, a, PT_IP_CONNS) > INT_MAX ? INT_MAX :
	                          pt_iplimit_get(l, a, PT_IP_CONNS));
}

void pt_iplimit_release(pt_iplimit *l, const pt_addr *a)
{
	pt_iplimit_give(l, a, PT_IP_CONNS, 1);
}

uint32_t pt_iplimit_count(const pt_iplimit *l, const pt_addr *a)
{
	return pt_iplimit_get(l, a, PT_IP_CONNS);
}
