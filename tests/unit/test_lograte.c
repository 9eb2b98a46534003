/* test_lograte.c — one line per interval, the rest counted and reported
 * with the next line or by the flush once the interval is over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "peertrack/lograte.h"

static void test_burst(void **state)
{
	(void)state;
	pt_lograte r = {0};
	uint64_t n = 99;

	assert_true(pt_lograte_take(&r, 1000, 5000, &n));
	assert_int_equal(n, 0);
	for (int i = 0; i < 50; i++)
		assert_false(pt_lograte_take(&r, 1000, 5000 + (uint64_t)i * 10, &n));
	/* Nothing to flush before the interval is over. */
	assert_false(pt_lograte_flush(&r, 1000, 5999, &n));
	/* The next event after it carries the count. */
	assert_true(pt_lograte_take(&r, 1000, 6000, &n));
	assert_int_equal(n, 50);
	assert_false(pt_lograte_flush(&r, 1000, 9000, &n)); /* nothing counted since */
}

static void test_flush(void **state)
{
	(void)state;
	pt_lograte r = {0};
	uint64_t n = 0;

	assert_true(pt_lograte_take(&r, 10000, 1, &n));
	assert_false(pt_lograte_take(&r, 10000, 2, &n));
	assert_false(pt_lograte_take(&r, 10000, 3, &n));
	assert_false(pt_lograte_flush(&r, 10000, 10000, &n));
	assert_true(pt_lograte_flush(&r, 10000, 10001, &n));
	assert_int_equal(n, 2);
	/* The flush started a new interval: the next event is counted. */
	assert_false(pt_lograte_take(&r, 10000, 10002, &n));
	assert_true(pt_lograte_take(&r, 10000, 20001, &n));
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
