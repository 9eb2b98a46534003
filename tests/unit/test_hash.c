/* test_hash.c — resource hashes: strict lowercase hex, keyed table hash,
 * SHA-256. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/hash.h"

static const char *test_hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

static void test_sha256_vectors(void **state)
{
	(void)state;
	pt_hash h, want;
	char s[PT_HASH_HEX + 1];

	pt_hash_sha256("", 0, &h);
	pt_hash_format(&h, s);
	assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	pt_hash_sha256("test", 4, &h);
	assert_int_equal(pt_hash_parse(test_hex, PT_HASH_HEX, &want), 0);
	assert_true(pt_hash_equal(&h, &want));

	pt_hash_sha256("abc", 3, &h);
	pt_hash_format(&h, s);
	assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_parse_format_round_trip(void **state)
{
	(void)state;
	pt_hash h, back;
	char s[PT_HASH_HEX + 1];
	for (int i = 0; i < PT_HASH_BYTES; i++)
		h.b[i] = (uint8_t)(i * 37 + 11);
	pt_hash_format(&h, s);
	assert_int_equal(strlen(s), PT_HASH_HEX);
	assert_int_equal(strspn(s, "0123456789abcdef"), PT_HASH_HEX);
	assert_int_equal(pt_hash_parse(s, PT_HASH_HEX, &back), 0);
	assert_true(pt_hash_equal(&h, &back));

	/* Every hex digit at every position. */
	const char *digits = "0123456789abcdef";
	for (int pos = 0; pos < PT_HASH_HEX; pos++) {
		for (int d = 0; d < 16; d++) {
			char t[PT_HASH_HEX + 1], again[PT_HASH_HEX + 1];
			memset(t, '0', PT_HASH_HEX);
			t[PT_HASH_HEX] = '\0';
			t[pos] = digits[d];
			assert_int_equal(pt_hash_parse(t, PT_HASH_HEX, &back), 0);
			assert_int_equal(back.b[pos / 2], pos % 2 ? d : d << 4);
			pt_hash_format(&back, again);
			assert_string_equal(again, t);
		}
	}
}

static void test_rejects(void **state)
{
	(void)state;
	pt_hash h, sentinel;
	memset(&sentinel, 0x77, sizeof sentinel);
	h = sentinel;

	assert_int_equal(pt_hash_parse(test_hex, 63, &h), -EINVAL);
	assert_int_equal(pt_hash_parse(test_hex, 0, &h), -EINVAL);
	assert_int_equal(pt_hash_parse(NULL, 64, &h), -EINVAL);
	char longer[66];
	memcpy(longer, test_hex, 64);
	longer[64] = '0';
	longer[65] = '\0';
	assert_int_equal(pt_hash_parse(longer, 65, &h), -EINVAL);

	/* The uppercase spelling of a valid hash is refused, as is any one
	 * uppercase digit anywhere. */
	char up[PT_HASH_HEX + 1];
	for (int i = 0; i <= PT_HASH_HEX; i++)
		up[i] = (char)(test_hex[i] >= 'a' && test_hex[i] <= 'f' ? test_hex[i] - 32 : test_hex[i]);
	assert_int_equal(pt_hash_parse(up, PT_HASH_HEX, &h), -EINVAL);
	for (int pos = 0; pos < PT_HASH_HEX; pos++) {
		char t[PT_HASH_HEX];
		memcpy(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", PT_HASH_HEX);
		assert_int_equal(pt_hash_parse(t, PT_HASH_HEX, &h), 0);
		t[pos] = 'A';
		h = sentinel;
		assert_int_equal(pt_hash_parse(t, PT_HASH_HEX, &h), -EINVAL);
		assert_memory_equal(&h, &sentinel, sizeof h);
	}

	/* Every byte that is not a lowercase hex digit, first and last. */
	for (int b = 0; b < 256; b++) {
		if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f'))
			continue;
		char t[PT_HASH_HEX];
		memcpy(t, test_hex, PT_HASH_HEX);
		t[0] = (char)b;
		assert_int_equal(pt_hash_parse(t, PT_HASH_HEX, &h), -EINVAL);
		memcpy(t, test_hex, PT_HASH_HEX);
		t[PT_HASH_HEX - 1] = (char)b;
		assert_int_equal(pt_hash_parse(t, PT_HASH_HEX, &h), -EINVAL);
	}
	assert_memory_equal(&h, &sentinel, sizeof h);
}

/* The table hash depends on the seed and on every byte: hashes that share
 * a long prefix (a client can choose them) must still spread. */
static void test_table_hash(void **state)
{
	(void)state;
	pt_hash a, b;
	memset(&a, 0, sizeof a);
	b = a;
	assert_int_equal(pt_hash_hash(&a, 1), pt_hash_hash(&b, 1));
	assert_int_not_equal(pt_hash_hash(&a, 1), pt_hash_hash(&a, 2));
	for (int i = 0; i < PT_HASH_BYTES; i++) {
		b = a;
		b.b[i] ^= 0x80;
		assert_int_not_equal(pt_hash_hash(&a, 1), pt_hash_hash(&b, 1));
	}

	/* 1024 hashes equal but for their last two bytes, into 256 buckets:
	 * a prefix-only hash would put them all in one bucket. */
	static uint8_t used[256];
	memset(used, 0, sizeof used);
	int buckets = 0;
	for (int i = 0; i < 1024; i++) {
		b = a;
		b.b[30] = (uint8_t)(i >> 8);
		b.b[31] = (uint8_t)i;
		uint32_t x = pt_hash_hash(&b, 12345) & 255;
		if (!used[x]++)
			buckets++;
	}
	/* Uniform hashing fills ~251 of 256; demand far better than clustered. */
	assert_true(buckets > 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_parse_format_round_trip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_table_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
