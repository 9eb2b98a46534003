/* test_iplimit.c — per-address connection counts. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/iplimit.h"

static pt_addr v4(uint32_t x)
{
	pt_addr a;
	memset(&a, 0, sizeof a);
	a.family = 4;
	a.b[0] = (uint8_t)(x >> 24);
	a.b[1] = (uint8_t)(x >> 16);
	a.b[2] = (uint8_t)(x >> 8);
	a.b[3] = (uint8_t)x;
	return a;
}

static void test_limit(void **state)
{
	(void)state;
	pt_iplimit *l = pt_iplimit_new(42);
	assert_non_null(l);
	pt_addr a = v4(0x0a000001), b = v4(0x0a000002);

	assert_int_equal(pt_iplimit_count(l, &a), 0);
	assert_int_equal(pt_iplimit_acquire(l, &a, 3), 1);
	assert_int_equal(pt_iplimit_acquire(l, &a, 3), 2);
	assert_int_equal(pt_iplimit_acquire(l, &a, 3), 3);
	assert_int_equal(pt_iplimit_acquire(l, &a, 3), 0); /* at the limit */
	assert_int_equal(pt_iplimit_count(l, &a), 3);
	assert_int_equal(pt_iplimit_acquire(l, &b, 3), 1); /* others unaffected */

	pt_iplimit_release(l, &a);
	assert_int_equal(pt_iplimit_count(l, &a), 2);
	assert_int_equal(pt_iplimit_acquire(l, &a, 3), 3);
	/* A lowered limit refuses without counting. */
	assert_int_equal(pt_iplimit_acquire(l, &a, 2), 0);
	assert_int_equal(pt_iplimit_count(l, &a), 3);
	assert_int_equal(pt_iplimit_acquire(l, &b, 0), 0);
	pt_addr c = v4(3);
	assert_int_equal(pt_iplimit_acquire(l, &c, 0), 0);
	assert_int_equal(pt_iplimit_count(l, &c), 0);

	for (int i = 0; i < 3; i++)
		pt_iplimit_release(l, &a);
	assert_int_equal(pt_iplimit_count(l, &a), 0);
	pt_iplimit_release(l, &a); /* no-op when none */
	pt_iplimit_release(l, &c);
	assert_int_equal(pt_iplimit_count(l, &a), 0);
	assert_int_equal(pt_iplimit_count(l, &b), 1);
	pt_iplimit_free(l);
}

static void test_families_distinct(void **state)
{
	(void)state;
	pt_iplimit *l = pt_iplimit_new(1);
	pt_addr a4 = v4(0x01020304), a6;
	memset(&a6, 0, sizeof a6);
	a6.family = 6;
	memcpy(a6.b, a4.b, 4); /* same leading bytes, other family */
	assert_int_equal(pt_iplimit_acquire(l, &a4, 1), 1);
	assert_int_equal(pt_iplimit_acquire(l, &a6, 1), 1);
	assert_int_equal(pt_iplimit_acquire(l, &a4, 1), 0);
	pt_iplimit_release(l, &a4);
	assert_int_equal(pt_iplimit_count(l, &a6), 1);
	pt_iplimit_free(l);
}

/* Many addresses through growth, backward-shift deletes and shrinking,
 * checked against a plain array model. */
static void test_many_against_model(void **state)
{
	(void)state;
	enum { N = 5000, OPS = 200000 };
	static uint32_t model[N];
	memset(model, 0, sizeof model);
	pt_iplimit *l = pt_iplimit_new(0xfeed);
	uint64_t x = 88172645463325252ULL;
	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t i = (uint32_t)(x % N);
		/* Phases: fill, then mixed, then drain, so the table both
		 * grows and shrinks. */
		bool acquire = op < OPS / 3 ? (x >> 32) % 4 != 0
		             : op < 2 * OPS / 3 ? (x >> 32) % 2 == 0 : (x >> 32) % 4 == 0;
		pt_addr a = v4(0xc0a80000u + i * 7919u);
		if (acquire) {
			int rc = pt_iplimit_acquire(l, &a, 4);
			if (model[i] < 4)
				assert_int_equal(rc, (int)++model[i]);
			else
				assert_int_equal(rc, 0);
		} else {
			pt_iplimit_release(l, &a);
			if (model[i])
				model[i]--;
		}
		if (op % 20000 == 0 || op == OPS - 1)
			for (uint32_t j = 0; j < N; j++) {
				pt_addr b = v4(0xc0a80000u + j * 7919u);
				assert_int_equal(pt_iplimit_count(l, &b), model[j]);
			}
	}
	for (uint32_t j = 0; j < N; j++) {
		pt_addr b = v4(0xc0a80000u + j * 7919u);
		while (model[j]--)
			pt_iplimit_release(l, &b);
		assert_int_equal(pt_iplimit_count(l, &b), 0);
	}
	pt_iplimit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_families_distinct),
		cmocka_unit_test(test_many_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
