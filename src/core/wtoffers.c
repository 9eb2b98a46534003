/* wtoffers.c — relayed offers that authorise answers (wtoffers.h).
 *
 * A chained hash table keyed by (receiver, info_hash, offerer peer_id,
 * offer_id), seeded because clients choose the ids, plus a list in
 * insertion order: records are added with the one configured ttl, so the
 * oldest expire first and expiry pops from the head. A ttl shortened by a
 * reload only lets a few records outlive it until the head catches up;
 * take() checks every record's own deadline, so none is ever honoured
 * late. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/mix.h"
#include "peertrack/wtoffers.h"

#define MIN_BUCKETS 64u

struct rec {
	struct rec *next;          /* bucket chain */
	struct rec *older, *newer; /* age list */
	pt_wt_conn to, from;
	pt_wt_id ih, from_pid, offer_id;
	uint64_t expires_ms;
};

struct pt_wt_offers {
	struct rec **b;
	uint32_t cap, n;
	struct rec *oldest, *newest;
	uint64_t seed;
};

static uint32_t rec_hash(const pt_wt_offers *t, pt_wt_conn to, const pt_wt_id *ih,
                         const pt_wt_id *pid, const pt_wt_id *oid)
{
	uint64_t x = pt_mix64(t->seed ^ ((uint64_t)to.handle << 32 | to.gen));
	const pt_wt_id *ids[3] = { ih, pid, oid };

	for (int k = 0; k < 3; k++) {
		uint64_t w[3] = { 0, 0, 0 };
		memcpy(w, ids[k]->b, PT_WT_ID_BYTES);
		for (int i = 0; i < 3; i++)
			x = pt_mix64(x ^ w[i]) + 0x9e3779b97f4a7c15ULL;
	}
	return (uint32_t)(x ^ x >> 32);
}

pt_wt_offers *pt_wt_offers_new(uint64_t seed)
{
	pt_wt_offers *t = calloc(1, sizeof(*t));

	if (!t || !(t->b = calloc(MIN_BUCKETS, sizeof(*t->b)))) {
		free(t);
		return NULL;
	}
	t->cap = MIN_BUCKETS;
	t->seed = seed;
	return t;
}

void pt_wt_offers_free(pt_wt_offers *t)
{
	if (!t)
		return;
	for (struct rec *r = t->oldest, *nx; r; r = nx) {
		nx = r->newer;
		free(r);
	}
	free(t->b);
	free(t);
}

static struct rec **find(const pt_wt_offers *t, pt_wt_conn to, const pt_wt_id *ih,
                         const pt_wt_id *pid, const pt_wt_id *oid)
{
	struct rec **p = &t->b[rec_hash(t, to, ih, pid, oid) & (t->cap - 1)];

	for (; *p; p = &(*p)->next) {
		struct rec *r = *p;
		if (r->to.handle == to.handle && r->to.gen == to.gen &&
		    !memcmp(&r->offer_id, oid, sizeof(*oid)) && !memcmp(&r->from_pid, pid, sizeof(*pid)) &&
		    !memcmp(&r->ih, ih, sizeof(*ih)))
			break;
	}
	return p;
}

static void unlink_rec(pt_wt_offers *t, struct rec **p)
{
	struct rec *r = *p;

	*p = r->next;
	if (r->older)
		r->older->newer = r->newer;
	else
		t->oldest = r->newer;
	if (r->newer)
		r->newer->older = r->older;
	else
		t->newest = r->older;
	t->n--;
	free(r);
}

static void drop_oldest(pt_wt_offers *t)
{
	struct rec *r = t->oldest;

	unlink_rec(t, find(t, r->to, &r->ih, &r->from_pid, &r->offer_id));
}

static void grow(pt_wt_offers *t)
{
	uint32_t cap = t->cap * 2;
	struct rec **nb;

	if (t->n < t->cap || t->cap > UINT32_MAX / 4 || !(nb = calloc(cap, sizeof(*nb))))
		return; /* a failed grow only costs speed */
	for (struct rec *r = t->oldest; r; r = r->newer) {
		uint32_t j = rec_hash(t, r->to, &r->ih, &r->from_pid, &r->offer_id) & (cap - 1);
		r->next = nb[j];
		nb[j] = r;
	}
	free(t->b);
	t->b = nb;
	t->cap = cap;
}

int pt_wt_offers_add(pt_wt_offers *t, const pt_wt_id *ih, const pt_wt_id *from_pid,
                     const pt_wt_id *offer_id, pt_wt_conn from, pt_wt_conn to,
                     uint64_t now_ms, uint32_t ttl_ms, size_t max)
{
	struct rec **p = find(t, to, ih, from_pid, offer_id), *r;

	if (*p)
		unlink_rec(t, p);
	while (t->n && t->n >= max)
		drop_oldest(t);
	if (!max || !(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->to = to;
	r->from = from;
	r->ih = *ih;
	r->from_pid = *from_pid;
	r->offer_id = *offer_id;
	r->expires_ms = now_ms + ttl_ms;
	p = find(t, to, ih, from_pid, offer_id); /* drops above may have moved the slot */
	r->next = *p;
	*p = r;
	r->older = t->newest;
	if (t->newest)
		t->newest->newer = r;
	else
		t->oldest = r;
	t->newest = r;
	t->n++;
	grow(t);
	return 0;
}

int pt_wt_offers_take(pt_wt_offers *t, const pt_wt_id *ih, const pt_wt_id *from_pid,
                      const pt_wt_id *offer_id, pt_wt_conn to, uint64_t now_ms,
                      pt_wt_conn *from)
{
	struct rec **p = find(t, to, ih, from_pid, offer_id);

	if (!*p)
		return -ENOENT;
	if ((*p)->expires_ms <= now_ms) {
		unlink_rec(t, p);
		return -ENOENT;
	}
	*from = (*p)->from;
	unlink_rec(t, p);
	return 0;
}

size_t pt_wt_offers_expire(pt_wt_offers *t, uint64_t now_ms)
{
	size_t n = 0;

	while (t->oldest && t->oldest->expires_ms <= now_ms) {
		drop_oldest(t);
		n++;
	}
	return n;
}

size_t pt_wt_offers_count(const pt_wt_offers *t)
{
	return t->n;
}
