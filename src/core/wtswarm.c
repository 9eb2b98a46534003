/* wtswarm.c — WebTorrent swarms and peer_id bindings (wtswarm.h).
 *
 * Two chained hash tables with seeded hashes: bindings keyed by
 * (info_hash, peer_id), swarms keyed by info_hash. A binding is also on its
 * connection's list (conns[handle]), so a connection's close walks exactly
 * its own bindings; those lists are at most max_per_conn long, which also
 * bounds the scan that tells whether a connection has another peer_id in a
 * swarm. Tables double past load 1 and never shrink below their start. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/mix.h"
#include "peertrack/wtswarm.h"

#define MIN_BUCKETS 64u

struct swarm {
	struct swarm *next; /* bucket chain */
	pt_wt_id ih;
	uint32_t complete, incomplete, downloaded;
	uint32_t n; /* bindings */
};

struct binding {
	struct binding *next;             /* bucket chain */
	struct binding *cprev, *cnext;    /* the connection's list */
	struct swarm *swarm;
	pt_wt_id pid;
	uint32_t conn;
	bool seeder;
};

struct conn {
	struct binding *head;
	uint32_t n;
};

struct table {
	void **b;
	uint32_t cap, n; /* cap: power of two */
};

struct pt_wt_swarms {
	struct table bind, swarm;
	struct conn *conns;
	uint32_t conns_cap;
	uint64_t seed;
};

static uint64_t hash_ids(const pt_wt_id *a, const pt_wt_id *b, uint64_t seed)
{
	uint64_t x = seed, w[3];

	for (int k = 0; k < 2; k++) {
		const pt_wt_id *id = k ? b : a;
		if (!id)
			break;
		memset(w, 0, sizeof(w));
		memcpy(w, id->b, PT_WT_ID_BYTES);
		for (int i = 0; i < 3; i++)
			x = pt_mix64(x ^ w[i]) + 0x9e3779b97f4a7c15ULL;
	}
	return pt_mix64(x);
}

static bool id_eq(const pt_wt_id *a, const pt_wt_id *b)
{
	return !memcmp(a->b, b->b, PT_WT_ID_BYTES);
}

static int table_init(struct table *t)
{
	t->b = calloc(MIN_BUCKETS, sizeof(*t->b));
	t->cap = MIN_BUCKETS;
	t->n = 0;
	return t->b ? 0 : -ENOMEM;
}

pt_wt_swarms *pt_wt_swarms_new(uint64_t seed)
{
	pt_wt_swarms *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->seed = seed;
	if (table_init(&t->bind) || table_init(&t->swarm)) {
		pt_wt_swarms_free(t);
		return NULL;
	}
	return t;
}

void pt_wt_swarms_free(pt_wt_swarms *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->bind.b && i < t->bind.cap; i++)
		for (struct binding *e = t->bind.b[i], *nx; e; e = nx) {
			nx = e->next;
			free(e);
		}
	for (uint32_t i = 0; t->swarm.b && i < t->swarm.cap; i++)
		for (struct swarm *s = t->swarm.b[i], *nx; s; s = nx) {
			nx = s->next;
			free(s);
		}
	free(t->bind.b);
	free(t->swarm.b);
	free(t->conns);
	free(t);
}

static uint64_t bind_hash(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid)
{
	return hash_ids(ih, pid, t->seed);
}

static uint64_t swarm_hash(const pt_wt_swarms *t, const pt_wt_id *ih)
{
	return hash_ids(ih, NULL, t->seed ^ 0x5bd1e995ULL);
}

/* Doubles t when it passes load 1; failure only costs speed. */
static void table_grow(pt_wt_swarms *t, struct table *tb, bool binds)
{
	uint32_t cap = tb->cap * 2;
	void **nb;

	if (tb->n < tb->cap || tb->cap > UINT32_MAX / 4 || !(nb = calloc(cap, sizeof(*nb))))
		return;
	for (uint32_t i = 0; i < tb->cap; i++) {
		if (binds) {
			for (struct binding *e = tb->b[i], *nx; e; e = nx) {
				uint32_t j = (uint32_t)bind_hash(t, &e->swarm->ih, &e->pid) & (cap - 1);
				nx = e->next;
				e->next = nb[j];
				nb[j] = e;
			}
		} else {
			for (struct swarm *s = tb->b[i], *nx; s; s = nx) {
				uint32_t j = (uint32_t)swarm_hash(t, &s->ih) & (cap - 1);
				nx = s->next;
				s->next = nb[j];
				nb[j] = s;
			}
		}
	}
	free(tb->b);
	tb->b = nb;
	tb->cap = cap;
}

static struct swarm **find_swarm(const pt_wt_swarms *t, const pt_wt_id *ih)
{
	struct swarm **p = (struct swarm **)&t->swarm.b[swarm_hash(t, ih) & (t->swarm.cap - 1)];

	while (*p && !id_eq(&(*p)->ih, ih))
		p = &(*p)->next;
	return p;
}

static struct binding **find_binding(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid)
{
	struct binding **p =
		(struct binding **)&t->bind.b[bind_hash(t, ih, pid) & (t->bind.cap - 1)];

	while (*p && !(id_eq(&(*p)->pid, pid) && id_eq(&(*p)->swarm->ih, ih)))
		p = &(*p)->next;
	return p;
}

/* Whether conn has a binding in swarm s other than skip. */
static bool conn_in(const pt_wt_swarms *t, uint32_t conn, const struct swarm *s,
                    const struct binding *skip)
{
	if (conn >= t->conns_cap)
		return false;
	for (const struct binding *e = t->conns[conn].head; e; e = e->cnext)
		if (e != skip && e->swarm == s)
			return true;
	return false;
}

static int reserve_conn(pt_wt_swarms *t, uint32_t conn)
{
	uint32_t cap;
	struct conn *c;

	if (conn < t->conns_cap)
		return 0;
	if (conn == UINT32_MAX)
		return -EINVAL;
	cap = t->conns_cap ? t->conns_cap : 64;
	while (cap <= conn)
		cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
	if (!(c = realloc(t->conns, (size_t)cap * sizeof(*c))))
		return -ENOMEM;
	memset(c + t->conns_cap, 0, (size_t)(cap - t->conns_cap) * sizeof(*c));
	t->conns = c;
	t->conns_cap = cap;
	return 0;
}

static void count(struct swarm *s, bool seeder, int d)
{
	if (seeder)
		s->complete += (uint32_t)d;
	else
		s->incomplete += (uint32_t)d;
}

int pt_wt_swarms_join(pt_wt_swarms *t, uint32_t conn, const pt_wt_id *ih, const pt_wt_id *pid,
                      bool seeder, bool completed, uint32_t max_per_conn)
{
	struct binding **bp = find_binding(t, ih, pid), *e = *bp;
	struct swarm **sp, *s;
	bool entered;

	if (e) {
		if (e->conn != conn)
			return -EEXIST;
		if (e->seeder != seeder) {
			count(e->swarm, e->seeder, -1);
			count(e->swarm, seeder, +1);
			e->seeder = seeder;
		}
		if (completed)
			e->swarm->downloaded++;
		return 0;
	}
	if (reserve_conn(t, conn))
		return -ENOMEM;
	if (t->conns[conn].n >= max_per_conn)
		return -ENOSPC;
	if (!(e = calloc(1, sizeof(*e))))
		return -ENOMEM;
	sp = find_swarm(t, ih);
	if (!(s = *sp)) {
		if (!(s = calloc(1, sizeof(*s)))) {
			free(e);
			return -ENOMEM;
		}
		s->ih = *ih;
		*sp = s;
		t->swarm.n++;
	}
	entered = !conn_in(t, conn, s, NULL);
	e->swarm = s;
	e->pid = *pid;
	e->conn = conn;
	e->seeder = seeder;
	s->n++;
	count(s, seeder, +1);
	if (completed)
		s->downloaded++;
	e->next = *bp;
	*bp = e;
	t->bind.n++;
	e->cnext = t->conns[conn].head;
	if (e->cnext)
		e->cnext->cprev = e;
	t->conns[conn].head = e;
	t->conns[conn].n++;
	table_grow(t, &t->bind, true);
	table_grow(t, &t->swarm, false);
	return entered;
}

/* Unlinks and frees e (found at *bp); returns whether its connection has
 * now left the swarm. */
static bool unbind(pt_wt_swarms *t, struct binding **bp)
{
	struct binding *e = *bp;
	struct swarm *s = e->swarm;
	struct conn *c = &t->conns[e->conn];
	bool left = !conn_in(t, e->conn, s, e);

	*bp = e->next;
	t->bind.n--;
	if (e->cprev)
		e->cprev->cnext = e->cnext;
	else
		c->head = e->cnext;
	if (e->cnext)
		e->cnext->cprev = e->cprev;
	c->n--;
	count(s, e->seeder, -1);
	if (--s->n == 0) {
		struct swarm **sp = find_swarm(t, &s->ih);
		*sp = s->next;
		t->swarm.n--;
		free(s);
	}
	free(e);
	return left;
}

int pt_wt_swarms_leave(pt_wt_swarms *t, uint32_t conn, const pt_wt_id *ih, const pt_wt_id *pid)
{
	struct binding **bp = find_binding(t, ih, pid);

	if (!*bp || (*bp)->conn != conn)
		return -ENOENT;
	return unbind(t, bp);
}

size_t pt_wt_swarms_drop_conn(pt_wt_swarms *t, uint32_t conn,
                              void (*left)(const pt_wt_id *ih, void *arg), void *arg)
{
	size_t n = 0;

	if (conn >= t->conns_cap)
		return 0;
	while (t->conns[conn].head) {
		struct binding *e = t->conns[conn].head;
		pt_wt_id ih = e->swarm->ih; /* unbind may free the swarm */

		if (unbind(t, find_binding(t, &ih, &e->pid)) && left)
			left(&ih, arg);
		n++;
	}
	return n;
}

int pt_wt_swarms_owner(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid,
                       uint32_t *conn)
{
	struct binding *e = *find_binding(t, ih, pid);

	if (!e)
		return -ENOENT;
	*conn = e->conn;
	return 0;
}

void pt_wt_swarms_counts(const pt_wt_swarms *t, const pt_wt_id *ih, pt_wt_counts *c)
{
	struct swarm *s = *find_swarm(t, ih);

	memset(c, 0, sizeof(*c));
	if (s) {
		c->complete = s->complete;
		c->incomplete = s->incomplete;
		c->downloaded = s->downloaded;
	}
}

size_t pt_wt_swarms_conn_count(const pt_wt_swarms *t, uint32_t conn)
{
	return conn < t->conns_cap ? t->conns[conn].n : 0;
}

size_t pt_wt_swarms_bindings(const pt_wt_swarms *t)
{
	return t->bind.n;
}

size_t pt_wt_swarms_count(const pt_wt_swarms *t)
{
	return t->swarm.n;
}
