/* test_reply.c — the encoders' exact output (docs/PROTOCOL.md), checked
 * again by parsing it back with jansson. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "peertrack/reply.h"

#define H   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define ID1 "q3Vx0dB1a9Zk7Yt2mWcE5rLp"
#define ID2 "Zt4mN8qL2xV0bR6cW1yH9kJs"
#define ID3 "a0B1c2D3e4F5g6H7i8J9k0L1"

static pt_id id_of(const char *s)
{
	pt_id id;
	assert_int_equal(pt_id_decode(s, strlen(s), &id), 0);
	return id;
}

static pt_rid rid_int(int64_t i)
{
	pt_rid r = { .kind = PT_RID_INT, .i = i };
	return r;
}

static pt_rid rid_str(const char *s, size_t len)
{
	pt_rid r = { .kind = PT_RID_STR, .len = (uint8_t)len };
	assert_true(len <= PT_RID_MAX);
	memcpy(r.s, s, len);
	r.s[len] = '\0';
	return r;
}

/* The text is valid JSON (one object, nothing after it) and is exactly want. */
static void check(const pt_buf *b, const char *want)
{
	json_error_t err;
	assert_int_equal(b->len, strlen(pt_buf_text(b)));
	assert_string_equal(pt_buf_text(b), want);
	json_t *j = json_loadb(pt_buf_text(b), b->len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("not valid JSON (%s): %s", err.text, pt_buf_text(b));
	assert_true(json_is_object(j));
	json_decref(j);
}

static void test_welcome(void **state)
{
	(void)state;
	pt_buf b;
	pt_id id = id_of(ID1);
	pt_welcome_limits lim = { 65536, 256, 4096, 20, 16384, 1073741824, 50, 100 };

	pt_buf_init(&b, 16);
	assert_int_equal(pt_reply_welcome(&b, &id, 15000, 45000, &lim, NULL), 0);
	check(&b, "{\"type\":\"welcome\",\"v\":1,\"id\":\"" ID1 "\",\"heartbeat_ms\":15000,"
	          "\"timeout_ms\":45000,\"limits\":{\"max_message_bytes\":65536,"
	          "\"max_hashes_per_message\":256,\"max_hashes_per_peer\":4096,"
	          "\"max_lookup_peers\":20,\"max_signal_bytes\":16384,\"max_report_bytes\":1073741824,"
	          "\"rate_messages_per_sec\":50,\"rate_burst\":100},\"ice_servers\":[]}");
	/* The head is kept free in front of the text. */
	assert_ptr_equal(pt_buf_text(&b), b.p + 16);
	assert_true(b.cap >= b.head + b.len + 1);

	/* With ICE servers and a resume token: copied in, in that order. */
	{
		static const char ice[] = "[{\"urls\":[\"stun:127.0.0.1:3478\"]}]";
		pt_welcome_extra x = { ice, sizeof(ice) - 1, 600, "tok-en", 30000 };

		pt_buf_reset(&b);
		assert_int_equal(pt_reply_welcome(&b, &id, 15000, 45000, &lim, &x), 0);
		assert_non_null(strstr(pt_buf_text(&b), "\"rate_burst\":100},\"ice_servers\":"
		                       "[{\"urls\":[\"stun:127.0.0.1:3478\"]}],\"ice_ttl_s\":600,"
		                       "\"resume_token\":\"tok-en\",\"resume_window_ms\":30000}"));
		pt_buf_reset(&b);
		assert_int_equal(pt_reply_ice_servers(&b, &(pt_rid){ .kind = PT_RID_INT, .i = 4 }, ice,
		                                      sizeof(ice) - 1, 600), 0);
		check(&b, "{\"type\":\"ice-servers\",\"rid\":4,\"ice_servers\":"
		          "[{\"urls\":[\"stun:127.0.0.1:3478\"]}],\"ice_ttl_s\":600}");
		pt_buf_reset(&b);
		assert_int_equal(pt_reply_resumed(&b, NULL, &id, "tok-2", 3, 1), 0);
		check(&b, "{\"type\":\"resumed\",\"id\":\"" ID1 "\",\"resume_token\":\"tok-2\","
		          "\"hashes\":3,\"held\":1}");
	}
	pt_buf_free(&b);
}

static void test_ack(void **state)
{
	(void)state;
	pt_buf b;
	pt_rid r1 = rid_int(1), rw = rid_str("w-7", 3), none = { .kind = PT_RID_NONE };

	pt_buf_init(&b, 0);
	assert_int_equal(pt_reply_ack(&b, &r1, 1, 1), 0);
	check(&b, "{\"type\":\"ack\",\"rid\":1,\"count\":1,\"total\":1}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_ack(&b, &rw, 0, 4294967296u), 0);
	check(&b, "{\"type\":\"ack\",\"rid\":\"w-7\",\"count\":0,\"total\":4294967296}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_ack(&b, &none, 3, 4), 0);
	check(&b, "{\"type\":\"ack\",\"count\":3,\"total\":4}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_ack(&b, NULL, 3, 4), 0);
	check(&b, "{\"type\":\"ack\",\"count\":3,\"total\":4}");
	pt_buf_free(&b);
}

static void test_rid_integers(void **state)
{
	(void)state;
	pt_buf b;
	static const struct { int64_t v; const char *text; } ints[] = {
		{ 0, "0" }, { -1, "-1" }, { 9, "9" }, { 10, "10" }, { -10, "-10" },
		{ INT64_MAX, "9223372036854775807" }, { INT64_MIN, "-9223372036854775808" },
	};

	pt_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		char want[128];
		pt_rid r = rid_int(ints[i].v);
		pt_buf_reset(&b);
		assert_int_equal(pt_reply_pong(&b, &r), 0);
		snprintf(want, sizeof(want), "{\"type\":\"pong\",\"rid\":%s}", ints[i].text);
		check(&b, want);
	}
	pt_buf_free(&b);
}

static void test_peers(void **state)
{
	(void)state;
	pt_buf b;
	pt_rid r = rid_int(2);
	pt_hash h;
	pt_id a = id_of(ID2), c = id_of(ID3);
	const pt_id *ids[] = { &a, &c };

	assert_int_equal(pt_hash_parse(H, 64, &h), 0);
	pt_buf_init(&b, 0);
	assert_int_equal(pt_reply_peers(&b, &r, &h, ids, 2), 0);
	check(&b, "{\"type\":\"peers\",\"rid\":2,\"hash\":\"" H "\",\"peers\":[\"" ID2 "\",\"" ID3 "\"]}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_peers(&b, NULL, &h, ids, 0), 0);
	check(&b, "{\"type\":\"peers\",\"hash\":\"" H "\",\"peers\":[]}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_peers(&b, NULL, &h, ids, 1), 0);
	check(&b, "{\"type\":\"peers\",\"hash\":\"" H "\",\"peers\":[\"" ID2 "\"]}");
	pt_buf_free(&b);
}

static void test_signal_pong_left(void **state)
{
	(void)state;
	pt_buf b;
	pt_id from = id_of(ID1);
	const char *data = "{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n...\"}}";
	pt_rid r9 = rid_int(9);

	pt_buf_init(&b, 0);
	assert_int_equal(pt_reply_signal(&b, &from, data, strlen(data)), 0);
	check(&b, "{\"type\":\"signal\",\"from\":\"" ID1 "\",\"data\":"
	          "{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n...\"}}}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_signal(&b, &from, NULL, 0), 0);
	check(&b, "{\"type\":\"signal\",\"from\":\"" ID1 "\",\"data\":{}}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_pong(&b, &r9), 0);
	check(&b, "{\"type\":\"pong\",\"rid\":9}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_pong(&b, NULL), 0);
	check(&b, "{\"type\":\"pong\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_peer_left(&b, &from), 0);
	check(&b, "{\"type\":\"peer-left\",\"id\":\"" ID1 "\"}");
	pt_buf_free(&b);
}

static void test_error(void **state)
{
	(void)state;
	pt_buf b;
	pt_rid r4 = rid_int(4), r3 = rid_int(3);

	pt_buf_init(&b, 0);
	assert_int_equal(pt_reply_error(&b, &r4, PT_E_BAD_HASH,
	                                "hashes[1]: not 64 lowercase hex characters"), 0);
	check(&b, "{\"type\":\"error\",\"rid\":4,\"code\":\"bad-hash\","
	          "\"message\":\"hashes[1]: not 64 lowercase hex characters\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_error(&b, &r3, PT_E_PEER_GONE, "no connected peer has that id"), 0);
	check(&b, "{\"type\":\"error\",\"rid\":3,\"code\":\"peer-gone\","
	          "\"message\":\"no connected peer has that id\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_error(&b, NULL, PT_E_BAD_JSON, "say \"what\"\n"), 0);
	check(&b, "{\"type\":\"error\",\"code\":\"bad-json\",\"message\":\"say \\\"what\\\"\\u000a\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_reply_error(&b, NULL, PT_E_INTERNAL, NULL), 0);
	check(&b, "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"internal\"}");
	pt_buf_free(&b);
}

/* Nasty string rids come back escaped, and decode to the same bytes. */
static void test_rid_escaping(void **state)
{
	(void)state;
	static const struct { const char *raw; size_t len; const char *json; } rids[] = {
		{ "", 0, "\"\"" },
		{ "\"", 1, "\"\\\"\"" },
		{ "\\", 1, "\"\\\\\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "\n\r\t\b\f", 5, "\"\\u000a\\u000d\\u0009\\u0008\\u000c\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"" },
		{ "/", 1, "\"/\"" },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"" },
		{ "</script>", 9, "\"</script>\"" },
	};
	pt_buf b;

	pt_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(rids) / sizeof(rids[0]); i++) {
		char want[256];
		pt_rid r = rid_str(rids[i].raw, rids[i].len);
		pt_buf_reset(&b);
		assert_int_equal(pt_reply_pong(&b, &r), 0);
		snprintf(want, sizeof(want), "{\"type\":\"pong\",\"rid\":%s}", rids[i].json);
		check(&b, want);

		json_t *j = json_loadb(pt_buf_text(&b), b.len, 0, NULL);
		assert_non_null(j);
		json_t *rid = json_object_get(j, "rid");
		assert_true(json_is_string(rid));
		assert_int_equal(json_string_length(rid), rids[i].len);
		assert_memory_equal(json_string_value(rid), rids[i].raw, rids[i].len);
		json_decref(j);
	}
	pt_buf_free(&b);
}

/* pt_buf_json_string never emits invalid JSON, even for bytes that are
 * not UTF-8 (log lines can carry anything). */
static void test_json_string_invalid_utf8(void **state)
{
	(void)state;
	static const struct { const char *raw; size_t len; const char *json; } cases[] = {
		{ "\xff", 1, "\"\\ufffd\"" },
		{ "a\x80z", 3, "\"a\\ufffdz\"" },
		{ "\xc3", 1, "\"\\ufffd\"" },                    /* truncated */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },          /* overlong '/' */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "\xe0\x80\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong 3-byte */
		{ "\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"" },  /* U+10FFFF is fine */
		{ "a\0b", 3, "\"a\\u0000b\"" },
	};
	pt_buf b;

	pt_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pt_buf_reset(&b);
		assert_int_equal(pt_buf_json_string(&b, cases[i].raw, cases[i].len), 0);
		assert_string_equal(pt_buf_text(&b), cases[i].json);
		json_t *j = json_loadb(pt_buf_text(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (!j)
			fail_msg("case %zu: not valid JSON: %s", i, pt_buf_text(&b));
		json_decref(j);
	}
	pt_buf_free(&b);
}

static void test_buf(void **state)
{
	(void)state;
	pt_buf b;

	pt_buf_init(&b, 4);
	assert_int_equal(b.len, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(pt_buf_printf(&b, "%d,", i % 10), 0);
	assert_int_equal(b.len, 2000);
	assert_memory_equal(pt_buf_text(&b), "0,1,2,3,4,5,6,7,8,9,0,", 22);
	assert_int_equal(pt_buf_text(&b)[b.len], '\0');
	size_t cap = b.cap;
	pt_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_int_equal(pt_buf_append(&b, "xy", 2), 0);
	assert_int_equal(pt_buf_append(&b, NULL, 0), 0);
	assert_string_equal(pt_buf_text(&b), "xy");
	/* Several messages may be queued in one buffer. */
	assert_int_equal(pt_reply_pong(&b, NULL), 0);
	assert_string_equal(pt_buf_text(&b), "xy{\"type\":\"pong\"}");
	pt_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	pt_buf_free(&b);

	/* A length no allocation can hold fails cleanly and changes nothing. */
	pt_buf_init(&b, 0);
	assert_int_equal(pt_buf_append(&b, "a", 1), 0);
	assert_int_equal(pt_buf_append(&b, "b", SIZE_MAX - 8), -ENOMEM);
	assert_int_equal(b.len, 1);
	assert_string_equal(pt_buf_text(&b), "a");
	pt_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_rid_integers),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_signal_pong_left),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_rid_escaping),
		cmocka_unit_test(test_json_string_invalid_utf8),
		cmocka_unit_test(test_buf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
