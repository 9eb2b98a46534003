/* index.c — the live index: which peer holds which resource hash.
 *
 * Four flat structures, all addressed by uint32 indices (layout and memory
 * arithmetic in docs/DESIGN.md, "Index and matching"):
 *
 *   recs   pool of hash records {hash, holders[], n, cap}. holders is the
 *          dense array lookups sample from; up to INLINE_CAP holders live
 *          inside the record itself, so the many hashes with one or two
 *          holders cost no allocation at all.
 *   ents   pool of entries {peer, rec, pos in holders, prev, next}; the
 *          prev/next links chain a peer's entries, so dropping a peer walks
 *          exactly its own entries.
 *   htab   open-addressing table: hash -> rec.
 *   ptab   open-addressing table: (peer, rec) -> entry. It answers "does p
 *          hold h" and finds the entry of the holder that a swap-remove
 *          moves, so its pos can be fixed in O(1).
 *
 * Both tables use linear probing over power-of-two capacities, grow past
 * 5/8 load, shrink below 1/8 and delete by backward shift (no tombstones).
 * A resize moves the items to the new array a few at a time over the
 * following operations (struct table), so that no single call does work
 * in proportion to the index: at 2 M entries a one-go doubling held the
 * loop for 0.2-0.3 s on an idle machine, seconds on a loaded one.
 * Pools recycle freed slots through free lists and keep their high-water
 * size. Every mutation reserves all the memory it needs before changing
 * anything, so -ENOMEM leaves the index as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/mix.h"
#include "peertrack/index.h"

#define NONE       UINT32_MAX
#define INLINE_CAP 2u
#define MIN_TABLE  16u
#define MIN_POOL   64u

/* A record's key is (space, h): the same 32 bytes in two key spaces are
 * two keys. The space lives in the top bits of cap, so the record stays
 * 48 bytes; holder arrays are capped at CAP_MAX (far above any peer count
 * a descriptor limit allows). */
#define CAP_MAX (1u << 27)

struct hrec {
	pt_hash h;
	union {
		uint32_t *heap;           /* cap > INLINE_CAP */
		uint32_t inl[INLINE_CAP]; /* cap == INLINE_CAP; inl[0] = next free */
	} u;
	uint32_t n;   /* holders; 0 only for a free record */
	uint32_t cap : 28;
	uint32_t space : 4;
};

struct entry {
	uint32_t peer; /* NONE for a free entry */
	uint32_t rec;
	uint32_t pos;  /* index in recs[rec]'s holders */
	uint32_t prev; /* the peer's list; for a free entry next = next free */
	uint32_t next;
};

struct peer {
	uint32_t head;
	uint32_t n;
};

/* One open-addressing array. */
struct tab {
	uint32_t *slot; /* item + 1; 0 = empty (calloc'd: see tab_init) */
	uint32_t cap;   /* power of two */
	uint32_t n;
};

/* A table resizes incrementally: a resize allocates the new array and
 * leaves the items in the old one; every later insert or delete moves a
 * bounded number of them across (migrate_step), so no single call pays
 * for all n items. While old.slot is set, lookups look in cur, then in
 * old; inserts go to cur only. old stays a valid linear-probing array on
 * its own (deletes shift back in it as in cur), and every slot of old
 * below cursor is empty: migration takes whole probe runs, from cursor
 * up to the next empty slot, so no item left behind loses its path. */
struct table {
	struct tab cur, old; /* old.slot NULL when no resize is under way */
	uint32_t cursor;
	uint32_t n;          /* cur.n + old.n */
};

/* Where a key is (tab_get(t, i) == item) or, if absent, where it goes
 * (an empty slot of cur). */
struct loc {
	struct tab *t;
	uint32_t i;
};

struct pt_index {
	struct hrec *recs;
	uint32_t recs_cap, recs_used, recs_free;
	struct entry *ents;
	uint32_t ents_cap, ents_used, ents_free;
	struct peer *peers;
	uint32_t peers_cap;
	struct table htab, ptab;
	size_t heap_bytes; /* holder arrays that left their record */
	uint32_t space_recs[PT_SPACE__COUNT], space_ents[PT_SPACE__COUNT];
	uint64_t seed, pair_seed;
};

typedef uint32_t (*item_hash_fn)(const pt_index *ix, uint32_t item);

static uint32_t pair_hash(const pt_index *ix, uint32_t peer, uint32_t rec)
{
	uint64_t x = pt_mix64(((uint64_t)peer << 32 | rec) ^ ix->pair_seed);
	return (uint32_t)(x ^ x >> 32);
}

/* Each key space hashes with its own seed. */
static uint32_t key_hash(const pt_index *ix, unsigned space, const pt_hash *h)
{
	return pt_hash_hash(h, space ? pt_mix64(ix->seed + space) : ix->seed);
}

static uint32_t rec_item_hash(const pt_index *ix, uint32_t rec)
{
	return key_hash(ix, ix->recs[rec].space, &ix->recs[rec].h);
}

static uint32_t ent_item_hash(const pt_index *ix, uint32_t e)
{
	return pair_hash(ix, ix->ents[e].peer, ix->ents[e].rec);
}

static uint32_t *holders(struct hrec *r)
{
	return r->cap > INLINE_CAP ? r->u.heap : r->u.inl;
}

/* -- tables --------------------------------------------------------------- */

/* Slots of old visited per insert or delete while a resize is under way
 * (a probe run reached is moved whole). A grow at 5/8 load leaves 5/8 of
 * the old capacity in inserts before the next one, a shrink at 1/8 at
 * least 1/16 in deletes: 64 a call finishes the move well before either. */
#define MIGRATE_STEP 64u

/* Empty is 0 so that a new array comes zeroed from calloc: large ones are
 * fresh pages that fault in as the move touches them, where filling them
 * with a marker took 45 ms for 4 M slots (16 MB) before the first insert. */
static int tab_init(struct tab *t, uint32_t cap)
{
	t->slot = calloc(cap, sizeof *t->slot);
	if (!t->slot)
		return -ENOMEM;
	t->cap = cap;
	t->n = 0;
	return 0;
}

static int table_init(struct table *t, uint32_t cap)
{
	*t = (struct table){ 0 };
	return tab_init(&t->cur, cap);
}

static void table_free(struct table *t)
{
	free(t->cur.slot);
	free(t->old.slot);
}

static void tab_put(const pt_index *ix, struct tab *t, uint32_t item, item_hash_fn hash)
{
	uint32_t mask = t->cap - 1, j = hash(ix, item) & mask;
	while (t->slot[j])
		j = (j + 1) & mask;
	t->slot[j] = item + 1;
	t->n++;
}

static void migrate_done(struct table *t)
{
	free(t->old.slot);
	t->old = (struct tab){ 0 };
	t->cursor = 0;
}

/* Moves the items of old's next budget slots (finishing the run it is in)
 * into cur; UINT32_MAX slots finishes the resize. */
static void migrate_step(pt_index *ix, struct table *t, uint32_t budget, item_hash_fn hash)
{
	struct tab *o = &t->old;
	if (!o->slot)
		return;
	while (o->n && t->cursor < o->cap && budget) {
		uint32_t i = t->cursor;
		/* A whole run: its items all have their home inside it (the
		 * slot before it is empty, or it wraps and that part stays). */
		for (; o->slot[i]; i = (i + 1) & (o->cap - 1), budget -= budget > 1) {
			tab_put(ix, &t->cur, o->slot[i] - 1, hash);
			o->slot[i] = 0;
			o->n--;
		}
		/* i is the empty slot that ended the run; a run that wrapped
		 * past the end emptied everything from cursor up. */
		t->cursor = i < t->cursor ? o->cap : i + 1;
		budget--;
	}
	if (!o->n || t->cursor >= o->cap)
		migrate_done(t);
}

/* Starts moving every item into a new array of cap slots; the old array
 * must be gone (a resize still under way is finished first). */
static int table_resize(pt_index *ix, struct table *t, uint32_t cap, item_hash_fn hash)
{
	struct tab nt;
	if (tab_init(&nt, cap) < 0)
		return -ENOMEM;
	migrate_step(ix, t, UINT32_MAX, hash);
	t->old = t->cur;
	t->cur = nt;
	t->cursor = 0;
	if (!t->old.n)
		migrate_done(t);
	return 0;
}

/* Room for one more item in cur. */
static int table_reserve(pt_index *ix, struct table *t, item_hash_fn hash)
{
	migrate_step(ix, t, MIGRATE_STEP, hash);
	if ((uint64_t)(t->n + 1) * 8 <= (uint64_t)t->cur.cap * 5)
		return 0;
	if (t->cur.cap > UINT32_MAX / 2)
		return -ENOMEM;
	return table_resize(ix, t, t->cur.cap * 2, hash);
}

/* Empties slot i of t, pulling later members of its probe run back into
 * the hole when the hole lies on their path from their home slot. */
static void tab_delete(const pt_index *ix, struct tab *t, uint32_t i, item_hash_fn hash)
{
	uint32_t mask = t->cap - 1;
	for (uint32_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
		uint32_t home = hash(ix, t->slot[j] - 1) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i] = 0;
	t->n--;
}

static void table_delete(pt_index *ix, struct table *t, struct loc at, item_hash_fn hash)
{
	tab_delete(ix, at.t, at.i, hash);
	t->n--;
	if (at.t == &t->old && !t->old.n)
		migrate_done(t);
}

/* After a delete: moves on a resize under way, or starts a shrink. */
static void table_maybe_shrink(pt_index *ix, struct table *t, item_hash_fn hash)
{
	migrate_step(ix, t, MIGRATE_STEP, hash);
	if (!t->old.slot && t->cur.cap > MIN_TABLE && (uint64_t)t->n * 8 < t->cur.cap)
		(void)table_resize(ix, t, t->cur.cap / 2, hash); /* failure is harmless */
}

static struct loc rec_in(const pt_index *ix, const struct tab *t, unsigned space,
                         const pt_hash *h, uint32_t home)
{
	uint32_t mask = t->cap - 1, i = home & mask;
	for (uint32_t r; (r = t->slot[i] - 1) != NONE; i = (i + 1) & mask)
		if (ix->recs[r].space == space && pt_hash_equal(&ix->recs[r].h, h))
			break;
	return (struct loc){ (struct tab *)t, i };
}

static struct loc find_rec(const pt_index *ix, unsigned space, const pt_hash *h)
{
	uint32_t home = key_hash(ix, space, h);
	struct loc at = rec_in(ix, &ix->htab.cur, space, h, home);
	if (!at.t->slot[at.i] && ix->htab.old.slot) {
		struct loc o = rec_in(ix, &ix->htab.old, space, h, home);
		if (o.t->slot[o.i])
			return o;
	}
	return at;
}

static struct loc pair_in(const pt_index *ix, const struct tab *t, uint32_t peer, uint32_t rec,
                          uint32_t home)
{
	uint32_t mask = t->cap - 1, i = home & mask;
	for (;;) {
		uint32_t e = t->slot[i] - 1;
		if (e == NONE || (ix->ents[e].peer == peer && ix->ents[e].rec == rec))
			return (struct loc){ (struct tab *)t, i };
		i = (i + 1) & mask;
	}
}

static struct loc find_pair(const pt_index *ix, uint32_t peer, uint32_t rec)
{
	uint32_t home = pair_hash(ix, peer, rec);
	struct loc at = pair_in(ix, &ix->ptab.cur, peer, rec, home);
	if (!at.t->slot[at.i] && ix->ptab.old.slot) {
		struct loc o = pair_in(ix, &ix->ptab.old, peer, rec, home);
		if (o.t->slot[o.i])
			return o;
	}
	return at;
}

static uint32_t at(struct loc l)
{
	return l.t->slot[l.i] - 1; /* NONE when empty */
}

/* -- pools ---------------------------------------------------------------- */

static int pool_grow(void **base, uint32_t *cap, size_t elem)
{
	uint64_t ncap = *cap ? (uint64_t)*cap * 2 : MIN_POOL;
	if (ncap >= NONE)
		ncap = NONE - 1; /* indices must stay below the NONE marker */
	if (ncap <= *cap)
		return -ENOMEM;
	void *p = realloc(*base, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*base = p;
	*cap = (uint32_t)ncap;
	return 0;
}

static int reserve_entry(pt_index *ix)
{
	if (ix->ents_free != NONE || ix->ents_used < ix->ents_cap)
		return 0;
	return pool_grow((void **)&ix->ents, &ix->ents_cap, sizeof *ix->ents);
}

static int reserve_rec(pt_index *ix)
{
	if (ix->recs_free != NONE || ix->recs_used < ix->recs_cap)
		return 0;
	return pool_grow((void **)&ix->recs, &ix->recs_cap, sizeof *ix->recs);
}

static int reserve_peer(pt_index *ix, uint32_t peer)
{
	if (peer < ix->peers_cap)
		return 0;
	uint64_t ncap = ix->peers_cap ? (uint64_t)ix->peers_cap * 2 : MIN_POOL;
	if (ncap <= peer)
		ncap = (uint64_t)peer + 1;
	struct peer *p = realloc(ix->peers, (size_t)ncap * sizeof *p);
	if (!p)
		return -ENOMEM;
	for (uint64_t i = ix->peers_cap; i < ncap; i++)
		p[i] = (struct peer){ .head = NONE, .n = 0 };
	ix->peers = p;
	ix->peers_cap = (uint32_t)ncap;
	return 0;
}

/* Room for one more holder in r. */
static int reserve_holder(pt_index *ix, struct hrec *r)
{
	if (r->n < r->cap)
		return 0;
	if (r->cap >= CAP_MAX)
		return -ENOMEM;
	uint32_t ncap = r->cap * 2;
	uint32_t *p;
	if (r->cap == INLINE_CAP) {
		p = malloc((size_t)ncap * sizeof *p);
		if (!p)
			return -ENOMEM;
		memcpy(p, r->u.inl, sizeof r->u.inl);
	} else {
		p = realloc(r->u.heap, (size_t)ncap * sizeof *p);
		if (!p)
			return -ENOMEM;
		ix->heap_bytes -= (size_t)r->cap * sizeof *p;
	}
	ix->heap_bytes += (size_t)ncap * sizeof *p;
	r->u.heap = p;
	r->cap = ncap;
	return 0;
}

/* Halves a holder array once it is at most a quarter full, so a hash that
 * was popular once does not keep its peak array. */
static void shrink_holders(pt_index *ix, struct hrec *r)
{
	if (r->cap <= INLINE_CAP || (uint64_t)r->n * 4 > r->cap)
		return;
	if (r->n <= INLINE_CAP) {
		uint32_t *heap = r->u.heap;
		memcpy(r->u.inl, heap, (size_t)r->n * sizeof *heap);
		ix->heap_bytes -= (size_t)r->cap * sizeof *heap;
		free(heap);
		r->cap = INLINE_CAP;
		return;
	}
	uint32_t *p = realloc(r->u.heap, (size_t)(r->cap / 2) * sizeof *p);
	if (!p)
		return; /* keeping the larger array is fine */
	ix->heap_bytes -= (size_t)(r->cap - r->cap / 2) * sizeof *p;
	r->u.heap = p;
	r->cap /= 2;
}

/* -- public --------------------------------------------------------------- */

pt_index *pt_index_new(uint64_t seed)
{
	pt_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return NULL;
	ix->seed = seed;
	ix->pair_seed = pt_mix64(seed ^ 0x5851f42d4c957f2dULL);
	ix->recs_free = ix->ents_free = NONE;
	if (table_init(&ix->htab, MIN_TABLE) < 0 || table_init(&ix->ptab, MIN_TABLE) < 0) {
		pt_index_free(ix);
		return NULL;
	}
	return ix;
}

void pt_index_free(pt_index *ix)
{
	if (!ix)
		return;
	for (uint32_t i = 0; i < ix->recs_used; i++)
		if (ix->recs[i].n && ix->recs[i].cap > INLINE_CAP)
			free(ix->recs[i].u.heap);
	free(ix->recs);
	free(ix->ents);
	free(ix->peers);
	table_free(&ix->htab);
	table_free(&ix->ptab);
	free(ix);
}

int pt_index_add_in(pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h)
{
	if (peer == NONE || (unsigned)space >= PT_SPACE__COUNT)
		return -EINVAL;
	uint32_t rec = at(find_rec(ix, space, h));
	if (rec != NONE && at(find_pair(ix, peer, rec)) != NONE)
		return 0;

	if (reserve_peer(ix, peer) < 0 || reserve_entry(ix) < 0 ||
	    table_reserve(ix, &ix->ptab, ent_item_hash) < 0)
		return -ENOMEM;
	if (rec == NONE) {
		if (reserve_rec(ix) < 0 || table_reserve(ix, &ix->htab, rec_item_hash) < 0)
			return -ENOMEM;
	} else if (reserve_holder(ix, &ix->recs[rec]) < 0) {
		return -ENOMEM;
	}

	if (rec == NONE) {
		if (ix->recs_free != NONE) {
			rec = ix->recs_free;
			ix->recs_free = ix->recs[rec].u.inl[0];
		} else {
			rec = ix->recs_used++;
		}
		ix->recs[rec] = (struct hrec){ .h = *h, .n = 0, .cap = INLINE_CAP, .space = space };
		struct loc l = find_rec(ix, space, h); /* the table may have moved */
		l.t->slot[l.i] = rec + 1;
		l.t->n++;
		ix->htab.n++;
		ix->space_recs[space]++;
	}
	uint32_t e;
	if (ix->ents_free != NONE) {
		e = ix->ents_free;
		ix->ents_free = ix->ents[e].next;
	} else {
		e = ix->ents_used++;
	}
	struct hrec *r = &ix->recs[rec];
	struct peer *p = &ix->peers[peer];
	holders(r)[r->n] = peer;
	ix->ents[e] = (struct entry){ .peer = peer, .rec = rec, .pos = r->n,
	                              .prev = NONE, .next = p->head };
	r->n++;
	if (p->head != NONE)
		ix->ents[p->head].prev = e;
	p->head = e;
	p->n++;
	struct loc l = find_pair(ix, peer, rec);
	l.t->slot[l.i] = e + 1;
	l.t->n++;
	ix->ptab.n++;
	ix->space_ents[space]++;
	return 1;
}

/* Drops entry e, whose ptab slot is pair_slot, and its record if it was
 * the last holder. */
static void drop_entry(pt_index *ix, uint32_t e, struct loc pair_slot)
{
	struct entry *en = &ix->ents[e];
	uint32_t rec = en->rec, peer = en->peer;
	struct hrec *r = &ix->recs[rec];
	uint32_t *hold = holders(r), last = r->n - 1;

	if (en->pos != last) {
		uint32_t moved = hold[last];
		hold[en->pos] = moved;
		ix->ents[at(find_pair(ix, moved, rec))].pos = en->pos;
	}
	r->n--;
	ix->space_ents[r->space]--;
	table_delete(ix, &ix->ptab, pair_slot, ent_item_hash);

	struct peer *p = &ix->peers[peer];
	if (en->prev != NONE)
		ix->ents[en->prev].next = en->next;
	else
		p->head = en->next;
	if (en->next != NONE)
		ix->ents[en->next].prev = en->prev;
	p->n--;
	en->peer = NONE;
	en->next = ix->ents_free;
	ix->ents_free = e;

	if (r->n == 0) {
		table_delete(ix, &ix->htab, find_rec(ix, r->space, &r->h), rec_item_hash);
		ix->space_recs[r->space]--;
		if (r->cap > INLINE_CAP) {
			ix->heap_bytes -= (size_t)r->cap * sizeof *r->u.heap;
			free(r->u.heap);
		}
		r->cap = INLINE_CAP;
		r->u.inl[0] = ix->recs_free;
		ix->recs_free = rec;
		table_maybe_shrink(ix, &ix->htab, rec_item_hash);
	} else {
		shrink_holders(ix, r);
	}
	table_maybe_shrink(ix, &ix->ptab, ent_item_hash);
}

int pt_index_remove_in(pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h)
{
	if (peer >= ix->peers_cap || ix->peers[peer].n == 0)
		return 0;
	uint32_t rec = at(find_rec(ix, space, h));
	if (rec == NONE)
		return 0;
	struct loc ps = find_pair(ix, peer, rec);
	if (at(ps) == NONE)
		return 0;
	drop_entry(ix, at(ps), ps);
	return 1;
}

int pt_index_has_in(const pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h)
{
	if (peer >= ix->peers_cap || ix->peers[peer].n == 0)
		return 0;
	uint32_t rec = at(find_rec(ix, space, h));
	return rec != NONE && at(find_pair(ix, peer, rec)) != NONE;
}

size_t pt_index_remove_peer_some(pt_index *ix, uint32_t peer, size_t max)
{
	size_t n = 0;
	if (peer >= ix->peers_cap)
		return 0;
	for (uint32_t e; n < max && (e = ix->peers[peer].head) != NONE; n++)
		drop_entry(ix, e, find_pair(ix, peer, ix->ents[e].rec));
	return n;
}

size_t pt_index_remove_peer(pt_index *ix, uint32_t peer)
{
	return pt_index_remove_peer_some(ix, peer, SIZE_MAX);
}

size_t pt_index_holders_in(const pt_index *ix, enum pt_space space, const pt_hash *h,
                           const uint32_t **out)
{
	uint32_t rec = (unsigned)space < PT_SPACE__COUNT ? at(find_rec(ix, space, h)) : NONE;
	if (rec == NONE) {
		*out = NULL;
		return 0;
	}
	/* Casting away const only to share holders(); nothing is written. */
	*out = holders((struct hrec *)&ix->recs[rec]);
	return ix->recs[rec].n;
}

size_t pt_index_peer_count(const pt_index *ix, uint32_t peer)
{
	return peer < ix->peers_cap ? ix->peers[peer].n : 0;
}

void pt_index_peer_foreach(const pt_index *ix, uint32_t peer,
                           void (*fn)(const pt_hash *h, void *arg), void *arg)
{
	if (peer >= ix->peers_cap)
		return;
	for (uint32_t e = ix->peers[peer].head; e != NONE; e = ix->ents[e].next)
		if (ix->recs[ix->ents[e].rec].space == PT_SPACE_V1)
			fn(&ix->recs[ix->ents[e].rec].h, arg);
}

void pt_index_peer_foreach_key(const pt_index *ix, uint32_t peer,
                               void (*fn)(enum pt_space space, const pt_hash *h, void *arg),
                               void *arg)
{
	if (peer >= ix->peers_cap)
		return;
	for (uint32_t e = ix->peers[peer].head; e != NONE; e = ix->ents[e].next) {
		const struct hrec *r = &ix->recs[ix->ents[e].rec];
		fn((enum pt_space)r->space, &r->h, arg);
	}
}

size_t pt_index_entries_in(const pt_index *ix, enum pt_space space)
{
	return (unsigned)space < PT_SPACE__COUNT ? ix->space_ents[space] : 0;
}

size_t pt_index_hashes_in(const pt_index *ix, enum pt_space space)
{
	return (unsigned)space < PT_SPACE__COUNT ? ix->space_recs[space] : 0;
}

int pt_key_parse(const char *s, size_t len, pt_key *out)
{
	char pad[PT_HASH_HEX];

	if (len == PT_HASH_HEX) {
		out->space = PT_SPACE_V1;
		return pt_hash_parse(s, len, &out->h);
	}
	if (len != 40)
		return -EINVAL;
	/* An info_hash is its 20 bytes zero-padded, as /announce keys it. */
	memcpy(pad, s, 40);
	memset(pad + 40, '0', PT_HASH_HEX - 40);
	out->space = PT_SPACE_WT;
	return pt_hash_parse(pad, PT_HASH_HEX, &out->h);
}

void pt_key_format(const pt_key *k, char out[PT_HASH_HEX + 1])
{
	pt_hash_format(&k->h, out);
	if (k->space == PT_SPACE_WT)
		out[40] = '\0';
}

bool pt_key_equal(const pt_key *a, const pt_key *b)
{
	return a->space == b->space && !memcmp(a->h.b, b->h.b, sizeof(a->h.b));
}

uint32_t pt_key_slot(const pt_key *k, uint32_t n)
{
	uint64_t x;

	memcpy(&x, k->h.b, sizeof(x));
	x ^= (uint64_t)k->space * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint32_t)(x % n);
}

/* /v1's own calls: its key space. */
int pt_index_add(pt_index *ix, uint32_t peer, const pt_hash *h)
{
	return pt_index_add_in(ix, PT_SPACE_V1, peer, h);
}

int pt_index_remove(pt_index *ix, uint32_t peer, const pt_hash *h)
{
	return pt_index_remove_in(ix, PT_SPACE_V1, peer, h);
}

int pt_index_has(const pt_index *ix, uint32_t peer, const pt_hash *h)
{
	return pt_index_has_in(ix, PT_SPACE_V1, peer, h);
}

size_t pt_index_holders(const pt_index *ix, const pt_hash *h, const uint32_t **out)
{
	return pt_index_holders_in(ix, PT_SPACE_V1, h, out);
}

size_t pt_index_entries(const pt_index *ix)
{
	return ix->ptab.n;
}

size_t pt_index_hashes(const pt_index *ix)
{
	return ix->htab.n;
}

size_t pt_index_moving(const pt_index *ix)
{
	return (size_t)ix->htab.old.n + ix->ptab.old.n;
}

size_t pt_index_memory(const pt_index *ix)
{
	return sizeof *ix +
	       (size_t)ix->recs_cap * sizeof *ix->recs +
	       (size_t)ix->ents_cap * sizeof *ix->ents +
	       (size_t)ix->peers_cap * sizeof *ix->peers +
	       ((size_t)ix->htab.cur.cap + ix->htab.old.cap +
	        ix->ptab.cur.cap + ix->ptab.old.cap) * sizeof(uint32_t) +
	       ix->heap_bytes;
}
