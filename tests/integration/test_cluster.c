/* test_cluster.c — several peertrackd nodes sharing one real redis-server
 * (password from a 0600 file, free 127.0.0.1 port): cross-node announce
 * and lookup with proximity ranking, signals both ways with the sender
 * stamped, peer-left across nodes, a SIGKILLed node, Redis lost and back,
 * and the bad Redis cases (wrong password, unreachable, wrong reply type). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\nresume_window_ms = 0\n"
/* Short liveness so a dead node is noticed within a second or so. */
#define FAST "cluster_heartbeat_ms = 200\ncluster_dead_ms = 1000\ncluster_timeout_ms = 500\n" \
             "cluster_reconnect_min_ms = 50\ncluster_reconnect_max_ms = 400\n"

static pt_daemon *node(pt_redis *r, const char *tag, const char *extra)
{
	pt_daemon *d = ptd_start(BASE_CONF "[cluster]\ncluster_redis = 127.0.0.1:%d\n"
	                         "cluster_node = %s\ncluster_redis_password_file = %s\n" FAST "%s",
	                         pt_redis_port(r), tag, pt_redis_password_file(r), extra ? extra : "");
	char line[64];

	snprintf(line, sizeof(line), "node '%s' registered", tag);
	PT_CHECK(ptd_wait_log(d, line, PT_T_START_MS) >= 0, "node %s never registered", tag);
	return d;
}

/* d has seen node `tag` alive in the registry. */
static void sees(pt_daemon *d, const char *tag)
{
	char line[64];

	snprintf(line, sizeof(line), "node '%s' is alive", tag);
	PT_CHECK(ptd_wait_log(d, line, PT_T_START_MS) >= 0, "a node never saw %s alive", tag);
}

static ptc *join_from(int port, const char *source)
{
	ptc_opts o = { .source = source };

	return ptc_join(port, &o);
}

/* Looks h up from c until `want` holders come back (bounded: the other
 * nodes' announces reach Redis a moment after their acks). */
static int lookup_until(ptc *c, const char *h, int want, char (*ids)[32], int cap)
{
	uint64_t t0 = pt_now_ms();
	int n;

	do {
		n = ptc_lookup(c, h, 0, ids, cap);
		if (n == want)
			return n;
		ptc_service(50);
	} while (pt_now_ms() - t0 < 5000);
	return n;
}

static void send_signal(ptc *from, const char *to, int rid, const char *payload)
{
	ptc_send(from, "{\"type\":\"signal\",\"rid\":%d,\"to\":\"%s\",\"data\":{\"p\":\"%s\"}}", rid, to,
	         payload);
}

static void expect_signal(ptc *c, const char *from, const char *payload)
{
	json_t *m = ptc_recv_type(c, "signal", PT_T_REPLY_MS);

	PT_CHECK(m, "no signal arrived");
	PT_CHECK(!strcmp(pt_jstr(m, "from"), from), "signal from '%s', expected '%s'",
	         pt_jstr(m, "from"), from);
	PT_CHECK(!strcmp(pt_jstr(json_object_get(m, "data"), "p"), payload), "payload changed");
	json_decref(m);
}

static void expect_error(ptc *c, const char *code)
{
	json_t *m = ptc_recv_type(c, "error", PT_T_REPLY_MS);

	PT_CHECK(m, "no error reply (wanted %s)", code);
	PT_CHECK(!strcmp(pt_jstr(m, "code"), code), "error %s, wanted %s", pt_jstr(m, "code"), code);
	json_decref(m);
}

/* Three nodes: ids carry their node's tag; a holder on another node in
 * the asker's /24 ranks before a local one in another /16; signals cross
 * both ways with the sender stamped; peer-left crosses to the partner's
 * node; an unknown node tag answers peer-gone. */
static void test_three_nodes(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", NULL), *b = node(r, "Bb", NULL), *c = node(r, "Cc", NULL);
	ptc *asker, *near_b, *far_a, *on_c;
	char h[65], ids[8][32], fake[32];
	json_t *left;
	(void)state;

	sees(a, "Bb");
	sees(a, "Cc");
	sees(b, "Aa");
	sees(c, "Aa");
	asker = join_from(ptd_port(a), "127.1.1.1");
	near_b = join_from(ptd_port(b), "127.1.1.2");
	far_a = join_from(ptd_port(a), "127.2.2.2");
	on_c = join_from(ptd_port(c), "127.3.3.3");
	PT_CHECK(!strncmp(ptc_id(asker), "Aa", 2) && !strncmp(ptc_id(near_b), "Bb", 2) &&
	         !strncmp(ptc_id(on_c), "Cc", 2), "ids do not carry their node's tag");

	pt_hash_of(1, 17, h);
	json_decref(ptc_hashes(near_b, "announce", NULL, &h, 1));
	json_decref(ptc_hashes(far_a, "announce", NULL, &h, 1));
	json_decref(ptc_hashes(on_c, "announce", NULL, &h, 1));
	assert_int_equal(lookup_until(asker, h, 3, ids, 8), 3);
	/* Same /24 (on node B) first, then the two others (/8 only). */
	assert_string_equal(ids[0], ptc_id(near_b));
	PT_CHECK(!strcmp(ids[1], ptc_id(far_a)) || !strcmp(ids[1], ptc_id(on_c)), "rank 2");

	/* Signals across nodes, both ways, stamped with the sender. */
	send_signal(asker, ptc_id(near_b), 1, "offer");
	expect_signal(near_b, ptc_id(asker), "offer");
	send_signal(near_b, ptc_id(asker), 2, "answer");
	expect_signal(asker, ptc_id(near_b), "answer");
	send_signal(on_c, ptc_id(near_b), 3, "c-to-b");
	expect_signal(near_b, ptc_id(on_c), "c-to-b");

	/* A node that never existed: peer-gone at once. */
	snprintf(fake, sizeof(fake), "Zz%s", ptc_id(asker) + 2);
	send_signal(asker, fake, 4, "x");
	expect_error(asker, "peer-gone");

	/* peer-left reaches the partners on the other nodes. */
	ptc_close(near_b);
	left = ptc_recv_type(asker, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left, "no peer-left across nodes");
	json_decref(left);
	left = ptc_recv_type(on_c, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left, "no peer-left on the third node");
	json_decref(left);
	/* ... and its entries left the shared index. */
	assert_int_equal(lookup_until(asker, h, 2, ids, 8), 2);

	ptc_close(asker);
	ptc_close(far_a);
	ptc_close(on_c);
	assert_int_equal(ptd_stop(a), 0);
	assert_int_equal(ptd_stop(b), 0);
	assert_int_equal(ptd_stop(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_three_nodes, pt_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
