/* test_badpeer.c — the v1 `bad-peer` report against a real daemon: a hash
 * is withdrawn from the reported peer only once bad_peer_reports different
 * networks (here 127.0.0.2 and 127.0.0.3) said it served bad bytes; one
 * reporter, however many connections it opens from one address, cannot
 * evict anyone; reports without a recent signal, about a hash the peer
 * does not hold, or about a peer that is gone do not count; malformed
 * reports get their stable errors; metrics and the admin status count it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define CONF "allow_missing_origin = yes\nbad_peer_reports = 2\nbad_peer_max_reports = 4\n"

static ptc *from(int port, const char *source)
{
	ptc_opts o = { .source = source };

	return ptc_join(port, &o);
}

/* r signals the liar once (as a fetcher's offer would), so they are contacts. */
static void contact(ptc *r, ptc *liar)
{
	json_t *s;

	ptc_send(r, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"sid\":\"x.1\",\"bye\":true}}", ptc_id(liar));
	s = ptc_recv_type(liar, "signal", PT_T_REPLY_MS);
	PT_CHECK(s, "the liar got no signal");
	json_decref(s);
}

/* The ack's count: 1 counted, 0 ignored. */
static long long report(ptc *r, ptc *liar, const char *hash)
{
	json_t *a = ptc_call(r, "{\"type\":\"bad-peer\",\"rid\":\"b\",\"peer\":\"%s\",\"hash\":\"%s\"}",
	                     ptc_id(liar), hash);
	long long n;

	PT_CHECK(pt_jtype_is(a, "ack"), "bad-peer not acked: %s", a ? pt_jstr(a, "code") : "(nothing)");
	PT_CHECK(!strcmp(pt_jstr(a, "rid"), "b"), "ack without the rid");
	n = pt_jint(a, "count");
	json_decref(a);
	return n;
}

static int holders(ptc *c, const char *hash)
{
	char ids[4][32];

	return ptc_lookup(c, hash, 4, ids, 4);
}

static void test_threshold(void **state)
{
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptc *liar = from(port, "127.0.0.1"), *a = from(port, "127.0.0.2"), *a2 = from(port, "127.0.0.2"),
	    *b = from(port, "127.0.0.3"), *asker = from(port, "127.0.0.4");
	char h[2][65];
	(void)state;

	pt_hash_of(1, 16, h[0]);
	pt_hash_of(2, 16, h[1]);
	json_decref(ptc_hashes(liar, "announce", "a", h, 2));
	assert_int_equal(holders(asker, h[0]), 1);

	/* No signal between them yet: not counted. */
	assert_int_equal(report(a, liar, h[0]), 0);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_reports_total{result=\"ignored\"}"), 1);

	contact(a, liar);
	assert_int_equal(report(a, liar, h[0]), 1);
	/* Again, and from a second connection of the same address: one network. */
	assert_int_equal(report(a, liar, h[0]), 0);
	contact(a2, liar);
	assert_int_equal(report(a2, liar, h[0]), 0);
	assert_int_equal(holders(asker, h[0]), 1);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_withdrawals_total"), 0);

	/* A second network agrees: the hash leaves the liar, the other stays. */
	contact(b, liar);
	assert_int_equal(report(b, liar, h[0]), 1);
	assert_int_equal(holders(asker, h[0]), 0);
	assert_int_equal(holders(asker, h[1]), 1);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_withdrawals_total"), 1);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_reports_total{result=\"counted\"}"), 2);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_reports_total{result=\"ignored\"}"), 3);

	/* Not held any more: a late report does not count. */
	assert_int_equal(report(b, liar, h[0]), 0);
	ptc_close(a);
	ptc_close(a2);
	ptc_close(b);
	ptc_close(asker);
	ptc_close(liar);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_refusals(void **state)
{
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptc *liar = from(port, "127.0.0.1"), *a = from(port, "127.0.0.2");
	char h[1][65], gone[32];
	json_t *r;
	(void)state;

	pt_hash_of(1, 17, h[0]);
	json_decref(ptc_hashes(liar, "announce", "a", h, 1));
	r = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":1,\"peer\":\"short\",\"hash\":\"%s\"}", h[0]);
	pt_expect_error(r, "bad-message");
	r = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":1,\"peer\":\"%s\"}", ptc_id(liar));
	pt_expect_error(r, "bad-message");
	r = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":1,\"peer\":\"%s\",\"hash\":\"%.63s\"}", ptc_id(liar), h[0]);
	pt_expect_error(r, "bad-hash");
	r = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":1,\"peer\":\"%s\",\"hash\":\"%s\"}", ptc_id(a), h[0]);
	pt_expect_error(r, "bad-message");

	/* A hash the liar does not hold, then a liar that left: not counted. */
	contact(a, liar);
	{
		char other[65];
		json_t *x;

		pt_hash_of(2, 17, other);
		x = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":2,\"peer\":\"%s\",\"hash\":\"%s\"}", ptc_id(liar), other);
		PT_CHECK(pt_jtype_is(x, "ack") && pt_jint(x, "count") == 0, "report of a hash not held counted");
		json_decref(x);
	}
	snprintf(gone, sizeof(gone), "%s", ptc_id(liar));
	ptc_close(liar);
	r = ptc_recv_type(a, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(r, "no peer-left");
	json_decref(r);
	r = ptc_call(a, "{\"type\":\"bad-peer\",\"rid\":3,\"peer\":\"%s\",\"hash\":\"%s\"}", gone, h[0]);
	PT_CHECK(pt_jtype_is(r, "ack") && pt_jint(r, "count") == 0, "report of a gone peer counted");
	json_decref(r);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_reports_total{result=\"counted\"}"), 0);
	assert_int_equal((int)ptd_metric(d, "peertrack_bad_peer_reports_total{result=\"ignored\"}"), 2);
	/* The three that parsed (reporting yourself included). */
	assert_int_equal((int)ptd_metric(d, "peertrack_messages_total{type=\"bad-peer\"}"), 3);
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_threshold, pt_teardown),
		cmocka_unit_test_teardown(test_refusals, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
