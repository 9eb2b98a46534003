/* test_banlist.c — bans by address and range, expiry, replace/remove, and
 * the duration parser shared by the admin table and peertrackctl. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/banlist.h"

static pt_cidr cidr(const char *s)
{
	pt_cidr c;

	assert_int_equal(pt_cidr_parse(s, strlen(s), &c), 0);
	return c;
}

static pt_addr addr(const char *s)
{
	pt_addr a;

	assert_int_equal(pt_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static void test_match(void **state)
{
	(void)state;
	pt_banlist l;
	pt_cidr c1 = cidr("10.1.0.0/16"), c2 = cidr("2001:db8::/32"), c3 = cidr("192.0.2.7");
	pt_addr a;

	pt_banlist_init(&l);
	assert_null(pt_banlist_match(&l, &(pt_addr){ .family = 4 }, 0));
	assert_int_equal(pt_banlist_add(&l, &c1, 1, 0, "scan"), 0);
	assert_int_equal(pt_banlist_add(&l, &c2, 1, 0, NULL), 0);
	assert_int_equal(pt_banlist_add(&l, &c3, 1, 0, "abuse"), 0);

	a = addr("10.1.200.3");
	assert_non_null(pt_banlist_match(&l, &a, 5));
	assert_string_equal(pt_banlist_match(&l, &a, 5)->reason, "scan");
	a = addr("10.2.0.1");
	assert_null(pt_banlist_match(&l, &a, 5));
	a = addr("2001:db8:ffff::1");
	assert_non_null(pt_banlist_match(&l, &a, 5));
	assert_string_equal(pt_banlist_match(&l, &a, 5)->reason, "");
	a = addr("192.0.2.7");
	assert_non_null(pt_banlist_match(&l, &a, 5));
	a = addr("192.0.2.8");
	assert_null(pt_banlist_match(&l, &a, 5));
	/* A v4-mapped address is folded to v4 and still matched. */
	a = addr("::ffff:10.1.0.9");
	assert_non_null(pt_banlist_match(&l, &a, 5));
	pt_banlist_free(&l);
}

static void test_expiry(void **state)
{
	(void)state;
	pt_banlist l;
	pt_cidr c1 = cidr("10.0.0.1"), c2 = cidr("10.0.0.2");
	pt_addr a1 = addr("10.0.0.1"), a2 = addr("10.0.0.2");

	pt_banlist_init(&l);
	assert_int_equal(pt_banlist_add(&l, &c1, 0, 1000, "short"), 0);
	assert_int_equal(pt_banlist_add(&l, &c2, 0, 0, "forever"), 0);
	assert_non_null(pt_banlist_match(&l, &a1, 999));
	assert_null(pt_banlist_match(&l, &a1, 1000)); /* expired, even before pruning */
	assert_int_equal(l.n, 2);
	assert_int_equal(pt_banlist_expire(&l, 999), 0);
	assert_int_equal(pt_banlist_expire(&l, 1000), 1);
	assert_int_equal(l.n, 1);
	assert_non_null(pt_banlist_match(&l, &a2, UINT64_MAX));
	pt_banlist_free(&l);
}

static void test_replace_remove(void **state)
{
	(void)state;
	pt_banlist l;
	pt_cidr c = cidr("10.0.0.0/8"), other = cidr("10.0.0.0/16");
	char longer[400];

	pt_banlist_init(&l);
	assert_int_equal(pt_banlist_add(&l, &c, 1, 50, "a"), 0);
	assert_int_equal(pt_banlist_add(&l, &c, 2, 0, "b"), 1);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].reason, "b");
	assert_int_equal(l.v[0].expires_ms, 0);
	/* A different prefix is a different ban. */
	assert_int_equal(pt_banlist_remove(&l, &other), 0);
	assert_int_equal(pt_banlist_remove(&l, &c), 1);
	assert_int_equal(pt_banlist_remove(&l, &c), 0);
	assert_int_equal(l.n, 0);

	/* Growth and order; reasons are truncated, never overflowed. */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	for (unsigned i = 0; i < 40; i++) {
		pt_cidr ci = { .net = { .family = 4, .b = { 10, 0, 0, (uint8_t)i } }, .prefix = 32 };
		assert_int_equal(pt_banlist_add(&l, &ci, i, 0, longer), 0);
	}
	assert_int_equal(l.n, 40);
	assert_int_equal(strlen(l.v[39].reason), PT_BAN_REASON_MAX - 1);
	pt_cidr mid = { .net = { .family = 4, .b = { 10, 0, 0, 7 } }, .prefix = 32 };
	assert_int_equal(pt_banlist_remove(&l, &mid), 1);
	assert_int_equal(l.v[7].cidr.net.b[3], 8);
	pt_banlist_free(&l);
}

static void test_duration(void **state)
{
	(void)state;
	uint64_t ms = 0;

	assert_int_equal(pt_duration_parse("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(pt_duration_parse("30m", &ms), 0);
	assert_int_equal(ms, 1800000);
	assert_int_equal(pt_duration_parse("45", &ms), 0);
	assert_int_equal(ms, 45000);
	assert_int_equal(pt_duration_parse("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(pt_duration_parse("2d", &ms), 0);
	assert_int_equal(ms, 172800000);
	assert_int_equal(pt_duration_parse("1w", &ms), 0);
	assert_int_equal(ms, 604800000);
	assert_int_equal(pt_duration_parse("0s", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("h", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("1x", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("-1h", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("1 h", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse("99999999999999999999999h", &ms), -EINVAL);
	assert_int_equal(pt_duration_parse(NULL, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_replace_remove),
		cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
