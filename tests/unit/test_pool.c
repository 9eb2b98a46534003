/* test_pool.c — pool.h: fixed-size records by 32-bit index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/pool.h"

struct rec {
	uint32_t a, b, c;
};

/* Records handed out are distinct and keep their contents while the
 * array grows (several doublings past the first 64). */
static void test_grow_keeps_contents(void **state)
{
	(void)state;
	pt_pool p;
	enum { N = 5000 };
	static uint32_t idx[N];

	pt_pool_init(&p, sizeof(struct rec));
	for (uint32_t i = 0; i < N; i++) {
		idx[i] = pt_pool_get(&p);
		assert_int_equal(idx[i], i); /* nothing freed yet: in order */
		*(struct rec *)pt_pool_at(&p, idx[i]) = (struct rec){ i, ~i, i * 7 };
	}
	assert_true(p.cap >= N);
	assert_int_equal(p.live, N);
	for (uint32_t i = 0; i < N; i++) {
		struct rec *r = pt_pool_at(&p, idx[i]);
		assert_int_equal(r->a, i);
		assert_int_equal(r->b, ~i);
		assert_int_equal(r->c, i * 7);
	}
	pt_pool_free(&p);
	assert_null(p.a);
	assert_int_equal(p.live, 0);
}

/* Put records come back before the array grows, last put first, and the
 * records nobody put back are untouched by the free list. */
static void test_free_list(void **state)
{
	(void)state;
	pt_pool p;
	uint32_t idx[64], cap;

	pt_pool_init(&p, sizeof(struct rec));
	for (uint32_t i = 0; i < 64; i++) {
		idx[i] = pt_pool_get(&p);
		*(struct rec *)pt_pool_at(&p, idx[i]) = (struct rec){ i, i, i };
	}
	cap = p.cap;
	pt_pool_put(&p, idx[10]);
	pt_pool_put(&p, idx[20]);
	pt_pool_put(&p, idx[63]);
	assert_int_equal(p.live, 61);
	assert_int_equal(pt_pool_get(&p), idx[63]);
	assert_int_equal(pt_pool_get(&p), idx[20]);
	assert_int_equal(pt_pool_get(&p), idx[10]);
	assert_int_equal(p.cap, cap); /* reused, not grown */
	assert_int_equal(p.free_head, PT_POOL_NIL);
	for (uint32_t i = 0; i < 64; i++)
		if (i != 10 && i != 20 && i != 63)
			assert_int_equal(((struct rec *)pt_pool_at(&p, idx[i]))->a, i);
	/* Empty free list: the next one is new. */
	assert_int_equal(pt_pool_get(&p), 64);
	/* Free everything, then reuse the pool after pt_pool_free. */
	pt_pool_free(&p);
	assert_int_equal(pt_pool_get(&p), 0);
	assert_int_equal(p.live, 1);
	pt_pool_put(&p, 0);
	assert_int_equal(p.live, 0);
	pt_pool_free(&p);
}

/* Records smaller than the free-list link are widened to 4 bytes. */
static void test_tiny_records(void **state)
{
	(void)state;
	pt_pool p;

	pt_pool_init(&p, 1);
	assert_int_equal(p.size, 4);
	uint32_t a = pt_pool_get(&p), b = pt_pool_get(&p);
	assert_int_not_equal(a, b);
	pt_pool_put(&p, a);
	assert_int_equal(pt_pool_get(&p), a);
	pt_pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_keeps_contents),
		cmocka_unit_test(test_free_list),
		cmocka_unit_test(test_tiny_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
