/* test_ibatch.c — the wire form of a batch of inbox messages: records
 * round-trip in order; what cannot be a record is refused on the way in;
 * the reader refuses, without reading past the end, a batch that is
 * truncated anywhere, has an empty or oversized record, a nested batch, or
 * bytes after its last record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/ibatch.h"

static void test_round_trip(void **state)
{
	const char *msgs[] = { "sAAAA", "l", "kXYZ", "s{\"a\":1}" };
	pt_buf b;
	size_t off = 0, rlen;
	const char *rec;
	(void)state;

	pt_buf_init(&b, 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pt_ibatch_add(&b, msgs[i], strlen(msgs[i])), 0);
	assert_int_equal(pt_buf_text(&b)[0], 'B');
	assert_int_equal(b.len, 1 + 4 * PT_IBATCH_REC_HEAD + 5 + 1 + 4 + 8);
	assert_int_equal(pt_ibatch_count(pt_buf_text(&b), b.len), 4);
	for (size_t i = 0; i < 4; i++) {
		assert_true(pt_ibatch_next(pt_buf_text(&b), b.len, &off, &rec, &rlen));
		assert_int_equal(rlen, strlen(msgs[i]));
		assert_memory_equal(rec, msgs[i], rlen);
	}
	assert_false(pt_ibatch_next(pt_buf_text(&b), b.len, &off, &rec, &rlen));
	assert_int_equal(off, b.len);
	pt_buf_free(&b);
}

static void test_add_refuses(void **state)
{
	pt_buf b;
	(void)state;

	pt_buf_init(&b, 0);
	assert_int_equal(pt_ibatch_add(&b, "", 0), -EINVAL);
	assert_int_equal(pt_ibatch_add(&b, "Bnested", 7), -EINVAL);
	assert_int_equal(b.len, 0);
	assert_int_equal(pt_ibatch_add(&b, "x", 1), 0);
	assert_int_equal(pt_ibatch_add(&b, "B", 1), -EINVAL);
	assert_int_equal(b.len, 1 + PT_IBATCH_REC_HEAD + 1);
	pt_buf_free(&b);
}

/* Every strict prefix of a good batch is refused, but the one ending on
 * the first record's end (a good batch of one); each is read from a heap
 * copy of exactly that size (ASan sees any overread). */
static void test_truncated(void **state)
{
	pt_buf b;
	(void)state;

	pt_buf_init(&b, 0);
	assert_int_equal(pt_ibatch_add(&b, "sHELLO", 6), 0);
	assert_int_equal(pt_ibatch_add(&b, "lX", 2), 0);
	for (size_t n = 0; n < b.len; n++) {
		char *m = malloc(n ? n : 1);

		memcpy(m, pt_buf_text(&b), n);
		assert_int_equal(pt_ibatch_count(m, n), n == 1 + PT_IBATCH_REC_HEAD + 6 ? 1 : -1);
		free(m);
	}
	assert_int_equal(pt_ibatch_count(pt_buf_text(&b), b.len), 2);
	pt_buf_free(&b);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *m;
		size_t len;
	} bad[] = {
		{ "B", 1 },                                   /* no record */
		{ "X\x00\x00\x00\x01s", 6 },                  /* not a batch */
		{ "B\x00\x00\x00\x00", 5 },                   /* empty record */
		{ "B\x00\x00\x00\x05sab", 8 },                /* longer than the rest */
		{ "B\xff\xff\xff\xffs", 6 },                  /* 4 GiB */
		{ "B\x00\x00\x00\x02" "Bx", 7 },              /* nested */
		{ "B\x00\x00\x00\x01s\x00", 7 },              /* trailing byte */
		{ "B\x00\x00\x00\x01s\x00\x00\x00\x00", 10 }, /* then an empty one */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *m = malloc(bad[i].len);

		memcpy(m, bad[i].m, bad[i].len);
		assert_int_equal(pt_ibatch_count(m, bad[i].len), -1);
		free(m);
	}
	assert_int_equal(pt_ibatch_count("B\x00\x00\x00\x01s", 6), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_add_refuses),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
