/* test_ccache.c — the cache of other nodes' swarm counts: a miss asks for
 * one read and no second one while it is in flight; a sum is answered
 * fresh until ttl, answered while read again until 4 x ttl, then missed;
 * a failed read forgets (and waits ttl before the next) or keeps; a colliding key waits for the slot's
 * read; clear forgets every sum; off when a size is 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/ccache.h"

static pt_key key(uint8_t b0, enum pt_space sp)
{
	pt_key k;

	memset(&k, 0, sizeof(k));
	k.space = sp;
	k.h.b[0] = b0;
	k.h.b[19] = 0x5a;
	return k;
}

static void test_off(void **state)
{
	(void)state;
	assert_null(pt_ccache_new(0, 100));
	assert_null(pt_ccache_new(16, 0));
	pt_ccache_free(NULL);
	pt_ccache_clear(NULL);
}

static void test_read_once_then_age(void **state)
{
	pt_ccache *cc = pt_ccache_new(16, 100);
	pt_key a = key(1, PT_SPACE_WT);
	uint32_t c = 77, i = 77;
	bool read;
	(void)state;

	assert_non_null(cc);
	/* A miss asks for a read, once. */
	assert_false(pt_ccache_get(cc, &a, 1000, &c, &i, &read));
	assert_true(read);
	assert_false(pt_ccache_get(cc, &a, 1001, &c, &i, &read));
	assert_false(read);
	pt_ccache_put(cc, &a, 3, 5, 1010);
	/* Fresh: answered, no read. */
	assert_true(pt_ccache_get(cc, &a, 1109, &c, &i, &read));
	assert_false(read);
	assert_int_equal(c, 3);
	assert_int_equal(i, 5);
	/* Older than ttl: still answered, read again (once). */
	assert_true(pt_ccache_get(cc, &a, 1110, &c, &i, &read));
	assert_true(read);
	assert_true(pt_ccache_get(cc, &a, 1200, &c, &i, &read));
	assert_false(read);
	/* The read failed without forgetting (not sent): still answered
	 * while young enough, and the next get reads again. */
	pt_ccache_fail(cc, &a, false, 1250);
	assert_true(pt_ccache_get(cc, &a, 1300, &c, &i, &read));
	assert_true(read);
	/* 4 x ttl: a miss, though a read is in flight. */
	assert_false(pt_ccache_get(cc, &a, 1410, &c, &i, &read));
	assert_false(read);
	pt_ccache_put(cc, &a, 4, 6, 1420);
	assert_true(pt_ccache_get(cc, &a, 1421, &c, &i, &read));
	assert_int_equal(c, 4);
	assert_int_equal(i, 6);
	/* A failed read that forgets: a miss at once, and no read again
	 * before ttl has passed. */
	assert_true(pt_ccache_get(cc, &a, 1600, &c, &i, &read));
	assert_true(read);
	pt_ccache_fail(cc, &a, true, 1601);
	assert_false(pt_ccache_get(cc, &a, 1602, &c, &i, &read));
	assert_false(read);
	assert_false(pt_ccache_get(cc, &a, 1700, &c, &i, &read));
	assert_false(read);
	assert_false(pt_ccache_get(cc, &a, 1701, &c, &i, &read));
	assert_true(read);
	pt_ccache_put(cc, &a, 1, 1, 1702);
	/* clear: every sum goes. */
	pt_ccache_clear(cc);
	assert_false(pt_ccache_get(cc, &a, 1703, &c, &i, &read));
	assert_true(read);
	pt_ccache_free(cc);
}

static void test_keys_and_slots(void **state)
{
	pt_ccache *cc = pt_ccache_new(1, 100); /* one slot: every key collides */
	pt_key a = key(1, PT_SPACE_WT), b = key(2, PT_SPACE_WT), a_v1 = key(1, PT_SPACE_V1);
	uint32_t c, i;
	bool read;
	(void)state;

	assert_false(pt_ccache_get(cc, &a, 10, &c, &i, &read));
	assert_true(read);
	/* b finds a's read in flight: no read for b, the slot stays a's. */
	assert_false(pt_ccache_get(cc, &b, 11, &c, &i, &read));
	assert_false(read);
	/* A put or failure for a key that does not hold the slot is ignored. */
	pt_ccache_put(cc, &b, 9, 9, 12);
	pt_ccache_fail(cc, &b, true, 12);
	pt_ccache_put(cc, &a, 2, 0, 13);
	assert_true(pt_ccache_get(cc, &a, 14, &c, &i, &read));
	assert_int_equal(c, 2);
	assert_int_equal(i, 0);
	/* The same bytes in the other key space are another key. */
	assert_false(pt_ccache_get(cc, &a_v1, 15, &c, &i, &read));
	assert_true(read);
	/* It took the slot: a is a miss now (and waits for a_v1's read). */
	assert_false(pt_ccache_get(cc, &a, 16, &c, &i, &read));
	assert_false(read);
	pt_ccache_fail(cc, &a_v1, false, 16);
	assert_false(pt_ccache_get(cc, &a, 17, &c, &i, &read));
	assert_true(read);
	pt_ccache_free(cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_read_once_then_age),
		cmocka_unit_test(test_keys_and_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
