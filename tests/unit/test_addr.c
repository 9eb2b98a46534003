/* test_addr.c — address and CIDR parsing, containment, lists, proximity. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/addr.h"

static pt_addr A(const char *s)
{
	pt_addr a;
	assert_int_equal(pt_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static pt_cidr C(const char *s)
{
	pt_cidr c;
	assert_int_equal(pt_cidr_parse(s, strlen(s), &c), 0);
	return c;
}

static void assert_addr_fmt(const char *in, const char *want)
{
	char out[PT_ADDR_STRLEN];
	pt_addr a = A(in);
	pt_addr_format(&a, out);
	assert_string_equal(out, want);
}

static void assert_cidr_fmt(const char *in, const char *want)
{
	char out[PT_ADDR_STRLEN + 4];
	pt_cidr c = C(in);
	pt_cidr_format(&c, out);
	assert_string_equal(out, want);
}

static void test_parse_format(void **state)
{
	(void)state;
	pt_addr a = A("192.0.2.1");
	assert_int_equal(a.family, 4);
	assert_int_equal(a.b[0], 192);
	assert_int_equal(a.b[3], 1);
	assert_addr_fmt("0.0.0.0", "0.0.0.0");
	assert_addr_fmt("255.255.255.255", "255.255.255.255");
	assert_addr_fmt("2001:db8::1", "2001:db8::1");
	assert_addr_fmt("2001:0DB8:0000::0001", "2001:db8::1");
	assert_addr_fmt("::", "::");
	assert_addr_fmt("::1", "::1");
	assert_int_equal(A("::1").family, 6);

	/* v4-mapped v6 folds to v4, so it equals the plain v4 address. */
	pt_addr m = A("::ffff:192.0.2.1"), m2 = A("::FFFF:c000:0201");
	assert_int_equal(m.family, 4);
	assert_true(pt_addr_equal(&m, &a));
	assert_true(pt_addr_equal(&m2, &a));
	assert_int_equal(pt_addr_hash(&m, 7), pt_addr_hash(&a, 7));
	assert_addr_fmt("::ffff:10.1.2.3", "10.1.2.3");
	/* Not mapped: the v4-compatible form and ffff elsewhere stay v6. */
	assert_int_equal(A("::192.0.2.1").family, 6);
	assert_int_equal(A("::ffff:0:c000:201").family, 6);

	/* A length shorter than the string parses just the prefix. */
	pt_addr p;
	pt_addr want = A("10.0.0.1");
	assert_int_equal(pt_addr_parse("10.0.0.1junk", 8, &p), 0);
	assert_true(pt_addr_equal(&p, &want));

	pt_addr unset;
	memset(&unset, 0, sizeof unset);
	char out[PT_ADDR_STRLEN];
	pt_addr_format(&unset, out);
	assert_string_equal(out, "-");

	/* Longest v6 text fits PT_ADDR_STRLEN. */
	assert_addr_fmt("ffff:ffff:ffff:ffff:ffff:fffe:255.255.255.255",
	                "ffff:ffff:ffff:ffff:ffff:fffe:ffff:ffff");
}

static void test_parse_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", " 10.0.0.1", "10.0.0.1 ", "10.0.0", "10.0.0.1.2", "256.0.0.1", "10.0.0.01",
		"0x0a.0.0.1", "10.0.0.1/32", "[::1]", "::1%lo", "1:2:3:4:5:6:7:8:9", "::g",
		"10.0.0.1:80", "localhost", "-1.0.0.0", "1.2.3.4\n",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pt_addr a;
		memset(&a, 0x33, sizeof a);
		assert_int_equal(pt_addr_parse(bad[i], strlen(bad[i]), &a), -EINVAL);
		assert_int_equal(a.family, 0x33); /* untouched */
	}
	pt_addr a;
	assert_int_equal(pt_addr_parse("10.0.0.1\0", 9, &a), -EINVAL); /* embedded NUL */
	assert_int_equal(pt_addr_parse(NULL, 3, &a), -EINVAL);
	char huge[100];
	memset(huge, '1', sizeof huge);
	assert_int_equal(pt_addr_parse(huge, sizeof huge, &a), -EINVAL);
}

static void test_equal_hash(void **state)
{
	(void)state;
	pt_addr a = A("10.0.0.1"), b = A("10.0.0.2"), c = A("::a00:1");
	assert_true(pt_addr_equal(&a, &a));
	assert_false(pt_addr_equal(&a, &b));
	assert_false(pt_addr_equal(&a, &c)); /* same bytes, other family */
	assert_int_not_equal(pt_addr_hash(&a, 1), pt_addr_hash(&a, 2));
	/* Bytes past a v4 address do not count. */
	pt_addr junk = a;
	memset(junk.b + 4, 0xee, 12);
	assert_true(pt_addr_equal(&a, &junk));
	assert_int_equal(pt_addr_hash(&a, 9), pt_addr_hash(&junk, 9));
}

static void test_cidr(void **state)
{
	(void)state;
	pt_cidr c = C("10.0.0.0/8");
	assert_int_equal(c.prefix, 8);
	assert_true(pt_cidr_contains(&c, &(pt_addr){ .family = 4, .b = { 10, 255, 1, 2 } }));
	pt_addr out = A("11.0.0.0"), in = A("10.0.0.0");
	assert_false(pt_cidr_contains(&c, &out));
	assert_true(pt_cidr_contains(&c, &in));

	/* Bare address = host route. */
	c = C("192.0.2.7");
	assert_int_equal(c.prefix, 32);
	pt_addr x = A("192.0.2.7"), y = A("192.0.2.6");
	assert_true(pt_cidr_contains(&c, &x));
	assert_false(pt_cidr_contains(&c, &y));
	c = C("2001:db8::1");
	assert_int_equal(c.prefix, 128);
	assert_cidr_fmt("2001:db8::1", "2001:db8::1/128");

	/* /0 holds its whole family and nothing of the other. */
	c = C("0.0.0.0/0");
	pt_addr v4 = A("203.0.113.9"), v6 = A("2001:db8::9"), last = A("255.255.255.255");
	assert_true(pt_cidr_contains(&c, &v4));
	assert_true(pt_cidr_contains(&c, &last));
	assert_false(pt_cidr_contains(&c, &v6));
	c = C("::/0");
	assert_true(pt_cidr_contains(&c, &v6));
	assert_false(pt_cidr_contains(&c, &v4));
	pt_addr unset;
	memset(&unset, 0, sizeof unset);
	assert_false(pt_cidr_contains(&c, &unset));

	/* /32 and /128 with every host bit meaningful. */
	c = C("10.1.2.3/32");
	x = A("10.1.2.3");
	y = A("10.1.2.2");
	assert_true(pt_cidr_contains(&c, &x));
	assert_false(pt_cidr_contains(&c, &y));
	c = C("2001:db8::ff/128");
	x = A("2001:db8::ff");
	y = A("2001:db8::fe");
	assert_true(pt_cidr_contains(&c, &x));
	assert_false(pt_cidr_contains(&c, &y));

	/* Prefixes off a byte boundary. */
	c = C("10.0.0.0/9");
	x = A("10.127.255.255");
	y = A("10.128.0.0");
	assert_true(pt_cidr_contains(&c, &x));
	assert_false(pt_cidr_contains(&c, &y));
	c = C("2001:db8:8000::/33");
	x = A("2001:db8:ffff::1");
	y = A("2001:db8:7fff::1");
	assert_true(pt_cidr_contains(&c, &x));
	assert_false(pt_cidr_contains(&c, &y));

	/* v4-mapped v6 ranges become v4 ranges. */
	c = C("::ffff:10.0.0.0/104");
	assert_int_equal(c.net.family, 4);
	assert_int_equal(c.prefix, 8);
	assert_cidr_fmt("::ffff:10.0.0.0/104", "10.0.0.0/8");
	assert_cidr_fmt("::ffff:0:0/96", "0.0.0.0/0");
	assert_cidr_fmt("::ffff:10.1.2.3", "10.1.2.3/32");
	assert_cidr_fmt("::ffff:10.1.2.3/128", "10.1.2.3/32");
	x = A("10.9.9.9");
	assert_true(pt_cidr_contains(&c, &x));

	assert_cidr_fmt("192.168.0.0/16", "192.168.0.0/16");
	assert_cidr_fmt("fe80::/10", "fe80::/10");
}

static void test_cidr_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
		"10.0.0.1/8",          /* host bits set: a typo */
		"10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/1000",
		"2001:db8::1/64",      /* host bits */
		"0.0.0.1/0", "::1/0",  /* /0 leaves every bit a host bit */
		"10.1.2.3/31",
		"::ffff:10.0.0.0/80",  /* the ffff marker bits are host bits */
		"::ffff:10.0.0.0/95",
		"::ffff:10.0.0.1/104",
		"", "x/8", "10.0.0.0/a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pt_cidr c;
		int rc = pt_cidr_parse(bad[i], strlen(bad[i]), &c);
		if (rc != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	pt_cidr c;
	assert_int_equal(pt_cidr_parse(NULL, 0, &c), -EINVAL);
	/* Edges that are fine. */
	assert_int_equal(C("10.1.2.2/31").prefix, 31);
	assert_int_equal(C("128.0.0.0/1").prefix, 1);
	assert_int_equal(C("8000::/1").prefix, 1);
	assert_int_equal(C("::/128").prefix, 128);
}

static void test_list(void **state)
{
	(void)state;
	pt_cidr_list l;
	const char *at = (const char *)1;
	size_t len = 99;

	assert_int_equal(pt_cidr_list_parse("", &l, &at, &len), 0);
	assert_int_equal(l.n, 0);
	assert_null(at);
	pt_cidr_list_free(&l);
	assert_int_equal(pt_cidr_list_parse(" , \t,", &l, NULL, NULL), 0);
	assert_int_equal(l.n, 0);
	pt_cidr_list_free(&l);

	assert_int_equal(pt_cidr_list_parse("127.0.0.1, 10.0.0.0/8 ::1\t192.168.0.0/16,fd00::/8",
	                                    &l, &at, &len), 0);
	assert_int_equal(l.n, 5);
	char s[PT_ADDR_STRLEN + 4];
	pt_cidr_format(&l.v[1], s);
	assert_string_equal(s, "10.0.0.0/8");
	pt_cidr_format(&l.v[4], s);
	assert_string_equal(s, "fd00::/8");
	pt_addr x = A("10.3.3.3"), y = A("fd12::1"), z = A("11.0.0.1"), w = A("::2");
	assert_true(pt_cidr_list_contains(&l, &x));
	assert_true(pt_cidr_list_contains(&l, &y));
	assert_false(pt_cidr_list_contains(&l, &z));
	assert_false(pt_cidr_list_contains(&l, &w));
	pt_cidr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	pt_cidr_list_free(&l); /* twice is harmless */

	/* The error points at the bad token, exactly. */
	const char *text = "10.0.0.0/8, 192.168.1.1/16  ::1";
	assert_int_equal(pt_cidr_list_parse(text, &l, &at, &len), -EINVAL);
	assert_ptr_equal(at, text + 12);
	assert_int_equal(len, strlen("192.168.1.1/16"));
	assert_int_equal(l.n, 0);
	assert_null(l.v);

	text = "::1,bogus";
	assert_int_equal(pt_cidr_list_parse(text, &l, &at, &len), -EINVAL);
	assert_ptr_equal(at, text + 4);
	assert_int_equal(len, 5);

	text = "300.0.0.0";
	assert_int_equal(pt_cidr_list_parse(text, &l, &at, &len), -EINVAL);
	assert_ptr_equal(at, text);
	assert_int_equal(len, 9);
}

static void test_proximity(void **state)
{
	(void)state;
	pt_addr a = A("10.1.2.3");
	pt_addr same = A("10.1.2.3"), s24 = A("10.1.2.200"), s16 = A("10.1.99.3"),
	        s8 = A("10.2.2.3"), other = A("192.0.2.1");
	assert_int_equal(pt_addr_proximity(&a, &same), 0);
	assert_int_equal(pt_addr_proximity(&a, &s24), 1);
	assert_int_equal(pt_addr_proximity(&a, &s16), 2);
	assert_int_equal(pt_addr_proximity(&a, &s8), 3);
	assert_int_equal(pt_addr_proximity(&a, &other), 3);
	assert_int_equal(pt_addr_proximity(&s16, &a), 2); /* symmetric */

	pt_addr b = A("2001:db8:1:2::5");
	pt_addr b0 = A("2001:db8:1:2::5"), b48 = A("2001:db8:1:ffff::1"),
	        b32 = A("2001:db8:2::1"), bo = A("2001:db9:1:2::5");
	assert_int_equal(pt_addr_proximity(&b, &b0), 0);
	assert_int_equal(pt_addr_proximity(&b, &b48), 1);
	assert_int_equal(pt_addr_proximity(&b, &b32), 2);
	assert_int_equal(pt_addr_proximity(&b, &bo), 3);

	/* Different families, unset, and v4 spelled as mapped v6. */
	assert_int_equal(pt_addr_proximity(&a, &b), 3);
	pt_addr unset, unset2;
	memset(&unset, 0, sizeof unset);
	unset2 = unset;
	assert_int_equal(pt_addr_proximity(&unset, &unset2), 3);
	assert_int_equal(pt_addr_proximity(&a, &unset), 3);
	pt_addr m = A("::ffff:10.1.2.3");
	assert_int_equal(pt_addr_proximity(&a, &m), 0);

	/* Only the low 64 bits differ: same /48. Bytes past a v4 address's
	 * four do not count. */
	pt_addr low = A("2001:db8:1:2::6");
	assert_int_equal(pt_addr_proximity(&b, &low), 1);
	pt_addr junk = a;
	junk.b[7] = 0xee;
	assert_int_equal(pt_addr_proximity(&a, &junk), 0);
}

/* The byte-wise definition, for the randomized comparison below. */
static unsigned proximity_ref(const pt_addr *a, const pt_addr *b)
{
	size_t len = a->family == 4 ? 4 : 16, near = a->family == 4 ? 3 : 6,
	       far = a->family == 4 ? 2 : 4;

	if (a->family == 0 || a->family != b->family)
		return 3;
	if (!memcmp(a->b, b->b, len))
		return 0;
	return !memcmp(a->b, b->b, near) ? 1 : !memcmp(a->b, b->b, far) ? 2 : 3;
}

static void test_proximity_random(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 200000; i++) {
		pt_addr a, b;

		memset(&a, 0, sizeof a);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a.family = (x & 1) ? 4 : 6;
		for (int j = 0; j < 16; j++)
			a.b[j] = (uint8_t)(x >> (j * 4));
		b = a;
		/* Change one byte at a random place (or none): every prefix
		 * length gets hit. */
		int at = (int)((x >> 40) % 18);
		if (at < 16)
			b.b[at] ^= (uint8_t)(1u << ((x >> 50) % 8));
		if (proximity_ref(&a, &b) != pt_addr_proximity(&a, &b))
			fail_msg("pair %d (family %d, byte %d): %u, want %u", i, a.family, at,
			         pt_addr_proximity(&a, &b), proximity_ref(&a, &b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_equal_hash),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_cidr_rejects),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_proximity),
		cmocka_unit_test(test_proximity_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
