/* wtcount.c — /announce complete/incomplete across cluster nodes
 * (docs/DESIGN.md, "Cluster"): what this node writes of its swarms' counts,
 * and the counts an announce reply or a scrape answers with.
 *
 * Writing: a swarm whose local counts changed goes into a dirty set; a
 * timer (cluster_count_refresh_ms) writes up to cluster_batch of them per
 * tick (their current counts, a field removed when the swarm is empty
 * here), sooner while more wait, and only while the links have room. The
 * refresh pass over the live peers (remote.c) puts each peer's swarms in
 * the set too, so fields are rewritten below the TTL and again after an
 * outage, paced as the re-announce, and a swarm once per pass. The set is bounded
 * (DIRTY_MAX): a change that finds it full is dropped and counted, its
 * field ages out or the next change or refresh writes it.
 *
 * Reading: this node's counts, plus the other live nodes' sums the engine
 * keeps (pt_cluster_counts_remote): never a wait, a swarm not read yet
 * answers this node's counts and gets read for the next time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "peertrack/cluster.h"
#include "peertrack/mix.h"
#include "net.h"

#define DIRTY_MAX (1u << 16)
#define MIN_SLOTS 64u
#define BUSY_TICK_MS 20

/* Info_hashes in no order (v, dense) with a linear-probing table of
 * indices into v (index + 1; 0: empty) for membership. The flush takes
 * from v's end, so the indices of the others never move. */
struct pt__wtdirty {
	pt_wt_id *v;
	uint32_t n, cap;
	uint32_t *t;
	uint32_t mask;
	uint64_t seed;
	uint64_t dropped;
};

static uint32_t home(const struct pt__wtdirty *d, const pt_wt_id *ih)
{
	uint64_t w[3] = { 0, 0, 0 }, x = d->seed;

	memcpy(w, ih->b, PT_WT_ID_BYTES);
	for (int i = 0; i < 3; i++)
		x = pt_mix64(x ^ w[i]) + 0x9e3779b97f4a7c15ull;
	return (uint32_t)pt_mix64(x) & d->mask;
}

/* The slot holding ih, or the empty slot where it would go. */
static uint32_t find(const struct pt__wtdirty *d, const pt_wt_id *ih)
{
	uint32_t i = home(d, ih);

	while (d->t[i] && memcmp(d->v[d->t[i] - 1].b, ih->b, PT_WT_ID_BYTES))
		i = (i + 1) & d->mask;
	return i;
}

static int grow(struct pt__wtdirty *d)
{
	uint32_t slots = d->t ? (d->mask + 1) * 2 : MIN_SLOTS, *t;
	pt_wt_id *v = realloc(d->v, (size_t)(slots / 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->v = v;
	/* cap only once the table follows: the load stays at most 1/2. */
	if (!(t = calloc(slots, sizeof(*t))))
		return -ENOMEM;
	d->cap = slots / 2;
	free(d->t);
	d->t = t;
	d->mask = slots - 1;
	for (uint32_t k = 0; k < d->n; k++)
		d->t[find(d, &d->v[k])] = k + 1;
	return 0;
}

/* 1 added, 0 already there, -ENOSPC full, -ENOMEM. */
static int dirty_add(struct pt__wtdirty *d, const pt_wt_id *ih)
{
	uint32_t i;

	if (d->t && d->t[i = find(d, ih)])
		return 0;
	if (d->n >= DIRTY_MAX)
		return -ENOSPC;
	if (d->n + 1 > d->cap) {
		if (grow(d))
			return -ENOMEM;
	}
	i = find(d, ih);
	d->v[d->n] = *ih;
	d->t[i] = ++d->n;
	return 1;
}

/* Removes v's last entry (backward-shift deletion: no tombstones). */
static void dirty_pop(struct pt__wtdirty *d)
{
	uint32_t i = find(d, &d->v[d->n - 1]), j = i;

	for (;;) {
		uint32_t k;

		j = (j + 1) & d->mask;
		if (!d->t[j])
			break;
		k = home(d, &d->v[d->t[j] - 1]);
		/* The entry at j may move to i unless its home lies in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		d->t[i] = d->t[j];
		i = j;
	}
	d->t[i] = 0;
	d->n--;
}

static void count_of(struct pt_server *srv, const pt_wt_id *ih, pt_cluster_count *out)
{
	pt_wt_counts c;

	pt_wt_swarms_counts(srv->wt_swarms, ih, &c);
	*out = (pt_cluster_count){ pt__wt_key(ih), c.complete, c.incomplete };
}

static void flush(uv_timer_t *t)
{
	struct pt_server *srv = t->data;
	struct pt__wtdirty *d = srv->wt_dirty;
	uint32_t k = srv->cfg.cluster_batch;
	pt_cluster_count *v;
	int r;

	if (!srv->cluster || !d || !d->n)
		return;
	if (k > d->n)
		k = d->n;
	/* Redis down or busy: the changes wait (the set is bounded). */
	if (!pt_cluster_has_room(srv->cluster) || !(v = malloc(k * sizeof(*v)))) {
		uv_timer_start(t, flush, srv->cfg.cluster_count_refresh_ms, 0);
		return;
	}
	for (uint32_t i = 0; i < k; i++)
		count_of(srv, &d->v[d->n - 1 - i], &v[i]);
	r = pt_cluster_counts_put(srv->cluster, v, k);
	free(v);
	if (r) {
		/* Not registered (yet), or out of memory: try again later. */
		uv_timer_start(t, flush, srv->cfg.cluster_count_refresh_ms, 0);
		return;
	}
	for (uint32_t i = 0; i < k; i++)
		dirty_pop(d);
	if (d->n)
		uv_timer_start(t, flush, BUSY_TICK_MS, 0);
}

void pt__wtcount_changed(struct pt_server *srv, const pt_wt_id *ih, const pt_wt_counts *before)
{
	struct pt__wtdirty *d = srv->wt_dirty;
	pt_wt_counts now;

	if (!d)
		return;
	if (before) {
		pt_wt_swarms_counts(srv->wt_swarms, ih, &now);
		if (now.complete == before->complete && now.incomplete == before->incomplete)
			return;
	}
	if (dirty_add(d, ih) < 0)
		d->dropped++;
	else if (!uv_is_active((uv_handle_t *)&srv->wtcount_timer))
		uv_timer_start(&srv->wtcount_timer, flush, srv->cfg.cluster_count_refresh_ms, 0);
}

void pt__wtcount_get(struct pt_server *srv, const pt_wt_id *ih, pt_wt_counts *c)
{
	pt_key key;
	uint32_t rc, ri;

	pt_wt_swarms_counts(srv->wt_swarms, ih, c);
	if (!srv->wt_dirty || !srv->cluster)
		return;
	key = pt__wt_key(ih);
	if (!pt_cluster_counts_remote(srv->cluster, &key, &rc, &ri))
		return;
	c->complete = rc > UINT32_MAX - c->complete ? UINT32_MAX : c->complete + rc;
	c->incomplete = ri > UINT32_MAX - c->incomplete ? UINT32_MAX : c->incomplete + ri;
}

void pt__wtcount_refresh(struct pt_server *srv, const pt_key *keys, size_t n)
{
	/* Through the set: a swarm of many local peers is written once a pass,
	 * not once per peer. */
	for (size_t i = 0; i < n && srv->wt_dirty; i++) {
		pt_wt_id ih = pt__wt_ih(&keys[i]);

		if (keys[i].space == PT_SPACE_WT)
			pt__wtcount_changed(srv, &ih, NULL);
	}
}

uint64_t pt__wtcount_dropped(const struct pt_server *srv)
{
	return srv->wt_dirty ? srv->wt_dirty->dropped : 0;
}

int pt__wtcount_start(struct pt_server *srv)
{
	struct pt__wtdirty *d;

	if (!srv->cluster || !srv->cfg.cluster_count_refresh_ms)
		return 0;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	if (RAND_bytes((unsigned char *)&d->seed, sizeof(d->seed)) != 1)
		d->seed = (uint64_t)rand() << 32 ^ (uint64_t)rand();
	uv_timer_init(srv->loop, &srv->wtcount_timer);
	srv->wtcount_timer.data = srv;
	srv->wt_dirty = d;
	return 0;
}

void pt__wtcount_stop(struct pt_server *srv)
{
	struct pt__wtdirty *d = srv->wt_dirty;

	if (!d)
		return;
	uv_timer_stop(&srv->wtcount_timer);
	uv_close((uv_handle_t *)&srv->wtcount_timer, NULL);
	free(d->v);
	free(d->t);
	free(d);
	srv->wt_dirty = NULL;
}
