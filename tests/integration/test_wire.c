/* test_wire.c — what hostile probing found at the edges of the wire, against
 * a real daemon: close frames with invalid codes or text are not echoed
 * (RFC 6455 7.4) while valid ones are; an "Upgrade: h2c" request does not
 * switch the connection to HTTP/2; signal.data may nest as deep as the
 * documented 2048 levels; an out-of-range number keeps the rid in the
 * error; client-triggered refusals do not flood the log. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define BASE_CONF "[security]\nallow_missing_origin = yes\n"

/* Sends a close frame with this payload; returns the code of the close
 * frame that comes back (0 without code, -1 none), its payload in *echo. */
static int close_with(int port, const void *payload, size_t len, char **echo)
{
	ptr *r = ptr_connect(port, NULL);
	int op = -1, code = -1;
	char *d = NULL;
	long n;

	PT_CHECK(r, "raw upgrade failed");
	json_decref(ptr_recv_json(r, PT_T_REPLY_MS)); /* welcome */
	PT_CHECK(ptr_send_frame(r, PTR_CLOSE, true, true, payload, len) == 0, "send close");
	*echo = NULL;
	while ((n = ptr_recv_frame(r, &op, &d, PT_T_REPLY_MS)) >= 0) {
		if (op == PTR_CLOSE) {
			code = n >= 2 ? ((unsigned char)d[0] << 8) | (unsigned char)d[1] : 0;
			*echo = d;
			break;
		}
		free(d);
	}
	ptr_free(r);
	return code;
}

static void test_close_codes(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	static const struct {
		unsigned char p[8];
		size_t len;
		int want; /* the code that must come back */
	} cases[] = {
		{ { 0x03, 0xe8 }, 2, 1000 },                    /* normal: echoed */
		{ { 0x0f, 0xa0, 'b', 'y', 'e' }, 5, 4000 },    /* private code with text: echoed */
		{ { 0x03, 0xf1 }, 2, 1009 },                    /* 1009: echoed */
		{ { 0x00, 0x00 }, 2, 1002 },                    /* 0 */
		{ { 0x03, 0xe7 }, 2, 1002 },                    /* 999 */
		{ { 0x03, 0xec }, 2, 1002 },                    /* 1004, reserved */
		{ { 0x03, 0xed }, 2, 1002 },                    /* 1005, never on the wire */
		{ { 0x03, 0xee }, 2, 1002 },                    /* 1006, never on the wire */
		{ { 0x03, 0xf7 }, 2, 1002 },                    /* 1015, never on the wire */
		{ { 0x07, 0xd0 }, 2, 1002 },                    /* 2000 */
		{ { 0x13, 0x88 }, 2, 1002 },                    /* 5000 */
		{ { 0x03 }, 1, 1002 },                          /* a one-byte payload */
		{ { 0x03, 0xe8, 0xff, 0xfe }, 4, 1002 },        /* reason not UTF-8 */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *echo;
		int got = close_with(port, cases[i].p, cases[i].len, &echo);

		PT_CHECK(got == cases[i].want, "close case %zu: got %d, want %d", i, got, cases[i].want);
		if (cases[i].want != 1002)
			PT_CHECK(!memcmp(echo, cases[i].p, cases[i].len), "close case %zu: not echoed", i);
		free(echo);
	}
	/* The daemon is unharmed. */
	ptc *c = ptc_join(port, NULL);
	ptc_roundtrip(c);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

/* The status line of the answer to a raw request, "" if none. */
static void raw_http(int port, const char *req, char *status, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[4096];
	size_t got = 0;
	uint64_t deadline = pt_now_ms() + PT_T_REPLY_MS;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	status[0] = '\0';
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	PT_CHECK(fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)), "connect");
	PT_CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req), "write");
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pt_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	snprintf(status, len, "%.*s", (int)strcspn(buf, "\r\n"), buf);
}

static void test_no_h2c(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	char status[256], req[512];
	static const char *const paths[] = { "/", "/v1", "/healthz" };
	(void)state;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(req, sizeof(req),
		         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		         "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", paths[i]);
		raw_http(ptd_port(d), req, status, sizeof(status));
		PT_CHECK(!strstr(status, " 101"), "Upgrade: h2c on %s switched protocols: %s", paths[i],
		         status);
	}
	/* Plain requests and WebSocket upgrades still work. */
	raw_http(ptd_port(d), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", status, sizeof(status));
	assert_string_equal(status, "HTTP/1.1 200 OK");
	ptc *c = ptc_join(ptd_port(d), NULL);
	ptc_roundtrip(c);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

/* head, `levels` nested arrays (empty inside), tail. */
static char *nested(const char *head, size_t levels, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + 2 * levels + tl + 1);

	PT_CHECK(s, "out of memory");
	memcpy(s, head, hl);
	memset(s + hl, '[', levels);
	memset(s + hl + levels, ']', levels);
	memcpy(s + hl + 2 * levels, tail, tl + 1);
	return s;
}

/* head, `levels` nested {"a": objects around the number 1, tail. */
static char *nested_objects(const char *head, size_t levels, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + 6 * levels + 1 + tl + 1), *p = s;

	PT_CHECK(s, "out of memory");
	p += sprintf(p, "%s", head);
	for (size_t i = 0; i < levels; i++)
		p += sprintf(p, "{\"a\":");
	*p++ = '1';
	memset(p, '}', levels);
	p += levels;
	memcpy(p, tail, tl + 1);
	return s;
}

/* PROTOCOL.md: nesting deeper than 2048 levels is bad-message; 2048 is
 * fine, for signal as for ping (the frame's object is level 1). */
static void test_signal_nesting(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "max_signal_bytes = 16000\nmax_message_bytes = 32768\n");
	ptc *a = ptc_join(ptd_port(d), NULL), *b = ptc_join(ptd_port(d), NULL);
	char head[128];
	json_t *r;
	(void)state;

	/* Levels: the frame (1), data (2), then the arrays. */
	snprintf(head, sizeof(head), "{\"type\":\"signal\",\"rid\":1,\"to\":\"%s\",\"data\":{\"x\":",
	         ptc_id(b));
	char *ok = nested(head, 2046, "}}"), *deep = nested(head, 2047, "}}");
	ptc_send_raw(a, ok, strlen(ok), false);
	r = ptc_recv_type(b, "signal", PT_T_REPLY_MS);
	PT_CHECK(r, "a signal 2048 levels deep was not relayed (%s)", ptc_pending(a) ? "error" : "nothing");
	json_decref(r);
	ptc_send_raw(a, deep, strlen(deep), false);
	r = ptc_recv(a, PT_T_REPLY_MS);
	pt_expect_error(r, "bad-message");
	free(ok);
	free(deep);

	/* data as nested objects with a number at the bottom: data is level
	 * 2, its k-th nested object k + 2, the number below the last one. */
	snprintf(head, sizeof(head), "{\"type\":\"signal\",\"rid\":3,\"to\":\"%s\",\"data\":", ptc_id(b));
	ok = nested_objects(head, 2046, "}");   /* the number at 2048 */
	deep = nested_objects(head, 2047, "}"); /* at 2049 */
	ptc_send_raw(a, ok, strlen(ok), false);
	r = ptc_recv_type(b, "signal", PT_T_REPLY_MS);
	PT_CHECK(r, "a signal whose data holds a number at level 2048 was not relayed");
	json_decref(r);
	ptc_send_raw(a, deep, strlen(deep), false);
	r = ptc_recv(a, PT_T_REPLY_MS);
	pt_expect_error(r, "bad-message");
	free(ok);
	free(deep);

	/* The same bound on ping, with arrays and with objects. */
	char *ping_ok = nested("{\"type\":\"ping\",\"rid\":2,\"x\":", 2047, "}");
	r = ptc_call(a, "%s", ping_ok);
	PT_CHECK(pt_jtype_is(r, "pong"), "a ping 2048 levels deep was refused");
	json_decref(r);
	free(ping_ok);
	ping_ok = nested_objects("{\"type\":\"ping\",\"rid\":4,\"x\":", 2046, "}");
	r = ptc_call(a, "%s", ping_ok);
	PT_CHECK(pt_jtype_is(r, "pong"), "a ping holding a number at level 2048 was refused");
	json_decref(r);
	free(ping_ok);
	ping_ok = nested_objects("{\"type\":\"ping\",\"rid\":5,\"x\":", 2047, "}");
	r = ptc_call(a, "%s", ping_ok);
	pt_expect_error(r, "bad-message");
	free(ping_ok);
	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_out_of_range_keeps_rid(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptc *a = ptc_join(ptd_port(d), NULL);
	json_t *r;
	(void)state;

	r = ptc_call(a, "{\"type\":\"report\",\"rid\":41,\"from_peers\":99999999999999999999}");
	assert_int_equal(pt_jint(r, "rid"), 41);
	pt_expect_error(r, "bad-message");
	r = ptc_call(a, "{\"type\":\"lookup\",\"rid\":\"q\",\"hash\":\"x\",\"max\":-99999999999999999999}");
	PT_CHECK(pt_jstr(r, "rid") && !strcmp(pt_jstr(r, "rid"), "q"), "string rid lost");
	pt_expect_error(r, "bad-message");
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

/* Refusals a client causes at will are logged once per 10 s per reason,
 * the rest counted: a burst of 20 bad origins is one line at once and one
 * count line after the interval, not 20 lines. Counted in /metrics too. */
static void test_refusal_log(void **state)
{
	pt_daemon *d = ptd_start("[security]\nallowed_origins = https://good.example\n");
	ptc_opts o = { .origin = "https://evil.example" };
	int first, second;
	(void)state;

	for (int i = 0; i < 20; i++) {
		ptc *c = ptc_connect(ptd_port(d), &o);

		PT_CHECK(c, "connect %d: %s", i, ptc_last_error());
		assert_int_equal(ptc_wait_close(c, PT_T_REPLY_MS), 1008);
		ptc_close(c);
	}
	first = ptd_wait_log(d, "origin 'https://evil.example' not allowed", PT_T_REPLY_MS);
	PT_CHECK(first >= 0, "no line for the first refusal");
	second = ptd_wait_log(d, "refused 19 more client(s) for origin in the last 10 s", 15000);
	PT_CHECK(second > first, "no count line for the other 19");
	PT_CHECK(ptd_wait_log_from(d, (size_t)first + 1, "not allowed", 0) < 0,
	         "a second refusal line within the interval");
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_close_codes, pt_teardown),
		cmocka_unit_test_teardown(test_no_h2c, pt_teardown),
		cmocka_unit_test_teardown(test_signal_nesting, pt_teardown),
		cmocka_unit_test_teardown(test_out_of_range_keeps_rid, pt_teardown),
		cmocka_unit_test_teardown(test_refusal_log, pt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, pt_teardown);
}
