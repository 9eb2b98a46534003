/* test_matching.c — lookup order and index removal, against a real daemon:
 * proximity by source address (clients bound to several 127.x addresses),
 * load spreading over equal holders, the random strategy, and removal from
 * the index on close and on heartbeat timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

/* log_level stays at its default (info) unless a test sets it. */
#define BASE_CONF                                   \
	"allow_missing_origin = yes\n"                  \
	"max_connections_per_ip = 200\n"                \
	"rate_messages_per_sec = 2000\nrate_burst = 2000\n"

static ptc *join_from(int port, const char *source)
{
	ptc_opts o = { .source = source };
	ptc *c = ptc_join(port, &o);
	char addr[64];

	/* The whole file rests on this: the socket really is bound there. */
	PT_CHECK(ptc_local_addr(c, addr, sizeof(addr), NULL) == 0 && !strcmp(addr, source),
	         "client meant to be at %s is at %s", source, addr);
	return c;
}

static void announce1(ptc *c, const char *hash)
{
	char h[1][65];
	json_t *r;

	memcpy(h[0], hash, 65);
	r = ptc_hashes(c, "announce", NULL, h, 1);
	PT_CHECK(pt_jtype_is(r, "ack") && pt_jint(r, "total") >= 1, "announce refused");
	json_decref(r);
}

static void test_proximity_order(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	/* Announced in scrambled order: other, /16, same IP, /24. */
	static const char *const where[4] = { "127.9.9.9", "127.1.9.9", "127.1.2.3", "127.1.2.9" };
	static const int rank[4] = { 3, 2, 0, 1 }; /* expected position of each */
	ptc *asker, *h[4];
	char hash[65], ids[8][32];
	(void)state;

	pt_hash_of(42, 7, hash);
	asker = join_from(port, "127.1.2.3");
	for (int i = 0; i < 4; i++) {
		h[i] = join_from(port, where[i]);
		announce1(h[i], hash);
	}
	/* Proximity outranks load spreading: the same order every time. */
	for (int round = 0; round < 5; round++) {
		int n = ptc_lookup(asker, hash, 0, ids, 8);

		assert_int_equal(n, 4);
		for (int i = 0; i < 4; i++)
			PT_CHECK(!strcmp(ids[rank[i]], ptc_id(h[i])),
			         "round %d: the holder at %s should be at position %d", round, where[i],
			         rank[i]);
	}
	/* With max 2: the two closest. */
	assert_int_equal(ptc_lookup(asker, hash, 2, ids, 8), 2);
	assert_string_equal(ids[0], ptc_id(h[2]));
	assert_string_equal(ids[1], ptc_id(h[3]));

	ptc_close(asker);
	for (int i = 0; i < 4; i++)
		ptc_close(h[i]);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_load_spreading(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	enum { HOLDERS = 5, ASKERS = 4, LOOKUPS = 40 };
	ptc *h[HOLDERS], *a[ASKERS];
	int firsts[HOLDERS] = {0}, covered = 0;
	char hash[65], ids[8][32], src[32];
	(void)state;

	pt_hash_of(5, 5, hash);
	/* Holders all in 127.8/16, askers in 127.7/16: equally far. */
	for (int i = 0; i < HOLDERS; i++) {
		snprintf(src, sizeof(src), "127.8.%d.1", i + 1);
		h[i] = join_from(port, src);
		announce1(h[i], hash);
	}
	for (int i = 0; i < ASKERS; i++) {
		snprintf(src, sizeof(src), "127.7.%d.1", i + 1);
		a[i] = join_from(port, src);
	}
	for (int n = 0; n < LOOKUPS; n++) {
		int got = ptc_lookup(a[n % ASKERS], hash, 1, ids, 8);

		assert_int_equal(got, 1);
		for (int i = 0; i < HOLDERS; i++)
			if (!strcmp(ids[0], ptc_id(h[i])))
				firsts[i]++;
	}
	for (int i = 0; i < HOLDERS; i++)
		covered += firsts[i] > 0;
	PT_CHECK(covered >= 2, "%d lookups always named the same first holder", LOOKUPS);
	/* Least recently handed out first: nobody should take more than half. */
	for (int i = 0; i < HOLDERS; i++)
		PT_CHECK(firsts[i] <= LOOKUPS / 2, "holder %d was first %d of %d times", i, firsts[i],
		         LOOKUPS);

	for (int i = 0; i < HOLDERS; i++)
		ptc_close(h[i]);
	for (int i = 0; i < ASKERS; i++)
		ptc_close(a[i]);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_random_strategy(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "match_strategy = random\nmax_lookup_peers = 10\n");
	int port = ptd_port(d);
	enum { HOLDERS = 6 };
	ptc *h[HOLDERS], *asker;
	char hash[65], ids[16][32];
	static const char *const where[HOLDERS] = { "127.1.2.3", "127.1.2.9", "127.1.9.9",
		                                        "127.9.9.9", "127.3.3.3", "127.1.2.4" };
	(void)state;

	pt_hash_of(77, 1, hash);
	asker = join_from(port, "127.1.2.3");
	for (int i = 0; i < HOLDERS; i++) {
		h[i] = join_from(port, where[i]);
		announce1(h[i], hash);
	}
	for (int round = 0; round < 5; round++) {
		int n = ptc_lookup(asker, hash, 0, ids, 16);

		assert_int_equal(n, HOLDERS);
		for (int i = 0; i < HOLDERS; i++) {
			int seen = 0;
			for (int k = 0; k < n; k++)
				seen += !strcmp(ids[k], ptc_id(h[i]));
			PT_CHECK(seen == 1, "holder %d appears %d times", i, seen);
		}
	}
	ptc_close(asker);
	for (int i = 0; i < HOLDERS; i++)
		ptc_close(h[i]);
	assert_int_equal(ptd_stop(d), 0);
}

/* Waits until the daemon logged "peer ID left" (log_level = debug). */
static void wait_left(pt_daemon *d, const char *id)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "peer %s left", id);
	PT_CHECK(ptd_wait_log(d, needle, PT_T_REPLY_MS) >= 0, "no '%s' in the log", needle);
}

static void test_removed_on_close(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "log_level = debug\n");
	int port = ptd_port(d);
	ptc *a = ptc_join(port, NULL), *h1 = ptc_join(port, NULL), *h2 = ptc_join(port, NULL);
	char hash[65], ids[4][32], id1[32];
	(void)state;

	pt_hash_of(3, 9, hash);
	announce1(h1, hash);
	announce1(h2, hash);
	assert_int_equal(ptc_lookup(a, hash, 0, ids, 4), 2);
	snprintf(id1, sizeof(id1), "%s", ptc_id(h1));
	ptc_close(h1);
	wait_left(d, id1);
	/* The moment it has left, lookups no longer name it. */
	assert_int_equal(ptc_lookup(a, hash, 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(h2));
	ptc_close(h2);
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_removed_on_timeout(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "heartbeat_ms = 100\ntimeout_ms = 400\n");
	int port = ptd_port(d);
	ptc *a = ptc_join(port, NULL);
	ptr *r = ptr_connect(port, NULL);
	char hash[65], ids[4][32], msg[160];
	json_t *w, *ack;
	(void)state;

	PT_CHECK(r, "raw client could not upgrade");
	w = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "raw client: no welcome");
	pt_hash_of(4, 4, hash);
	snprintf(msg, sizeof(msg), "{\"type\":\"announce\",\"hashes\":[\"%s\"]}", hash);
	assert_int_equal(ptr_send_text(r, msg), 0);
	ack = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(ack, "ack"), "raw client: no ack");
	json_decref(ack);
	assert_int_equal(ptc_lookup(a, hash, 0, ids, 4), 1);
	assert_string_equal(ids[0], pt_jstr(w, "id"));
	json_decref(w);

	/* Silent from now on: pings go unanswered. The lws client a answers
	 * its pings by itself (serviced while the raw client waits). */
	assert_int_equal(ptr_wait_close(r, 3000), 4000);
	assert_int_equal(ptc_lookup(a, hash, 0, ids, 4), 0);
	assert_true(ptc_is_open(a));
	ptr_free(r);
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_proximity_order, pt_teardown),
		cmocka_unit_test_teardown(test_load_spreading, pt_teardown),
		cmocka_unit_test_teardown(test_random_strategy, pt_teardown),
		cmocka_unit_test_teardown(test_removed_on_close, pt_teardown),
		cmocka_unit_test_teardown(test_removed_on_timeout, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
