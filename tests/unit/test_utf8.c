/* test_utf8.c — well-formed UTF-8: the classic edge cases, every 2- and
 * 3-byte sequence against an encoder-built reference, and the 8-byte
 * ASCII skip at every alignment. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/utf8.h"

static size_t encode(uint32_t cp, unsigned char *o)
{
	if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
	if (cp < 0x800) { o[0] = (unsigned char)(0xc0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 0x3f)); return 2; }
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

static bool valid(const char *s, size_t len)
{
	return pt_utf8_valid(s, len);
}

static void test_edge_cases(void **state)
{
	(void)state;
	/* The length is the literal's own (sizeof), so no case reads past it. */
#define S(lit) lit, sizeof(lit) - 1
	static const struct { const char *s; size_t len; bool ok; } v[] = {
		{ S(""), true },
		{ S("plain ascii, longer than eight bytes"), true },
		{ S("\xc3\xa9"), true },             /* é */
		{ S("\xe2\x82\xac"), true },         /* € */
		{ S("\xf0\x9d\x84\x9e"), true },     /* U+1D11E */
		{ S("\xf4\x8f\xbf\xbf"), true },     /* U+10FFFF */
		{ S("\xed\x9f\xbf\xee\x80\x80"), true }, /* U+D7FF, U+E000 */
		{ S("\xc0\x80"), false },            /* overlong NUL */
		{ S("\xc1\xbf"), false },            /* overlong */
		{ S("\xe0\x9f\xbf"), false },        /* overlong */
		{ S("\xf0\x8f\xbf\xbf"), false },    /* overlong */
		{ S("\xed\xa0\x80"), false },        /* U+D800 */
		{ S("\xed\xbf\xbf"), false },        /* U+DFFF */
		{ S("\xf4\x90\x80\x80"), false },    /* U+110000 */
		{ S("\xf5\x80\x80\x80"), false },
		{ S("\xff"), false },
		{ S("\x80"), false },                /* lone continuation */
		{ S("\xc3"), false },                /* cut */
		{ S("\xe2\x82"), false },            /* cut */
		{ S("\xc3" "a"), false },            /* continuation missing */
		{ S("{\"type\":\"ping\",\"x\":\"\xff\xfe\xc3\"}"), false },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (valid(v[i].s, v[i].len) != v[i].ok)
			fail_msg("case %zu: expected %s", i, v[i].ok ? "valid" : "invalid");
	}
#undef S
}

/* Every 2-byte and every 3-byte string led by a 2- or 3-byte lead: valid
 * exactly when some code point encodes to it. */
static void test_exhaustive_short(void **state)
{
	(void)state;
	uint8_t *ref = calloc(1u << 24 >> 3, 1);
	unsigned char b[4];

	assert_non_null(ref);
	for (uint32_t cp = 0x80; cp < 0x10000; cp++) {
		size_t n;
		uint32_t key;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		n = encode(cp, b);
		key = n == 2 ? (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8
		             : (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
		ref[key >> 3] |= (uint8_t)(1u << (key & 7));
	}
	for (uint32_t k = 0x800000; k < 0x1000000; k++) {
		unsigned char s[3] = { (unsigned char)(k >> 16), (unsigned char)(k >> 8), (unsigned char)k };
		bool want, got;

		if (s[0] < 0xe0) {
			/* 2-byte leads: judge the first two bytes alone. */
			if (s[2])
				continue;
			want = ref[k >> 3] & (1u << (k & 7));
			got = pt_utf8_seq(s, s + 2) == 2;
		} else if (s[0] <= 0xef) {
			want = ref[k >> 3] & (1u << (k & 7));
			got = pt_utf8_seq(s, s + 3) == 3;
		} else {
			continue;
		}
		if (want != got)
			fail_msg("%02x %02x %02x: expected %d", s[0], s[1], s[2], want);
	}
	free(ref);
}

/* 4-byte sequences: every lead and first continuation, sampled tails. */
static void test_four_byte(void **state)
{
	(void)state;
	for (unsigned b0 = 0xf0; b0 <= 0xff; b0++) {
		for (unsigned b1 = 0; b1 < 256; b1++) {
			unsigned char s[4] = { (unsigned char)b0, (unsigned char)b1, 0x80, 0xbf };
			uint32_t cp = (b0 & 7u) << 18 | (b1 & 0x3fu) << 12 | 0x3f;
			bool want = b0 <= 0xf4 && (b1 & 0xc0) == 0x80 && cp >= 0x10000 && cp <= 0x10ffff;

			if ((pt_utf8_seq(s, s + 4) == 4) != want)
				fail_msg("%02x %02x 80 bf: expected %d", b0, b1, want);
			if (pt_utf8_seq(s, s + 3) != 0)
				fail_msg("%02x %02x 80 cut: accepted", b0, b1);
		}
	}
}

/* A bad byte, or a good multi-byte character, at every offset of an ASCII
 * buffer: the 8-byte skip must neither miss nor split anything. */
static void test_every_alignment(void **state)
{
	(void)state;
	char buf[64];

	for (size_t at = 0; at + 4 <= sizeof(buf); at++) {
		memset(buf, 'a', sizeof(buf));
		buf[at] = (char)0xff;
		assert_false(valid(buf, sizeof(buf)));
		memcpy(buf + at, "\xf0\x9d\x84\x9e", 4);
		assert_true(valid(buf, sizeof(buf)));
		assert_false(valid(buf, at + 3)); /* cut by the end */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_cases),
		cmocka_unit_test(test_exhaustive_short),
		cmocka_unit_test(test_four_byte),
		cmocka_unit_test(test_every_alignment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
