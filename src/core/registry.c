/* registry.c — live peers: dense handles, unique ids, id -> handle.
 *
 * Slots are a dense array that grows to the high-water mark and never
 * shrinks (handles index other flat arrays: the index, the matcher). Free
 * slots form a LIFO list through next_free. The id map is open addressing
 * over uint32 handles with linear probing and backward-shift deletion; it
 * is kept at most half full. */
#include <errno.h>
#include <stdlib.h>

#include "peertrack/mix.h"
#include "peertrack/registry.h"

#define LIVE      (UINT32_MAX - 1) /* next_free of a live slot */
#define HELD      (UINT32_MAX - 2) /* next_free of a held slot */
#define MIN_MAP   16u
#define ID_TRIES  8 /* 144 random bits: a second collision means a broken RNG */

struct slot {
	void *session;
	pt_id id;
	uint32_t gen;
	uint32_t next_free; /* LIVE, HELD, or the next free slot / PT_HANDLE_NONE */
};

struct pt_registry {
	struct slot *slots;
	uint32_t n_slots, cap_slots; /* n_slots = limit (high-water mark) */
	uint32_t free_head;
	uint32_t count, max;
	uint32_t held; /* handles out of use but not free yet */
	uint32_t *map; /* handles; PT_HANDLE_NONE = empty */
	uint32_t map_cap;
	uint64_t seed;
	int tag; /* node tag stamped on new ids, or -1 */
};

static uint32_t id_home(const pt_registry *r, const pt_id *id)
{
	return (uint32_t)pt_mix64(pt_id_hash(id) ^ r->seed) & (r->map_cap - 1);
}

static uint32_t *map_new(uint32_t cap)
{
	uint32_t *m = malloc((size_t)cap * sizeof *m);
	if (m)
		for (uint32_t i = 0; i < cap; i++)
			m[i] = PT_HANDLE_NONE;
	return m;
}

pt_registry *pt_registry_new(uint32_t max, uint64_t seed)
{
	pt_registry *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->map = map_new(MIN_MAP);
	if (!r->map) {
		free(r);
		return NULL;
	}
	r->map_cap = MIN_MAP;
	r->free_head = PT_HANDLE_NONE;
	r->max = max;
	r->seed = seed;
	r->tag = -1;
	return r;
}

void pt_registry_free(pt_registry *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r->map);
	free(r);
}

static bool live(const pt_registry *r, uint32_t h)
{
	return h < r->n_slots && r->slots[h].next_free == LIVE;
}

/* Map index holding id, or the empty index where it would go. */
static uint32_t probe(const pt_registry *r, const pt_id *id)
{
	uint32_t mask = r->map_cap - 1, i = id_home(r, id);
	while (r->map[i] != PT_HANDLE_NONE && !pt_id_equal(&r->slots[r->map[i]].id, id))
		i = (i + 1) & mask;
	return i;
}

static int map_resize(pt_registry *r, uint32_t cap)
{
	uint32_t *old = r->map, old_cap = r->map_cap;
	uint32_t *m = map_new(cap);
	if (!m)
		return -ENOMEM;
	r->map = m;
	r->map_cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i] != PT_HANDLE_NONE)
			m[probe(r, &r->slots[old[i]].id)] = old[i];
	free(old);
	return 0;
}

/* Makes room for one more peer without changing any visible state, so a
 * failure leaves the registry exactly as it was. */
static int reserve(pt_registry *r)
{
	if ((uint64_t)(r->count + 1) * 2 > r->map_cap) {
		if (r->map_cap > UINT32_MAX / 2 || map_resize(r, r->map_cap * 2) < 0)
			return -ENOMEM;
	}
	if (r->free_head == PT_HANDLE_NONE && r->n_slots == r->cap_slots) {
		if (r->cap_slots >= HELD - 1)
			return -ENOMEM; /* handles must stay below the markers */
		uint64_t cap = r->cap_slots ? (uint64_t)r->cap_slots * 2 : 16;
		if (cap > HELD - 1)
			cap = HELD - 1;
		struct slot *s = realloc(r->slots, (size_t)cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		r->slots = s;
		r->cap_slots = (uint32_t)cap;
	}
	return 0;
}

int pt_registry_add(pt_registry *r, void *session, uint32_t *handle, pt_id *id)
{
	if (r->count >= r->max)
		return -EAGAIN;
	int rc = reserve(r);
	if (rc < 0)
		return rc;

	pt_id fresh;
	uint32_t at = 0;
	int tries;
	for (tries = 0; tries < ID_TRIES; tries++) {
		if (pt_id_generate(&fresh) < 0)
			return -EIO;
		if (r->tag >= 0)
			pt_id_set_tag(&fresh, (unsigned)r->tag);
		at = probe(r, &fresh);
		if (r->map[at] == PT_HANDLE_NONE)
			break;
	}
	if (tries == ID_TRIES)
		return -EIO;

	uint32_t h;
	if (r->free_head != PT_HANDLE_NONE) {
		h = r->free_head;
		r->free_head = r->slots[h].next_free;
		r->slots[h].gen = r->slots[h].gen == UINT32_MAX ? 1 : r->slots[h].gen + 1;
	} else {
		h = r->n_slots++;
		r->slots[h].gen = 1; /* 0 is what pt_registry_gen says for dead */
	}
	r->slots[h].session = session;
	r->slots[h].id = fresh;
	r->slots[h].next_free = LIVE;
	r->map[at] = h;
	r->count++;
	*handle = h;
	*id = fresh;
	return 0;
}

/* Takes a live handle's id out of the map and its session off. */
static void unmap(pt_registry *r, uint32_t handle)
{
	uint32_t mask = r->map_cap - 1, i = probe(r, &r->slots[handle].id);
	for (uint32_t j = (i + 1) & mask; r->map[j] != PT_HANDLE_NONE; j = (j + 1) & mask) {
		uint32_t home = id_home(r, &r->slots[r->map[j]].id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			r->map[i] = r->map[j];
			i = j;
		}
	}
	r->map[i] = PT_HANDLE_NONE;
	r->slots[handle].session = NULL;
	r->count--;
}

static void push_free(pt_registry *r, uint32_t handle)
{
	r->slots[handle].next_free = r->free_head;
	r->free_head = handle;
}

void pt_registry_remove(pt_registry *r, uint32_t handle)
{
	if (!live(r, handle))
		return;
	unmap(r, handle);
	push_free(r, handle);
}

void pt_registry_hold(pt_registry *r, uint32_t handle)
{
	if (!live(r, handle))
		return;
	unmap(r, handle);
	r->slots[handle].next_free = HELD;
	r->held++;
}

void pt_registry_release(pt_registry *r, uint32_t handle)
{
	if (handle >= r->n_slots || r->slots[handle].next_free != HELD)
		return;
	push_free(r, handle);
	r->held--;
}

uint32_t pt_registry_held(const pt_registry *r)
{
	return r->held;
}

void pt_registry_set_session(pt_registry *r, uint32_t handle, void *session)
{
	if (live(r, handle))
		r->slots[handle].session = session;
}

uint32_t pt_registry_find(const pt_registry *r, const pt_id *id)
{
	return r->map[probe(r, id)];
}

void *pt_registry_session(const pt_registry *r, uint32_t handle)
{
	return live(r, handle) ? r->slots[handle].session : NULL;
}

const pt_id *pt_registry_id(const pt_registry *r, uint32_t handle)
{
	return live(r, handle) ? &r->slots[handle].id : NULL;
}

uint32_t pt_registry_gen(const pt_registry *r, uint32_t handle)
{
	return live(r, handle) ? r->slots[handle].gen : 0;
}

uint32_t pt_registry_count(const pt_registry *r)
{
	return r->count;
}

uint32_t pt_registry_limit(const pt_registry *r)
{
	return r->n_slots;
}

void pt_registry_set_max(pt_registry *r, uint32_t max)
{
	r->max = max;
}

void pt_registry_set_tag(pt_registry *r, int tag)
{
	r->tag = tag;
}
