/* test_lcache.c — the cache of remote lookup samples: a put is found
 * until its ttl, only for its own key; keep() drops candidates for good;
 * a colliding key replaces the entry; off when a size is 0; more than max
 * candidates are cut to max. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/lcache.h"

static pt_key key(uint8_t b0, enum pt_space sp)
{
	pt_key k;

	memset(&k, 0, sizeof(k));
	k.space = sp;
	k.h.b[0] = b0;
	k.h.b[31] = 0x5a;
	return k;
}

static void cands(pt_cluster_cand *v, size_t n)
{
	memset(v, 0, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].id.b[0] = (uint8_t)(i + 1);
		v[i].addr.family = 4;
		v[i].addr.b[3] = (uint8_t)i;
	}
}

static void test_put_get_expire(void **state)
{
	pt_lcache *lc = pt_lcache_new(16, 4, 100);
	pt_cluster_cand v[4];
	pt_key a = key(1, PT_SPACE_V1), a_wt = key(1, PT_SPACE_WT);
	const pt_cluster_cand *g;
	size_t n = 99;
	(void)state;

	assert_non_null(lc);
	cands(v, 4);
	assert_null(pt_lcache_get(lc, &a, 0, NULL, NULL, &n));
	assert_int_equal(pt_lcache_put(lc, &a, v, 4, 1000), 0);
	g = pt_lcache_get(lc, &a, 1099, NULL, NULL, &n);
	assert_non_null(g);
	assert_int_equal(n, 4);
	assert_memory_equal(g, v, sizeof(v));
	/* the same hash bytes in the other key space are another key */
	assert_null(pt_lcache_get(lc, &a_wt, 1050, NULL, NULL, &n));
	/* expired at put + ttl */
	assert_null(pt_lcache_get(lc, &a, 1100, NULL, NULL, &n));
	pt_lcache_free(lc);
}

static bool not_odd(void *arg, const pt_cluster_cand *c)
{
	(*(int *)arg)++;
	return c->id.b[0] % 2 == 0;
}

static void test_keep_drops(void **state)
{
	pt_lcache *lc = pt_lcache_new(4, 8, 1000);
	pt_cluster_cand v[6];
	pt_key a = key(7, PT_SPACE_V1);
	const pt_cluster_cand *g;
	size_t n;
	int asked = 0;
	(void)state;

	cands(v, 6);
	assert_int_equal(pt_lcache_put(lc, &a, v, 6, 0), 0);
	g = pt_lcache_get(lc, &a, 1, not_odd, &asked, &n);
	assert_int_equal(n, 3);
	assert_int_equal(asked, 6);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(g[i].id.b[0] % 2, 0);
	/* gone for good: the next hit asks about the three left only */
	asked = 0;
	g = pt_lcache_get(lc, &a, 2, not_odd, &asked, &n);
	assert_int_equal(n, 3);
	assert_int_equal(asked, 3);
	pt_lcache_free(lc);
}

static void test_collision_and_cut(void **state)
{
	/* one slot: every key collides */
	pt_lcache *lc = pt_lcache_new(1, 2, 1000);
	pt_cluster_cand v[5];
	pt_key a = key(1, PT_SPACE_V1), b = key(2, PT_SPACE_V1);
	const pt_cluster_cand *g;
	size_t n;
	(void)state;

	cands(v, 5);
	assert_int_equal(pt_lcache_put(lc, &a, v, 5, 0), 0);
	g = pt_lcache_get(lc, &a, 0, NULL, NULL, &n);
	assert_int_equal(n, 2); /* cut to max */
	assert_memory_equal(g, v, 2 * sizeof(*v));
	assert_int_equal(pt_lcache_put(lc, &b, v + 2, 1, 0), 0);
	assert_null(pt_lcache_get(lc, &a, 0, NULL, NULL, &n));
	g = pt_lcache_get(lc, &b, 0, NULL, NULL, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(g, &v[2], sizeof(*v));
	/* an empty sample is a hit with nothing in it */
	assert_int_equal(pt_lcache_put(lc, &a, NULL, 0, 0), 0);
	assert_non_null(pt_lcache_get(lc, &a, 0, NULL, NULL, &n));
	assert_int_equal(n, 0);
	pt_lcache_free(lc);
}

static void test_off(void **state)
{
	(void)state;
	assert_null(pt_lcache_new(0, 4, 100));
	assert_null(pt_lcache_new(4, 0, 100));
	assert_null(pt_lcache_new(4, 4, 0));
	pt_lcache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_expire),
		cmocka_unit_test(test_keep_drops),
		cmocka_unit_test(test_collision_and_cut),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
