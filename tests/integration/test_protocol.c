/* test_protocol.c — protocol v1 message by message against a real daemon:
 * welcome, announce/withdraw, lookup, rid echo, signal relay, peer-gone,
 * peer-left, ping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define BASE_CONF                        \
	"[log]\nlog_level = info\n"          \
	"[security]\nallow_missing_origin = yes\n"

static bool is_b64url_id(const char *id)
{
	if (!id || strlen(id) != 24)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static void expect_u(const json_t *o, const char *key, long long want)
{
	long long got = pt_jint(o, key);

	PT_CHECK(got == want, "%s: got %lld, want %lld", key, got, want);
}

static void test_welcome(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF
	                         "[limits]\nmax_connections_per_ip = 200\n"
	                         "max_message_bytes = 32768\nmax_hashes_per_message = 32\n"
	                         "max_hashes_per_peer = 100\nmax_lookup_peers = 7\n"
	                         "max_signal_bytes = 8192\nrate_messages_per_sec = 500\n"
	                         "rate_burst = 1000\n"
	                         "[liveness]\nheartbeat_ms = 1500\ntimeout_ms = 4500\n");
	ptc *c[100];
	json_t *w, *lim;
	(void)state;

	c[0] = ptc_connect(ptd_port(d), NULL);
	PT_CHECK(c[0], "connect: %s", ptc_last_error());
	w = ptc_recv(c[0], PT_T_REPLY_MS);
	PT_CHECK(w, "no first message");
	assert_true(pt_jtype_is(w, "welcome"));
	assert_int_equal(pt_jint(w, "v"), 1);
	assert_true(is_b64url_id(pt_jstr(w, "id")));
	expect_u(w, "heartbeat_ms", 1500);
	expect_u(w, "timeout_ms", 4500);
	lim = json_object_get(w, "limits");
	assert_true(json_is_object(lim));
	expect_u(lim, "max_message_bytes", 32768);
	expect_u(lim, "max_hashes_per_message", 32);
	expect_u(lim, "max_hashes_per_peer", 100);
	expect_u(lim, "max_lookup_peers", 7);
	expect_u(lim, "max_signal_bytes", 8192);
	expect_u(lim, "max_report_bytes", 1073741824);
	expect_u(lim, "rate_messages_per_sec", 500);
	expect_u(lim, "rate_burst", 1000);
	json_decref(w);
	/* Nothing else arrives unasked. */
	ptc_roundtrip(c[0]);
	assert_int_equal(ptc_pending(c[0]), 0);

	/* 100 clients, 100 distinct well-formed ids. */
	char ids[100][32];
	ptc_close(c[0]);
	for (int i = 0; i < 100; i++) {
		c[i] = ptc_join(ptd_port(d), NULL);
		snprintf(ids[i], sizeof(ids[i]), "%s", ptc_id(c[i]));
		PT_CHECK(is_b64url_id(ids[i]), "client %d: bad id '%s'", i, ids[i]);
		for (int j = 0; j < i; j++)
			PT_CHECK(strcmp(ids[i], ids[j]), "clients %d and %d share id %s", i, j, ids[i]);
	}
	for (int i = 0; i < 100; i++)
		ptc_close(c[i]);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_announce_withdraw(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	char h[4][65], ids[4][32];
	json_t *r;
	(void)state;

	for (int i = 0; i < 4; i++)
		pt_hash_of((unsigned)i, 1, h[i]);

	/* Duplicates inside one message count once. */
	char first[3][65];
	memcpy(first[0], h[0], 65);
	memcpy(first[1], h[1], 65);
	memcpy(first[2], h[1], 65);
	r = ptc_hashes(a, "announce", "a1", first, 3);
	assert_true(pt_jtype_is(r, "ack"));
	assert_string_equal(pt_jstr(r, "rid"), "a1");
	expect_u(r, "count", 2);
	expect_u(r, "total", 2);
	json_decref(r);

	/* Already held hashes are not new. */
	r = ptc_hashes(a, "announce", "a2", &h[1], 2);
	expect_u(r, "count", 1);
	expect_u(r, "total", 3);
	json_decref(r);

	/* Withdraw counts only what was held. */
	char w[2][65];
	memcpy(w[0], h[0], 65);
	pt_hash_of(99, 1, w[1]);
	r = ptc_hashes(a, "withdraw", "w1", w, 2);
	assert_true(pt_jtype_is(r, "ack"));
	assert_string_equal(pt_jstr(r, "rid"), "w1");
	expect_u(r, "count", 1);
	expect_u(r, "total", 2);
	json_decref(r);

	/* Empty lists are valid no-ops. */
	r = ptc_hashes(a, "withdraw", NULL, NULL, 0);
	expect_u(r, "count", 0);
	expect_u(r, "total", 2);
	assert_null(json_object_get(r, "rid"));
	json_decref(r);
	r = ptc_hashes(a, "announce", NULL, NULL, 0);
	expect_u(r, "count", 0);
	expect_u(r, "total", 2);
	json_decref(r);

	/* The index agrees with the acks. */
	assert_int_equal(ptc_lookup(b, h[0], 0, ids, 4), 0);
	assert_int_equal(ptc_lookup(b, h[1], 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(a));
	assert_int_equal(ptc_lookup(b, h[2], 0, ids, 4), 1);

	/* Withdraw everything. */
	r = ptc_hashes(a, "withdraw", "w2", h, 4);
	expect_u(r, "count", 2);
	expect_u(r, "total", 0);
	json_decref(r);
	assert_int_equal(ptc_lookup(b, h[1], 0, ids, 4), 0);

	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_lookup(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "[limits]\nmax_lookup_peers = 3\n");
	ptc *c[5];
	char h[65], other[65], ids[8][32];
	json_t *r;
	(void)state;

	pt_hash_of(7, 2, h);
	pt_hash_of(8, 2, other);
	for (int i = 0; i < 5; i++)
		c[i] = ptc_join(ptd_port(d), NULL);
	/* Nobody holds it yet: an empty array, not an error. */
	assert_int_equal(ptc_lookup(c[0], h, 0, ids, 8), 0);
	for (int i = 1; i < 5; i++) {
		r = ptc_hashes(c[i], "announce", NULL, &h, 1);
		expect_u(r, "count", 1);
		json_decref(r);
	}
	/* Four holders, max_lookup_peers = 3: the limit caps the default. */
	assert_int_equal(ptc_lookup(c[0], h, 0, ids, 8), 3);
	/* ...and a larger max. */
	assert_int_equal(ptc_lookup(c[0], h, 10, ids, 8), 3);
	for (int i = 0; i < 3; i++) {
		bool known = false;
		for (int k = 1; k < 5; k++)
			known |= !strcmp(ids[i], ptc_id(c[k]));
		PT_CHECK(known, "lookup returned an id that holds nothing: %s", ids[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	/* max honoured. */
	assert_int_equal(ptc_lookup(c[0], h, 1, ids, 8), 1);
	assert_int_equal(ptc_lookup(c[0], h, 2, ids, 8), 2);
	/* Never the asker: holder 1 sees the 3 others only, over many asks. */
	for (int round = 0; round < 10; round++) {
		int n = ptc_lookup(c[1], h, 10, ids, 8);
		assert_int_equal(n, 3);
		for (int i = 0; i < n; i++)
			assert_string_not_equal(ids[i], ptc_id(c[1]));
	}
	/* A lone holder asking finds nobody. */
	r = ptc_hashes(c[1], "announce", NULL, &other, 1);
	json_decref(r);
	assert_int_equal(ptc_lookup(c[1], other, 0, ids, 8), 0);
	assert_int_equal(ptc_lookup(c[2], other, 0, ids, 8), 1);
	assert_string_equal(ids[0], ptc_id(c[1]));

	/* The reply carries the rid and the hash. */
	r = ptc_call(c[0], "{\"type\":\"lookup\",\"rid\":5,\"hash\":\"%s\",\"max\":1}", h);
	assert_true(pt_jtype_is(r, "peers"));
	assert_int_equal(pt_jint(r, "rid"), 5);
	assert_string_equal(pt_jstr(r, "hash"), h);
	json_decref(r);

	for (int i = 0; i < 5; i++)
		ptc_close(c[i]);
	assert_int_equal(ptd_stop(d), 0);
}

/* Sends text with `"rid":RID,` spliced in after the opening brace and checks
 * the reply of the given type echoes RID unchanged. */
static void check_rid(ptc *c, const char *rid_json, const char *body, const char *type,
                      const char *code)
{
	json_t *want = json_loads(rid_json, JSON_DECODE_ANY, NULL), *r;

	assert_non_null(want);
	r = ptc_call(c, "{\"rid\":%s,%s", rid_json, body);
	if (!r || !pt_jtype_is(r, type) || !json_equal(json_object_get(r, "rid"), want) ||
	    (code && (!pt_jstr(r, "code") || strcmp(pt_jstr(r, "code"), code)))) {
		char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;
		pt_fail("rid %s on {%s: want %s%s%s, got %s", rid_json, body, type, code ? " " : "",
		        code ? code : "", t ? t : "nothing");
	}
	json_decref(r);
	json_decref(want);
}

static void test_rid_echo(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL);
	char h[65], body[512];
	static const char *const rids[] = {
		"\"x\"", "\"\"", "0", "-1", "9223372036854775807", "-9223372036854775808",
		"\"caf\\u00e9 \\\"quoted\\\" \\\\ \\n\"",
		"\"0123456789012345678901234567890123456789012345678901234567890123\"",
	};
	(void)state;

	pt_hash_of(1, 3, h);
	for (size_t i = 0; i < sizeof(rids) / sizeof(rids[0]); i++) {
		const char *rid = rids[i];

		snprintf(body, sizeof(body), "\"type\":\"announce\",\"hashes\":[\"%s\"]}", h);
		check_rid(a, rid, body, "ack", NULL);
		snprintf(body, sizeof(body), "\"type\":\"withdraw\",\"hashes\":[\"%s\"]}", h);
		check_rid(a, rid, body, "ack", NULL);
		snprintf(body, sizeof(body), "\"type\":\"lookup\",\"hash\":\"%s\"}", h);
		check_rid(a, rid, body, "peers", NULL);
		check_rid(a, rid, "\"type\":\"ping\"}", "pong", NULL);
		/* Errors echo it too, whatever went wrong after the rid. */
		check_rid(a, rid, "\"type\":\"signal\",\"to\":\"AAAAAAAAAAAAAAAAAAAAAAAA\",\"data\":{}}",
		          "error", "peer-gone");
		check_rid(a, rid, "\"type\":\"announce\",\"hashes\":[\"ABC\"]}", "error", "bad-hash");
		check_rid(a, rid, "\"type\":\"nope\"}", "error", "unknown-type");
		check_rid(a, rid, "\"hashes\":[]}", "error", "bad-message");
		snprintf(body, sizeof(body), "\"type\":\"lookup\",\"hash\":\"%s\",\"max\":0}", h);
		check_rid(a, rid, body, "error", "bad-message");
	}
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

static json_t *signal_to(ptc *from, ptc *to, const char *data_json, const char *extra)
{
	json_t *got;

	ptc_send(from, "{\"type\":\"signal\",%s\"to\":\"%s\",\"data\":%s}", extra ? extra : "",
	         ptc_id(to), data_json);
	got = ptc_recv_type(to, "signal", PT_T_REPLY_MS);
	PT_CHECK(got, "signal from %s to %s not delivered", ptc_id(from), ptc_id(to));
	return got;
}

static void test_signal_relay(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	static const char *const datas[] = {
		"{}",
		"{\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\n\"}}",
		"{\"candidate\":{\"candidate\":\"candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host\","
		"\"sdpMid\":\"0\",\"sdpMLineIndex\":0},\"n\":[1,2.5,-3,true,false,null,[[{}]]]}",
		"{\"unicode\":\"h\\u00e9llo \\u4e16\\u754c \\ud834\\udd1e \xc3\xa9\xf0\x9f\x98\x80\","
		"\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\",\"big\":9007199254740993,"
		"\"neg\":-9223372036854775808,\"from\":\"inside data is the peers' business\"}",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
		json_t *want = json_loads(datas[i], 0, NULL), *got;

		PT_CHECK(want, "test data %zu is not JSON", i);
		/* A forged top-level "from" is overwritten by the server. */
		got = signal_to(a, b, datas[i], "\"from\":\"AAAAAAAAAAAAAAAAAAAAAAAA\",\"rid\":1,");
		assert_string_equal(pt_jstr(got, "from"), ptc_id(a));
		PT_CHECK(json_equal(json_object_get(got, "data"), want), "data %zu changed in transit", i);
		/* The relay carries no rid of the sender. */
		assert_null(json_object_get(got, "rid"));
		json_decref(got);

		got = signal_to(b, a, datas[i], "\"from\":\"forged\",");
		assert_string_equal(pt_jstr(got, "from"), ptc_id(b));
		PT_CHECK(json_equal(json_object_get(got, "data"), want), "data %zu changed (b->a)", i);
		json_decref(got);
		json_decref(want);
	}
	/* A successful relay has no reply: the next reply is the pong. */
	ptc_roundtrip(a);
	ptc_roundtrip(b);
	assert_int_equal(ptc_pending(a), 0);
	assert_int_equal(ptc_pending(b), 0);

	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

/* A receive buffer smaller than the messages: lws hands each one over in
 * pieces, some cut between two messages of one read, and v1.c must put
 * every one back together exactly. Sent back to back so reads straddle. */
/* a sends b the n signals data[] back to back; each must arrive intact and
 * in order, and a get nothing back. Frees data[] and ends the test. */
static void relay_intact(pt_daemon *d, ptc *a, ptc *b, char **data, int n)
{
	for (int i = 0; i < n; i++)
		ptc_send(a, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":%s}", ptc_id(b), data[i]);
	for (int i = 0; i < n; i++) {
		json_t *want = json_loads(data[i], 0, NULL);
		json_t *got = ptc_recv_type(b, "signal", PT_T_REPLY_MS);

		PT_CHECK(want, "test data %d is not JSON", i);
		PT_CHECK(got, "signal %d (%zu bytes) not delivered", i, strlen(data[i]));
		PT_CHECK(json_equal(json_object_get(got, "data"), want), "signal %d changed in transit", i);
		json_decref(got);
		json_decref(want);
		free(data[i]);
	}
	ptc_roundtrip(a);
	assert_int_equal(ptc_pending(a), 0);
	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_small_rx_buffer(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "[limits]\nws_rx_buffer_bytes = 256\n");
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	enum { N = 12 };
	char *data[N];
	(void)state;

	for (int i = 0; i < N; i++) {
		size_t len = 40 + (size_t)i * 311; /* 40 .. 3461 bytes of SDP */
		char *p = malloc(2 * len + 64);

		PT_CHECK(p, "out of memory");
		int n = sprintf(p, "{\"i\":%d,\"sdp\":\"", i);
		/* Letters with an "é" (two bytes) now and then: pieces may
		 * also cut a UTF-8 sequence. */
		for (size_t k = 0; k < len; k++) {
			if (k % 14 == 13) {
				p[n++] = (char)0xc3;
				p[n++] = (char)0xa9;
			} else {
				p[n++] = (char)('a' + k % 26);
			}
		}
		strcpy(p + n, "\"}");
		data[i] = p;
	}
	relay_intact(d, a, b, data, N);
}

/* Signals past 64 KiB leave with the 8-byte WebSocket length, coalesced
 * with smaller ones around them, and arrive intact and in order. */
static void test_large_signal(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "[limits]\nmax_message_bytes = 262144\n"
	                                   "max_signal_bytes = 200000\n");
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	static const size_t sizes[] = { 100000, 10, 70000, 65530, 200 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	char *data[N];
	(void)state;

	for (int i = 0; i < N; i++) {
		char *p = malloc(sizes[i] + 64);

		PT_CHECK(p, "out of memory");
		int n = sprintf(p, "{\"i\":%d,\"sdp\":\"", i);
		for (size_t k = 0; k < sizes[i]; k++)
			p[n++] = (char)('A' + (k * 7 + (size_t)i) % 26);
		strcpy(p + n, "\"}");
		data[i] = p;
	}
	relay_intact(d, a, b, data, N);
}

static void test_peer_gone(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	char bid[32];
	json_t *r, *left;
	(void)state;

	/* Well-formed, but nobody has it. */
	r = ptc_call(a, "{\"type\":\"signal\",\"rid\":\"g1\",\"to\":\"AAAAAAAAAAAAAAAAAAAAAAAA\","
	                "\"data\":{}}");
	assert_string_equal(pt_jstr(r, "rid"), "g1");
	pt_expect_error(r, "peer-gone");

	/* A departed peer: signal it once (so a hears of its leaving), close it. */
	snprintf(bid, sizeof(bid), "%s", ptc_id(b));
	json_decref(signal_to(a, b, "{\"x\":1}", NULL));
	ptc_close(b);
	left = ptc_recv_type(a, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left, "no peer-left after the partner closed");
	json_decref(left);
	r = ptc_call(a, "{\"type\":\"signal\",\"rid\":7,\"to\":\"%s\",\"data\":{}}", bid);
	assert_int_equal(pt_jint(r, "rid"), 7);
	pt_expect_error(r, "peer-gone");

	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_peer_left(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	ptc *a = ptc_join(port, NULL), *b = ptc_join(port, NULL), *c = ptc_join(port, NULL);
	ptc *x = ptc_join(port, NULL), *y = ptc_join(port, NULL);
	char bid[32];
	json_t *m;
	(void)state;

	snprintf(bid, sizeof(bid), "%s", ptc_id(b));
	/* a -> b and b -> c: both directions make a contact. x never talks to
	 * b; y talks only to x. */
	json_decref(signal_to(a, b, "{\"offer\":1}", NULL));
	json_decref(signal_to(b, c, "{\"answer\":1}", NULL));
	json_decref(signal_to(y, x, "{\"hello\":1}", NULL));
	ptc_close(b);

	m = ptc_recv_type(a, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(m, "the peer b signalled got no peer-left");
	assert_string_equal(pt_jstr(m, "id"), bid);
	json_decref(m);
	m = ptc_recv_type(c, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(m, "the peer that signalled b got no peer-left");
	assert_string_equal(pt_jstr(m, "id"), bid);
	json_decref(m);
	/* The server handled b's leaving before these pings: anything meant
	 * for x or y would be queued ahead of the pongs. */
	ptc_roundtrip(x);
	ptc_roundtrip(y);
	assert_null(ptc_recv_type(x, "peer-left", 0));
	assert_null(ptc_recv_type(y, "peer-left", 0));
	/* Exactly one each. */
	ptc_roundtrip(a);
	assert_null(ptc_recv_type(a, "peer-left", 0));

	/* The other direction of the same logic: when y leaves, x (whom y
	 * signalled) hears of it; a does not. */
	char yid[32];
	snprintf(yid, sizeof(yid), "%s", ptc_id(y));
	ptc_close(y);
	m = ptc_recv_type(x, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(m, "x got no peer-left for y");
	assert_string_equal(pt_jstr(m, "id"), yid);
	json_decref(m);
	ptc_roundtrip(a);
	assert_null(ptc_recv_type(a, "peer-left", 0));

	ptc_close(a);
	ptc_close(c);
	ptc_close(x);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_ping(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL);
	json_t *r;
	(void)state;

	r = ptc_call(a, "{\"type\":\"ping\",\"rid\":9}");
	assert_true(pt_jtype_is(r, "pong"));
	assert_int_equal(pt_jint(r, "rid"), 9);
	json_decref(r);
	r = ptc_call(a, "{\"type\":\"ping\"}");
	assert_true(pt_jtype_is(r, "pong"));
	assert_null(json_object_get(r, "rid"));
	json_decref(r);
	/* Unknown fields are ignored. */
	r = ptc_call(a, "{\"type\":\"ping\",\"rid\":\"p\",\"future\":{\"x\":[1]}}");
	assert_true(pt_jtype_is(r, "pong"));
	assert_string_equal(pt_jstr(r, "rid"), "p");
	json_decref(r);
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_welcome, pt_teardown),
		cmocka_unit_test_teardown(test_announce_withdraw, pt_teardown),
		cmocka_unit_test_teardown(test_lookup, pt_teardown),
		cmocka_unit_test_teardown(test_rid_echo, pt_teardown),
		cmocka_unit_test_teardown(test_signal_relay, pt_teardown),
		cmocka_unit_test_teardown(test_small_rx_buffer, pt_teardown),
		cmocka_unit_test_teardown(test_large_signal, pt_teardown),
		cmocka_unit_test_teardown(test_peer_gone, pt_teardown),
		cmocka_unit_test_teardown(test_peer_left, pt_teardown),
		cmocka_unit_test_teardown(test_ping, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
