/* match.c — pick the best holders of a hash for an asker.
 *
 * Per-peer state is a flat array indexed by handle: the address and a
 * hand-out counter that halves every half-life. The halving is applied
 * lazily when a peer is read (count >>= whole half-lives elapsed, the
 * partial half-life carried in last_ms), so nothing walks all peers.
 *
 * A lookup ranks at most `sample` candidates. With more holders than that,
 * Floyd's algorithm draws `sample` distinct positions uniformly in
 * O(sample), using a small open-addressing set of drawn positions. Each
 * candidate gets one 64-bit key
 *
 *     proximity << 56 | min(hand-outs, 2^24 - 1) << 32 | 16 random bits << 16
 *     | its index among the candidates
 *
 * (random bits alone above the index for PT_MATCH_RANDOM): distinct keys,
 * so the order is total and one integer compare decides it; quickselect
 * brings the k best to the front and only those k are sorted. The index
 * leads back to the peer. All scratch memory lives in struct pt_match and is
 * reused, so a pick allocates nothing once the buffers have grown.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/match.h"

#define HANDOUT_MAX ((1u << 24) - 1)
#define SCRATCH_MIN 64u
#define SET_EMPTY   UINT32_MAX

struct mpeer {
	pt_addr addr;      /* family 0: not registered */
	uint32_t handouts; /* decayed lazily, see decayed() */
	uint64_t last_ms;  /* start of the current half-life */
	bool gone;         /* leaving: never picked (pt_match_drop_peer) */
};

#define INDEX_BITS 16u /* match_sample <= 65536 */
#define INDEX_MASK ((1ull << INDEX_BITS) - 1)

struct pt_match {
	struct mpeer *peers;
	uint32_t peers_cap;
	uint32_t *cand_peer; /* the candidates, in sampling order */
	uint64_t *cand_key;  /* their keys, permuted by the selection */
	size_t cands_cap;
	uint32_t *set; /* drawn positions; power-of-two capacity */
	size_t set_cap;
	uint64_t rng[4]; /* xoshiro256** */
};

/* -- PRNG ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next_rand(pt_match *m)
{
	uint64_t *s = m->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n >= 1, without modulo bias (Lemire). */
static uint64_t bounded(pt_match *m, uint64_t n)
{
	unsigned __int128 x = (unsigned __int128)next_rand(m) * n;
	uint64_t low = (uint64_t)x;
	if (low < n) {
		uint64_t floor = -n % n;
		while (low < floor) {
			x = (unsigned __int128)next_rand(m) * n;
			low = (uint64_t)x;
		}
	}
	return (uint64_t)(x >> 64);
}

/* -- life cycle and peers --------------------------------------------------- */

static int grow_scratch(pt_match *m, size_t sample)
{
	if (sample > INDEX_MASK + 1)
		sample = INDEX_MASK + 1;
	if (m->cands_cap < sample) {
		uint32_t *p = realloc(m->cand_peer, sample * sizeof *p);
		if (!p)
			return -ENOMEM;
		m->cand_peer = p;
		uint64_t *k = realloc(m->cand_key, sample * sizeof *k);
		if (!k)
			return -ENOMEM;
		m->cand_key = k;
		m->cands_cap = sample;
	}
	size_t set_cap = m->set_cap ? m->set_cap : 1;
	while (set_cap < 2 * sample)
		set_cap *= 2;
	if (set_cap != m->set_cap) {
		uint32_t *s = realloc(m->set, set_cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		m->set = s;
		m->set_cap = set_cap;
	}
	return 0;
}

pt_match *pt_match_new(uint64_t seed)
{
	pt_match *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	for (int i = 0; i < 4; i++)
		m->rng[i] = splitmix64(&seed);
	if (grow_scratch(m, SCRATCH_MIN) < 0) {
		pt_match_free(m);
		return NULL;
	}
	return m;
}

void pt_match_free(pt_match *m)
{
	if (!m)
		return;
	free(m->peers);
	free(m->cand_peer);
	free(m->cand_key);
	free(m->set);
	free(m);
}

int pt_match_set_peer(pt_match *m, uint32_t peer, const pt_addr *addr)
{
	if (peer >= m->peers_cap) {
		uint64_t cap = m->peers_cap ? (uint64_t)m->peers_cap * 2 : 64;
		if (cap <= peer)
			cap = (uint64_t)peer + 1;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		struct mpeer *p = realloc(m->peers, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		memset(p + m->peers_cap, 0, (size_t)(cap - m->peers_cap) * sizeof *p);
		m->peers = p;
		m->peers_cap = (uint32_t)cap;
	}
	m->peers[peer] = (struct mpeer){ .addr = *addr, .handouts = 0, .last_ms = 0 };
	return 0;
}

void pt_match_clear_peer(pt_match *m, uint32_t peer)
{
	if (peer < m->peers_cap)
		memset(&m->peers[peer], 0, sizeof m->peers[peer]);
}

int pt_match_drop_peer(pt_match *m, uint32_t peer)
{
	static const pt_addr none;

	if (pt_match_set_peer(m, peer, &none) < 0)
		return -ENOMEM;
	m->peers[peer].gone = true;
	return 0;
}

/* The hand-out count after the half-lives elapsed since last_ms. A clock
 * that went backwards decays nothing. */
static uint32_t decayed(struct mpeer *p, uint64_t now_ms, uint32_t half_life_ms)
{
	if (now_ms <= p->last_ms)
		return p->handouts;
	if (p->handouts == 0) {
		p->last_ms = now_ms; /* nothing to halve: restart the period */
		return 0;
	}
	if (now_ms - p->last_ms < half_life_ms)
		return p->handouts; /* within the period: no division */
	uint64_t periods = (now_ms - p->last_ms) / half_life_ms;
	if (periods >= 32) {
		p->handouts = 0;
		p->last_ms = now_ms;
	} else if (periods) {
		p->handouts >>= periods;
		p->last_ms += periods * half_life_ms;
	}
	return p->handouts;
}

/* -- sampling and selection ------------------------------------------------- */

/* Adds pos to the drawn set; false if it was already there. */
static bool set_insert(pt_match *m, uint32_t pos)
{
	size_t mask = m->set_cap - 1;
	size_t i = (size_t)((pos * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
	while (m->set[i] != SET_EMPTY) {
		if (m->set[i] == pos)
			return false;
		i = (i + 1) & mask;
	}
	m->set[i] = pos;
	return true;
}

static int key_qsort_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void swap_key(uint64_t *a, uint64_t *b)
{
	uint64_t t = *a;
	*a = *b;
	*b = t;
}

/* The k answers in order: insertion sort for the usual handful, qsort
 * beyond. */
static void sort_keys(uint64_t *v, size_t k)
{
	if (k > 32) {
		qsort(v, k, sizeof *v, key_qsort_cmp);
		return;
	}
	for (size_t i = 1; i < k; i++) {
		uint64_t x = v[i];
		size_t j = i;

		for (; j > 0 && x < v[j - 1]; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Moves the k smallest of v[0..n) to v[0..k), in no order (k < n). */
static void select_k(pt_match *m, uint64_t *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		swap_key(&v[lo + bounded(m, hi - lo)], &v[hi - 1]);
		uint64_t pivot = v[hi - 1];
		size_t st = lo;
		/* Branch-free Lomuto: random keys make "< pivot" a coin toss
		 * for the branch predictor. Always swapping is harmless, as
		 * v[st..i] all belong to the ">= pivot" side. */
		for (size_t i = lo; i < hi - 1; i++) {
			uint64_t x = v[i];
			size_t lt = x < pivot;

			v[i] = v[st];
			v[st] = x;
			st += lt;
		}
		swap_key(&v[st], &v[hi - 1]);
		if (st == k - 1 || st == k)
			return;
		if (st > k)
			hi = st;
		else
			lo = st + 1;
	}
}

size_t pt_match_pick(pt_match *m, const pt_match_opts *o,
                     const uint32_t *holders, size_t n_holders,
                     uint32_t asker, const pt_addr *asker_addr,
                     uint64_t now_ms, uint32_t *out, size_t k)
{
	if (k == 0 || n_holders == 0)
		return 0;
	uint32_t half_life = o->half_life_ms ? o->half_life_ms : 1;
	size_t sample = o->sample ? o->sample : 1;
	if (sample > INDEX_MASK + 1)
		sample = INDEX_MASK + 1;
	if (sample > n_holders)
		sample = n_holders;
	if (grow_scratch(m, sample) < 0) {
		/* Out of memory: rank what the buffers we have can hold. */
		if (sample > m->cands_cap)
			sample = m->cands_cap;
		if (sample > m->set_cap / 2)
			sample = m->set_cap / 2;
	}

	size_t c = 0;
	if (n_holders <= sample) {
		for (size_t i = 0; i < n_holders; i++)
			if (holders[i] != asker)
				m->cand_peer[c++] = holders[i];
	} else {
		/* Floyd: for j in n-s .. n-1 draw t in [0, j]; take t if new,
		 * else j (never drawn before, as every draw so far was < j).
		 * Positions first (kept in cand_key for the moment), holders
		 * after: in a large holder array each is a cache miss, and
		 * prefetched together they overlap instead of queueing. */
		memset(m->set, 0xff, m->set_cap * sizeof *m->set);
		for (size_t j = n_holders - sample, i = 0; j < n_holders; j++, i++) {
			size_t pos = (size_t)bounded(m, j + 1);
			if (!set_insert(m, (uint32_t)pos)) {
				pos = j;
				set_insert(m, (uint32_t)pos);
			}
			m->cand_key[i] = pos;
			__builtin_prefetch(&holders[pos]);
		}
		for (size_t i = 0; i < sample; i++) {
			uint32_t peer = holders[m->cand_key[i]];
			if (peer != asker)
				m->cand_peer[c++] = peer;
		}
	}
	/* The same for the peers' records, read by the ranking below. */
	for (size_t i = 0; i < c; i++)
		if (m->cand_peer[i] < m->peers_cap)
			__builtin_prefetch(&m->peers[m->cand_peer[i]]);

	/* Leaving peers still among the holders (their entries go over a few
	 * turns) drop out here, where their records are read anyway. */
	size_t live = 0;
	for (size_t i = 0; i < c; i++) {
		uint32_t peer = m->cand_peer[i];
		struct mpeer *p = peer < m->peers_cap ? &m->peers[peer] : NULL;
		if (p && p->gone)
			continue;
		m->cand_peer[live] = peer;
		uint64_t r = next_rand(m);
		if (o->strategy == PT_MATCH_RANDOM) {
			m->cand_key[live] = (r & ~INDEX_MASK) | live;
			live++;
			continue;
		}
		uint64_t prox = p ? pt_addr_proximity(asker_addr, &p->addr) : 3;
		uint64_t ho = p ? decayed(p, now_ms, half_life) : 0;
		if (ho > HANDOUT_MAX)
			ho = HANDOUT_MAX;
		m->cand_key[live] = prox << 56 | ho << 32 | (r >> 48) << 16 | live;
		live++;
	}
	c = live;

	if (k < c)
		select_k(m, m->cand_key, c, k);
	else
		k = c;
	sort_keys(m->cand_key, k);

	for (size_t i = 0; i < k; i++)
		out[i] = m->cand_peer[m->cand_key[i] & INDEX_MASK];
	/* Only the first answer counts as a hand-out: it is the peer the asker
	 * will try; the rest are fallbacks. Counting every returned peer would
	 * raise all counters together whenever a lookup returns every holder,
	 * and the counter would stop spreading anything. */
	if (k && out[0] < m->peers_cap) {
		struct mpeer *p = &m->peers[out[0]];

		decayed(p, now_ms, half_life);
		if (p->handouts < UINT32_MAX)
			p->handouts++;
	}
	return k;
}
