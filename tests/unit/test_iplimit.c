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

/* Several counters per address: an entry lives while any is above zero,
 * a take that would pass its max changes nothing, a give clamps at zero. */
static void test_kinds(void **state)
{
	pt_iplimit *l = pt_iplimit_new(7);
	pt_addr a = v4(0x0a000001u), b = v4(0x0a000002u);
	(void)state;

	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HASHES, 10, 12), 1);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HASHES, 3, 12), 0);
	assert_int_equal(pt_iplimit_get(l, &a, PT_IP_HASHES), 10);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HASHES, 2, 12), 1);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HASHES, 0, 12), 1);
	assert_int_equal(pt_iplimit_take(l, &b, PT_IP_HASHES, 13, 12), 0); /* new entry, too big */
	assert_int_equal(pt_iplimit_addresses(l), 1);
	assert_int_equal(pt_iplimit_acquire(l, &a, 1), 1);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HALFOPEN, 1, 1), 1);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP_HALFOPEN, 1, 1), 0);
	assert_int_equal(pt_iplimit_count(l, &a), 1);
	pt_iplimit_give(l, &a, PT_IP_HASHES, 100); /* clamped */
	assert_int_equal(pt_iplimit_get(l, &a, PT_IP_HASHES), 0);
	pt_iplimit_release(l, &a);
	assert_int_equal(pt_iplimit_addresses(l), 1); /* the half-open one remains */
	assert_int_equal(pt_iplimit_get(l, &a, PT_IP_HALFOPEN), 1);
	pt_iplimit_give(l, &a, PT_IP_HALFOPEN, 1);
	assert_int_equal(pt_iplimit_addresses(l), 0);
	assert_int_equal(pt_iplimit_take(l, &a, PT_IP__COUNT, 1, 1), -EINVAL);
	pt_iplimit_free(l);
}

/* Random takes and gives of every kind over many addresses (the table
 * grows, shrinks and shifts entries) agree with a plain array. */
static void test_kinds_against_model(void **state)
{
	enum { N = 3000, OPS = 150000 };
	static uint32_t model[N][PT_IP__COUNT];
	pt_iplimit *l = pt_iplimit_new(0xbeef);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	(void)state;

	memset(model, 0, sizeof(model));
	for (int op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t i = (uint32_t)(x % N), k = (uint32_t)((x >> 20) % PT_IP__COUNT);
		uint32_t n = (uint32_t)((x >> 40) % 5);
		bool take = op < 2 * OPS / 3 ? (x >> 32) % 3 != 0 : (x >> 32) % 4 == 0;
		pt_addr a = v4(0x0b000000u + i * 104729u);

		if (take) {
			int rc = pt_iplimit_take(l, &a, k, n, 9);

			assert_int_equal(rc, model[i][k] + n <= 9 ? 1 : 0);
			if (rc == 1)
				model[i][k] += n;
		} else {
			pt_iplimit_give(l, &a, k, n);
			model[i][k] = model[i][k] > n ? model[i][k] - n : 0;
		}
		if (op % 25000 == 0 || op == OPS - 1) {
			uint32_t live = 0;

			for (uint32_t j = 0; j < N; j++) {
				pt_addr b = v4(0x0b000000u + j * 104729u);
				bool any = false;

				for (int q = 0; q < PT_IP__COUNT; q++) {
					assert_int_equal(pt_iplimit_get(l, &b, q), model[j][q]);
					any |= model[j][q] != 0;
				}
				live += any;
			}
			assert_int_equal(pt_iplimit_addresses(l), live);
		}
	}
	pt_iplimit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_families_distinct),
		cmocka_unit_test(test_many_against_model),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_kinds_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
