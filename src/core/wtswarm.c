/* wtswarm.c — WebTorrent swarms and peer_id bindings (wtswarm.h).
 *
 * Two chained hash tables with seeded hashes: bindings keyed by
 * (info_hash, peer_id), swarms keyed by info_hash. A binding is also on its
 * connection's list (conns[handle]), so a connection's close walks exactly
 * its own bindings; those lists are at most max_per_conn long, which also
 * bounds the scans that tell whether a connection has another peer_id in a
 * swarm and that unlink a binding from its list (hence singly linked).
 *
 * Memory is what an idle peer costs (a WebTorrent client sits in many
 * swarms): records live in two pools (pool.h) and link by 32-bit index, so
 * a binding is 36 bytes with no allocator overhead and a bucket is 4 bytes.
 * Bucket arrays double past load 1 and never shrink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/mix.h"
#include "peertrack/pool.h"
#include "peertrack/wtswarm.h"

#define NIL PT_POOL_NIL
#define MIN_BUCKETS 64u
#define SEEDER_BIT 0x80000000u /* in binding.conn; handles stay below it */

struct swarm {
	pt_wt_id ih;
	uint32_t next; /* bucket chain */
	uint32_t complete, incomplete, downloaded;
	uint32_t n; /* bindings */
};

struct binding {
	pt_wt_id pid;  /* first: the pool's free list overwrites it */
	uint32_t swarm;
	uint32_t next;  /* bucket chain */
	uint32_t cnext; /* the connection's list */
	uint32_t conn;  /* handle | SEEDER_BIT when "left" was 0 */
};

struct conn {
	uint32_t head, n;
};

struct table {
	uint32_t *b;
	uint32_t cap, n; /* cap: power of two */
};

struct pt_wt_swarms {
	struct table bind, swarm;
	pt_pool binds, swarms;
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

static struct binding *B(const pt_wt_swarms *t, uint32_t i)
{
	return pt_pool_at(&t->binds, i);
}

static struct swarm *S(const pt_wt_swarms *t, uint32_t i)
{
	return pt_pool_at(&t->swarms, i);
}

static uint32_t conn_of(const struct binding *e)
{
	return e->conn & ~SEEDER_BIT;
}

static bool seeder_of(const struct binding *e)
{
	return e->conn & SEEDER_BIT;
}

static uint32_t *buckets_new(uint32_t cap)
{
	uint32_t *b = malloc((size_t)cap * sizeof(*b));

	if (b)
		memset(b, 0xff, (size_t)cap * sizeof(*b)); /* all NIL */
	return b;
}

static int table_init(struct table *t)
{
	t->b = buckets_new(MIN_BUCKETS);
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
	pt_pool_init(&t->binds, sizeof(struct binding));
	pt_pool_init(&t->swarms, sizeof(struct swarm));
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
	pt_pool_free(&t->binds);
	pt_pool_free(&t->swarms);
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

/* Doubles tb when it passes load 1; failure only costs speed. */
static void table_grow(pt_wt_swarms *t, struct table *tb, bool binds)
{
	uint32_t cap = tb->cap * 2, *nb;

	if (tb->n < tb->cap || tb->cap > UINT32_MAX / 4 || !(nb = buckets_new(cap)))
		return;
	for (uint32_t i = 0; i < tb->cap; i++) {
		for (uint32_t x = tb->b[i], nx; x != NIL; x = nx) {
			uint32_t j, *link;

			if (binds) {
				struct binding *e = B(t, x);
				j = (uint32_t)bind_hash(t, &S(t, e->swarm)->ih, &e->pid) & (cap - 1);
				link = &e->next;
			} else {
				struct swarm *s = S(t, x);
				j = (uint32_t)swarm_hash(t, &s->ih) & (cap - 1);
				link = &s->next;
			}
			nx = *link;
			*link = nb[j];
			nb[j] = x;
		}
	}
	free(tb->b);
	tb->b = nb;
	tb->cap = cap;
}

/* The link that holds swarm ih's index (NIL at the chain's end if none). */
static uint32_t *find_swarm(const pt_wt_swarms *t, const pt_wt_id *ih)
{
	uint32_t *p = &t->swarm.b[swarm_hash(t, ih) & (t->swarm.cap - 1)];

	while (*p != NIL && !id_eq(&S(t, *p)->ih, ih))
		p = &S(t, *p)->next;
	return p;
}

static uint32_t *find_binding(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid)
{
	uint32_t *p = &t->bind.b[bind_hash(t, ih, pid) & (t->bind.cap - 1)];

	while (*p != NIL && !(id_eq(&B(t, *p)->pid, pid) && id_eq(&S(t, B(t, *p)->swarm)->ih, ih)))
		p = &B(t, *p)->next;
	return p;
}

/* Whether conn has a binding in swarm s other than skip. */
static bool conn_in(const pt_wt_swarms *t, uint32_t conn, uint32_t s, uint32_t skip)
{
	if (conn >= t->conns_cap)
		return false;
	for (uint32_t x = t->conns[conn].head; x != NIL; x = B(t, x)->cnext)
		if (x != skip && B(t, x)->swarm == s)
			return true;
	return false;
}

static int reserve_conn(pt_wt_swarms *t, uint32_t conn)
{
	uint32_t cap;
	struct conn *c;

	if (conn < t->conns_cap)
		return 0;
	if (conn >= SEEDER_BIT)
		return -EINVAL;
	cap = t->conns_cap ? t->conns_cap : 64;
	while (cap <= conn)
		cap *= 2;
	if (!(c = realloc(t->conns, (size_t)cap * sizeof(*c))))
		return -ENOMEM;
	for (uint32_t i = t->conns_cap; i < cap; i++)
		c[i] = (struct conn){ NIL, 0 };
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
	uint32_t x = *find_binding(t, ih, pid), si, *sp;
	struct binding *e;
	struct swarm *s;
	bool entered;

	if (x != NIL) {
		e = B(t, x);
		s = S(t, e->swarm);
		if (conn_of(e) != conn)
			return -EEXIST;
		if (seeder_of(e) != seeder) {
			count(s, seeder_of(e), -1);
			count(s, seeder, +1);
			e->conn = conn | (seeder ? SEEDER_BIT : 0);
		}
		if (completed)
			s->downloaded++;
		return 0;
	}
	if (reserve_conn(t, conn))
		return -ENOMEM;
	if (t->conns[conn].n >= max_per_conn)
		return -ENOSPC;
	if ((x = pt_pool_get(&t->binds)) == NIL)
		return -ENOMEM;
	sp = find_swarm(t, ih);
	if ((si = *sp) == NIL) {
		if ((si = pt_pool_get(&t->swarms)) == NIL) {
			pt_pool_put(&t->binds, x);
			return -ENOMEM;
		}
		/* Found again: sp may have pointed into the pool, which the get
		 * may have moved; the chain's end is where the new swarm goes. */
		sp = find_swarm(t, ih);
		s = S(t, si);
		memset(s, 0, sizeof(*s));
		s->ih = *ih;
		s->next = NIL;
		*sp = si;
		t->swarm.n++;
	}
	s = S(t, si);
	entered = !conn_in(t, conn, si, NIL);
	e = B(t, x);
	e->swarm = si;
	e->pid = *pid;
	e->conn = conn | (seeder ? SEEDER_BIT : 0);
	s->n++;
	count(s, seeder, +1);
	if (completed)
		s->downloaded++;
	/* Found again, for the same reason: the binding pool may have moved. */
	sp = find_binding(t, ih, pid);
	e->next = NIL;
	*sp = x;
	t->bind.n++;
	e->cnext = t->conns[conn].head;
	t->conns[conn].head = x;
	t->conns[conn].n++;
	table_grow(t, &t->bind, true);
	table_grow(t, &t->swarm, false);
	return entered;
}

/* Unlinks and frees binding x, found at *bp; returns whether its
 * connection has now left the swarm. */
static bool unbind(pt_wt_swarms *t, uint32_t *bp)
{
	uint32_t x = *bp, si, *cp;
	struct binding *e = B(t, x);
	struct swarm *s = S(t, si = e->swarm);
	struct conn *c = &t->conns[conn_of(e)];
	bool left = !conn_in(t, conn_of(e), si, x);

	*bp = e->next;
	t->bind.n--;
	for (cp = &c->head; *cp != x; cp = &B(t, *cp)->cnext)
		;
	*cp = e->cnext;
	c->n--;
	count(s, seeder_of(e), -1);
	if (--s->n == 0) {
		uint32_t *sp = find_swarm(t, &s->ih);
		*sp = s->next;
		t->swarm.n--;
		pt_pool_put(&t->swarms, si);
	}
	pt_pool_put(&t->binds, x);
	return left;
}

int pt_wt_swarms_leave(pt_wt_swarms *t, uint32_t conn, const pt_wt_id *ih, const pt_wt_id *pid)
{
	uint32_t *bp = find_binding(t, ih, pid);

	if (*bp == NIL || conn_of(B(t, *bp)) != conn)
		return -ENOENT;
	return unbind(t, bp);
}

size_t pt_wt_swarms_drop_conn(pt_wt_swarms *t, uint32_t conn,
                              void (*left)(const pt_wt_id *ih, void *arg), void *arg)
{
	size_t n = 0;

	if (conn >= t->conns_cap)
		return 0;
	while (t->conns[conn].head != NIL) {
		struct binding *e = B(t, t->conns[conn].head);
		pt_wt_id ih = S(t, e->swarm)->ih, pid = e->pid; /* unbind frees both */

		if (unbind(t, find_binding(t, &ih, &pid)) && left)
			left(&ih, arg);
		n++;
	}
	return n;
}

int pt_wt_swarms_owner(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid,
                       uint32_t *conn)
{
	uint32_t x = *find_binding(t, ih, pid);

	if (x == NIL)
		return -ENOENT;
	*conn = conn_of(B(t, x));
	return 0;
}

void pt_wt_swarms_counts(const pt_wt_swarms *t, const pt_wt_id *ih, pt_wt_counts *c)
{
	uint32_t x = *find_swarm(t, ih);
	const struct swarm *s = x == NIL ? NULL : S(t, x);

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
