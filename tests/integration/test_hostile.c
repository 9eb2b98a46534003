/* test_hostile.c — hostile and broken clients against a real daemon.
 *
 * The table below is run row by row against one daemon while two
 * well-behaved clients keep working: after every row they do an
 * announce/lookup/signal round trip. Each row has its own client from its
 * own 127.0.10.x address. Limits that need a daemon of their own (server
 * full, origins, proxies, slow readers) are separate tests after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define MAIN_CONF                                            \
	"allow_missing_origin = yes\n"                           \
	"max_message_bytes = 16384\nmax_hashes_per_message = 8\n" \
	"max_hashes_per_peer = 12\nmax_signal_bytes = 512\n"      \
	"max_connections_per_ip = 4\n"                           \
	"rate_messages_per_sec = 300\nrate_burst = 300\nrate_abuse_strikes = 100\n"

typedef struct ctx {
	pt_daemon *d;
	int port;
	int row;
	char source[32];   /* the row's own address */
	ptc *g1, *g2;      /* the well-behaved pair */
} ctx;

typedef struct row {
	const char *name;
	/* Either a frame sent as is... */
	const char *text;
	/* ...or a function that sends (and may check) by itself. */
	void (*fn)(ctx *x, ptc *c);
	/* Then: the error code expected, or the close code expected, or
	 * neither (the function checked everything). */
	const char *code;
	int close;
} row;

static char *repeat(const char *head, char ch, size_t n, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n + tl + 1);

	PT_CHECK(s, "out of memory");
	memcpy(s, head, hl);
	memset(s + hl, ch, n);
	memcpy(s + hl + n, tail, tl + 1);
	return s;
}

/* -- rows that need more than one frame ------------------------------------ */

static void send_hash_upper(ctx *x, ptc *c)
{
	char h[65];

	pt_hash_of(1, 1, h);
	for (char *p = h; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	ptc_send(c, "{\"type\":\"announce\",\"rid\":1,\"hashes\":[\"%s\"]}", h);
}

static void send_hash_nonhex(ctx *x, ptc *c)
{
	char h[65];

	pt_hash_of(2, 1, h);
	h[10] = 'g';
	ptc_send(c, "{\"type\":\"withdraw\",\"hashes\":[\"%s\"]}", h);
}

static void send_too_many_hashes(ctx *x, ptc *c)
{
	char h[9][65];
	json_t *r;

	for (int i = 0; i < 9; i++)
		pt_hash_of((unsigned)i, 50, h[i]);
	r = ptc_hashes(c, "announce", "many", h, 9);
	assert_string_equal(pt_jstr(r, "rid"), "many");
	pt_expect_error(r, "too-many-hashes");
	/* Nothing of it was taken. */
	r = ptc_hashes(c, "announce", NULL, NULL, 0);
	assert_int_equal(pt_jint(r, "total"), 0);
	json_decref(r);
}

static void send_over_peer_limit(ctx *x, ptc *c)
{
	char h[13][65], ids[4][32];
	json_t *r;

	for (int i = 0; i < 13; i++)
		pt_hash_of((unsigned)i, 60, h[i]);
	r = ptc_hashes(c, "announce", NULL, h, 8);
	assert_int_equal(pt_jint(r, "total"), 8);
	json_decref(r);
	r = ptc_hashes(c, "announce", NULL, &h[8], 4);
	assert_int_equal(pt_jint(r, "total"), 12);
	json_decref(r);
	/* Two already held + one new = 13 > 12: all refused. */
	char mix[3][65];
	memcpy(mix[0], h[0], 65);
	memcpy(mix[1], h[12], 65);
	memcpy(mix[2], h[5], 65);
	r = ptc_hashes(c, "announce", "over", mix, 3);
	pt_expect_error(r, "too-many-hashes");
	/* Nothing changed: total, and the index. */
	r = ptc_hashes(c, "withdraw", NULL, NULL, 0);
	assert_int_equal(pt_jint(r, "total"), 12);
	json_decref(r);
	assert_int_equal(ptc_lookup(x->g1, h[12], 0, ids, 4), 0);
	assert_int_equal(ptc_lookup(x->g1, h[0], 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(c));
	/* Withdrawing one makes room again. */
	r = ptc_hashes(c, "withdraw", NULL, &h[0], 1);
	assert_int_equal(pt_jint(r, "total"), 11);
	json_decref(r);
	r = ptc_hashes(c, "announce", NULL, &h[12], 1);
	assert_int_equal(pt_jint(r, "total"), 12);
	json_decref(r);
}

static void send_signal_self(ctx *x, ptc *c)
{
	ptc_send(c, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", ptc_id(c));
}

static void send_data_not_object(ctx *x, ptc *c)
{
	ptc_send(c, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":\"offer\"}", ptc_id(x->g1));
}

static void send_data_too_large(ctx *x, ptc *c)
{
	char *big = repeat("{\"type\":\"signal\",\"rid\":3,\"to\":\"", 'A', 0, "");
	char *data = repeat("{\"sdp\":\"", 'v', 600, "\"}");

	ptc_send(c, "%s%s\",\"data\":%s}", big, ptc_id(x->g1), data);
	free(big);
	free(data);
	/* The target never saw it. */
	ptc_roundtrip(x->g1);
	assert_null(ptc_recv_type(x->g1, "signal", 0));
}

static void send_binary(ctx *x, ptc *c)
{
	static const char msg[] = "{\"type\":\"ping\"}";

	ptc_send_raw(c, msg, sizeof(msg) - 1, true);
}

static void send_oversized(ctx *x, ptc *c)
{
	char *s = repeat("{\"type\":\"ping\",\"pad\":\"", 'x', 17000, "\"}");

	ptc_send_raw(c, s, strlen(s), false);
	free(s);
}

static void send_fragmented_oversized(ctx *x, ptc *c)
{
	/* Each fragment is small; together they pass max_message_bytes. */
	char *s = repeat("{\"type\":\"ping\",\"pad\":\"", 'x', 17000, "\"}");

	ptc_send_fragmented(c, s, strlen(s), 6, false);
	free(s);
}

static void send_fragmented_ok(ctx *x, ptc *c)
{
	/* Not hostile: the control case for the row above. */
	static const char msg[] = "{\"type\":\"ping\",\"rid\":\"frag\"}";
	json_t *r;

	ptc_send_fragmented(c, msg, sizeof(msg) - 1, 4, false);
	r = ptc_recv_type(c, "pong", PT_T_REPLY_MS);
	PT_CHECK(r, "a fragmented ping got no pong");
	assert_string_equal(pt_jstr(r, "rid"), "frag");
	json_decref(r);
}

static void send_flood(ctx *x, ptc *c)
{
	int limited = 0, pongs = 0;
	json_t *m;

	/* 360 at once against a burst of 300: the excess is answered with
	 * rate-limited (fewer than rate_abuse_strikes), the rest with pongs. */
	for (int i = 0; i < 360; i++)
		ptc_send(c, "{\"type\":\"ping\"}");
	while (pongs + limited < 360 && (m = ptc_recv(c, PT_T_REPLY_MS))) {
		if (pt_jtype_is(m, "pong"))
			pongs++;
		else if (pt_jtype_is(m, "error") && !strcmp(pt_jstr(m, "code"), "rate-limited"))
			limited++;
		json_decref(m);
	}
	PT_CHECK(pongs + limited == 360, "%d pongs + %d rate-limited, want 360 replies", pongs,
	         limited);
	PT_CHECK(limited >= 1 && pongs >= 300, "%d rate-limited, %d pongs", limited, pongs);
	assert_true(ptc_is_open(c));
	/* Persisting: cut off once the strikes are used up. The client is
	 * still writing when the server closes, so the close frame can be
	 * lost to the TCP reset; the log line says why it went. */
	size_t mark = ptd_log_count(x->d);
	for (int i = 0; i < 1500; i++)
		ptc_send(c, "{\"type\":\"ping\"}");
	int code = ptc_wait_close(c, 5000);
	PT_CHECK(code == 4001 || code == -1, "flood: close code %d, want 4001", code);
	PT_CHECK(ptd_wait_log_from(x->d, mark, "closed: flooding", PT_T_REPLY_MS) >= 0,
	         "flood: the daemon did not close the flooder for abuse");
}

static void send_per_ip(ctx *x, ptc *c)
{
	ptc_opts same = { .source = x->source }, other = { .source = "127.0.11.1" };
	ptc *more[3], *extra, *elsewhere;

	/* c is the first of 4 allowed from this address. */
	for (int i = 0; i < 3; i++)
		more[i] = ptc_join(x->port, &same);
	extra = ptc_connect(x->port, &same);
	PT_CHECK(extra, "the 5th connection should upgrade, then be closed");
	assert_int_equal(ptc_wait_close(extra, PT_T_REPLY_MS), 4029);
	ptc_close(extra);
	/* The others from that address are unharmed; other addresses too. */
	ptc_roundtrip(c);
	for (int i = 0; i < 3; i++) {
		ptc_roundtrip(more[i]);
		ptc_close(more[i]);
	}
	elsewhere = ptc_join(x->port, &other);
	ptc_roundtrip(elsewhere);
	ptc_close(elsewhere);
}

static void send_deep_nesting(ctx *x, ptc *c)
{
	char *open = repeat("{\"type\":\"ping\",\"rid\":4,\"x\":", '[', 4000, "");
	char *all = repeat(open, ']', 4000, "}");

	ptc_send_raw(c, all, strlen(all), false);
	free(open);
	free(all);
}

static void send_bad_utf8(ctx *x, ptc *c)
{
	static const char msg[] = "{\"type\":\"ping\",\"x\":\"\xff\xfe\xc3\"}";

	ptc_send_raw(c, msg, sizeof(msg) - 1, false);
}

static void send_nul(ctx *x, ptc *c)
{
	static const char msg[] = "{\"type\":\"ping\"}\0";

	ptc_send_raw(c, msg, sizeof(msg) - 1, false);
}

static void wrong_path(ctx *x, ptc *c)
{
	ptc_opts o = { .source = x->source, .path = "/v2" };
	ptr_opts ro = { .source = x->source, .path = "/v2" };
	ptc *bad = ptc_connect(x->port, &o);

	PT_CHECK(!bad, "a WebSocket on /v2 was accepted");
	PT_CHECK(ptr_upgrade_status(x->port, &ro, NULL) != 101, "raw upgrade on /v2 accepted");
	ro.path = "/v1/../v1x";
	PT_CHECK(ptr_upgrade_status(x->port, &ro, NULL) != 101, "upgrade on /v1/../v1x accepted");
	ptc_roundtrip(c);
}

static void raw_unmasked(ctx *x, ptc *c)
{
	static const char ping[] = "{\"type\":\"ping\",\"rid\":\"u\"}";
	ptr_opts o = { .source = x->source };
	ptr *r = ptr_connect(x->port, &o);
	json_t *reply;
	int code;

	PT_CHECK(r, "raw upgrade failed");
	json_decref(ptr_recv_json(r, PT_T_REPLY_MS)); /* welcome */
	ptr_send_frame(r, PTR_TEXT, true, false, ping, sizeof(ping) - 1);
	/* RFC 6455 5.1 wants a close (1002). libwebsockets 4.1 accepts the
	 * frame and hides the mask bit from us (docs/OPERATIONS.md, "Known gap:
	 * unmasked client frames"): this pins that, so a libwebsockets that
	 * enforces 5.1 fails here and the row and the docs are updated to
	 * expect 1002. Either way nothing else may happen. */
	reply = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(reply, "pong") && pt_jstr(reply, "rid") && !strcmp(pt_jstr(reply, "rid"), "u"),
	         "unmasked frame: not answered as libwebsockets 4.1 does (documented gap): enforced now?");
	json_decref(reply);
	code = ptr_wait_close(r, 200);
	PT_CHECK(code == -1, "unmasked frame: closed %d after the answer", code);
	ptr_free(r);
	ptc_roundtrip(c);
}

static void raw_bad_control(ctx *x, ptc *c)
{
	ptr_opts o = { .source = x->source };
	ptr *r = ptr_connect(x->port, &o);
	char big[200];
	int code;

	PT_CHECK(r, "raw upgrade failed");
	json_decref(ptr_recv_json(r, PT_T_REPLY_MS));
	/* A control frame over 125 bytes, and a fragmented one: both illegal. */
	memset(big, 'p', sizeof(big));
	ptr_send_frame(r, PTR_PING, true, true, big, sizeof(big));
	code = ptr_wait_close(r, PT_T_REPLY_MS);
	PT_CHECK(code == 1002 || code == -1, "oversized ping: close code %d", code);
	ptr_free(r);
	ptc_roundtrip(c);
}

static void raw_garbage_then_drop(ctx *x, ptc *c)
{
	ptr_opts o = { .source = x->source };
	ptr *r = ptr_connect(x->port, &o);
	static const unsigned char junk[] = { 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                                  0xff, 0xff, 1, 2, 3, 4 };

	PT_CHECK(r, "raw upgrade failed");
	/* A header announcing a 2^63-byte frame, then the socket goes away. */
	ptr_send_bytes(r, junk, sizeof(junk));
	ptr_free(r);
	ptc_roundtrip(c);
}

/* -- the table -------------------------------------------------------------- */

#define GOOD_ID "AAAAAAAAAAAAAAAAAAAAAAAA"
#define H64 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const row rows[] = {
	{ "broken JSON", "{\"type\":\"ping\"", NULL, "bad-json", 0 },
	{ "trailing garbage", "{\"type\":\"ping\"} x", NULL, "bad-json", 0 },
	{ "empty frame", "", NULL, "bad-json", 0 },
	{ "top-level array", "[{\"type\":\"ping\"}]", NULL, "bad-message", 0 },
	{ "top-level number", "42", NULL, "bad-message", 0 },
	{ "top-level string", "\"ping\"", NULL, "bad-message", 0 },
	{ "top-level null", "null", NULL, "bad-message", 0 },
	{ "missing type", "{\"rid\":1}", NULL, "bad-message", 0 },
	{ "type not a string", "{\"type\":5}", NULL, "bad-message", 0 },
	{ "unknown type", "{\"type\":\"launch\"}", NULL, "unknown-type", 0 },
	{ "rid an object", "{\"type\":\"ping\",\"rid\":{}}", NULL, "bad-message", 0 },
	{ "rid a float", "{\"type\":\"ping\",\"rid\":1.5}", NULL, "bad-message", 0 },
	{ "rid too long",
	  "{\"type\":\"ping\",\"rid\":\"01234567890123456789012345678901234567890123456789012345678901234\"}",
	  NULL, "bad-message", 0 },
	{ "duplicate key", "{\"type\":\"ping\",\"type\":\"lookup\"}", NULL, "bad-message", 0 },
	{ "hashes not an array", "{\"type\":\"announce\",\"hashes\":\"" H64 "\"}", NULL,
	  "bad-message", 0 },
	{ "hashes missing", "{\"type\":\"announce\"}", NULL, "bad-message", 0 },
	{ "hash not a string", "{\"type\":\"announce\",\"hashes\":[7]}", NULL, "bad-hash", 0 },
	{ "hash uppercase", NULL, send_hash_upper, "bad-hash", 0 },
	{ "hash too short", "{\"type\":\"announce\",\"hashes\":[\"9f86d0\"]}", NULL, "bad-hash", 0 },
	{ "hash too long", "{\"type\":\"announce\",\"hashes\":[\"" H64 "0\"]}", NULL, "bad-hash", 0 },
	{ "hash not hex", NULL, send_hash_nonhex, "bad-hash", 0 },
	{ "too many hashes in one message", NULL, send_too_many_hashes, NULL, 0 },
	{ "over max_hashes_per_peer, all-or-nothing", NULL, send_over_peer_limit, NULL, 0 },
	{ "lookup without hash", "{\"type\":\"lookup\"}", NULL, "bad-message", 0 },
	{ "lookup max 0", "{\"type\":\"lookup\",\"hash\":\"" H64 "\",\"max\":0}", NULL,
	  "bad-message", 0 },
	{ "lookup max negative", "{\"type\":\"lookup\",\"hash\":\"" H64 "\",\"max\":-3}", NULL,
	  "bad-message", 0 },
	{ "lookup max a string", "{\"type\":\"lookup\",\"hash\":\"" H64 "\",\"max\":\"5\"}", NULL,
	  "bad-message", 0 },
	{ "signal to a malformed id", "{\"type\":\"signal\",\"to\":\"short\",\"data\":{}}", NULL,
	  "bad-message", 0 },
	{ "signal to an id with bad characters",
	  "{\"type\":\"signal\",\"to\":\"AAAAAAAAAAAA+AAAAAAAAAA/\",\"data\":{}}", NULL,
	  "bad-message", 0 },
	{ "signal without to", "{\"type\":\"signal\",\"data\":{}}", NULL, "bad-message", 0 },
	{ "signal to self", NULL, send_signal_self, "bad-message", 0 },
	{ "signal to an unknown id", "{\"type\":\"signal\",\"to\":\"" GOOD_ID "\",\"data\":{}}", NULL,
	  "peer-gone", 0 },
	{ "signal data not an object", NULL, send_data_not_object, "bad-message", 0 },
	{ "signal data too large", NULL, send_data_too_large, "too-large", 0 },
	{ "report above max_report_bytes",
	  "{\"type\":\"report\",\"from_peers\":9223372036854775807}", NULL, "bad-message", 0 },
	{ "report count negative", "{\"type\":\"report\",\"to_peers\":-1}", NULL, "bad-message", 0 },
	{ "NUL byte in the frame", NULL, send_nul, "bad-json", 0 },
	{ "deep JSON nesting", NULL, send_deep_nesting, "bad-message", 0 },
	{ "binary frame", NULL, send_binary, "bad-message", 0 },
	{ "fragmented message within the limit", NULL, send_fragmented_ok, NULL, 0 },
	{ "frame over max_message_bytes", NULL, send_oversized, NULL, 1009 },
	{ "fragments over max_message_bytes", NULL, send_fragmented_oversized, NULL, 1009 },
	{ "invalid UTF-8 in a text frame", NULL, send_bad_utf8, NULL, 1007 },
	{ "flood beyond the rate", NULL, send_flood, NULL, 0 },
	{ "too many connections from one address", NULL, send_per_ip, NULL, 0 },
	{ "wrong path", NULL, wrong_path, NULL, 0 },
	{ "unmasked frame (raw)", NULL, raw_unmasked, NULL, 0 },
	{ "oversized control frame (raw)", NULL, raw_bad_control, NULL, 0 },
	{ "absurd frame length, then drop (raw)", NULL, raw_garbage_then_drop, NULL, 0 },
};

/* announce / lookup / signal between the two good clients. */
static void good_round_trip(ctx *x)
{
	char h[1][65], ids[4][32];
	json_t *r;

	pt_hash_of((unsigned)x->row, 1000, h[0]);
	r = ptc_hashes(x->g1, "announce", "good", h, 1);
	if (!pt_jtype_is(r, "ack") || pt_jint(r, "count") != 1) {
		char *t = json_dumps(r, JSON_COMPACT);
		pt_fail("after row %d: good announce failed: %s", x->row, t ? t : "?");
	}
	json_decref(r);
	PT_CHECK(ptc_lookup(x->g2, h[0], 0, ids, 4) == 1 && !strcmp(ids[0], ptc_id(x->g1)),
	         "after row %d: good lookup failed", x->row);
	ptc_send(x->g1, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"row\":%d}}", ptc_id(x->g2),
	         x->row);
	r = ptc_recv_type(x->g2, "signal", PT_T_REPLY_MS);
	if (!r || !pt_jstr(r, "from") || strcmp(pt_jstr(r, "from"), ptc_id(x->g1)) ||
	    json_integer_value(json_object_get(json_object_get(r, "data"), "row")) != x->row) {
		char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;
		json_t *e = ptc_recv(x->g1, 0);
		char *te = e ? json_dumps(e, JSON_COMPACT) : NULL;
		pt_fail("after row %d: good signal failed: %s (g1 got %s)", x->row, t ? t : "nothing",
		        te ? te : "nothing");
	}
	json_decref(r);
	json_decref(ptc_hashes(x->g1, "withdraw", NULL, h, 1));
	PT_CHECK(ptc_pending(x->g1) == 0 && ptc_pending(x->g2) == 0,
	         "after row %d: unexpected messages to the good clients", x->row);
}

static void test_table(void **state)
{
	ctx x = {0};
	ptc_opts o1 = { .source = "127.0.0.2" }, o2 = { .source = "127.0.0.3" };
	size_t n = sizeof(rows) / sizeof(rows[0]);
	(void)state;

	PT_CHECK(n >= 25, "the table must hold at least 25 rows");
	x.d = ptd_start(MAIN_CONF);
	x.port = ptd_port(x.d);
	x.g1 = ptc_join(x.port, &o1);
	x.g2 = ptc_join(x.port, &o2);
	good_round_trip(&x);

	for (size_t i = 0; i < n; i++) {
		const row *rw = &rows[i];
		ptc_opts ho = { .source = x.source };
		ptc *c;

		x.row = (int)i + 1;
		snprintf(x.source, sizeof(x.source), "127.0.10.%d", x.row);
		fprintf(stderr, "row %d: %s\n", x.row, rw->name);
		c = ptc_join(x.port, &ho);
		if (rw->text)
			ptc_send_raw(c, rw->text, strlen(rw->text), false);
		else
			rw->fn(&x, c);
		if (rw->code) {
			json_t *e = ptc_recv_type(c, "error", PT_T_REPLY_MS);
			if (!e)
				pt_fail("row %d (%s): no error reply (close code %d)", x.row, rw->name,
				        ptc_wait_close(c, 0));
			if (!pt_jstr(e, "code") || strcmp(pt_jstr(e, "code"), rw->code))
				pt_fail("row %d (%s): error %s, want %s", x.row, rw->name,
				        pt_jstr(e, "code") ? pt_jstr(e, "code") : "?", rw->code);
			PT_CHECK(pt_jstr(e, "message"), "row %d: error without message", x.row);
			json_decref(e);
			/* An error never closes the connection by itself. */
			ptc_roundtrip(c);
		}
		if (rw->close) {
			int code = ptc_wait_close(c, PT_T_REPLY_MS);
			PT_CHECK(code == rw->close, "row %d (%s): close code %d, want %d", x.row, rw->name,
			         code, rw->close);
		}
		ptc_close(c);
		good_round_trip(&x);
	}
	ptc_close(x.g1);
	ptc_close(x.g2);
	assert_int_equal(ptd_stop(x.d), 0);
}

/* -- limits with daemons of their own --------------------------------------- */

static void test_server_full(void **state)
{
	pt_daemon *d = ptd_start("allow_missing_origin = yes\nmax_connections = 3\n");
	ptc *c[3];
	ptr *extra;
	(void)state;

	for (int i = 0; i < 3; i++)
		c[i] = ptc_join(ptd_port(d), NULL);
	/* Raw: lws 4.1's client turns a received 1013 into 1002. */
	extra = ptr_connect(ptd_port(d), NULL);
	PT_CHECK(extra, "the 4th connection should upgrade, then be closed");
	assert_int_equal(ptr_wait_close(extra, PT_T_REPLY_MS), 1013);
	ptr_free(extra);
	for (int i = 0; i < 3; i++) {
		ptc_roundtrip(c[i]);
		ptc_close(c[i]);
	}
	assert_int_equal(ptd_stop(d), 0);
}

static void test_origins(void **state)
{
	static const char conf[] = "allowed_origins = https://good.example, http://127.0.0.1:8080\n";
	ptc_opts good = { .origin = "https://good.example" };
	ptc_opts good2 = { .origin = "http://127.0.0.1:8080" };
	ptc_opts evil = { .origin = "https://evil.example" };
	ptc_opts none = { 0 };
	pt_daemon *d = ptd_start("%s", conf);
	ptc *c;
	(void)state;

	ptc_close(ptc_join(ptd_port(d), &good));
	ptc_close(ptc_join(ptd_port(d), &good2));
	c = ptc_connect(ptd_port(d), &evil);
	PT_CHECK(c, "a refused origin should still upgrade, then be closed");
	assert_int_equal(ptc_wait_close(c, PT_T_REPLY_MS), 1008);
	assert_null(ptc_recv_type(c, "welcome", 0));
	ptc_close(c);
	/* Missing Origin: refused by default. */
	c = ptc_connect(ptd_port(d), &none);
	PT_CHECK(c, "connect without origin");
	assert_int_equal(ptc_wait_close(c, PT_T_REPLY_MS), 1008);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);

	/* allow_missing_origin = yes lets it in; a wrong one is still refused. */
	d = ptd_start("%sallow_missing_origin = yes\n", conf);
	c = ptc_join(ptd_port(d), &none);
	ptc_roundtrip(c);
	ptc_close(c);
	c = ptc_connect(ptd_port(d), &evil);
	PT_CHECK(c, "connect with a bad origin");
	assert_int_equal(ptc_wait_close(c, PT_T_REPLY_MS), 1008);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

/* Joins with the headers and waits for "peer ID connected from WANT". */
static void expect_addr(pt_daemon *d, const char *source, const char *const *headers,
                        const char *want)
{
	ptc_opts o = { .source = source, .headers = headers };
	ptc *c = ptc_join(ptd_port(d), &o);
	char needle[128];

	snprintf(needle, sizeof(needle), "peer %s connected from %s", ptc_id(c), want);
	PT_CHECK(ptd_wait_log(d, needle, PT_T_REPLY_MS) >= 0, "no '%s' in the log", needle);
	ptc_close(c);
}

/* needle is in exactly one line of the log, at WARN. */
static void expect_one_warning(pt_daemon *d, const char *needle)
{
	int at = ptd_wait_log(d, needle, PT_T_REPLY_MS);

	PT_CHECK(at >= 0, "no '%s' in the log", needle);
	PT_CHECK(ptd_wait_log_from(d, (size_t)at + 1, "ignored: not in trusted_proxies", 0) < 0,
	         "more than one untrusted-proxy warning");
	PT_CHECK(ptd_log_has(d, "WARN X-"), "the untrusted-proxy line is not a warning");
}

static void test_trusted_proxies(void **state)
{
	pt_daemon *d = ptd_start("allow_missing_origin = yes\nlog_level = debug\n"
	                         "trusted_proxies = 127.0.0.5, 127.0.20.0/24\n");
	static const char *const xff[] = { "X-Forwarded-For: 203.0.113.7", NULL };
	static const char *const chain[] = {
		"X-Forwarded-For: 198.51.100.66, 198.51.100.1, 127.0.20.9", NULL };
	static const char *const real[] = { "X-Real-IP: 192.0.2.44", NULL };
	(void)state;

	/* From a trusted proxy the header names the client... */
	expect_addr(d, "127.0.0.5", xff, "203.0.113.7");
	/* ...the right-most hop that is not itself a trusted proxy... */
	expect_addr(d, "127.0.20.1", chain, "198.51.100.1");
	/* ...or X-Real-IP without X-Forwarded-For. */
	expect_addr(d, "127.0.0.5", real, "192.0.2.44");
	/* From anyone else, forged headers are ignored... */
	expect_addr(d, "127.0.0.6", xff, "127.0.0.6");
	expect_addr(d, "127.0.0.6", real, "127.0.0.6");
	/* Without headers a proxy is just itself. */
	expect_addr(d, "127.0.0.5", NULL, "127.0.0.5");
	/* ...and said, once (rate-limited), never for a trusted proxy. */
	expect_one_warning(d, "X-Forwarded-For from 127.0.0.6 ignored: not in trusted_proxies");
	PT_CHECK(!ptd_log_has(d, "from 127.0.0.5 ignored") && !ptd_log_has(d, "from 127.0.20.1 ignored"),
	         "a trusted proxy's header was reported as untrusted");
	assert_int_equal(ptd_stop(d), 0);
}

/* A proxy missing from trusted_proxies (the Docker bridge gateway in front
 * of a containerised daemon, with the default empty list) gives every
 * browser its own address: the daemon says so, at most once a minute. */
static void test_untrusted_forwarding(void **state)
{
	pt_daemon *d = ptd_start("allow_missing_origin = yes\nlog_level = debug\n");
	static const char *const xff[] = { "X-Forwarded-For: 203.0.113.7", NULL };
	static const char *const real[] = { "X-Real-IP: 192.0.2.44", NULL };
	(void)state;

	expect_addr(d, "127.0.0.7", NULL, "127.0.0.7");
	PT_CHECK(!ptd_log_has(d, "ignored: not in trusted_proxies"), "warned without a proxy header");
	expect_addr(d, "127.0.0.7", real, "127.0.0.7");
	expect_addr(d, "127.0.0.8", xff, "127.0.0.8");
	expect_addr(d, "127.0.0.7", xff, "127.0.0.7");
	expect_one_warning(d, "X-Real-IP from 127.0.0.7 ignored: not in trusted_proxies");
	PT_CHECK(!ptd_log_has(d, "from 127.0.0.8 ignored"), "the warning was not rate-limited");
	assert_int_equal(ptd_stop(d), 0);
}

static void test_slow_reader(void **state)
{
	pt_daemon *d = ptd_start("allow_missing_origin = yes\nmax_message_bytes = 65536\n"
	                         "max_signal_bytes = 16000\nsend_queue_max_bytes = 65536\n"
	                         "rate_messages_per_sec = 100000\nrate_burst = 100000\n");
	ptr_opts ro = { .rcvbuf = 4096 };
	ptr *slow = ptr_connect(ptd_port(d), &ro);
	ptc *s = ptc_join(ptd_port(d), NULL);
	json_t *w, *e = NULL, *left;
	char slow_id[32], *data;
	long rss0, rss1;
	int sent = 0, code;
	(void)state;

	PT_CHECK(slow, "raw upgrade failed");
	w = ptr_recv_json(slow, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "slow reader: no welcome");
	snprintf(slow_id, sizeof(slow_id), "%s", pt_jstr(w, "id"));
	json_decref(w);
	rss0 = ptd_rss_kb(d);
	data = repeat("{\"blob\":\"", 'z', 12000, "\"}");
	/* The slow reader never reads: kernel buffers fill, then its queue. */
	for (int batch = 0; batch < 400 && !e; batch++) {
		for (int i = 0; i < 20; i++, sent++)
			ptc_send(s, "{\"type\":\"signal\",\"rid\":%d,\"to\":\"%s\",\"data\":%s}", sent,
			         slow_id, data);
		/* The pong says the server handled the whole batch. */
		ptc_send(s, "{\"type\":\"ping\"}");
		json_t *pong = ptc_recv_type(s, "pong", PT_T_REPLY_MS);
		PT_CHECK(pong, "batch %d: no pong", batch);
		json_decref(pong);
		e = ptc_recv_type(s, "error", 0);
	}
	PT_CHECK(e, "%d signals (%d MB) to a reader that never reads, and no peer-gone", sent,
	         sent * 12 / 1000);
	assert_string_equal(pt_jstr(e, "code"), "peer-gone");
	json_decref(e);
	/* From now on it is gone for everyone... */
	pt_expect_error(ptc_call(s, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", slow_id),
	                "peer-gone");
	/* ...and its partner hears it left. */
	left = ptc_recv_type(s, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left && !strcmp(pt_jstr(left, "id"), slow_id), "no peer-left for the slow reader");
	json_decref(left);
	/* Keep pushing: nothing more is queued for it. */
	for (int i = 0; i < 200; i++)
		ptc_send(s, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":%s}", slow_id, data);
	ptc_send(s, "{\"type\":\"ping\"}");
	json_decref(ptc_recv_type(s, "pong", PT_T_REPLY_MS));
	ptc_drain(s);
	rss1 = ptd_rss_kb(d);
	free(data);
	/* The queue cap bounds what it holds for the reader. Under ASan the
	 * quarantine of freed memory makes RSS meaningless: a loose bound. */
#if defined(__SANITIZE_ADDRESS__)
	const long bound_kb = 512 * 1024;
#else
	const long bound_kb = 32 * 1024;
#endif
	PT_CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < bound_kb,
	         "daemon RSS grew from %ld to %ld KiB", rss0, rss1);
	/* When it finally reads, it finds the close code after what fitted. */
	code = ptr_wait_close(slow, 10000);
	PT_CHECK(code == 4002 || code == -1, "slow reader: close code %d", code);
	ptr_free(slow);
	ptc_roundtrip(s);
	ptc_close(s);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_table, pt_teardown),
		cmocka_unit_test_teardown(test_server_full, pt_teardown),
		cmocka_unit_test_teardown(test_origins, pt_teardown),
		cmocka_unit_test_teardown(test_trusted_proxies, pt_teardown),
		cmocka_unit_test_teardown(test_untrusted_forwarding, pt_teardown),
		cmocka_unit_test_teardown(test_slow_reader, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
