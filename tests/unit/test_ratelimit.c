/* test_ratelimit.c — token bucket arithmetic on a hand-driven clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "peertrack/ratelimit.h"

/* Takes until the bucket refuses; returns how many were taken. */
static unsigned drain(pt_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
	unsigned n = 0;
	while (n < 10000000 && pt_bucket_take(b, rate, burst, now))
		n++;
	return n;
}

static void test_starts_full_and_drains(void **state)
{
	(void)state;
	pt_bucket b;
	pt_bucket_init(&b, 100, 5000);
	assert_int_equal(b.milli, 100000);
	assert_int_equal(drain(&b, 50, 100, 5000), 100);
	assert_false(pt_bucket_take(&b, 50, 100, 5000));
}

static void test_refill_arithmetic(void **state)
{
	(void)state;
	pt_bucket b;
	uint64_t t = 1000;
	pt_bucket_init(&b, 10, t);
	assert_int_equal(drain(&b, 50, 10, t), 10);

	/* 50/s = one token per 20 ms: 19 ms is not enough, 20 ms is. */
	t += 19;
	assert_false(pt_bucket_take(&b, 50, 10, t));
	assert_int_equal(b.milli, 950);
	t += 1;
	assert_true(pt_bucket_take(&b, 50, 10, t));
	assert_int_equal(b.milli, 0);

	/* Partial refills accumulate exactly: 7 ms steps at 50/s = 350 each. */
	for (int i = 0; i < 2; i++) {
		t += 7;
		assert_false(pt_bucket_take(&b, 50, 10, t));
	}
	t += 7; /* 1050 milli-tokens now */
	assert_true(pt_bucket_take(&b, 50, 10, t));
	assert_int_equal(b.milli, 50);

	/* One second refills rate tokens, capped at burst. */
	pt_bucket_init(&b, 10, t);
	drain(&b, 3, 10, t);
	t += 1000;
	assert_int_equal(drain(&b, 3, 10, t), 3);
	t += 60000;
	assert_int_equal(drain(&b, 3, 10, t), 10);
}

static void test_rate_zero_and_burst_changes(void **state)
{
	(void)state;
	pt_bucket b;
	pt_bucket_init(&b, 2, 0);
	assert_int_equal(drain(&b, 0, 2, 0), 2);
	assert_false(pt_bucket_take(&b, 0, 2, 1000000)); /* rate 0 never refills */

	/* Lowering burst clamps what is stored. */
	pt_bucket_init(&b, 100, 0);
	assert_int_equal(drain(&b, 1, 3, 0), 3);
	/* Burst 0 takes nothing. */
	pt_bucket_init(&b, 0, 0);
	assert_false(pt_bucket_take(&b, 1000, 0, 5000));
}

static void test_clock_backwards(void **state)
{
	(void)state;
	pt_bucket b;
	pt_bucket_init(&b, 5, 10000);
	assert_int_equal(drain(&b, 10, 5, 10000), 5);
	/* Backwards: nothing refilled, and the time already paid for is not
	 * paid again when the clock comes back. */
	assert_false(pt_bucket_take(&b, 10, 5, 0));
	assert_false(pt_bucket_take(&b, 10, 5, 5000));
	assert_false(pt_bucket_take(&b, 10, 5, 10099));
	assert_true(pt_bucket_take(&b, 10, 5, 10100));
	assert_false(pt_bucket_take(&b, 10, 5, 10100));
}

static void test_long_idle_no_overflow(void **state)
{
	(void)state;
	pt_bucket b;
	pt_bucket_init(&b, 100, 0);
	drain(&b, UINT32_MAX, 100, 0);
	/* elapsed * rate would overflow 64 bits unclamped. */
	assert_int_equal(drain(&b, UINT32_MAX, 100, UINT64_MAX), 100);
	assert_int_equal(b.milli, 0);

	/* The largest burst still fits the milli counter. */
	pt_bucket_init(&b, UINT32_MAX, 0);
	assert_int_equal(b.milli, UINT32_MAX);
	assert_true(pt_bucket_take(&b, UINT32_MAX, UINT32_MAX, 1));
	assert_int_equal(b.milli, UINT32_MAX - 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_full_and_drains),
		cmocka_unit_test(test_refill_arithmetic),
		cmocka_unit_test(test_rate_zero_and_burst_changes),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_long_idle_no_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
