/* test_id.c — client ids: CSPRNG, base64url round trip, strict decoding. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/id.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void test_known_vectors(void **state)
{
	(void)state;
	pt_id id;
	char s[PT_ID_CHARS + 1];

	for (int i = 0; i < PT_ID_BYTES; i++)
		id.b[i] = (uint8_t)i;
	pt_id_encode(&id, s);
	assert_string_equal(s, "AAECAwQFBgcICQoLDA0ODxAR");

	/* 0xfb 0xff 0xbf spells "-_-_": both non-alnum characters. */
	for (int i = 0; i < PT_ID_BYTES; i += 3) {
		id.b[i] = 0xfb;
		id.b[i + 1] = 0xff;
		id.b[i + 2] = 0xbf;
	}
	pt_id_encode(&id, s);
	assert_string_equal(s, "-_-_-_-_-_-_-_-_-_-_-_-_");

	memset(id.b, 0xff, sizeof id.b);
	pt_id_encode(&id, s);
	assert_string_equal(s, "________________________");

	pt_id back;
	assert_int_equal(pt_id_decode("AAECAwQFBgcICQoLDA0ODxAR", 24, &back), 0);
	for (int i = 0; i < PT_ID_BYTES; i++)
		assert_int_equal(back.b[i], i);
}

static void test_generate_round_trip(void **state)
{
	(void)state;
	pt_id ids[64];
	for (int i = 0; i < 64; i++) {
		char s[PT_ID_CHARS + 1];
		pt_id back;
		assert_int_equal(pt_id_generate(&ids[i]), 0);
		pt_id_encode(&ids[i], s);
		assert_int_equal(strlen(s), PT_ID_CHARS);
		assert_int_equal(strspn(s, alphabet), PT_ID_CHARS);
		assert_int_equal(pt_id_decode(s, strlen(s), &back), 0);
		assert_true(pt_id_equal(&back, &ids[i]));
		assert_int_equal(pt_id_hash(&back), pt_id_hash(&ids[i]));
	}
	/* 144 random bits: any repeat means the CSPRNG is not being used. */
	for (int i = 0; i < 64; i++)
		for (int j = i + 1; j < 64; j++)
			assert_false(pt_id_equal(&ids[i], &ids[j]));
}

/* Every character of the alphabet decodes at every position, and the
 * encoding of the result gives the same text back. */
static void test_every_char_every_position(void **state)
{
	(void)state;
	for (int pos = 0; pos < PT_ID_CHARS; pos++) {
		for (int c = 0; c < 64; c++) {
			char s[PT_ID_CHARS + 1], again[PT_ID_CHARS + 1];
			pt_id id;
			memset(s, 'A', PT_ID_CHARS);
			s[PT_ID_CHARS] = '\0';
			s[pos] = alphabet[c];
			assert_int_equal(pt_id_decode(s, PT_ID_CHARS, &id), 0);
			pt_id_encode(&id, again);
			assert_string_equal(again, s);
		}
	}
}

static void test_rejects(void **state)
{
	(void)state;
	const char *good = "AAECAwQFBgcICQoLDA0ODxAR";
	pt_id id, sentinel;
	memset(&sentinel, 0x5a, sizeof sentinel);

	/* Wrong lengths, including a valid prefix and a valid string + 1. */
	id = sentinel;
	assert_int_equal(pt_id_decode(good, 0, &id), -EINVAL);
	assert_int_equal(pt_id_decode(good, 23, &id), -EINVAL);
	assert_int_equal(pt_id_decode("AAECAwQFBgcICQoLDA0ODxARA", 25, &id), -EINVAL);
	assert_int_equal(pt_id_decode("AAECAwQFBgcICQoLDA0ODxAR==", 26, &id), -EINVAL);
	assert_int_equal(pt_id_decode(NULL, 24, &id), -EINVAL);
	assert_memory_equal(&id, &sentinel, sizeof id);

	/* Every foreign byte, at the first, a middle and the last position:
	 * standard base64's + / =, blanks, NUL, high bytes. */
	const int positions[] = { 0, 11, 23 };
	for (int b = 0; b < 256; b++) {
		if (b && strchr(alphabet, b))
			continue;
		for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++) {
			char s[PT_ID_CHARS];
			memcpy(s, good, PT_ID_CHARS);
			s[positions[p]] = (char)b;
			id = sentinel;
			assert_int_equal(pt_id_decode(s, PT_ID_CHARS, &id), -EINVAL);
			assert_memory_equal(&id, &sentinel, sizeof id);
		}
	}
}

static void test_equal_and_hash(void **state)
{
	(void)state;
	pt_id a, b;
	memset(&a, 0, sizeof a);
	b = a;
	assert_true(pt_id_equal(&a, &b));
	assert_int_equal(pt_id_hash(&a), pt_id_hash(&b));
	/* A change in any byte, including the last two, changes equality
	 * and (for this simple case) the hash. */
	for (int i = 0; i < PT_ID_BYTES; i++) {
		b = a;
		b.b[i] = 1;
		assert_false(pt_id_equal(&a, &b));
		assert_int_not_equal(pt_id_hash(&a), pt_id_hash(&b));
	}
}

/* A node tag is the id's first 2 characters and leaves the other 132
 * bits alone. */
static void test_tags(void **state)
{
	char s[PT_ID_CHARS + 1], t[3];
	pt_id id, before;
	(void)state;

	for (unsigned tag = 0; tag <= PT_ID_TAG_MAX; tag += 37) {
		assert_int_equal(pt_id_generate(&id), 0);
		before = id;
		pt_id_set_tag(&id, tag);
		assert_int_equal(pt_id_tag(&id), tag);
		pt_id_encode(&id, s);
		pt_id_tag_format(tag, t);
		assert_memory_equal(s, t, 2);
		assert_int_equal(pt_id_tag_parse(t, 2), (int)tag);
		assert_int_equal(id.b[1] & 0x0f, before.b[1] & 0x0f);
		assert_memory_equal(id.b + 2, before.b + 2, PT_ID_BYTES - 2);
	}
	pt_id_set_tag(&id, PT_ID_TAG_MAX);
	assert_int_equal(pt_id_tag(&id), PT_ID_TAG_MAX);
	assert_int_equal(pt_id_tag_parse("__", 2), PT_ID_TAG_MAX);
	assert_int_equal(pt_id_tag_parse("AA", 2), 0);
	assert_int_equal(pt_id_tag_parse("A", 1), -EINVAL);
	assert_int_equal(pt_id_tag_parse("A=", 2), -EINVAL);
	assert_int_equal(pt_id_tag_parse(NULL, 2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_generate_round_trip),
		cmocka_unit_test(test_every_char_every_position),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_equal_and_hash),
		cmocka_unit_test(test_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
