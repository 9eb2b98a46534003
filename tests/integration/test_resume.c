/* test_resume.c — resumable sessions against a real daemon: a peer whose
 * connection drops (no close frame) gets its id, hashes and the signals
 * sent meanwhile back; lookups skip it and its contacts hear peer-left only
 * when the window ends; tokens are single-use, bound to their id, refused
 * for a live connection, after the window and after a restart; held
 * signals and resumable sessions are bounded; metrics count it all. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\nlog_level = debug\n"

/* A peer on a raw socket, so the test can drop it without a close frame. */
typedef struct rpeer {
	ptr *r;
	char id[32];
	char token[64];
} rpeer;

static void rjoin(rpeer *p, int port)
{
	json_t *w;

	p->r = ptr_connect(port, NULL);
	PT_CHECK(p->r, "raw connect failed");
	w = ptr_recv_json(p->r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "no welcome");
	snprintf(p->id, sizeof(p->id), "%s", pt_jstr(w, "id"));
	snprintf(p->token, sizeof(p->token), "%s", pt_jstr(w, "resume_token"));
	PT_CHECK(strlen(p->token) == 48, "welcome without a 48-character resume_token: '%s'", p->token);
	PT_CHECK(pt_jint(w, "resume_window_ms") > 0, "welcome without resume_window_ms");
	json_decref(w);
}

static json_t *rcall(rpeer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *rcall(rpeer *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	PT_CHECK(ptr_send_text(p->r, msg) == 0, "send failed");
	return ptr_recv_json(p->r, PT_T_REPLY_MS);
}

/* Drops the TCP connection without a close frame (a phone changing
 * network), then waits until the daemon noticed. */
static void rdrop(pt_daemon *d, rpeer *p)
{
	size_t mark = ptd_log_count(d);
	char needle[64];

	ptr_free(p->r);
	p->r = NULL;
	snprintf(needle, sizeof(needle), "peer %s parked", p->id);
	PT_CHECK(ptd_wait_log_from(d, mark, needle, PT_T_REPLY_MS) >= 0, "%s: not parked", p->id);
}

/* A new connection that resumes with token: the first message after its
 * welcome. Returns the reply (resumed or error); *fresh gets the new
 * connection's own id. */
static json_t *resume(rpeer *p, int port, const char *token, char fresh[32])
{
	json_t *w, *r;

	p->r = ptr_connect(port, NULL);
	PT_CHECK(p->r, "raw connect failed");
	w = ptr_recv_json(p->r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "no welcome");
	if (fresh)
		snprintf(fresh, 32, "%s", pt_jstr(w, "id"));
	snprintf(p->id, sizeof(p->id), "%s", pt_jstr(w, "id"));
	snprintf(p->token, sizeof(p->token), "%s", pt_jstr(w, "resume_token"));
	json_decref(w);
	r = rcall(p, "{\"type\":\"resume\",\"rid\":\"r\",\"token\":\"%s\"}", token);
	PT_CHECK(r, "no answer to resume");
	if (pt_jtype_is(r, "resumed")) {
		snprintf(p->id, sizeof(p->id), "%s", pt_jstr(r, "id"));
		snprintf(p->token, sizeof(p->token), "%s", pt_jstr(r, "resume_token"));
	}
	return r;
}

static void expect_refusal(json_t *r, const char *code, rpeer *p, const char *fresh)
{
	PT_CHECK(pt_jtype_is(r, "error"), "resume not refused");
	PT_CHECK(!strcmp(pt_jstr(r, "code"), code), "refused with %s, want %s", pt_jstr(r, "code"), code);
	PT_CHECK(!strcmp(pt_jstr(r, "rid"), "r"), "refusal without the rid");
	json_decref(r);
	/* The connection goes on under its new id. */
	PT_CHECK(!strcmp(p->id, fresh), "id changed on a refused resume");
	r = rcall(p, "{\"type\":\"ping\"}");
	PT_CHECK(pt_jtype_is(r, "pong"), "refused connection no longer works");
	json_decref(r);
}

static void test_resume_restores(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	ptc *b = ptc_join(port, NULL), *asker = ptc_join(port, NULL);
	rpeer a = {0};
	char hash[2][65], ids[4][32], old_id[32], old_token[64], fresh[32];
	json_t *r, *m;
	(void)state;

	rjoin(&a, port);
	pt_hash_of(1, 15, hash[0]);
	pt_hash_of(2, 15, hash[1]);
	r = rcall(&a, "{\"type\":\"announce\",\"hashes\":[\"%s\",\"%s\"]}", hash[0], hash[1]);
	PT_CHECK(pt_jtype_is(r, "ack") && pt_jint(r, "total") == 2, "announce failed");
	json_decref(r);
	/* a and b are contacts: b would hear peer-left if a left. */
	ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":0}}", a.id);
	r = ptr_recv_json(a.r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(r, "signal"), "first signal not relayed");
	json_decref(r);
	assert_int_equal(ptc_lookup(asker, hash[0], 0, ids, 4), 1);

	snprintf(old_id, sizeof(old_id), "%s", a.id);
	snprintf(old_token, sizeof(old_token), "%s", a.token);
	rdrop(d, &a);
	/* During the gap: not offered, signals held (no peer-gone), no peer-left. */
	assert_int_equal(ptc_lookup(asker, hash[0], 0, ids, 4), 0);
	for (int i = 1; i <= 3; i++)
		ptc_send(b, "{\"type\":\"signal\",\"rid\":%d,\"to\":\"%s\",\"data\":{\"n\":%d}}", i, old_id, i);
	ptc_roundtrip(b);
	assert_null(ptc_recv_type(b, "error", 0));
	assert_null(ptc_recv_type(b, "peer-left", 0));
	PT_CHECK(ptd_metric(d, "peertrack_resumable_sessions") == 1, "gauge is not 1");
	PT_CHECK(ptd_metric(d, "peertrack_peers") == 2, "the parked peer counts as live");

	r = resume(&a, port, old_token, fresh);
	PT_CHECK(pt_jtype_is(r, "resumed"), "resume refused: %s", pt_jstr(r, "code"));
	PT_CHECK(!strcmp(pt_jstr(r, "id"), old_id), "resumed under another id");
	PT_CHECK(strcmp(fresh, old_id) != 0, "the new connection had the old id at once");
	PT_CHECK(pt_jint(r, "hashes") == 2, "hashes not restored");
	PT_CHECK(pt_jint(r, "held") == 3, "held: %lld", pt_jint(r, "held"));
	PT_CHECK(strlen(pt_jstr(r, "resume_token")) == 48 && strcmp(pt_jstr(r, "resume_token"), old_token),
	         "no fresh token");
	PT_CHECK(!strcmp(pt_jstr(r, "rid"), "r"), "resumed without the rid");
	json_decref(r);
	/* The signals sent during the gap, in order, from b. */
	for (int i = 1; i <= 3; i++) {
		m = ptr_recv_json(a.r, PT_T_REPLY_MS);
		PT_CHECK(pt_jtype_is(m, "signal"), "held signal %d not delivered", i);
		PT_CHECK(!strcmp(pt_jstr(m, "from"), ptc_id(b)), "held signal from the wrong peer");
		PT_CHECK(pt_jint(json_object_get(m, "data"), "n") == i, "held signals out of order");
		json_decref(m);
	}
	/* Offered again, reachable under the old id, and b never heard peer-left. */
	assert_int_equal(ptc_lookup(asker, hash[1], 0, ids, 4), 1);
	assert_string_equal(ids[0], old_id);
	ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":9}}", old_id);
	m = ptr_recv_json(a.r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(m, "signal") && pt_jint(json_object_get(m, "data"), "n") == 9,
	         "signal after the resume not relayed");
	json_decref(m);
	assert_null(ptc_recv_type(b, "peer-left", 200));
	/* The fresh id the resuming connection got first is gone. */
	r = ptc_call(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", fresh);
	pt_expect_error(r, "peer-gone");
	PT_CHECK(ptd_metric(d, "peertrack_resumes_total") == 1, "resumes_total");
	PT_CHECK(ptd_metric(d, "peertrack_resumable_sessions") == 0, "gauge not back to 0");
	PT_CHECK(ptd_metric(d, "peertrack_peers") == 3, "live peers after the resume");

	/* Used once: the same token again is refused, and that connection
	 * keeps its new id. */
	{
		rpeer again = {0};
		char fresh2[32];

		r = resume(&again, port, old_token, fresh2);
		expect_refusal(r, "resume-reused", &again, fresh2);
		ptr_free(again.r);
	}
	ptr_free(a.r);
	ptc_close(b);
	ptc_close(asker);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_refusals(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	rpeer live = {0}, thief = {0}, x = {0};
	char fresh[32], forged[64];
	json_t *r;
	(void)state;

	rjoin(&live, port);
	/* Theft: another connection presents a live peer's token. Refused,
	 * and the live peer is untouched. */
	r = resume(&thief, port, live.token, fresh);
	expect_refusal(r, "resume-live", &thief, fresh);
	r = rcall(&live, "{\"type\":\"ping\",\"rid\":1}");
	PT_CHECK(pt_jtype_is(r, "pong"), "the live peer was disturbed by the theft attempt");
	json_decref(r);
	ptr_free(thief.r);

	/* A forged secret for a real (parked) id: invalid, and the parked
	 * peer stays resumable. */
	rdrop(d, &live);
	snprintf(forged, sizeof(forged), "%.24sAAAAAAAAAAAAAAAAAAAAAAAA", live.token);
	r = resume(&thief, port, forged, fresh);
	expect_refusal(r, "resume-invalid", &thief, fresh);
	ptr_free(thief.r);
	r = resume(&thief, port, "not-a-token", fresh);
	expect_refusal(r, "resume-invalid", &thief, fresh);
	ptr_free(thief.r);
	r = resume(&x, port, live.token, fresh);
	PT_CHECK(pt_jtype_is(r, "resumed"), "the real token failed after forgeries");
	json_decref(r);

	/* resume is only for the first message. */
	r = rcall(&x, "{\"type\":\"resume\",\"token\":\"%s\"}", x.token);
	pt_expect_error(r, "bad-message");
	ptr_free(x.r);

	/* A client that says goodbye (close frame) is not parked. */
	{
		ptc *c = ptc_join(port, NULL), *o = ptc_join(port, NULL);
		json_t *w;

		ptc_send(o, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", ptc_id(c));
		w = ptc_recv_type(c, "signal", PT_T_REPLY_MS);
		PT_CHECK(w, "signal not relayed");
		json_decref(w);
		ptc_close(c);
		w = ptc_recv_type(o, "peer-left", PT_T_REPLY_MS);
		PT_CHECK(w, "no immediate peer-left after a clean close");
		json_decref(w);
		ptc_close(o);
	}
	PT_CHECK(ptd_metric(d, "peertrack_errors_total{code=\"resume-live\"}") == 1, "resume-live count");
	PT_CHECK(ptd_metric(d, "peertrack_errors_total{code=\"resume-invalid\"}") == 2, "resume-invalid count");
	assert_int_equal(ptd_stop(d), 0);
}

static void test_expiry_and_restart(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "resume_window_ms = 600\n");
	int port = ptd_port(d);
	ptc *b = ptc_join(port, NULL);
	rpeer a = {0};
	char fresh[32], id[32], token[64];
	uint64_t t0;
	json_t *r, *left;
	(void)state;

	rjoin(&a, port);
	ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", a.id);
	r = ptr_recv_json(a.r, PT_T_REPLY_MS);
	json_decref(r);
	snprintf(id, sizeof(id), "%s", a.id);
	snprintf(token, sizeof(token), "%s", a.token);
	rdrop(d, &a);
	t0 = pt_now_ms();
	/* peer-left only once the window ended. */
	left = ptc_recv_type(b, "peer-left", 5000);
	PT_CHECK(left, "no peer-left after the window");
	PT_CHECK(pt_now_ms() - t0 >= 500, "peer-left after %llu ms, before the window ended",
	         (unsigned long long)(pt_now_ms() - t0));
	PT_CHECK(!strcmp(pt_jstr(left, "id"), id), "peer-left for another id");
	json_decref(left);
	r = resume(&a, port, token, fresh);
	expect_refusal(r, "resume-expired", &a, fresh);
	PT_CHECK(ptd_metric(d, "peertrack_resume_expired_total") == 1, "expired count");

	/* Tokens do not survive a restart. */
	snprintf(token, sizeof(token), "%s", a.token);
	ptr_free(a.r);
	a.r = NULL;
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
	d = ptd_start(BASE_CONF);
	r = resume(&a, ptd_port(d), token, fresh);
	expect_refusal(r, "resume-expired", &a, fresh);
	ptr_free(a.r);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_bounds(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "resume_max_held_signals = 2\nresume_max_sessions = 2\n");
	int port = ptd_port(d);
	ptc *b = ptc_join(port, NULL);
	rpeer p[3] = { {0} };
	char fresh[32], ids[3][32], tokens[3][64];
	json_t *r;
	(void)state;

	for (int i = 0; i < 3; i++) {
		rjoin(&p[i], port);
		snprintf(ids[i], 32, "%s", p[i].id);
		snprintf(tokens[i], 64, "%s", p[i].token);
		ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", p[i].id);
		json_decref(ptr_recv_json(p[i].r, PT_T_REPLY_MS));
	}
	/* Held signals: two are held, the third is peer-gone. */
	rdrop(d, &p[2]);
	for (int i = 0; i < 2; i++)
		ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":%d}}", ids[2], i);
	ptc_roundtrip(b);
	assert_null(ptc_recv_type(b, "error", 0));
	r = ptc_call(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":2}}", ids[2]);
	pt_expect_error(r, "peer-gone");
	PT_CHECK(ptd_metric(d, "peertrack_resume_held_total{result=\"refused\"}") == 1, "refused count");

	/* Sessions: the third parked evicts the oldest (p[2]), whose contact
	 * hears peer-left at once. */
	rdrop(d, &p[0]);
	assert_null(ptc_recv_type(b, "peer-left", 0));
	rdrop(d, &p[1]);
	r = ptc_recv_type(b, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(r && !strcmp(pt_jstr(r, "id"), ids[2]), "the oldest was not the one evicted");
	json_decref(r);
	PT_CHECK(ptd_metric(d, "peertrack_resumable_sessions") == 2, "more than resume_max_sessions");
	PT_CHECK(ptd_metric(d, "peertrack_resume_evicted_total") == 1, "evicted count");
	r = resume(&p[2], port, tokens[2], fresh);
	expect_refusal(r, "resume-expired", &p[2], fresh);
	for (int i = 0; i < 2; i++) {
		r = resume(&p[i], port, tokens[i], fresh);
		PT_CHECK(pt_jtype_is(r, "resumed") && !strcmp(pt_jstr(r, "id"), ids[i]),
		         "peer %d not resumable", i);
		json_decref(r);
	}
	for (int i = 0; i < 3; i++)
		ptr_free(p[i].r);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

/* resume_window_ms = 0: no token, and a drop is an immediate departure. */
static void test_off(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "resume_window_ms = 0\n");
	ptc *c = ptc_connect(ptd_port(d), NULL);
	json_t *w;
	(void)state;

	PT_CHECK(c, "connect");
	w = ptc_take_welcome(c);
	PT_CHECK(!json_object_get(w, "resume_token"), "a token although resuming is off");
	json_decref(w);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_resume_restores, pt_teardown),
		cmocka_unit_test_teardown(test_refusals, pt_teardown),
		cmocka_unit_test_teardown(test_expiry_and_restart, pt_teardown),
		cmocka_unit_test_teardown(test_bounds, pt_teardown),
		cmocka_unit_test_teardown(test_off, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
