/* test_index.c — the live index: add/remove/has, holders, whole-peer
 * removal, and a randomized differential test against a naive model. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/index.h"

static pt_hash H(uint32_t i)
{
	pt_hash h;
	pt_hash_sha256(&i, sizeof i, &h);
	return h;
}

static bool holders_has(const uint32_t *v, size_t n, uint32_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static void test_add_remove_has(void **state)
{
	(void)state;
	pt_index *ix = pt_index_new(7);
	assert_non_null(ix);
	pt_hash a = H(1), b = H(2);
	const uint32_t *v;

	assert_int_equal(pt_index_holders(ix, &a, &v), 0);
	assert_null(v);
	assert_int_equal(pt_index_has(ix, 0, &a), 0);
	assert_int_equal(pt_index_remove(ix, 0, &a), 0);

	assert_int_equal(pt_index_add(ix, 3, &a), 1);
	assert_int_equal(pt_index_add(ix, 3, &a), 0); /* duplicate */
	assert_int_equal(pt_index_has(ix, 3, &a), 1);
	assert_int_equal(pt_index_has(ix, 2, &a), 0);
	assert_int_equal(pt_index_has(ix, 3, &b), 0);
	assert_int_equal(pt_index_has(ix, 1000000, &a), 0); /* beyond any peer */
	assert_int_equal(pt_index_entries(ix), 1);
	assert_int_equal(pt_index_hashes(ix), 1);
	assert_int_equal(pt_index_peer_count(ix, 3), 1);

	assert_int_equal(pt_index_add(ix, 5, &a), 1);
	assert_int_equal(pt_index_add(ix, 3, &b), 1);
	assert_int_equal(pt_index_holders(ix, &a, &v), 2);
	assert_true(holders_has(v, 2, 3) && holders_has(v, 2, 5));
	assert_int_equal(pt_index_holders(ix, &b, &v), 1);
	assert_int_equal(v[0], 3);
	assert_int_equal(pt_index_entries(ix), 3);
	assert_int_equal(pt_index_hashes(ix), 2);
	assert_int_equal(pt_index_peer_count(ix, 3), 2);

	assert_int_equal(pt_index_remove(ix, 3, &a), 1);
	assert_int_equal(pt_index_remove(ix, 3, &a), 0);
	assert_int_equal(pt_index_has(ix, 3, &a), 0);
	assert_int_equal(pt_index_holders(ix, &a, &v), 1);
	assert_int_equal(v[0], 5);
	assert_int_equal(pt_index_remove(ix, 5, &a), 1);
	assert_int_equal(pt_index_holders(ix, &a, &v), 0); /* record gone */
	assert_null(v);
	assert_int_equal(pt_index_hashes(ix), 1);
	assert_int_equal(pt_index_entries(ix), 1);

	/* Re-adding after the record died works. */
	assert_int_equal(pt_index_add(ix, 5, &a), 1);
	assert_int_equal(pt_index_holders(ix, &a, &v), 1);
	assert_int_equal(v[0], 5);

	/* A large handle grows the peer array on demand. */
	assert_int_equal(pt_index_add(ix, 250000, &b), 1);
	assert_int_equal(pt_index_has(ix, 250000, &b), 1);
	assert_int_equal(pt_index_peer_count(ix, 250000), 1);
	/* The reserved value is refused. */
	assert_int_equal(pt_index_add(ix, UINT32_MAX, &b), -EINVAL);
	assert_int_equal(pt_index_peer_count(ix, UINT32_MAX), 0);
	pt_index_free(ix);
}

struct collect {
	pt_hash *v;
	size_t n;
};

static void collect_fn(const pt_hash *h, void *arg)
{
	struct collect *c = arg;
	c->v[c->n++] = *h;
}

static void test_peer_foreach(void **state)
{
	(void)state;
	pt_index *ix = pt_index_new(1);
	pt_hash got[10];
	struct collect c = { got, 0 };
	pt_index_peer_foreach(ix, 4, collect_fn, &c); /* unknown peer */
	assert_int_equal(c.n, 0);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(pt_index_add(ix, 4, &(pt_hash){ .b = { (uint8_t)i } }), 1);
	assert_int_equal(pt_index_remove(ix, 4, &(pt_hash){ .b = { 3 } }), 1);
	c.n = 0;
	pt_index_peer_foreach(ix, 4, collect_fn, &c);
	assert_int_equal(c.n, 9);
	unsigned seen = 0;
	for (size_t i = 0; i < c.n; i++)
		seen |= 1u << got[i].b[0];
	assert_int_equal(seen, 0x3ffu & ~(1u << 3));
	pt_index_free(ix);
}

/* Peer 0 holds 5000 hashes; peers 1..3 hold overlapping subsets of them.
 * Dropping peer 0 must leave every other holder list exact. */
static void test_remove_peer_with_thousands(void **state)
{
	(void)state;
	enum { N = 5000 };
	pt_index *ix = pt_index_new(0xabcdef);
	for (uint32_t i = 0; i < N; i++) {
		pt_hash h = H(i);
		assert_int_equal(pt_index_add(ix, 0, &h), 1);
		if (i % 2 == 0)
			assert_int_equal(pt_index_add(ix, 1, &h), 1);
		if (i % 3 == 0)
			assert_int_equal(pt_index_add(ix, 2, &h), 1);
		if (i % 5 == 0)
			assert_int_equal(pt_index_add(ix, 3, &h), 1);
	}
	size_t others = pt_index_peer_count(ix, 1) + pt_index_peer_count(ix, 2) +
	                pt_index_peer_count(ix, 3);
	assert_int_equal(pt_index_peer_count(ix, 0), N);
	assert_int_equal(pt_index_entries(ix), N + others);

	/* In slices first (a leaving peer over several loop turns), then the
	 * rest at once. */
	assert_int_equal(pt_index_remove_peer_some(ix, 0, 0), 0);
	for (size_t left = N; left > N - 3 * 256; left -= 256) {
		assert_int_equal(pt_index_remove_peer_some(ix, 0, 256), 256);
		assert_int_equal(pt_index_peer_count(ix, 0), left - 256);
		assert_int_equal(pt_index_entries(ix), left - 256 + others);
	}
	assert_int_equal(pt_index_remove_peer(ix, 0), N - 3 * 256);
	assert_int_equal(pt_index_peer_count(ix, 0), 0);
	assert_int_equal(pt_index_remove_peer(ix, 0), 0);
	assert_int_equal(pt_index_remove_peer_some(ix, 0, 256), 0);
	assert_int_equal(pt_index_entries(ix), others);

	size_t hashes = 0;
	for (uint32_t i = 0; i < N; i++) {
		pt_hash h = H(i);
		const uint32_t *v;
		size_t n = pt_index_holders(ix, &h, &v);
		size_t want = (i % 2 == 0) + (i % 3 == 0) + (i % 5 == 0);
		assert_int_equal(n, want);
		hashes += want > 0;
		assert_false(holders_has(v, n, 0));
		assert_int_equal(pt_index_has(ix, 0, &h), 0);
		assert_int_equal(holders_has(v, n, 1), i % 2 == 0);
		assert_int_equal(holders_has(v, n, 2), i % 3 == 0);
		assert_int_equal(holders_has(v, n, 3), i % 5 == 0);
	}
	assert_int_equal(pt_index_hashes(ix), hashes);

	/* And the others can still be removed one by one. */
	for (uint32_t p = 1; p <= 3; p++) {
		size_t n = pt_index_peer_count(ix, p);
		assert_int_equal(pt_index_remove_peer(ix, p), n);
	}
	assert_int_equal(pt_index_entries(ix), 0);
	assert_int_equal(pt_index_hashes(ix), 0);
	pt_index_free(ix);
}

/* One hash, many holders: swap-removes from the middle keep every
 * remaining holder findable, and the array shrinks back. */
static void test_popular_hash(void **state)
{
	(void)state;
	enum { P = 3000 };
	pt_index *ix = pt_index_new(99);
	pt_hash h = H(42);
	for (uint32_t p = 0; p < P; p++)
		assert_int_equal(pt_index_add(ix, p, &h), 1);
	size_t peak = pt_index_memory(ix);
	const uint32_t *v;
	assert_int_equal(pt_index_holders(ix, &h, &v), P);
	/* Remove every peer whose handle is not a multiple of 7, in an
	 * order that hits the middle, the front and the back. */
	for (uint32_t k = 0; k < P; k++) {
		uint32_t p = (k * 1237) % P;
		if (p % 7)
			assert_int_equal(pt_index_remove(ix, p, &h), 1);
	}
	size_t n = pt_index_holders(ix, &h, &v);
	assert_int_equal(n, (P + 6) / 7);
	for (uint32_t p = 0; p < P; p++) {
		assert_int_equal(holders_has(v, n, p), p % 7 == 0);
		assert_int_equal(pt_index_has(ix, p, &h), p % 7 == 0);
	}
	assert_true(pt_index_memory(ix) < peak);
	pt_index_free(ix);

	/* The holder array alone shrinks: with enough other entries that
	 * no table resizes, dropping a popular hash to two holders gives
	 * back at least its P slots of 4 bytes. */
	ix = pt_index_new(100);
	for (uint32_t i = 0; i < 20000; i++) {
		pt_hash o = H(1000000 + i);
		assert_int_equal(pt_index_add(ix, i % 500, &o), 1);
	}
	for (uint32_t p = 0; p < P; p++)
		assert_int_equal(pt_index_add(ix, p, &h), 1);
	size_t full = pt_index_memory(ix);
	for (uint32_t p = 2; p < P; p++)
		assert_int_equal(pt_index_remove(ix, p, &h), 1);
	assert_true(full - pt_index_memory(ix) >= P * sizeof(uint32_t));
	assert_int_equal(pt_index_holders(ix, &h, &v), 2);
	assert_true(holders_has(v, 2, 0) && holders_has(v, 2, 1));
	pt_index_free(ix);
}

/* The documented budget: ~40 bytes per entry and ~64 per distinct hash,
 * measured on the index's own accounting, and memory given back. */
static void test_memory_accounting(void **state)
{
	(void)state;
	pt_index *ix = pt_index_new(5);
	size_t empty = pt_index_memory(ix);
	assert_true(empty > 0);

	/* 20000 distinct hashes with one holder each. */
	enum { N = 20000 };
	for (uint32_t i = 0; i < N; i++) {
		pt_hash h = H(i);
		assert_int_equal(pt_index_add(ix, i % 100, &h), 1);
	}
	size_t one_each = pt_index_memory(ix) - empty;
	/* Pools and tables double, so allow the worst case: twice the
	 * budget of ~(40 + 64) bytes. */
	assert_true(one_each < (size_t)N * 2 * (40 + 64));
	assert_true(one_each > (size_t)N * (20 + 48)); /* entry + record at least */

	/* 100 peers each holding all of 200 hashes: entries dominate. */
	pt_index *jx = pt_index_new(6);
	for (uint32_t i = 0; i < 200; i++) {
		pt_hash h = H(i);
		for (uint32_t p = 0; p < 100; p++)
			assert_int_equal(pt_index_add(jx, p, &h), 1);
	}
	size_t per_entry = (pt_index_memory(jx) - empty) / 20000;
	assert_true(per_entry <= 2 * 40);
	assert_true(per_entry >= 24);

	/* Removing everything gives the tables and holder arrays back. */
	for (uint32_t p = 0; p < 100; p++)
		pt_index_remove_peer(ix, p);
	assert_int_equal(pt_index_entries(ix), 0);
	assert_int_equal(pt_index_hashes(ix), 0);
	size_t after = pt_index_memory(ix) - empty;
	/* Only the pools (kept at their high-water size) remain: both
	 * tables, 13+ bytes per entry at the peak, shrank back. */
	assert_true(after < one_each);
	assert_true(one_each - after >= (size_t)N * 8);
	pt_index_free(ix);
	pt_index_free(jx);
}

/* Removes peer p from the index and from its model row (nh hashes, one
 * byte each), checking the index dropped exactly the row's entries;
 * returns how many that was. */
static size_t model_remove_peer(pt_index *ix, uint32_t p, uint8_t *row, size_t nh)
{
	size_t n = 0;

	for (size_t j = 0; j < nh; j++)
		n += row[j];
	assert_int_equal(pt_index_remove_peer(ix, p), n);
	memset(row, 0, nh);
	return n;
}

/* Randomized differential test: a bit matrix is the model. Every few
 * hundred operations the whole index is compared with it. */
static void test_differential(void **state)
{
	(void)state;
	enum { P = 48, NH = 400, OPS = 120000 };
	static uint8_t model[P][NH];
	memset(model, 0, sizeof model);
	static pt_hash hs[NH];
	for (uint32_t i = 0; i < NH; i++)
		hs[i] = H(i * 31 + 7);
	pt_index *ix = pt_index_new(0x5eed);
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t entries = 0;

	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t p = (uint32_t)(x % P), hi = (uint32_t)((x >> 16) % NH);
		unsigned kind = (unsigned)((x >> 40) % 1000);
		/* Bias towards adds in the first third and removes in the
		 * last, so the index fills, churns and drains. */
		unsigned add_cut = op < OPS / 3 ? 700 : op < 2 * OPS / 3 ? 500 : 300;
		if (kind < 2) {
			entries -= model_remove_peer(ix, p, model[p], NH);
		} else if (kind < add_cut) {
			int rc = pt_index_add(ix, p, &hs[hi]);
			assert_int_equal(rc, !model[p][hi]);
			entries += !model[p][hi];
			model[p][hi] = 1;
		} else if (kind < 950) {
			int rc = pt_index_remove(ix, p, &hs[hi]);
			assert_int_equal(rc, model[p][hi]);
			entries -= model[p][hi];
			model[p][hi] = 0;
		} else {
			assert_int_equal(pt_index_has(ix, p, &hs[hi]), model[p][hi]);
		}
		assert_int_equal(pt_index_entries(ix), entries);

		if (op % 400 != 0 && op != OPS - 1)
			continue;
		size_t hashes = 0;
		for (uint32_t j = 0; j < NH; j++) {
			const uint32_t *v;
			size_t n = pt_index_holders(ix, &hs[j], &v), want = 0;
			uint8_t seen[P];
			memset(seen, 0, sizeof seen);
			for (size_t i = 0; i < n; i++) {
				assert_true(v[i] < P);
				assert_int_equal(seen[v[i]]++, 0); /* no duplicates */
				assert_int_equal(model[v[i]][j], 1);
			}
			for (uint32_t q = 0; q < P; q++)
				want += model[q][j];
			assert_int_equal(n, want);
			hashes += want > 0;
		}
		assert_int_equal(pt_index_hashes(ix), hashes);
		for (uint32_t q = 0; q < P; q++) {
			size_t want = 0;
			for (uint32_t j = 0; j < NH; j++)
				want += model[q][j];
			assert_int_equal(pt_index_peer_count(ix, q), want);
		}
	}
	pt_index_free(ix);
}

/* Tables resize a few items per call: across many doublings and halvings,
 * with adds, removes, lookups and whole-peer removals interleaved while a
 * resize is under way, the index agrees with a model after every call,
 * and no call moves more than a bounded number of items (a one-go resize
 * moves the whole table: tens of thousands here). */
static void test_incremental_resize(void **state)
{
	(void)state;
	enum { P = 8, NH = 40000, OPS = 400000, MAX_MOVED = 512 };
	static uint8_t model[P][NH];
	static pt_hash hs[NH];
	memset(model, 0, sizeof model);
	for (uint32_t i = 0; i < NH; i++)
		hs[i] = H(i * 7 + 3);
	pt_index *ix = pt_index_new(0xabcdef);
	assert_non_null(ix);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t entries = 0, during = 0, peak_moving = 0, resizes = 0;
	size_t moving = pt_index_moving(ix);
	assert_int_equal(moving, 0);

	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t p = (uint32_t)(x % P), hi = (uint32_t)((x >> 8) % NH);
		unsigned kind = (unsigned)((x >> 40) % 1000);
		/* Fill to ~200 000 entries, drain, fill again, drain. */
		int phase = op / (OPS / 4);
		unsigned add_cut = phase % 2 == 0 ? 800 : 150;
		bool was_moving = moving > 0;
		if (kind < 1 && phase % 2 == 1) {
			entries -= model_remove_peer(ix, p, model[p], NH);
		} else if (kind < add_cut) {
			assert_int_equal(pt_index_add(ix, p, &hs[hi]), !model[p][hi]);
			entries += !model[p][hi];
			model[p][hi] = 1;
		} else if (kind < 900) {
			assert_int_equal(pt_index_remove(ix, p, &hs[hi]), model[p][hi]);
			entries -= model[p][hi];
			model[p][hi] = 0;
		} else {
			assert_int_equal(pt_index_has(ix, p, &hs[hi]), model[p][hi]);
			const uint32_t *v;
			size_t n = pt_index_holders(ix, &hs[hi], &v), want = 0;
			for (uint32_t q = 0; q < P; q++)
				want += model[q][hi];
			assert_int_equal(n, want);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(model[v[i]][hi], 1);
		}
		assert_int_equal(pt_index_entries(ix), entries);
		size_t now = pt_index_moving(ix);
		if (now > moving)
			resizes++; /* a resize started: everything is to move */
		else if (kind >= 1 || phase % 2 == 0)
			assert_true(moving - now <= MAX_MOVED); /* one call, bounded work */
		moving = now;
		during += was_moving;
		if (moving > peak_moving)
			peak_moving = moving;

		if (op % 20000 != 0 && op != OPS - 1)
			continue;
		for (uint32_t q = 0; q < P; q++) {
			size_t want = 0;
			for (uint32_t j = 0; j < NH; j++) {
				want += model[q][j];
				assert_int_equal(pt_index_has(ix, q, &hs[j]), model[q][j]);
			}
			assert_int_equal(pt_index_peer_count(ix, q), want);
		}
	}
	/* The resizes were incremental and the model was checked during them. */
	assert_true(resizes >= 10);
	assert_true(peak_moving > 10000);
	assert_true(during > 10000);
	for (uint32_t q = 0; q < P; q++)
		pt_index_remove_peer(ix, q);
	assert_int_equal(pt_index_entries(ix), 0);
	assert_int_equal(pt_index_hashes(ix), 0);
	assert_int_equal(pt_index_moving(ix), 0);
	pt_index_free(ix);
}

static int key_calls[PT_SPACE__COUNT];
static void key_fn(enum pt_space space, const pt_hash *h, void *arg)
{
	(void)h;
	(void)arg;
	key_calls[space]++;
}

/* The same 32 bytes in two key spaces are two keys: neither front-end's
 * clients can reach the other's holders, and the per-space totals add up. */
static void test_key_spaces(void **state)
{
	(void)state;
	pt_index *ix = pt_index_new(5);
	pt_hash h = H(7);
	const uint32_t *out;

	assert_int_equal(pt_index_add(ix, 1, &h), 1);
	assert_int_equal(pt_index_add_in(ix, PT_SPACE_WT, 2, &h), 1);
	assert_int_equal(pt_index_add_in(ix, PT_SPACE_WT, 3, &h), 1);
	assert_int_equal(pt_index_add_in(ix, PT_SPACE__COUNT, 3, &h), -EINVAL);
	assert_int_equal(pt_index_holders(ix, &h, &out), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(pt_index_holders_in(ix, PT_SPACE_WT, &h, &out), 2);
	assert_false(pt_index_has(ix, 2, &h));
	assert_true(pt_index_has_in(ix, PT_SPACE_WT, 2, &h));
	assert_int_equal(pt_index_remove(ix, 2, &h), 0);
	assert_int_equal(pt_index_hashes(ix), 2);
	assert_int_equal(pt_index_hashes_in(ix, PT_SPACE_V1), 1);
	assert_int_equal(pt_index_hashes_in(ix, PT_SPACE_WT), 1);
	assert_int_equal(pt_index_entries_in(ix, PT_SPACE_WT), 2);
	/* One handle holding keys of both spaces. */
	assert_int_equal(pt_index_add_in(ix, PT_SPACE_WT, 1, &h), 1);
	memset(key_calls, 0, sizeof(key_calls));
	pt_index_peer_foreach_key(ix, 1, key_fn, NULL);
	assert_int_equal(key_calls[PT_SPACE_V1], 1);
	assert_int_equal(key_calls[PT_SPACE_WT], 1);
	/* Many keys in both spaces: tables grow and shrink, spaces stay apart. */
	for (uint32_t i = 0; i < 2000; i++) {
		pt_hash k = H(100 + i);
		assert_int_equal(pt_index_add_in(ix, (enum pt_space)(i & 1), 10 + i % 7, &k), 1);
	}
	assert_int_equal(pt_index_hashes_in(ix, PT_SPACE_WT), 1001);
	for (uint32_t p = 10; p < 17; p++)
		pt_index_remove_peer(ix, p);
	assert_int_equal(pt_index_remove_peer(ix, 1), 2);
	assert_int_equal(pt_index_hashes_in(ix, PT_SPACE_V1), 0);
	assert_int_equal(pt_index_entries_in(ix, PT_SPACE_WT), 2);
	assert_int_equal(pt_index_holders_in(ix, PT_SPACE_WT, &h, &out), 2);
	pt_index_free(ix);
}

static void test_key_parse(void **state)
{
	(void)state;
	pt_key k;
	char out[PT_HASH_HEX + 1];
	const char *ih = "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff";

	assert_int_equal(pt_key_parse(ih, 40, &k), 0);
	assert_int_equal(k.space, PT_SPACE_WT);
	assert_int_equal(k.h.b[1], 0xff);
	assert_int_equal(k.h.b[20], 0);
	pt_key_format(&k, out);
	assert_string_equal(out, ih);
	assert_int_equal(pt_key_parse("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 64, &k), 0);
	assert_int_equal(k.space, PT_SPACE_V1);
	assert_int_equal(pt_key_parse(ih, 39, &k), -EINVAL);
	assert_int_equal(pt_key_parse("00FF00ff00ff00ff00ff00ff00ff00ff00ff00ff", 40, &k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_remove_has),
		cmocka_unit_test(test_peer_foreach),
		cmocka_unit_test(test_remove_peer_with_thousands),
		cmocka_unit_test(test_popular_hash),
		cmocka_unit_test(test_memory_accounting),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_incremental_resize),
		cmocka_unit_test(test_key_spaces),
		cmocka_unit_test(test_key_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
