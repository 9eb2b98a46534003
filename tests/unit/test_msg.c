/* test_msg.c — pt_msg_parse: every error class, and the fields of valid
 * messages (docs/PROTOCOL.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/msg.h"

#define H  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2 "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define H3 "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
#define ID "Zt4mN8qL2xV0bR6cW1yH9kJs"
#define X8  "xxxxxxxx"
#define X56 X8 X8 X8 X8 X8 X8 X8

/* Small limits so the boundaries are cheap to hit. */
static const pt_msg_limits lim = { .max_hashes_per_message = 4, .max_signal_bytes = 64,
                                   .max_report_bytes = 1000 };

static const struct tcase {
	const char *frame;
	size_t len; /* 0: strlen(frame) */
	enum pt_err want;
} cases[] = {
	/* not JSON */
	{ "", 0, PT_E_BAD_JSON },
	{ "{", 0, PT_E_BAD_JSON },
	{ "not json", 0, PT_E_BAD_JSON },
	{ "{\"type\":\"ping\"} x", 0, PT_E_BAD_JSON },
	{ "{\"type\":\"ping\"}{\"type\":\"ping\"}", 0, PT_E_BAD_JSON },
	{ "{\"type\":\"ping\"}\0", 16, PT_E_BAD_JSON },
	{ "{\"type\":\"ping\",\"x\":\"a\0b\"}", 25, PT_E_BAD_JSON },
	{ "{\"type\":\"p\\u0000ing\"}", 0, PT_E_BAD_JSON },
	{ "{\"type\":\"\xff\"}", 0, PT_E_BAD_JSON },
	{ "{'type':'ping'}", 0, PT_E_BAD_JSON },
	/* JSON, not a message */
	{ "[]", 0, PT_E_BAD_MESSAGE },
	{ "\"ping\"", 0, PT_E_BAD_MESSAGE },
	{ "42", 0, PT_E_BAD_MESSAGE },
	{ "null", 0, PT_E_BAD_MESSAGE },
	{ "{}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":5}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":null}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":[\"ping\"]}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"type\":\"ping\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"x\":{\"a\":1,\"a\":2}}", 0, PT_E_BAD_MESSAGE },
	/* type */
	{ "{\"type\":\"nope\"}", 0, PT_E_UNKNOWN_TYPE },
	{ "{\"type\":\"PING\"}", 0, PT_E_UNKNOWN_TYPE },
	{ "{\"type\":\"\"}", 0, PT_E_UNKNOWN_TYPE },
	{ "{\"type\":\"pingx\"}", 0, PT_E_UNKNOWN_TYPE },
	{ "{\"type\":\"pin\"}", 0, PT_E_UNKNOWN_TYPE },
	/* rid */
	{ "{\"type\":\"ping\",\"rid\":1.5}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":null}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":[1]}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":true}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":\"" X56 X8 "x\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":\"" X56 X8 "\"}", 0, PT_OK },
	{ "{\"type\":\"ping\",\"rid\":99999999999999999999}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"ping\",\"rid\":-9223372036854775808}", 0, PT_OK },
	{ "{\"type\":\"ping\",\"rid\":\"\"}", 0, PT_OK },
	{ "{\"rid\":7}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"nope\",\"rid\":{}}", 0, PT_E_BAD_MESSAGE }, /* rid is checked first */
	/* ping, extra fields */
	{ "{\"type\":\"ping\"}", 0, PT_OK },
	{ " {\"type\":\"ping\"}\n", 0, PT_OK },
	{ "{\"type\":\"ping\",\"extra\":{\"x\":[1,2,null]},\"hashes\":5}", 0, PT_OK },
	/* announce / withdraw */
	{ "{\"type\":\"announce\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"announce\",\"hashes\":\"" H "\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"announce\",\"hashes\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"announce\",\"hashes\":null}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"announce\",\"hashes\":[]}", 0, PT_OK },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "\"]}", 0, PT_OK },
	{ "{\"type\":\"announce\",\"hashes\":[\"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\"]}",
	  0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0\"]}",
	  0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "0\"]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"g" H "\"]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "\",5]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "\",null]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[[\"" H "\"]]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[\"\"]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"announce\",\"hashes\":[1,2,3,4,5]}", 0, PT_E_TOO_MANY_HASHES },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "\",\"" H "\",\"" H "\",\"" H "\",\"" H "\"]}",
	  0, PT_E_TOO_MANY_HASHES },
	{ "{\"type\":\"announce\",\"hashes\":[\"" H "\",\"" H2 "\",\"" H3 "\",\"" H "\"]}", 0, PT_OK },
	{ "{\"type\":\"withdraw\",\"hashes\":[\"" H "\"]}", 0, PT_OK },
	{ "{\"type\":\"withdraw\",\"hashes\":[\"" H "\",\"x\"]}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"withdraw\"}", 0, PT_E_BAD_MESSAGE },
	/* lookup */
	{ "{\"type\":\"lookup\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":5}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"lookup\",\"hash\":\"abc\"}", 0, PT_E_BAD_HASH },
	{ "{\"type\":\"lookup\",\"hashes\":[\"" H "\"]}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\"}", 0, PT_OK },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":0}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":-1}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":\"5\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":1.0}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":null}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":1}", 0, PT_OK },
	{ "{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":5000000000}", 0, PT_OK },
	/* signal */
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":{}}", 0, PT_OK },
	{ "{\"type\":\"signal\",\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"Zt4mN8qL2xV0bR6cW1yH9kJ\",\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"Zt4mN8qL2xV0bR6cW1yH9kJsA\",\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"Zt4mN8qL2xV0bR6cW1yH9k+s\",\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"Zt4mN8qL2xV0bR6cW1yH9k=s\",\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":12,\"data\":{}}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"" ID "\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":[]}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":\"sdp\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":null}", 0, PT_E_BAD_MESSAGE },
	/* data of exactly 64 bytes, then 65 */
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":{\"a\":\"" X56 "\"}}", 0, PT_OK },
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":{\"a\":\"" X56 "x\"}}", 0, PT_E_TOO_LARGE },
	/* spaces in the input do not count: data is measured compact */
	{ "{\"type\":\"signal\",\"to\":\"" ID "\",\"data\":{ \"a\" :  \"" X56 "\" }}", 0, PT_OK },
	/* report */
	{ "{\"type\":\"report\"}", 0, PT_OK },
	{ "{\"type\":\"report\",\"from_peers\":1,\"from_origin\":2,\"to_peers\":3}", 0, PT_OK },
	{ "{\"type\":\"report\",\"from_peers\":-1}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"from_origin\":\"1\"}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"to_peers\":1.5}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"to_peers\":null}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"from_peers\":1000,\"from_origin\":1000,\"to_peers\":1000}", 0,
	  PT_OK },
	{ "{\"type\":\"report\",\"from_peers\":1001}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"from_origin\":1001}", 0, PT_E_BAD_MESSAGE },
	{ "{\"type\":\"report\",\"to_peers\":9223372036854775807}", 0, PT_E_BAD_MESSAGE },
};

static void test_table(void **state)
{
	(void)state;
	size_t n = sizeof(cases) / sizeof(cases[0]);
	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		const struct tcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->frame);
		pt_msg m;
		const char *why = "unset";
		enum pt_err e = pt_msg_parse(c->frame, len, &lim, &m, &why);
		if (e != c->want)
			fail_msg("case %zu %s: got %s (%s), want %s", i, c->frame, pt_err_code(e),
			         why ? why : "(null)", pt_err_code(c->want));
		if (e == PT_OK) {
			assert_null(why);
		} else {
			/* Errors explain themselves and leave nothing allocated. */
			assert_non_null(why);
			assert_true(strlen(why) > 0);
			assert_null(m.hashes);
			assert_null(m.data);
			assert_int_equal(m.n_hashes, 0);
		}
		pt_msg_clear(&m);
	}
}

static enum pt_err parse(const char *frame, pt_msg *m, const char **why)
{
	return pt_msg_parse(frame, strlen(frame), &lim, m, why);
}

static void test_rid_kinds(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;

	assert_int_equal(parse("{\"type\":\"ping\"}", &m, &why), PT_OK);
	assert_int_equal(m.type, PT_MSG_PING);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"rid\":-42,\"type\":\"ping\"}", &m, &why), PT_OK);
	assert_int_equal(m.rid.kind, PT_RID_INT);
	assert_true(m.rid.i == -42);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"ping\",\"rid\":9223372036854775807}", &m, &why), PT_OK);
	assert_true(m.rid.i == INT64_MAX);
	pt_msg_clear(&m);

	/* Escapes are decoded: the rid is kept as raw UTF-8. */
	assert_int_equal(parse("{\"type\":\"ping\",\"rid\":\"a\\\"b\\u00e9\\n\"}", &m, &why), PT_OK);
	assert_int_equal(m.rid.kind, PT_RID_STR);
	assert_int_equal(m.rid.len, 6);
	assert_string_equal(m.rid.s, "a\"b\xc3\xa9\n");
	pt_msg_clear(&m);

	/* 64 bytes counted in UTF-8: 32 two-byte characters fit, 33 do not. */
	char frame[512];
	char rid[200] = "";
	for (int i = 0; i < 32; i++)
		strcat(rid, "\xc3\xa9");
	snprintf(frame, sizeof(frame), "{\"type\":\"ping\",\"rid\":\"%s\"}", rid);
	assert_int_equal(parse(frame, &m, &why), PT_OK);
	assert_int_equal(m.rid.len, 64);
	pt_msg_clear(&m);
	strcat(rid, "\xc3\xa9");
	snprintf(frame, sizeof(frame), "{\"type\":\"ping\",\"rid\":\"%s\"}", rid);
	assert_int_equal(parse(frame, &m, &why), PT_E_BAD_MESSAGE);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);
}

static void test_error_keeps_rid(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;

	assert_int_equal(parse("{\"type\":\"announce\",\"rid\":\"r1\",\"hashes\":[\"" H "\",\"" H2
	                       "\",\"BAD\"]}", &m, &why), PT_E_BAD_HASH);
	assert_int_equal(m.rid.kind, PT_RID_STR);
	assert_string_equal(m.rid.s, "r1");
	assert_string_equal(why, "hashes[2]: not 64 lowercase hex characters");
	assert_ptr_equal(why, m.why_buf);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"what\",\"rid\":5}", &m, &why), PT_E_UNKNOWN_TYPE);
	assert_int_equal(m.rid.kind, PT_RID_INT);
	assert_true(m.rid.i == 5);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"rid\":6}", &m, &why), PT_E_BAD_MESSAGE);
	assert_true(m.rid.kind == PT_RID_INT && m.rid.i == 6);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"signal\",\"rid\":7,\"to\":\"" ID "\",\"data\":{\"a\":\"" X56
	                       "xx\"}}", &m, &why), PT_E_TOO_LARGE);
	assert_true(m.rid.kind == PT_RID_INT && m.rid.i == 7);
	pt_msg_clear(&m);

	/* A number out of the 64-bit range elsewhere: the rid is still echoed,
	 * an integer one exactly or not at all. */
	assert_int_equal(parse("{\"type\":\"report\",\"rid\":8,\"from_peers\":99999999999999999999}",
	                       &m, &why), PT_E_BAD_MESSAGE);
	assert_string_equal(why, "a number is out of range");
	assert_true(m.rid.kind == PT_RID_INT && m.rid.i == 8);
	pt_msg_clear(&m);
	assert_int_equal(parse("{\"rid\":\"s9\",\"type\":\"ping\",\"x\":[-99999999999999999999]}", &m,
	                       &why), PT_E_BAD_MESSAGE);
	assert_true(m.rid.kind == PT_RID_STR && !strcmp(m.rid.s, "s9"));
	pt_msg_clear(&m);
	assert_int_equal(parse("{\"rid\":-9007199254740991,\"x\":99999999999999999999}", &m, &why),
	                 PT_E_BAD_MESSAGE);
	assert_true(m.rid.kind == PT_RID_INT && m.rid.i == -9007199254740991LL);
	pt_msg_clear(&m);
	/* Not exact as a double, or itself out of range: no rid. */
	assert_int_equal(parse("{\"rid\":9007199254740993,\"x\":99999999999999999999}", &m, &why),
	                 PT_E_BAD_MESSAGE);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);
	assert_int_equal(parse("{\"rid\":99999999999999999999,\"type\":\"ping\"}", &m, &why),
	                 PT_E_BAD_MESSAGE);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);

	/* A bad rid is not echoed. */
	assert_int_equal(parse("{\"type\":\"ping\",\"rid\":1.5}", &m, &why), PT_E_BAD_MESSAGE);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);

	/* Parsing into a used struct starts over. */
	assert_int_equal(parse("{\"type\":\"ping\",\"rid\":1}", &m, &why), PT_OK);
	assert_int_equal(parse("{\"type\":\"ping\"}", &m, &why), PT_OK);
	assert_int_equal(m.rid.kind, PT_RID_NONE);
	pt_msg_clear(&m);
	pt_msg_clear(&m); /* twice is fine */
}

static void assert_hash(const pt_hash *h, const char *hex)
{
	pt_hash want;
	assert_int_equal(pt_hash_parse(hex, strlen(hex), &want), 0);
	assert_memory_equal(h->b, want.b, sizeof(want.b));
}

static void test_hashes_dedupe(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;
	pt_msg_limits big = { .max_hashes_per_message = 1000, .max_signal_bytes = 64 };

	assert_int_equal(parse("{\"type\":\"announce\",\"hashes\":[\"" H2 "\",\"" H "\",\"" H2 "\",\"" H3
	                       "\"]}", &m, &why), PT_OK);
	assert_int_equal(m.type, PT_MSG_ANNOUNCE);
	assert_int_equal(m.n_hashes, 3);
	assert_hash(&m.hashes[0], H2);
	assert_hash(&m.hashes[1], H);
	assert_hash(&m.hashes[2], H3);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"withdraw\",\"hashes\":[\"" H "\",\"" H "\",\"" H "\",\"" H
	                       "\"]}", &m, &why), PT_OK);
	assert_int_equal(m.type, PT_MSG_WITHDRAW);
	assert_int_equal(m.n_hashes, 1);
	assert_hash(&m.hashes[0], H);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"announce\",\"hashes\":[]}", &m, &why), PT_OK);
	assert_int_equal(m.n_hashes, 0);
	pt_msg_clear(&m);

	/* Above the small-n path: 600 hashes, 200 distinct, in the order
	 * 199, 198, ... 0 repeated; the first 200 are kept in that order. */
	size_t cap = 600 * 70 + 64, used = 0;
	char *frame = malloc(cap);
	assert_non_null(frame);
	used += (size_t)snprintf(frame + used, cap - used, "{\"type\":\"announce\",\"hashes\":[");
	for (int i = 0; i < 600; i++)
		used += (size_t)snprintf(frame + used, cap - used, "%s\"%056d%08x\"", i ? "," : "", 0,
		                         199 - i % 200);
	used += (size_t)snprintf(frame + used, cap - used, "]}");
	assert_int_equal(pt_msg_parse(frame, used, &big, &m, &why), PT_OK);
	assert_int_equal(m.n_hashes, 200);
	for (int i = 0; i < 200; i++) {
		char hex[65];
		snprintf(hex, sizeof(hex), "%056d%08x", 0, 199 - i);
		assert_hash(&m.hashes[i], hex);
	}
	pt_msg_clear(&m);
	free(frame);
}

static void test_lookup_fields(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;

	assert_int_equal(parse("{\"type\":\"lookup\",\"rid\":2,\"hash\":\"" H "\",\"max\":5}", &m, &why),
	                 PT_OK);
	assert_int_equal(m.type, PT_MSG_LOOKUP);
	assert_hash(&m.hash, H);
	assert_int_equal(m.max, 5);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"lookup\",\"hash\":\"" H "\"}", &m, &why), PT_OK);
	assert_int_equal(m.max, 0);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":4294967295}", &m, &why),
	                 PT_OK);
	assert_int_equal(m.max, UINT32_MAX);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":4294967296}", &m, &why),
	                 PT_OK);
	assert_int_equal(m.max, UINT32_MAX);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"lookup\",\"hash\":\"" H "\",\"max\":9223372036854775807}",
	                       &m, &why), PT_OK);
	assert_int_equal(m.max, UINT32_MAX);
	pt_msg_clear(&m);
}

static void test_signal_fields(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;
	pt_msg_limits big = { .max_hashes_per_message = 4, .max_signal_bytes = 4096 };
	const char *frame =
		"{\"type\":\"signal\",\"rid\":3,\"to\":\"" ID "\",\"data\": { \"sdp\" : "
		"{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\\u00e9/\"} ,\n \"n\":[1, 2.5, true, null],"
		"\"e\":{}}}";
	pt_id want;

	assert_int_equal(pt_msg_parse(frame, strlen(frame), &big, &m, &why), PT_OK);
	assert_int_equal(m.type, PT_MSG_SIGNAL);
	assert_int_equal(pt_id_decode(ID, strlen(ID), &want), 0);
	assert_memory_equal(m.to.b, want.b, sizeof(want.b));
	/* Compact, same key order, non-ASCII written as UTF-8. */
	assert_string_equal(m.data, "{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\xc3\xa9/\"},"
	                            "\"n\":[1,2.5,true,null],\"e\":{}}");
	assert_int_equal(m.data_len, strlen(m.data));
	pt_msg_clear(&m);
	assert_null(m.data);
}

static void test_report_fields(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;

	assert_int_equal(parse("{\"type\":\"report\",\"from_peers\":10,\"from_origin\":0,"
	                       "\"to_peers\":1000}", &m, &why), PT_OK);
	assert_int_equal(m.type, PT_MSG_REPORT);
	assert_true(m.from_peers == 10);
	assert_true(m.from_origin == 0);
	assert_true(m.to_peers == 1000);
	pt_msg_clear(&m);

	assert_int_equal(parse("{\"type\":\"report\",\"to_peers\":5}", &m, &why), PT_OK);
	assert_true(m.from_peers == 0 && m.from_origin == 0 && m.to_peers == 5);
	pt_msg_clear(&m);

	/* Above max_report_bytes: refused, naming the field and the limit, rid kept. */
	assert_int_equal(parse("{\"type\":\"report\",\"rid\":3,\"from_origin\":"
	                       "4611686018427387904}", &m, &why), PT_E_BAD_MESSAGE);
	assert_string_equal(why, "from_origin: above max_report_bytes (1000)");
	assert_int_equal(m.rid.kind, PT_RID_INT);
	assert_true(m.from_origin == 0);
	pt_msg_clear(&m);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	pt_msg m;
	const char *why;
	size_t depth = 100000;
	char *frame = malloc(2 * depth + 64);
	size_t n = 0;

	assert_non_null(frame);
	n += (size_t)sprintf(frame, "{\"type\":\"ping\",\"x\":");
	memset(frame + n, '[', depth);
	n += depth;
	memset(frame + n, ']', depth);
	n += depth;
	frame[n++] = '}';
	assert_int_equal(pt_msg_parse(frame, n, &lim, &m, &why), PT_E_BAD_MESSAGE);
	pt_msg_clear(&m);
	free(frame);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(pt_msg_type_name(PT_MSG_ANNOUNCE), "announce");
	assert_string_equal(pt_msg_type_name(PT_MSG_WITHDRAW), "withdraw");
	assert_string_equal(pt_msg_type_name(PT_MSG_LOOKUP), "lookup");
	assert_string_equal(pt_msg_type_name(PT_MSG_SIGNAL), "signal");
	assert_string_equal(pt_msg_type_name(PT_MSG_PING), "ping");
	assert_string_equal(pt_msg_type_name(PT_MSG_REPORT), "report");
	assert_string_equal(pt_msg_type_name(PT_MSG_RESUME), "resume");
	assert_string_equal(pt_msg_type_name(PT_MSG_REFRESH_ICE), "refresh-ice");
	assert_non_null(pt_msg_type_name(PT_MSG__COUNT));

	/* Every name parses back to its own type. */
	for (int t = 0; t < PT_MSG__COUNT; t++) {
		char frame[128];
		pt_msg m;
		const char *why;
		snprintf(frame, sizeof(frame), "{\"type\":\"%s\"}", pt_msg_type_name((enum pt_msg_type)t));
		enum pt_err e = parse(frame, &m, &why);
		assert_int_not_equal(e, PT_E_UNKNOWN_TYPE);
		if (e == PT_OK)
			assert_int_equal(m.type, t);
		pt_msg_clear(&m);
	}
}

static void test_err_codes(void **state)
{
	(void)state;
	static const char *const want[PT_E__COUNT] = {
		"ok", "bad-json", "bad-message", "unknown-type", "bad-hash", "too-many-hashes",
		"too-large", "rate-limited", "peer-gone", "internal", "busy", "resume-expired",
		"resume-reused", "resume-live", "resume-invalid", "unavailable",
	};
	for (int e = 0; e < PT_E__COUNT; e++)
		assert_string_equal(pt_err_code((enum pt_err)e), want[e]);
	assert_string_equal(pt_err_code(PT_E__COUNT), "internal");
	assert_string_equal(pt_err_code((enum pt_err)-1), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_rid_kinds),
		cmocka_unit_test(test_error_keeps_rid),
		cmocka_unit_test(test_hashes_dedupe),
		cmocka_unit_test(test_lookup_fields),
		cmocka_unit_test(test_signal_fields),
		cmocka_unit_test(test_report_fields),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_err_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
