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

struct table {
	uint32_t *slot; /* NONE = empty */
	uint32_t cap;   /* power of two */
	uint32_t n;
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

static int table_init(struct table *t, uint32_t cap)
{
	t->slot = malloc((size_t)cap * sizeof *t->slot);
	if (!t->slot)
		return -ENOMEM;
	memset(t->slot, 0xff, (size_t)cap * sizeof *t->slot);
	t->cap = cap;
	t->n = 0;
	return 0;
}

static int table_resize(pt_index *ix, struct table *t, uint32_t cap, item_hash_fn hash)
{
	struct table nt;
	if (table_init(&nt, cap) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		uint32_t item = t->slot[i];
		if (item == NONE)
			continue;
		uint32_t j = hash(ix, item) & (cap - 1);
		while (nt.slot[j] != NONE)
			j = (j + 1) & (cap - 1);
		nt.slot[j] = item;
	}
	nt.n = t->n;
	free(t->slot);
	*t = nt;
	return 0;
}

/* Room for one more item. */
static int table_reserve(pt_index *ix, struct table *t, item_hash_fn hash)
{
	if ((uint64_t)(t->n + 1) * 8 <= (uint64_t)t->cap * 5)
		return 0;
	if (t->cap > UINT32_MAX / 2)
		return -ENOMEM;
	return table_resize(ix, t, t->cap * 2, hash);
}

/* Empties slot i, pulling later members of its probe run back into the
 * hole when the hole lies on their path from their home slot. */
static void table_delete(pt_index *ix, struct table *t, uint32_t i, item_hash_fn hash)
{
	uint32_t mask = t->cap - 1;
	for (uint32_t j = (i + 1) & mask; t->slot[j] != NONE; j = (j + 1) & mask) {
		uint32_t home = hash(ix, t->slot[j]) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i] = NONE;
	t->n--;
}

static void table_maybe_shrink(pt_index *ix, struct table *t, item_hash_fn hash)
{
	if (t->cap > MIN_TABLE && (uint64_t)t->n * 8 < t->cap)
		(void)table_resize(ix, t, t->cap / 2, hash); /* failure is harmless */
}

static uint32_t find_rec(const pt_index *ix, unsigned space, const pt_hash *h)
{
	uint32_t mask = ix->htab.cap - 1, i = key_hash(ix, space, h) & mask;
	for (uint32_t r; (r = ix->htab.slot[i]) != NONE; i = (i + 1) & mask)
		if (ix->recs[r].space == space && pt_hash_equal(&ix->recs[r].h, h))
			break;
	return i;
}

static uint32_t find_pair(const pt_index *ix, uint32_t peer, uint32_t rec)
{
	uint32_t mask = ix->ptab.cap - 1, i = pair_hash(ix, peer, rec) & mask;
	for (;;) {
		uint32_t e = ix->ptab.slot[i];
		if (e == NONE || (ix->ents[e].peer == peer && ix->ents[e].rec == rec))
			return i;
		i = (i + 1) & mask;
	}
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
	free(ix->htab.slot);
	free(ix->ptab.slot);
	free(ix);
}

int pt_index_add_in(pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h)
{
	if (peer == NONE || (unsigned)space >= PT_SPACE__COUNT)
		return -EINVAL;
	uint32_t rec = ix->htab.slot[find_rec(ix, space, h)];
	if (rec != NONE && ix->ptab.slot[find_pair(ix, peer, rec)] != NONE)
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
		ix->htab.slot[find_rec(ix, space, h)] = rec; /* the table may have grown */
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
	ix->ptab.slot[find_pair(ix, peer, rec)] = e;
	ix->ptab.n++;
	ix->space_ents[space]++;
	return 1;
}

/* Drops entry e, whose ptab slot is pair_slot, and its record if it was
 * the last holder. */
static void drop_entry(pt_index *ix, uint32_t e, uint32_t pair_slot)
{
	struct entry *en = &ix->ents[e];
	uint32_t rec = en->rec, peer = en->peer;
	struct hrec *r = &ix->recs[rec];
	uint32_t *hold = holders(r), last = r->n - 1;

	if (en->pos != last) {
		uint32_t moved = hold[last];
		hold[en->pos] = moved;
		ix->ents[ix->ptab.slot[find_pair(ix, moved, rec)]].pos = en->pos;
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
	uint32_t rec = ix->htab.slot[find_rec(ix, space, h)];
	if (rec == NONE)
		return 0;
	uint32_t ps = find_pair(ix, peer, rec);
	if (ix->ptab.slot[ps] == NONE)
		return 0;
	drop_entry(ix, ix->ptab.slot[ps], ps);
	return 1;
}

int pt_index_has_in(const pt_index *ix, enum pt_space space, uint32_t peer, const pt_hash *h)
{
	if (peer >= ix->peers_cap || ix->peers[peer].n == 0)
		return 0;
	uint32_t rec = ix->htab.slot[find_rec(ix, space, h)];
	return rec != NONE && ix->ptab.slot[find_pair(ix, peer, rec)] != NONE;
}

size_t pt_index_remove_peer(pt_index *ix, uint32_t peer)
{
	size_t n = 0;
	if (peer >= ix->peers_cap)
		return 0;
	for (uint32_t e; (e = ix->peers[peer].head) != NONE; n++)
		drop_entry(ix, e, find_pair(ix, peer, ix->ents[e].rec));
	return n;
}

size_t pt_index_holders_in(const pt_index *ix, enum pt_space space, const pt_hash *h,
                           const uint32_t **out)
{
	uint32_t rec = (unsigned)space < PT_SPACE__COUNT ? ix->htab.slot[find_rec(ix, space, h)] : NONE;
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

size_t pt_index_memory(const pt_index *ix)
{
	return sizeof *ix +
	       (size_t)ix->recs_cap * sizeof *ix->recs +
	       (size_t)ix->ents_cap * sizeof *ix->ents +
	       (size_t)ix->peers_cap * sizeof *ix->peers +
	       ((size_t)ix->htab.cap + ix->ptab.cap) * sizeof(uint32_t) +
	       ix->heap_bytes;
}
