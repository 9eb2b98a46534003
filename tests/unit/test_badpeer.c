/* test_badpeer.c — bad-peer report counting: one count per network and
 * hash (IPv4 address, IPv6 /64), hashes counted apart, forget, and the
 * bound (the oldest report goes first). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/badpeer.h"

static pt_addr addr(const char *s)
{
	pt_addr a;

	assert_int_equal(pt_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static pt_hash hash(uint8_t n)
{
	pt_hash h;

	memset(&h, n, sizeof(h));
	return h;
}

static void test_distinct_networks(void **state)
{
	pt_badpeer *b = pt_badpeer_new(8);
	pt_hash h1 = hash(1), h2 = hash(2);
	pt_addr a = addr("192.0.2.1"), a2 = addr("192.0.2.2"), v6 = addr("2001:db8::1"),
	        v6same = addr("2001:db8::ffff:1"), v6other = addr("2001:db8:0:1::1");
	(void)state;

	assert_non_null(b);
	assert_int_equal(pt_badpeer_note(b, &h1, &a), 1);
	assert_int_equal(pt_badpeer_note(b, &h1, &a), 0);   /* the same reporter again */
	assert_int_equal(pt_badpeer_note(b, &h2, &a), 1);   /* another hash: apart */
	assert_int_equal(pt_badpeer_note(b, &h1, &a2), 2);  /* a neighbour address counts */
	assert_int_equal(pt_badpeer_note(b, &h1, &v6), 3);
	assert_int_equal(pt_badpeer_note(b, &h1, &v6same), 0);  /* same /64 */
	assert_int_equal(pt_badpeer_note(b, &h1, &v6other), 4); /* another /64 */
	assert_int_equal(pt_badpeer_count(b), 5);
	assert_int_equal(pt_badpeer_forget(b, &h1), 4);
	assert_int_equal(pt_badpeer_count(b), 1);
	assert_int_equal(pt_badpeer_note(b, &h1, &a), 1);   /* a fresh start for h1 */
	pt_badpeer_free(b);
	pt_badpeer_free(NULL);
	assert_int_equal(pt_badpeer_count(NULL), 0);
}

static void test_bounded(void **state)
{
	pt_badpeer *b = pt_badpeer_new(3);
	pt_hash h1 = hash(1);
	char ip[32];
	(void)state;

	/* Six hashes from one address: only the last three stay. */
	for (uint8_t i = 0; i < 6; i++) {
		pt_hash h = hash((uint8_t)(10 + i));

		assert_int_equal(pt_badpeer_note(b, &h, &(pt_addr){ 0 }), 1);
		assert_true(pt_badpeer_count(b) <= 3);
	}
	assert_int_equal(pt_badpeer_count(b), 3);
	for (int i = 0; i < 3; i++) {
		pt_hash h = hash((uint8_t)(10 + i));

		assert_int_equal(pt_badpeer_forget(b, &h), 0); /* the oldest went */
	}
	/* A flood for one hash from many networks keeps counting within the bound. */
	for (int i = 1; i <= 5; i++) {
		pt_addr a;

		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		a = addr(ip);
		assert_int_equal(pt_badpeer_note(b, &h1, &a), i < 3 ? i : 3);
	}
	pt_badpeer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distinct_networks),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
