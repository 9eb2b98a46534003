/* test_registry.c — handles, unique ids, generations, id -> handle.
 *
 * This program defines RAND_bytes itself: the static link binds id.c's
 * call to this definition, which lets the tests script the "random" bytes
 * to force id collisions and CSPRNG failures. Unscripted, it returns a
 * deterministic stream that never repeats. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/rand.h>

#include "peertrack/registry.h"

static struct {
	uint64_t counter;
	int fail;            /* calls left that fail */
	const uint8_t *script; /* fills from here while script_n > 0 */
	int script_n;
	int calls;
} rng;

int RAND_bytes(unsigned char *buf, int num)
{
	rng.calls++;
	if (rng.fail > 0) {
		rng.fail--;
		return 0;
	}
	if (rng.script_n > 0) {
		memset(buf, 0, (size_t)num);
		buf[0] = *rng.script++;
		rng.script_n--;
		return 1;
	}
	/* splitmix64 of a counter: distinct 144-bit outputs for ever. */
	for (int i = 0; i < num; i += 8) {
		uint64_t z = (rng.counter += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(buf + i, &z, (size_t)(num - i < 8 ? num - i : 8));
	}
	return 1;
}

static int setup(void **state)
{
	(void)state;
	memset(&rng, 0, sizeof rng);
	return 0;
}

static void test_add_find_remove(void **state)
{
	(void)state;
	pt_registry *r = pt_registry_new(4, 99);
	assert_non_null(r);
	int sess[5];
	uint32_t h[5];
	pt_id id[5];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pt_registry_add(r, &sess[i], &h[i], &id[i]), 0);
		assert_int_equal(h[i], i); /* dense from 0 */
		assert_ptr_equal(pt_registry_session(r, h[i]), &sess[i]);
		assert_true(pt_id_equal(pt_registry_id(r, h[i]), &id[i]));
		assert_int_equal(pt_registry_gen(r, h[i]), 1);
	}
	assert_int_equal(pt_registry_count(r), 4);
	assert_int_equal(pt_registry_add(r, &sess[4], &h[4], &id[4]), -EAGAIN);
	assert_int_equal(pt_registry_count(r), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pt_registry_find(r, &id[i]), h[i]);

	pt_id unknown;
	memset(&unknown, 0xab, sizeof unknown);
	assert_int_equal(pt_registry_find(r, &unknown), PT_HANDLE_NONE);

	pt_registry_remove(r, h[1]);
	assert_int_equal(pt_registry_count(r), 3);
	assert_int_equal(pt_registry_find(r, &id[1]), PT_HANDLE_NONE);
	assert_null(pt_registry_session(r, h[1]));
	assert_null(pt_registry_id(r, h[1]));
	assert_int_equal(pt_registry_gen(r, h[1]), 0);
	pt_registry_remove(r, h[1]);  /* dead: no-op */
	pt_registry_remove(r, 12345); /* never handed out: no-op */
	assert_int_equal(pt_registry_count(r), 3);
	for (int i = 0; i < 4; i++)
		if (i != 1)
			assert_int_equal(pt_registry_find(r, &id[i]), h[i]);

	/* Out-of-range handles read as dead. */
	assert_null(pt_registry_session(r, 4));
	assert_null(pt_registry_session(r, PT_HANDLE_NONE));
	assert_int_equal(pt_registry_gen(r, PT_HANDLE_NONE), 0);
	pt_registry_free(r);
}

static void test_handle_reuse_bumps_gen(void **state)
{
	(void)state;
	pt_registry *r = pt_registry_new(8, 1);
	int s;
	uint32_t h, h2, h3;
	pt_id id, id2, id3;
	assert_int_equal(pt_registry_add(r, &s, &h, &id), 0);
	assert_int_equal(pt_registry_add(r, &s, &h2, &id2), 0);
	assert_int_equal(pt_registry_limit(r), 2);
	assert_int_equal(pt_registry_gen(r, h), 1);
	pt_registry_remove(r, h);
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), 0);
	assert_int_equal(h3, h); /* slot reused ... */
	assert_int_equal(pt_registry_gen(r, h3), 2); /* ... under a new generation */
	assert_false(pt_id_equal(&id3, &id));        /* with a new id */
	assert_int_equal(pt_registry_find(r, &id), PT_HANDLE_NONE);
	assert_int_equal(pt_registry_find(r, &id3), h3);
	assert_int_equal(pt_registry_limit(r), 2);   /* high-water mark unchanged */

	for (uint32_t g = 3; g < 10; g++) {
		pt_registry_remove(r, h);
		assert_int_equal(pt_registry_add(r, &s, &h3, &id3), 0);
		assert_int_equal(h3, h);
		assert_int_equal(pt_registry_gen(r, h3), g);
	}
	/* limit counts dead handles too: 0..limit is the iteration range. */
	pt_registry_remove(r, h2);
	assert_int_equal(pt_registry_limit(r), 2);
	assert_null(pt_registry_session(r, h2));
	pt_registry_free(r);
}

/* A held handle: gone for everyone (no id, no session, generation 0, not
 * counted) but not reused until released. */
static void test_hold_release(void **state)
{
	(void)state;
	pt_registry *r = pt_registry_new(8, 1);
	int s;
	uint32_t h, h2, h3;
	pt_id id, id2, id3;

	assert_int_equal(pt_registry_add(r, &s, &h, &id), 0);
	assert_int_equal(pt_registry_add(r, &s, &h2, &id2), 0);
	pt_registry_hold(r, h);
	assert_int_equal(pt_registry_find(r, &id), PT_HANDLE_NONE);
	assert_null(pt_registry_session(r, h));
	assert_null(pt_registry_id(r, h));
	assert_int_equal(pt_registry_gen(r, h), 0);
	assert_int_equal(pt_registry_count(r), 1);
	assert_int_equal(pt_registry_held(r), 1);
	pt_registry_hold(r, h);   /* not live: no-op */
	pt_registry_remove(r, h); /* not live: no-op, stays held */
	assert_int_equal(pt_registry_held(r), 1);
	/* Not reused while held. */
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), 0);
	assert_true(h3 != h);
	pt_registry_remove(r, h3);
	pt_registry_release(r, h2); /* live, not held: no-op */
	assert_int_equal(pt_registry_find(r, &id2), h2);
	pt_registry_release(r, h);
	assert_int_equal(pt_registry_held(r), 0);
	pt_registry_release(r, h); /* twice: no-op */
	/* Free again, under a new generation. */
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), 0);
	assert_int_equal(pt_registry_add(r, &s, &h, &id), 0);
	assert_int_equal(pt_registry_limit(r), 3);
	assert_int_equal(pt_registry_count(r), 3);
	pt_registry_free(r);
}

static void test_set_max(void **state)
{
	(void)state;
	pt_registry *r = pt_registry_new(3, 5);
	int s;
	uint32_t h[3];
	pt_id id;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pt_registry_add(r, &s, &h[i], &id), 0);
	pt_registry_set_max(r, 1);
	assert_int_equal(pt_registry_count(r), 3); /* nobody evicted */
	pt_registry_remove(r, h[0]);
	assert_int_equal(pt_registry_add(r, &s, &h[0], &id), -EAGAIN);
	pt_registry_remove(r, h[1]);
	assert_int_equal(pt_registry_add(r, &s, &h[1], &id), -EAGAIN);
	pt_registry_remove(r, h[2]);
	assert_int_equal(pt_registry_add(r, &s, &h[2], &id), 0);
	pt_registry_set_max(r, 10);
	for (int i = 0; i < 9; i++)
		assert_int_equal(pt_registry_add(r, &s, &h[0], &id), 0);
	assert_int_equal(pt_registry_add(r, &s, &h[0], &id), -EAGAIN);
	assert_int_equal(pt_registry_count(r), 10);
	pt_registry_free(r);
}

static void test_id_collision_regenerates(void **state)
{
	(void)state;
	pt_registry *r = pt_registry_new(100, 3);
	int s;
	uint32_t h1, h2;
	pt_id id1, id2;

	/* First id is 0x07 00..; the second add draws it again, then 0x08. */
	static const uint8_t script[] = { 0x07, 0x07, 0x08 };
	rng.script = script;
	rng.script_n = 3;
	assert_int_equal(pt_registry_add(r, &s, &h1, &id1), 0);
	assert_int_equal(pt_registry_add(r, &s, &h2, &id2), 0);
	assert_int_equal(id1.b[0], 0x07);
	assert_int_equal(id2.b[0], 0x08);
	assert_int_equal(rng.calls, 3);
	assert_int_equal(pt_registry_find(r, &id1), h1);
	assert_int_equal(pt_registry_find(r, &id2), h2);

	/* A generator stuck on a live id gives up with -EIO, no change. */
	static const uint8_t stuck[64] = { 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07,
	                                   0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07, 0x07 };
	rng.script = stuck;
	rng.script_n = 16;
	uint32_t h3 = 77;
	pt_id id3;
	memset(&id3, 0, sizeof id3);
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), -EIO);
	assert_int_equal(h3, 77);
	assert_int_equal(pt_registry_count(r), 2);
	assert_int_equal(pt_registry_limit(r), 2);
	rng.script_n = 0;

	/* CSPRNG failure is -EIO, no change; the next add works. */
	rng.fail = 1;
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), -EIO);
	assert_int_equal(pt_registry_count(r), 2);
	assert_int_equal(pt_registry_add(r, &s, &h3, &id3), 0);
	assert_int_equal(h3, 2);
	pt_registry_free(r);
}

/* Random adds and removes through map growth and backward-shift deletes,
 * against an array model: every live id finds its handle, every removed
 * id finds nothing, ids are unique among live peers. */
static void test_churn_against_model(void **state)
{
	(void)state;
	enum { MAX = 3000, OPS = 60000 };
	pt_registry *r = pt_registry_new(MAX, 0x1234);
	static pt_id ids[MAX];
	static bool live[MAX];
	static uint32_t gens[MAX];
	memset(live, 0, sizeof live);
	memset(gens, 0, sizeof gens);
	int s;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint32_t count = 0;

	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bool add = op < OPS / 2 ? x % 3 != 0 : x % 3 == 0;
		if (add) {
			uint32_t h;
			pt_id id;
			int rc = pt_registry_add(r, &s, &h, &id);
			if (count == MAX) {
				assert_int_equal(rc, -EAGAIN);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_true(h < MAX);
			assert_false(live[h]);
			live[h] = true;
			ids[h] = id;
			assert_int_equal(pt_registry_gen(r, h), ++gens[h]);
			count++;
		} else {
			uint32_t h = (uint32_t)((x >> 20) % MAX);
			if (live[h]) {
				pt_registry_remove(r, h);
				live[h] = false;
				count--;
				assert_int_equal(pt_registry_find(r, &ids[h]), PT_HANDLE_NONE);
			}
		}
		assert_int_equal(pt_registry_count(r), count);
		if (op % 5000 == 0 || op == OPS - 1) {
			for (uint32_t h = 0; h < pt_registry_limit(r); h++) {
				if (live[h]) {
					assert_int_equal(pt_registry_find(r, &ids[h]), h);
					assert_ptr_equal(pt_registry_session(r, h), &s);
				} else {
					assert_null(pt_registry_session(r, h));
				}
			}
		}
	}
	pt_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_add_find_remove, setup),
		cmocka_unit_test_setup(test_handle_reuse_bumps_gen, setup),
		cmocka_unit_test_setup(test_hold_release, setup),
		cmocka_unit_test_setup(test_set_max, setup),
		cmocka_unit_test_setup(test_id_collision_regenerates, setup),
		cmocka_unit_test_setup(test_churn_against_model, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
