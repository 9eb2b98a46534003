/* test_cluster.c — several peertrackd nodes sharing one real redis-server
 * (password from a 0600 file, free 127.0.0.1 port): cross-node announce
 * and lookup with proximity ranking, signals both ways with the sender
 * stamped, peer-left across nodes, a SIGKILLed node, the lookup cache of
 * hot hashes, Redis lost and back,
 * the /announce allow-list on every node, signals batched per node
 * (cluster_publish_linger_us), and the bad Redis cases (wrong password, unreachable, wrong reply type). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\nresume_window_ms = 0\n"
/* Quick timeouts and reconnects; a node is declared dead after 3 s of
 * silence (room for a loaded machine under ASan), or after 1 s in the test
 * that kills one (LIVE_FAST). */
#define FAST "cluster_heartbeat_ms = 200\ncluster_timeout_ms = 500\n" \
             "cluster_reconnect_min_ms = 50\ncluster_reconnect_max_ms = 400\n"
#define LIVE_STEADY "cluster_dead_ms = 3000\n"
#define LIVE_FAST "cluster_dead_ms = 1000\n"

static pt_daemon *node(pt_redis *r, const char *tag, const char *extra)
{
	pt_daemon *d = ptd_start(BASE_CONF "[cluster]\ncluster_redis = 127.0.0.1:%d\n"
	                         "cluster_node = %s\ncluster_redis_password_file = %s\n" FAST "%s",
	                         pt_redis_port(r), tag, pt_redis_password_file(r),
	                         extra ? extra : LIVE_STEADY);
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
	char h[65], ids[8][32], fake[32], gone_id[32];
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
	snprintf(gone_id, sizeof(gone_id), "%s", ptc_id(near_b));
	ptc_close(near_b);
	left = ptc_recv_type(asker, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left, "no peer-left across nodes");
	json_decref(left);
	left = ptc_recv_type(on_c, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left, "no peer-left on the third node");
	json_decref(left);
	/* ... and its entries left the shared index. */
	assert_int_equal(lookup_until(asker, h, 2, ids, 8), 2);
	/* A signal that reaches B after its target left (B withdrew it above,
	 * so B knows it is gone; far_a never signalled it, so no peer-left
	 * went its way): B bounces a peer-left to far_a's node. */
	send_signal(far_a, gone_id, 5, "late");
	left = ptc_recv_type(far_a, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(left && !strcmp(pt_jstr(left, "id"), gone_id),
	         "a signal to a peer that left its live node got no peer-left back");
	json_decref(left);

	ptc_close(asker);
	ptc_close(far_a);
	ptc_close(on_c);
	assert_int_equal(ptd_stop(a), 0);
	assert_int_equal(ptd_stop(b), 0);
	assert_int_equal(ptd_stop(c), 0);
}


/* peertrackctl on d's admin socket; its stdout (the caller frees it) and
 * exit code in *rc. */
static char *ctl(pt_daemon *d, int *rc, const char *args)
{
	const char *bin = getenv("PT_BIN");
	char cmd[2048], dir[512], buf[4096], *out = calloc(1, 1);
	size_t len = 0;
	FILE *p;
	int st;

	snprintf(dir, sizeof(dir), "%s", ptd_conf_path(d));
	*strrchr(dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "%s/peertrackctl --socket '%s/state/admin.sock' %s 2>&1",
	         bin && *bin ? bin : "bin", dir, args);
	p = popen(cmd, "r");
	PT_CHECK(p && out, "popen failed");
	for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) {
		out = realloc(out, len + n + 1);
		PT_CHECK(out, "out of memory");
		memcpy(out + len, buf, n);
		len += n;
		out[len] = 0;
	}
	st = pclose(p);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* `peertrackctl --json who-has h` on d. */
static json_t *who_has(pt_daemon *d, const char *h)
{
	char args[128], *out;
	json_t *j;
	int rc;

	snprintf(args, sizeof(args), "--json who-has %s", h);
	out = ctl(d, &rc, args);
	j = json_loads(out, 0, NULL);
	PT_CHECK(rc == 0 && j, "who-has: exit %d: %s", rc, out);
	free(out);
	return j;
}

/* The node `who-has` marks holder `id` with, or NULL if it is not listed. */
static const char *holder_node(const json_t *j, const char *id)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(j, "peers"), i, p)
		if (!strcmp(pt_jstr(p, "id"), id))
			return pt_jstr(p, "node");
	return NULL;
}

/* A node killed with SIGKILL: the others log it dead within the liveness
 * window, and from then on lookups drop its peers, signals to them answer
 * peer-gone, and its entries are purged from Redis. */
static void test_node_killed(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", LIVE_FAST), *b = node(r, "Bb", LIVE_FAST);
	ptc *asker, *holder;
	char h[65], ids[4][32], holder_id[32];
	redisReply *rep;
	uint64_t t0, dead_ms;
	int n;
	(void)state;

	sees(a, "Bb");
	asker = join_from(ptd_port(a), "127.1.1.1");
	holder = join_from(ptd_port(b), "127.1.1.2");
	snprintf(holder_id, sizeof(holder_id), "%s", ptc_id(holder));
	pt_hash_of(2, 17, h);
	json_decref(ptc_hashes(holder, "announce", NULL, &h, 1));
	assert_int_equal(lookup_until(asker, h, 1, ids, 4), 1);

	t0 = pt_now_ms();
	ptd_kill(b);
	PT_CHECK(ptd_wait_log(a, "node 'Bb' is dead", 10000) >= 0, "A never noticed B died");
	dead_ms = pt_now_ms() - t0;
	/* cluster_dead_ms 1000 + a heartbeat (200) + scheduling. */
	PT_CHECK(dead_ms < 4000, "B declared dead only after %llu ms", (unsigned long long)dead_ms);
	fprintf(stderr, "node death noticed after %llu ms\n", (unsigned long long)dead_ms);
	assert_int_equal(ptc_lookup(asker, h, 0, ids, 4), 0);
	send_signal(asker, holder_id, 9, "late");
	expect_error(asker, "peer-gone");
	/* The survivor purged B's entry from the shared index. */
	t0 = pt_now_ms();
	do {
		rep = pt_redis_cmd(r, "ZCARD pt:h:0:%s", h);
		n = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
		freeReplyObject(rep);
		if (n == 0)
			break;
		ptc_service(50);
	} while (pt_now_ms() - t0 < 3000);
	assert_int_equal(n, 0);
	ptc_close(asker);
	ptc_close(holder);
	assert_int_equal(ptd_stop(a), 0);
}

/* Waits (bounded) until Redis holds `want` entries for /v1 hash h. */
static void redis_holds(pt_redis *r, const char *h, int want)
{
	uint64_t t0 = pt_now_ms();
	redisReply *rep;
	int n;

	do {
		rep = pt_redis_cmd(r, "ZCARD pt:h:0:%s", h);
		n = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
		freeReplyObject(rep);
		if (n == want)
			return;
		ptc_service(20);
	} while (pt_now_ms() - t0 < 5000);
	PT_CHECK(0, "Redis holds %d entries of %.8s..., wanted %d", n, h, want);
}

static bool same_pair(char (*x)[32], char (*y)[32])
{
	return (!strcmp(x[0], y[0]) && !strcmp(x[1], y[1])) ||
	       (!strcmp(x[0], y[1]) && !strcmp(x[1], y[0]));
}

/* cluster_lookup_cache_ms: a hot hash (at least cluster_lookup_sample
 * holders on other nodes) is answered from the node's recent sample — the
 * same two of B's three holders lookup after lookup, where Redis would
 * draw a random two each time; a small swarm is read afresh, so a second
 * holder shows at once; the cached holders of a node that dies go with it. */
static void test_lookup_cache(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", LIVE_FAST "cluster_lookup_sample = 2\n"
	                                       "cluster_lookup_cache_ms = 60000\n");
	pt_daemon *b = node(r, "Bb", LIVE_FAST);
	ptc *asker, *hold[4];
	char hot[65], cold[65], first[4][32], ids[4][32], src[32];
	(void)state;

	sees(a, "Bb");
	asker = join_from(ptd_port(a), "127.1.1.1");
	pt_hash_of(5, 1, hot);
	pt_hash_of(5, 2, cold);
	for (int i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), "127.1.2.%d", i + 1);
		hold[i] = join_from(ptd_port(b), src);
	}
	for (int i = 0; i < 3; i++)
		json_decref(ptc_hashes(hold[i], "announce", NULL, &hot, 1));
	json_decref(ptc_hashes(hold[0], "announce", NULL, &cold, 1));
	redis_holds(r, hot, 3);
	redis_holds(r, cold, 1);

	assert_int_equal(ptc_lookup(asker, hot, 0, first, 4), 2);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ptc_lookup(asker, hot, 0, ids, 4), 2);
		PT_CHECK(same_pair(first, ids), "lookup %d drew other holders: the sample was not reused", i);
	}
	PT_CHECK(ptd_metric(a, "peertrack_cluster_lookups_total{result=\"cached\"}") >= 10,
	         "cached lookups not counted");

	assert_int_equal(ptc_lookup(asker, cold, 0, ids, 4), 1);
	json_decref(ptc_hashes(hold[3], "announce", NULL, &cold, 1));
	redis_holds(r, cold, 2);
	assert_int_equal(ptc_lookup(asker, cold, 0, ids, 4), 2);

	ptd_kill(b);
	PT_CHECK(ptd_wait_log(a, "node 'Bb' is dead", 10000) >= 0, "A never noticed B died");
	assert_int_equal(ptc_lookup(asker, hot, 0, ids, 4), 0);
	for (int i = 0; i < 4; i++)
		ptc_close(hold[i]);
	ptc_close(asker);
	assert_int_equal(ptd_stop(a), 0);
}

/* Redis killed (its data lost) for a few seconds, then back on the same
 * port: same-node lookups and signals never stop; cross-node signals
 * answer unavailable, then work again; the index is whole again after
 * the nodes re-announce. */
static void test_redis_restart(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", NULL), *b = node(r, "Bb", NULL);
	ptc *asker, *local, *remote;
	char h[65], ids[4][32];
	size_t mark_a, mark_b;
	uint64_t t0;
	int rid = 100, ok = 0;
	json_t *m;
	redisReply *rep;
	(void)state;

	sees(a, "Bb");
	asker = join_from(ptd_port(a), "127.1.1.1");
	local = join_from(ptd_port(a), "127.1.1.2");
	remote = join_from(ptd_port(b), "127.1.1.3");
	pt_hash_of(3, 17, h);
	json_decref(ptc_hashes(local, "announce", NULL, &h, 1));
	json_decref(ptc_hashes(remote, "announce", NULL, &h, 1));
	assert_int_equal(lookup_until(asker, h, 2, ids, 4), 2);
	/* who-has spans the nodes, each holder marked with its node. */
	m = who_has(a, h);
	assert_string_equal(pt_jstr(m, "cluster"), "ok");
	assert_int_equal(pt_jint(m, "total"), 2);
	PT_CHECK(holder_node(m, ptc_id(local)) && !strcmp(holder_node(m, ptc_id(local)), "Aa"),
	         "who-has on A: its own holder missing or not marked Aa");
	PT_CHECK(holder_node(m, ptc_id(remote)) && !strcmp(holder_node(m, ptc_id(remote)), "Bb"),
	         "who-has on A: the holder on B missing or not marked Bb");
	json_decref(m);

	mark_a = ptd_log_count(a);
	mark_b = ptd_log_count(b);
	pt_redis_stop(r);
	PT_CHECK(ptd_wait_log_from(a, mark_a, "Redis unreachable", 5000) >= 0, "A never noticed");
	/* Redis down: this node's holders, and the other nodes said unavailable. */
	m = who_has(a, h);
	assert_string_equal(pt_jstr(m, "cluster"), "unavailable");
	assert_int_equal(pt_jint(m, "total"), 1);
	PT_CHECK(holder_node(m, ptc_id(local)) && !holder_node(m, ptc_id(remote)),
	         "who-has with Redis down lists the wrong holders");
	json_decref(m);
	{
		char args[128], *out;
		int rc;

		snprintf(args, sizeof(args), "who-has %s", h);
		out = ctl(a, &rc, args);
		PT_CHECK(rc == 0 && strstr(out, "cluster unavailable") && strstr(out, ptc_id(local)),
		         "who-has text with Redis down: %s", out);
		free(out);
	}
	/* Down for 2 s: same-node traffic goes on all along. */
	t0 = pt_now_ms();
	while (pt_now_ms() - t0 < 2000) {
		assert_int_equal(ptc_lookup(asker, h, 0, ids, 4), 1);
		assert_string_equal(ids[0], ptc_id(local));
		send_signal(asker, ptc_id(local), rid++, "same-node");
		expect_signal(local, ptc_id(asker), "same-node");
		ok++;
		ptc_service(100); /* paced below the message rate limit */
	}
	send_signal(asker, ptc_id(remote), rid++, "x");
	expect_error(asker, "unavailable");
	fprintf(stderr, "%d same-node round trips while Redis was down\n", ok);

	pt_redis_restart(r);
	PT_CHECK(ptd_wait_log_from(a, mark_a, "(subscribed)", 10000) >= 0, "A never reconnected");
	PT_CHECK(ptd_wait_log_from(b, mark_b, "(subscribed)", 10000) >= 0, "B never reconnected");
	/* Cross-node again (bounded: the subscription and the registry come
	 * back within a heartbeat or two). */
	t0 = pt_now_ms();
	for (;;) {
		send_signal(asker, ptc_id(remote), rid++, "back");
		m = ptc_recv_type(remote, "signal", 300);
		if (m)
			break;
		PT_CHECK(pt_now_ms() - t0 < 8000, "cross-node signals never came back");
		ptc_drain(asker);
	}
	json_decref(m);
	/* The index came back whole from the re-announce (Redis lost it). */
	assert_int_equal(lookup_until(asker, h, 2, ids, 4), 2);
	/* Both nodes' entries are back in Redis (each re-announces after a
	 * jitter of up to half a heartbeat). */
	t0 = pt_now_ms();
	for (;;) {
		long long n;

		rep = pt_redis_cmd(r, "ZCARD pt:h:0:%s", h);
		n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
		freeReplyObject(rep);
		if (n == 2)
			break;
		PT_CHECK(pt_now_ms() - t0 < 3000, "index not whole again: %lld entries", n);
		ptc_service(50);
	}
	ptc_close(asker);
	ptc_close(local);
	ptc_close(remote);
	assert_int_equal(ptd_stop(a), 0);
	assert_int_equal(ptd_stop(b), 0);
}

/* Bans and kicks made on one node's admin socket apply on the others. */
static void test_ban_kick(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", NULL), *b = node(r, "Bb", NULL);
	ptc *victim, *bad, *good;
	ptc_opts from_bad = { .source = "127.7.7.7" };
	char args[128], *out;
	int rc;
	(void)state;

	sees(a, "Bb");
	victim = join_from(ptd_port(b), "127.1.1.5");
	bad = join_from(ptd_port(b), "127.7.7.7");
	good = join_from(ptd_port(b), "127.1.1.6");
	snprintf(args, sizeof(args), "kick %s", ptc_id(victim));
	out = ctl(a, &rc, args);
	PT_CHECK(rc == 0, "kick of a peer of another node: exit %d: %s", rc, out);
	free(out);
	assert_int_equal(ptc_wait_close(victim, PT_T_REPLY_MS), 4003);
	ptc_close(victim);

	out = ctl(a, &rc, "ban 127.7.7.0/24 --reason test");
	PT_CHECK(rc == 0, "ban: exit %d: %s", rc, out);
	free(out);
	assert_int_equal(ptc_wait_close(bad, PT_T_REPLY_MS), 1008);
	ptc_close(bad);
	PT_CHECK(ptd_wait_log(b, "ban 127.7.7.0/24 from another node", PT_T_REPLY_MS) >= 0,
	         "B never applied the ban");
	/* New connections from the range are refused on B too. */
	bad = ptc_connect(ptd_port(b), &from_bad);
	PT_CHECK(bad, "the banned address could not even connect: %s", ptc_last_error());
	assert_int_equal(ptc_wait_close(bad, PT_T_REPLY_MS), 1008);
	ptc_close(bad);
	ptc_roundtrip(good);
	out = ctl(a, &rc, "status");
	PT_CHECK(rc == 0 && strstr(out, "cluster        node Aa, ok") &&
	         strstr(out, "node Bb      alive, heard") && strstr(out, "peers=") &&
	         strstr(out, "inbox: up"), "status shows no cluster: %s", out);
	free(out);
	ptc_close(good);
	assert_int_equal(ptd_stop(a), 0);
	assert_int_equal(ptd_stop(b), 0);
}

/* One /announce of info_hash 20 x 'a' from w; the reply's text. */
static char *wt_announce(ptr *w)
{
	char *d = NULL;
	int op = 0;

	PT_CHECK(ptr_send_text(w, "{\"action\":\"announce\",\"info_hash\":\"aaaaaaaaaaaaaaaaaaaa\","
	                          "\"peer_id\":\"pppppppppppppppppppp\",\"numwant\":0}") == 0,
	         "send failed");
	PT_CHECK(ptr_recv_frame(w, &op, &d, PT_T_REPLY_MS) >= 0 && op == PTR_TEXT, "no reply");
	return d;
}

/* `peertrackctl allow|disallow 20 x 'a'` on `on`, and `hears` logs it. */
static void allow_from(pt_daemon *on, pt_daemon *hears, const char *verb)
{
	char args[64], line[128], *out;
	int rc;

	snprintf(args, sizeof(args), "%s 6161616161616161616161616161616161616161", verb);
	out = ctl(on, &rc, args);
	PT_CHECK(rc == 0, "%s: exit %d: %s", verb, rc, out);
	free(out);
	snprintf(line, sizeof(line), "%s from another node", args);
	PT_CHECK(ptd_wait_log(hears, line, PT_T_REPLY_MS) >= 0, "never heard: %s", args);
}

/* The /announce allow-list holds on every node: allow and disallow on A
 * take effect for a WebTorrent client of B; who-has on A lists that
 * client's swarm membership. */
static void test_allowlist(void **state)
{
	pt_redis *r = pt_redis_start();
	const char *conf = LIVE_STEADY "[webtorrent]\nwt_allowlist = yes\n";
	pt_daemon *a = node(r, "Aa", conf), *b = node(r, "Bb", conf);
	ptr_opts o = { .path = "/announce", .source = "127.1.1.9" };
	ptr *w;
	char *out;
	(void)state;

	sees(b, "Aa");
	w = ptr_connect(ptd_port(b), &o);
	PT_CHECK(w, "no /announce on B");
	out = wt_announce(w);
	PT_CHECK(strstr(out, "not allowed"), "an unlisted info_hash was served: %s", out);
	free(out);
	allow_from(a, b, "allow");
	out = wt_announce(w);
	PT_CHECK(strstr(out, "\"interval\"") && !strstr(out, "failure"), "still refused on B: %s", out);
	free(out);
	/* who-has of the info_hash on A lists B's WebTorrent connection. */
	for (uint64_t t0 = pt_now_ms();; ptc_service(50)) {
		json_t *m = who_has(a, "6161616161616161616161616161616161616161");
		json_t *p = json_array_get(json_object_get(m, "peers"), 0);
		bool listed = pt_jint(m, "total") == 1 && p && !strcmp(pt_jstr(p, "node"), "Bb");

		json_decref(m);
		if (listed)
			break;
		PT_CHECK(pt_now_ms() - t0 < 5000, "who-has on A never listed B's WebTorrent peer");
	}
	allow_from(a, b, "disallow");
	out = wt_announce(w);
	PT_CHECK(strstr(out, "not allowed"), "served on B after the disallow: %s", out);
	free(out);
	ptr_free(w);
	assert_int_equal(ptd_stop(a), 0);
	assert_int_equal(ptd_stop(b), 0);
}

/* A fake Redis that answers "+OK" to everything, for as long as `stop`
 * is false. */
typedef struct fake {
	int fd, port;
	volatile bool stop;
	pthread_t th;
} fake;

static void *fake_run(void *arg)
{
	fake *f = arg;
	struct pollfd p[9];
	int n = 1;

	p[0].fd = f->fd;
	p[0].events = POLLIN;
	while (!f->stop) {
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n < 9) {
			int c = accept(f->fd, NULL, NULL);

			if (c >= 0) {
				p[n].fd = c;
				p[n++].events = POLLIN;
			}
		}
		for (int i = 1; i < n; i++) {
			char buf[4096];

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
				continue;
			}
			if (write(p[i].fd, "+OK\r\n", 5) < 0)
				continue;
		}
	}
	for (int i = 1; i < n; i++)
		close(p[i].fd);
	return NULL;
}

static void fake_start(fake *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	PT_CHECK(f->fd >= 0 && !bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	         !listen(f->fd, 8) && !getsockname(f->fd, (struct sockaddr *)&sa, &len),
	         "fake redis: cannot listen");
	f->port = ntohs(sa.sin_port);
	f->stop = false;
	PT_CHECK(!pthread_create(&f->th, NULL, fake_run, f), "fake redis: no thread");
}

static void fake_stop(fake *f)
{
	f->stop = true;
	pthread_join(f->th, NULL);
	close(f->fd);
}

/* Two clients of one node signal each other and look each other up. */
static void same_node_works(pt_daemon *d)
{
	ptc *x = ptc_join(ptd_port(d), NULL), *y = ptc_join(ptd_port(d), NULL);
	char h[65], ids[4][32];

	pt_hash_of(8, 18, h);
	json_decref(ptc_hashes(y, "announce", NULL, &h, 1));
	assert_int_equal(ptc_lookup(x, h, 0, ids, 4), 1);
	send_signal(x, ptc_id(y), 1, "hi");
	expect_signal(y, ptc_id(x), "hi");
	ptc_close(x);
	ptc_close(y);
}

/* Wrong password, nothing listening, a server that answers nonsense, a
 * key of the wrong type: a clear log line each, same-node traffic goes
 * on, nothing crashes, the daemon stops cleanly. */
static void test_bad_redis(void **state)
{
	pt_redis *r = pt_redis_start();
	char pw[600], h[65], ids[4][32], *body = NULL;
	pt_daemon *d;
	ptc *x, *y;
	fake f;
	redisReply *rep;
	FILE *fp;
	int dead_port;
	(void)state;

	/* Wrong password. */
	snprintf(pw, sizeof(pw), "%s.wrong", pt_redis_password_file(r));
	fp = fopen(pw, "w");
	PT_CHECK(fp, "cannot write %s", pw);
	fputs("not-the-password\n", fp);
	fclose(fp);
	chmod(pw, 0600);
	d = ptd_start(BASE_CONF "cluster_redis = 127.0.0.1:%d\ncluster_node = Ww\n"
	              "cluster_redis_password_file = %s\n" FAST, pt_redis_port(r), pw);
	PT_CHECK(ptd_wait_log(d, "AUTH refused", PT_T_START_MS) >= 0, "no AUTH error logged");
	same_node_works(d);
	assert_int_equal(pt_http_get(ptd_port(d), "127.0.0.1", "/readyz", &body), 200);
	PT_CHECK(strstr(body, "\"cluster\":\"degraded\""), "readyz: %s", body);
	free(body);
	assert_int_equal(ptd_stop(d), 0);
	unlink(pw);

	/* Nothing listening (a port just freed). */
	fake_start(&f);
	dead_port = f.port;
	fake_stop(&f);
	d = ptd_start(BASE_CONF "cluster_redis = 127.0.0.1:%d\ncluster_node = Uu\n" FAST, dead_port);
	PT_CHECK(ptd_wait_log(d, "cannot connect", PT_T_START_MS) >= 0, "no connect error logged");
	same_node_works(d);
	assert_int_equal(ptd_stop(d), 0);

	/* A server that says +OK to everything. */
	fake_start(&f);
	d = ptd_start(BASE_CONF "cluster_redis = 127.0.0.1:%d\ncluster_node = Ff\n" FAST, f.port);
	PT_CHECK(ptd_wait_log(d, "unexpected", PT_T_START_MS) >= 0, "no bad-reply error logged");
	same_node_works(d);
	assert_int_equal(ptd_stop(d), 0);
	fake_stop(&f);

	/* A key of the wrong type where a lookup's sorted set should be. */
	d = node(r, "Kk", NULL);
	pt_hash_of(9, 17, h);
	rep = pt_redis_cmd(r, "SET pt:h:0:%s planted", h);
	freeReplyObject(rep);
	x = ptc_join(ptd_port(d), NULL);
	y = ptc_join(ptd_port(d), NULL);
	json_decref(ptc_hashes(x, "announce", NULL, &h, 1));
	/* The lookup's script fails on the planted key: the local holder
	 * still answers. */
	assert_int_equal(ptc_lookup(y, h, 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(x));
	PT_CHECK(ptd_wait_log(d, "WRONGTYPE", PT_T_REPLY_MS) >= 0, "no WRONGTYPE error logged");
	same_node_works(d);
	ptc_close(x);
	ptc_close(y);
	assert_int_equal(ptd_stop(d), 0);
}

/* cluster_publish_linger_us: messages to one node within the linger leave
 * as one PUBLISH (a batch). A long linger (50 ms) makes the batching
 * certain here. A lone signal still arrives (the timer sends it); a burst
 * arrives complete and in order, in fewer PUBLISHes than messages; a
 * malformed batch planted in the inbox is refused whole (counted, nothing
 * delivered, the node unharmed); a batch to a node that died gives every
 * one of its signals peer-gone. */
#define BATCH_CONF LIVE_STEADY "cluster_publish_linger_us = 50000\n"
#define BURST 60
static double inbox(pt_daemon *d, const char *kind)
{
	char series[96];

	snprintf(series, sizeof(series), "peertrack_cluster_inbox_publishes_total{kind=\"%s\"}", kind);
	return ptd_metric(d, series);
}

static void test_batches(void **state)
{
	pt_redis *r = pt_redis_start();
	pt_daemon *a = node(r, "Aa", BATCH_CONF), *b = node(r, "Bb", BATCH_CONF);
	ptc *x, *y;
	char y_id[32], p[16];
	double singles, batches, msgs, bad;
	bool seen[5] = { false };
	redisReply *rep;
	uint64_t t0;
	int n;
	(void)state;

	sees(a, "Bb");
	x = join_from(ptd_port(a), "127.1.1.1");
	y = join_from(ptd_port(b), "127.1.1.2");
	snprintf(y_id, sizeof(y_id), "%s", ptc_id(y));

	/* Alone: the linger's timer sends it, as a plain PUBLISH. */
	singles = inbox(a, "single");
	send_signal(x, y_id, 1, "lone");
	expect_signal(y, ptc_id(x), "lone");
	PT_CHECK(inbox(a, "single") == singles + 1, "the lone signal did not leave alone");

	/* A burst: every one, in order, in fewer PUBLISHes. */
	batches = inbox(a, "batch");
	singles = inbox(a, "single");
	msgs = ptd_metric(a, "peertrack_cluster_inbox_messages_total");
	for (int i = 0; i < BURST; i++) {
		snprintf(p, sizeof(p), "m%d", i);
		send_signal(x, y_id, 10 + i, p);
	}
	for (int i = 0; i < BURST; i++) {
		snprintf(p, sizeof(p), "m%d", i);
		expect_signal(y, ptc_id(x), p);
	}
	PT_CHECK(ptd_metric(a, "peertrack_cluster_inbox_messages_total") == msgs + BURST,
	         "the burst's messages were not all counted");
	PT_CHECK(inbox(a, "batch") > batches, "the burst left without a batch");
	PT_CHECK(inbox(a, "batch") + inbox(a, "single") - batches - singles < BURST,
	         "%d signals took as many PUBLISHes", BURST);
	fprintf(stderr, "%d signals in %.0f PUBLISHes\n", BURST,
	        inbox(a, "batch") + inbox(a, "single") - batches - singles);

	/* Malformed batches in B's inbox: a record longer than the rest, a
	 * nested batch, a trailing fragment. Refused whole, B keeps working. */
	bad = ptd_metric(b, "peertrack_cluster_bad_replies_total");
	{
		static const char over[] = "B\x00\x00\x00\x40sAA", nested[] = "B\x00\x00\x00\x02" "Bx",
		                  tail[] = "B\x00\x00\x00\x01p\x00\x00";
		const char *v[3] = { over, nested, tail };
		const size_t len[3] = { sizeof(over) - 1, sizeof(nested) - 1, sizeof(tail) - 1 };

		for (int i = 0; i < 3; i++) {
			rep = pt_redis_cmd(r, "PUBLISH pt:n:Bb %b", v[i], len[i]);
			PT_CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1,
			         "B's inbox did not take the planted batch");
			freeReplyObject(rep);
		}
	}
	t0 = pt_now_ms();
	while (ptd_metric(b, "peertrack_cluster_bad_replies_total") < bad + 3 &&
	       pt_now_ms() - t0 < PT_T_REPLY_MS)
		ptc_service(20);
	assert_true(ptd_metric(b, "peertrack_cluster_bad_replies_total") == bad + 3);
	send_signal(x, y_id, 2, "after-bad");
	expect_signal(y, ptc_id(x), "after-bad");

	/* B dies; once Redis dropped its subscription (and long before A
	 * declares it dead: cluster_dead_ms 3000), a batch of five goes to
	 * its inbox: PUBLISH counts 0 receivers, and each of the five gets
	 * peer-gone. */
	batches = inbox(a, "batch");
	ptd_kill(b);
	t0 = pt_now_ms();
	do {
		rep = pt_redis_cmd(r, "PUBSUB NUMSUB pt:n:Bb");
		n = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		    rep->element[1]->type == REDIS_REPLY_INTEGER ? (int)rep->element[1]->integer : -1;
		freeReplyObject(rep);
		if (n == 0)
			break;
		ptc_service(10);
	} while (pt_now_ms() - t0 < PT_T_REPLY_MS);
	assert_int_equal(n, 0);
	for (int i = 0; i < 5; i++)
		send_signal(x, y_id, 100 + i, "to-the-dead");
	for (int i = 0; i < 5; i++) {
		json_t *m = ptc_recv_type(x, "error", PT_T_REPLY_MS);
		long long rid;

		PT_CHECK(m, "signal %d of the batch got no answer", i);
		PT_CHECK(!strcmp(pt_jstr(m, "code"), "peer-gone"), "error %s, wanted peer-gone",
		         pt_jstr(m, "code"));
		rid = pt_jint(m, "rid");
		PT_CHECK(rid >= 100 && rid < 105 && !seen[rid - 100], "rid %lld unexpected", rid);
		seen[rid - 100] = true;
		json_decref(m);
	}
	PT_CHECK(inbox(a, "batch") > batches, "the five did not leave as a batch");
	PT_CHECK(!ptd_log_has(a, "is dead"), "A declared B dead before the batch was answered");

	ptc_close(x);
	ptc_close(y);
	assert_int_equal(ptd_stop(a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_three_nodes, pt_teardown),
		cmocka_unit_test_teardown(test_node_killed, pt_teardown),
		cmocka_unit_test_teardown(test_lookup_cache, pt_teardown),
		cmocka_unit_test_teardown(test_redis_restart, pt_teardown),
		cmocka_unit_test_teardown(test_ban_kick, pt_teardown),
		cmocka_unit_test_teardown(test_allowlist, pt_teardown),
		cmocka_unit_test_teardown(test_bad_redis, pt_teardown),
		cmocka_unit_test_teardown(test_batches, pt_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
