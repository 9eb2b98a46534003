/* test_webtorrent.c — the WebTorrent tracker protocol on /announce, at the
 * wire, against a real daemon: every message, byte-exact ids (0x00,
 * 0x80-0xFF, quotes, backslashes; sent raw and as \u00XX), one connection
 * in two swarms and with two peer_ids, spoofed answers and stops refused,
 * and a table of malformed inputs each answered with its failure reason or
 * close code while a bystander pair keeps being served; and two cluster
 * nodes over a real redis-server sharing one swarm and its counts, also
 * with two Redis instances as index shards.
 *
 * Clients are raw sockets (harness ptr_*), so what the daemon sends is
 * compared byte for byte with what the reference server would send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "integration/lib/harness.h"

#define CONF                                                   \
	"allow_missing_origin = yes\n"                             \
	"max_connections_per_ip = 8\n"                             \
	"wt_rate_messages_per_sec = 1000\nwt_rate_burst = 1000\n"  \
	"wt_max_offers = 3\nwt_max_offer_bytes = 1024\n"           \
	"wt_max_swarms_per_connection = 4\n"

typedef struct wid {
	unsigned char b[20];
} wid;

/* Ids that hold every awkward byte: NUL, quote, backslash, controls,
 * DEL, 0x80 and 0xFF. n makes them distinct. */
static wid mk(unsigned char n)
{
	static const unsigned char tmpl[20] = { 0x00, '"', '\\', 0x80, 0xff, '\n', 0x7f, 0x1f,
	                                        '/', 'a', 0xc3, 0xa9, 0x01, 'z', 0xfe, ' ',
	                                        '<', 0x10, 0xbf, 0 };
	wid w;

	memcpy(w.b, tmpl, 20);
	w.b[19] = n;
	return w;
}

enum spelling { RAW, ESCAPED };

/* The id as a JSON string literal: RAW writes each byte as itself (two
 * UTF-8 bytes from 0x80; only what JSON forbids raw is escaped), ESCAPED
 * writes every byte outside printable ASCII as \u00XX. */
static const char *spell(const wid *w, enum spelling sp, char out[128])
{
	char *o = out;

	*o++ = '"';
	for (int i = 0; i < 20; i++) {
		unsigned char c = w->b[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20 || (sp == ESCAPED && c >= 0x7f)) {
			o += sprintf(o, "\\u%04X", c); /* uppercase: the server's choice is not ours */
		} else if (c >= 0x80) {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	*o = 0;
	return out;
}

/* What JSON.stringify writes (and so what the reference server sends). */
static const char *js(const wid *w, char out[128])
{
	static const char *const short_esc[32] = { ['\b'] = "\\b", ['\t'] = "\\t", ['\n'] = "\\n",
	                                           ['\f'] = "\\f", ['\r'] = "\\r" };
	char *o = out;

	*o++ = '"';
	for (int i = 0; i < 20; i++) {
		unsigned char c = w->b[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20 && short_esc[c]) {
			o += sprintf(o, "%s", short_esc[c]);
		} else if (c < 0x20) {
			o += sprintf(o, "\\u%04x", c);
		} else if (c >= 0x80) {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	*o = 0;
	return out;
}

static ptr *wt_open(int port, const char *source)
{
	ptr_opts o = { .path = "/announce", .source = source };
	ptr *r = ptr_connect(port, &o);

	PT_CHECK(r, "no WebSocket on /announce from %s", source);
	return r;
}

static void sendf(ptr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(ptr *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	PT_CHECK(ptr_send_text(r, buf) == 0, "send failed");
}

/* The next text frame, byte for byte (caller frees). */
static char *next_text(ptr *r)
{
	for (int i = 0; i < 16; i++) {
		int op;
		char *d;

		if (ptr_recv_frame(r, &op, &d, PT_T_REPLY_MS) < 0)
			pt_fail("no frame within %d ms", PT_T_REPLY_MS);
		if (op == PTR_TEXT)
			return d;
		if (op == PTR_CLOSE)
			pt_fail("closed instead of a reply (%s)", d);
		free(d);
	}
	pt_fail("no text frame among 16");
}

static void expect_text(ptr *r, const char *want, const char *what)
{
	char *got = next_text(r);

	if (strcmp(got, want))
		pt_fail("%s:\n got  %s\n want %s", what, got, want);
	free(got);
}

static void expectf(ptr *r, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void expectf(ptr *r, const char *what, const char *fmt, ...)
{
	char want[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	expect_text(r, want, what);
}

/* A failure reply: action, the reason (containing needle), info_hash when
 * ih is given, nothing when not. */
static void expect_failure(ptr *r, const char *action, const wid *ih, const char *needle,
                           const char *what)
{
	char *got = next_text(r), want[256], j[128];
	json_error_t jerr;
	json_t *o = json_loads(got, JSON_ALLOW_NUL, &jerr);
	const char *reason = pt_jstr(o, "failure reason");

	PT_CHECK(o, "%s: reply is not JSON: %s", what, got);
	PT_CHECK(reason && strstr(reason, needle), "%s: want a failure about '%s', got %s", what,
	         needle, got);
	PT_CHECK(!strcmp(pt_jstr(o, "action"), action), "%s: action: %s", what, got);
	snprintf(want, sizeof(want), "{\"action\":\"%s\",\"failure reason\":", action);
	PT_CHECK(!strncmp(got, want, strlen(want)), "%s: %s", what, got);
	if (ih) {
		snprintf(want, sizeof(want), ",\"info_hash\":%s}", js(ih, j));
		PT_CHECK(strlen(got) > strlen(want) && !strcmp(got + strlen(got) - strlen(want), want),
		         "%s: info_hash not echoed byte-exact: %s", what, got);
	} else {
		PT_CHECK(!json_object_get(o, "info_hash"), "%s: unexpected info_hash: %s", what, got);
	}
	json_decref(o);
	free(got);
}

static void expect_silence(ptr *r, const char *what)
{
	int op;
	char *d = NULL;
	long n = ptr_recv_frame(r, &op, &d, 300);

	PT_CHECK(n < 0 || op == PTR_PING, "%s: unexpected frame: %s", what, d ? d : "");
	free(d);
}

static void announce(ptr *r, const wid *ih, const wid *pid, enum spelling sp, const char *extra)
{
	char a[128], b[128];

	sendf(r, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"numwant\":5,"
	      "\"uploaded\":0,\"downloaded\":0%s}", spell(ih, sp, a), spell(pid, sp, b), extra);
}

static void expect_announce(ptr *r, const wid *ih, int complete, int incomplete, const char *what)
{
	char j[128];

	expectf(r, what, "{\"action\":\"announce\",\"interval\":120,\"info_hash\":%s,"
	        "\"complete\":%d,\"incomplete\":%d}", js(ih, j), complete, incomplete);
}

/* Reads ih's announce reply; its counts in *complete and *incomplete. */
static void read_announce(ptr *r, const wid *ih, int *complete, int *incomplete, const char *what)
{
	char j[128], head[256];
	char *got = next_text(r);
	int n = snprintf(head, sizeof(head), "{\"action\":\"announce\",\"interval\":120,"
	                 "\"info_hash\":%s,", js(ih, j)), end = -1;

	PT_CHECK(!strncmp(got, head, (size_t)n) &&
	         sscanf(got + n, "\"complete\":%d,\"incomplete\":%d}%n", complete, incomplete,
	                &end) == 2 && end > 0 && !got[n + end], "%s: %s", what, got);
	free(got);
}

/* Cluster mode: a node answers its own peers plus the other nodes' as
 * last read, so a reply lies between this node's count and the cluster's. */
static void expect_announce_in(ptr *r, const wid *ih, int c_lo, int c_hi, int i_lo, int i_hi,
                               const char *what)
{
	int c, i;

	read_announce(r, ih, &c, &i, what);
	PT_CHECK(c >= c_lo && c <= c_hi && i >= i_lo && i <= i_hi,
	         "%s: complete %d incomplete %d, wanted %d..%d and %d..%d", what, c, i, c_lo, c_hi,
	         i_lo, i_hi);
}

/* Scrapes ih alone; its counts in *complete and *incomplete. */
static void scrape_counts(ptr *r, const wid *ih, int *complete, int *incomplete, const char *what)
{
	char j[128], head[256];
	char *got;
	int n, downloaded, end = -1;

	sendf(r, "{\"action\":\"scrape\",\"info_hash\":%s}", spell(ih, RAW, j));
	got = next_text(r);
	n = snprintf(head, sizeof(head), "{\"action\":\"scrape\",\"files\":{%s:{", js(ih, j));
	PT_CHECK(!strncmp(got, head, (size_t)n) &&
	         sscanf(got + n, "\"complete\":%d,\"incomplete\":%d,\"downloaded\":%d}},"
	                "\"flags\":{\"min_request_interval\":120}}%n",
	                complete, incomplete, &downloaded, &end) == 3 && end > 0 && !got[n + end],
	         "%s: %s", what, got);
	free(got);
}

#define OFFER "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n\"}"
#define ANSWER "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}"

/* from offers into ih (where `to` is the only other peer); `to` answers;
 * both ends see byte-exact relays. Used by every test as the sign that
 * the server still serves. */
static void offer_answer_in(ptr *from, const wid *fpid, ptr *to, const wid *tpid, const wid *ih,
                            const wid *oid, enum spelling sp, int n_lo, int n_hi)
{
	char e[512], a[128], b[128], c[128], d[128];

	snprintf(e, sizeof(e), ",\"offers\":[{\"offer\":" OFFER ",\"offer_id\":%s}]", spell(oid, sp, a));
	announce(from, ih, fpid, sp, e);
	expect_announce_in(from, ih, 0, 0, n_lo, n_hi, "offerer's announce reply");
	expectf(to, "relayed offer", "{\"action\":\"announce\",\"offer\":" OFFER ",\"offer_id\":%s,"
	        "\"peer_id\":%s,\"info_hash\":%s}", js(oid, a), js(fpid, b), js(ih, c));
	sendf(to, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":" ANSWER ",\"offer_id\":%s}", spell(ih, sp, a), spell(tpid, sp, b),
	      spell(fpid, sp, c), spell(oid, sp, d));
	expectf(from, "routed answer", "{\"action\":\"announce\",\"answer\":" ANSWER ",\"offer_id\":%s,"
	        "\"peer_id\":%s,\"info_hash\":%s}", js(oid, a), js(tpid, b), js(ih, c));
}

/* The same where the swarm has n_in_swarm peers, all counted. */
static void offer_answer(ptr *from, const wid *fpid, ptr *to, const wid *tpid, const wid *ih,
                         const wid *oid, enum spelling sp, int n_in_swarm)
{
	offer_answer_in(from, fpid, to, tpid, ih, oid, sp, n_in_swarm, n_in_swarm);
}

static void test_offer_answer_byte_exact(void **state)
{
	(void)state;
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptr *a = wt_open(port, "127.0.0.2"), *b = wt_open(port, "127.0.0.3");
	wid ih = mk(1), pa = mk(2), pb = mk(3), oid = mk(4), oid2 = mk(5);
	char x[128], y[128], z[128], w[128];

	/* A joins with every id escaped; B with every id raw: one swarm. */
	announce(a, &ih, &pa, ESCAPED, ",\"event\":\"started\"");
	expect_announce(a, &ih, 0, 1, "first announce");
	offer_answer(b, &pb, a, &pa, &ih, &oid, RAW, 2);
	/* The other way round and spelled the other way. */
	offer_answer(a, &pa, b, &pb, &ih, &oid2, ESCAPED, 2);

	/* A second answer to the same offer is refused: it was used up. */
	sendf(a, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":" ANSWER ",\"offer_id\":%s}", spell(&ih, RAW, x), spell(&pa, RAW, y),
	      spell(&pb, RAW, z), spell(&oid, RAW, w));
	expect_failure(a, "announce", &ih, "no such offer", "second answer");
	expect_silence(b, "second answer reached the offerer");

	/* left:0 makes a seeder; completed counts in scrape's downloaded. */
	announce(a, &ih, &pa, RAW, ",\"left\":0,\"event\":\"completed\"");
	expect_announce(a, &ih, 1, 1, "completed");
	sendf(b, "{\"action\":\"scrape\",\"info_hash\":%s}", spell(&ih, ESCAPED, x));
	expectf(b, "scrape", "{\"action\":\"scrape\",\"files\":{%s:{\"complete\":1,\"incomplete\":1,"
	        "\"downloaded\":1}},\"flags\":{\"min_request_interval\":120}}", js(&ih, y));

	/* stopped: B leaves; its socket stays open. */
	announce(b, &ih, &pb, RAW, ",\"event\":\"stopped\"");
	expect_announce(b, &ih, 1, 0, "stopped");
	/* A's offers now reach nobody. */
	snprintf(z, sizeof(z), ",\"offers\":[{\"offer\":\"x\",\"offer_id\":%s}]", spell(&oid, RAW, w));
	announce(a, &ih, &pa, RAW, z);
	expect_announce(a, &ih, 0, 1, "alone (no \"left\": a leecher again)");
	expect_silence(b, "offer after stopped");

	ptr_free(a);
	ptr_free(b);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_spoofing_refused(void **state)
{
	(void)state;
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptr *a = wt_open(port, "127.0.0.2"), *b = wt_open(port, "127.0.0.3"),
	    *m = wt_open(port, "127.0.0.4");
	wid ih = mk(1), pa = mk(2), pb = mk(3), pm = mk(6), oid = mk(4);
	char x[128], y[128], z[128], w[128], e[256];

	announce(a, &ih, &pa, RAW, "");
	expect_announce(a, &ih, 0, 1, "a");
	/* M joins the swarm, then tries to take over A's peer_id. */
	announce(m, &ih, &pm, RAW, "");
	expect_announce(m, &ih, 0, 2, "m");
	announce(m, &ih, &pa, RAW, "");
	expect_failure(m, "announce", &ih, "in use", "peer_id takeover");
	/* ...to stop it, or complete it. */
	announce(m, &ih, &pa, RAW, ",\"event\":\"stopped\"");
	expect_failure(m, "announce", &ih, "not announced by this connection", "spoofed stop");
	announce(m, &ih, &pa, RAW, ",\"event\":\"completed\",\"left\":0");
	expect_failure(m, "announce", &ih, "in use", "spoofed completed");

	/* B offers twice: A and M get one each (each offer to a different
	 * peer), in an order the matcher picks. */
	wid oid2 = mk(8);
	announce(b, &ih, &pb, RAW, "");
	expect_announce(b, &ih, 0, 3, "b");
	snprintf(e, sizeof(e), ",\"offers\":[{\"offer\":\"o\",\"offer_id\":%s},"
	         "{\"offer\":\"o\",\"offer_id\":%s}]", spell(&oid, RAW, w), spell(&oid2, RAW, x));
	announce(b, &ih, &pb, RAW, e);
	expect_announce(b, &ih, 0, 3, "b offers");
	for (int i = 0; i < 2; i++) {
		char *got = next_text(i ? m : a);
		PT_CHECK(strstr(got, "\"offer\":\"o\"") && strstr(got, js(&pb, y)),
		         "offer to %s: %s", i ? "m" : "a", got);
		free(got);
	}
	/* Whoever got the offer, M may not answer as A. */
	sendf(m, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":\"a\",\"offer_id\":%s}", spell(&ih, RAW, x), spell(&pa, RAW, y),
	      spell(&pb, RAW, z), spell(&oid, RAW, w));
	expect_failure(m, "announce", &ih, "not announced by this connection", "answer as another");
	/* An unsolicited answer under M's own peer_id, with a made-up offer. */
	wid fake = mk(9);
	sendf(m, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":\"a\",\"offer_id\":%s}", spell(&ih, RAW, x), spell(&pm, RAW, y),
	      spell(&pb, RAW, z), spell(&fake, RAW, w));
	expect_failure(m, "announce", &ih, "no such offer", "unsolicited answer");
	/* An answer to a swarm M is not in. */
	wid ih2 = mk(7);
	sendf(m, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":\"a\",\"offer_id\":%s}", spell(&ih2, RAW, x), spell(&pm, RAW, y),
	      spell(&pb, RAW, z), spell(&oid, RAW, w));
	expect_failure(m, "announce", &ih2, "not announced", "answer in a foreign swarm");
	expect_silence(b, "a refused answer reached the offerer");

	/* A is untouched: still in the swarm under its peer_id. */
	sendf(a, "{\"action\":\"scrape\",\"info_hash\":[%s]}", spell(&ih, RAW, x));
	expectf(a, "scrape", "{\"action\":\"scrape\",\"files\":{%s:{\"complete\":0,\"incomplete\":3,"
	        "\"downloaded\":0}},\"flags\":{\"min_request_interval\":120}}", js(&ih, y));

	ptr_free(a);
	ptr_free(b);
	ptr_free(m);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_two_swarms_two_peer_ids(void **state)
{
	(void)state;
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptr *c = wt_open(port, "127.0.0.2"), *o = wt_open(port, "127.0.0.3");
	wid ih1 = mk(1), ih2 = mk(2), p1 = mk(3), p2 = mk(4), p3 = mk(5), po = mk(6), oid = mk(7);
	wid oid2 = mk(8);
	char x[128], y[128];

	/* One connection: swarm 1 as p1, swarm 2 as p2, then swarm 1 as p3 too. */
	announce(c, &ih1, &p1, RAW, "");
	expect_announce(c, &ih1, 0, 1, "ih1 p1");
	announce(c, &ih2, &p2, ESCAPED, "");
	expect_announce(c, &ih2, 0, 1, "ih2 p2");
	announce(c, &ih1, &p3, RAW, "");
	expect_announce(c, &ih1, 0, 2, "ih1 p3: a changed peer_id never closes");
	/* The other peer reaches c in both swarms; c answers as p2 in swarm 2. */
	announce(o, &ih2, &po, RAW, "");
	expect_announce(o, &ih2, 0, 2, "o in ih2");
	offer_answer(o, &po, c, &p2, &ih2, &oid, RAW, 2);
	announce(o, &ih1, &po, RAW, "");
	expect_announce(o, &ih1, 0, 3, "o in ih1");
	offer_answer(o, &po, c, &p3, &ih1, &oid2, ESCAPED, 3);
	/* The per-connection limit (4) counts (swarm, peer_id) pairs. */
	wid ih3 = mk(9), ih4 = mk(10);
	announce(c, &ih3, &p1, RAW, "");
	expect_announce(c, &ih3, 0, 1, "fourth pair");
	announce(c, &ih4, &p1, RAW, "");
	expect_failure(c, "announce", &ih4, "too many swarms", "fifth pair");
	/* Closing c takes all its peer_ids out of all its swarms. */
	ptr_free(c);
	sendf(o, "{\"action\":\"scrape\",\"info_hash\":[%s,%s]}", spell(&ih1, RAW, x), spell(&ih2, RAW, y));
	for (int i = 0; i < 100; i++) {
		char *got = next_text(o), want[512], j1[128], j2[128];

		snprintf(want, sizeof(want), "{\"action\":\"scrape\",\"files\":{%s:{\"complete\":0,"
		         "\"incomplete\":1,\"downloaded\":0},%s:{\"complete\":0,\"incomplete\":1,"
		         "\"downloaded\":0}},\"flags\":{\"min_request_interval\":120}}", js(&ih1, j1),
		         js(&ih2, j2));
		bool ok = !strcmp(got, want);
		free(got);
		if (ok)
			break;
		PT_CHECK(i < 99, "c's swarms were not left after its close");
		/* The close may not have been processed yet: wait for the log. */
		ptd_wait_log(d, "left (closed)", 2000);
		sendf(o, "{\"action\":\"scrape\",\"info_hash\":[%s,%s]}", spell(&ih1, RAW, x),
		      spell(&ih2, RAW, y));
	}
	ptr_free(o);
	assert_int_equal(ptd_stop(d), 0);
}

/* -- across cluster nodes ---------------------------------------------------- */

/* A node of a cluster over r (and r2, a second index shard, unless
 * NULL): CONF plus the cluster keys of test_cluster.c (quick heartbeats;
 * a node silent for 2 s is dead), and more. */
static pt_daemon *wt_node_with(pt_redis *r, pt_redis *r2, const char *tag, const char *more)
{
	char second[32] = "", line[64];
	pt_daemon *d;

	if (r2)
		snprintf(second, sizeof(second), ",127.0.0.1:%d", pt_redis_port(r2));
	d = ptd_start(CONF "resume_window_ms = 0\n[cluster]\ncluster_redis = 127.0.0.1:%d%s\n"
	              "cluster_node = %s\ncluster_redis_password_file = %s\n"
	              "cluster_heartbeat_ms = 200\ncluster_timeout_ms = 500\n"
	              "cluster_reconnect_min_ms = 50\ncluster_reconnect_max_ms = 400\n"
	              "cluster_dead_ms = 2000\n%s",
	              pt_redis_port(r), second, tag, pt_redis_password_file(r), more);

	snprintf(line, sizeof(line), "node '%s' registered", tag);
	PT_CHECK(ptd_wait_log(d, line, PT_T_START_MS) >= 0, "node %s never registered", tag);
	return d;
}

static pt_daemon *wt_node(pt_redis *r, const char *tag)
{
	return wt_node_with(r, NULL, tag, "");
}

/* ih in 40 lowercase hex digits, as in the Redis keys. */
static const char *hex_of(const wid *ih, char out[41])
{
	for (int i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", ih->b[i]);
	return out;
}

/* Waits (bounded) until swarm ih has `want` members in Redis' index. */
static void members_in_redis(pt_redis *r, const wid *ih, int want)
{
	char hex[41];
	uint64_t t0 = pt_now_ms();
	int n;

	hex_of(ih, hex);
	do {
		struct redisReply *rep = pt_redis_cmd(r, "ZCARD pt:h:1:%s", hex);

		n = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
		freeReplyObject(rep);
		if (n == want)
			return;
		usleep(20000);
	} while (pt_now_ms() - t0 < 5000);
	pt_fail("swarm has %d members in Redis, wanted %d", n, want);
}

/* Waits (bounded) until node tag's field of swarm ih's counts in Redis is
 * there (want) or gone (!want); the key, while there, always expires. */
static void count_field_in_redis(pt_redis *r, const wid *ih, const char *tag, bool want)
{
	char hex[41];
	uint64_t t0 = pt_now_ms();
	long long n, ttl;

	hex_of(ih, hex);
	do {
		struct redisReply *rep = pt_redis_cmd(r, "HEXISTS pt:c:1:%s %s", hex, tag);

		n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
		freeReplyObject(rep);
		rep = pt_redis_cmd(r, "PTTL pt:c:1:%s", hex);
		ttl = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -3;
		freeReplyObject(rep);
		PT_CHECK(ttl != -1, "swarm counts key with no expiry");
		if (n == want)
			return;
		usleep(20000);
	} while (pt_now_ms() - t0 < 5000);
	pt_fail("node %s's count field of the swarm: %lld, wanted %d", tag, n, want);
}

/* Polls (bounded) until r's node counts complete/incomplete in ih, in its
 * scrape and, with pid (r's peer_id in ih), in the reply to a
 * re-announce too (with extra: a seeder says left:0 again), which changes
 * no count. */
static void converge(ptr *r, const wid *ih, const wid *pid, const char *extra, int complete,
                     int incomplete, const char *what)
{
	uint64_t t0 = pt_now_ms();
	int ac = -1, ai = -1, sc = -1, si = -1;

	for (int i = 0; i < 250; i++) {
		if (pid) {
			announce(r, ih, pid, RAW, extra);
			read_announce(r, ih, &ac, &ai, what);
		}
		scrape_counts(r, ih, &sc, &si, what);
		if ((!pid || (ac == complete && ai == incomplete)) && sc == complete &&
		    si == incomplete)
			return;
		if (pt_now_ms() - t0 > 5000)
			break;
		usleep(20000);
	}
	pt_fail("%s: announce %d/%d, scrape %d/%d, wanted %d/%d", what, ac, ai, sc, si, complete,
	        incomplete);
}

/* complete/incomplete span the nodes: a seeder on A and a leecher on B
 * read 1/1 on both nodes, in announce replies and scrapes; a swarm a
 * node has not read yet answers its own peers; a leecher that closes or
 * a seeder that stops is taken off both nodes' counts; once A sees B
 * dead, B's peers are no longer counted, at once. A counts key of the
 * wrong type costs counted failures, not a wrong count. */
#define SEED ",\"left\":0"

static void test_cluster_counts(void **state)
{
	(void)state;
	pt_redis *r = pt_redis_start();
	pt_daemon *na = wt_node(r, "Aa"), *nb = wt_node(r, "Bb");
	wid ih = mk(21), ps = mk(22), pl = mk(23), pl2 = mk(24), ih2 = mk(25);
	ptr *s, *l, *l2;
	int c, i;

	PT_CHECK(ptd_wait_log(na, "node 'Bb' is alive", PT_T_START_MS) >= 0, "A never saw B");
	PT_CHECK(ptd_wait_log(nb, "node 'Aa' is alive", PT_T_START_MS) >= 0, "B never saw A");
	s = wt_open(ptd_port(na), "127.0.0.2");
	l = wt_open(ptd_port(nb), "127.0.0.3");
	announce(s, &ih, &ps, RAW, ",\"left\":0,\"event\":\"started\"");
	expect_announce(s, &ih, 1, 0, "seeder joins on A");
	announce(l, &ih, &pl, ESCAPED, ",\"event\":\"started\"");
	expect_announce(l, &ih, 0, 1, "leecher joins on B (B has not read the swarm yet)");
	converge(s, &ih, &ps, SEED, 1, 1, "A counts B's leecher");
	converge(l, &ih, &pl, "", 1, 1, "B counts A's seeder");
	PT_CHECK(ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"written\"}") >= 1 &&
	         ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"read\"}") >= 1,
	         "A's swarm count metrics did not move");

	/* A swarm whose counts key is of the wrong type (planted): writes and
	 * reads fail, counted; the node answers its own count. */
	{
		char hex[41];
		double failed = ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"failed\"}");
		uint64_t t0 = pt_now_ms();
		struct redisReply *rep;

		rep = pt_redis_cmd(r, "SET pt:c:1:%s planted", hex_of(&ih2, hex));
		PT_CHECK(rep && rep->type == REDIS_REPLY_STATUS, "could not plant the key");
		freeReplyObject(rep);
		announce(s, &ih2, &ps, RAW, SEED);
		expect_announce(s, &ih2, 1, 0, "seeder in a swarm with a planted key");
		while (ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"failed\"}") < failed + 2 &&
		       pt_now_ms() - t0 < 5000) {
			scrape_counts(s, &ih2, &c, &i, "scrape of the planted swarm");
			PT_CHECK(c == 1 && i == 0, "planted swarm counted %d/%d", c, i);
			usleep(20000);
		}
		PT_CHECK(ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"failed\"}") >= failed + 2,
		         "the failed write and read of a planted key were not counted");
	}

	/* A second leecher on B, gone by closing its socket. */
	l2 = wt_open(ptd_port(nb), "127.0.0.4");
	announce(l2, &ih, &pl2, RAW, "");
	expect_announce_in(l2, &ih, 0, 1, 2, 2, "second leecher joins on B");
	converge(s, &ih, NULL, NULL, 1, 2, "A counts both of B's leechers");
	ptr_free(l2);
	converge(s, &ih, NULL, NULL, 1, 1, "A after B's second leecher closed");

	/* The seeder stops: both nodes count the leecher alone. */
	announce(s, &ih, &ps, RAW, ",\"event\":\"stopped\"");
	expect_announce_in(s, &ih, 0, 0, 0, 1, "seeder stops");
	converge(l, &ih, &pl, "", 0, 1, "B after A's seeder stopped");
	converge(s, &ih, NULL, NULL, 0, 1, "A after its seeder stopped");

	/* Back as a seeder; then B is killed. */
	announce(s, &ih, &ps, RAW, SEED);
	expect_announce_in(s, &ih, 1, 1, 0, 1, "seeder back on A");
	converge(s, &ih, &ps, SEED, 1, 1, "A counts B's leecher again");
	count_field_in_redis(r, &ih, "Bb", true);
	ptd_kill(nb);
	PT_CHECK(ptd_wait_log(na, "node 'Bb' is dead", 10000) >= 0, "A never noticed B died");
	announce(s, &ih, &ps, RAW, SEED);
	expect_announce(s, &ih, 1, 0, "A right after B died");
	scrape_counts(s, &ih, &c, &i, "A's scrape after B died");
	PT_CHECK(c == 1 && i == 0, "A's scrape after B died: %d/%d", c, i);
	/* A purges the dead node's field with its index entries. */
	count_field_in_redis(r, &ih, "Bb", false);
	count_field_in_redis(r, &ih, "Aa", true);
	ptr_free(s);
	ptr_free(l);
	assert_int_equal(ptd_stop(na), 0);
}

/* A scrape of many swarms past cluster_count_reads_per_sec: the reads
 * beyond the budget are not made (counted), every swarm is still answered
 * (this node's counts), and a swarm asked about again is read later. */
static void test_cluster_count_budget(void **state)
{
	(void)state;
	pt_redis *r = pt_redis_start();
	pt_daemon *na = wt_node_with(r, NULL, "Aa", "cluster_count_reads_per_sec = 1\n"),
	          *nb = wt_node(r, "Bb");
	wid ih[8], pl = mk(39);
	char list[8 * 128 + 16], *o = list, j[128];
	ptr *s, *l;
	double read0, thr0;
	char *got;

	/* Distinct leading bytes, as real info_hashes have: the count cache
	 * places a swarm by them, and swarms sharing a slot share one read. */
	for (int k = 0; k < 8; k++) {
		ih[k] = mk((unsigned char)(40 + k));
		ih[k].b[0] = (unsigned char)(0x40 + k);
	}
	PT_CHECK(ptd_wait_log(na, "node 'Bb' is alive", PT_T_START_MS) >= 0, "A never saw B");
	l = wt_open(ptd_port(nb), "127.0.0.3");
	announce(l, &ih[0], &pl, RAW, "");
	expect_announce(l, &ih[0], 0, 1, "leecher joins on B");
	count_field_in_redis(r, &ih[0], "Bb", true);
	s = wt_open(ptd_port(na), "127.0.0.2");
	read0 = ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"read\"}");
	thr0 = ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"throttled\"}");
	for (int k = 0; k < 8; k++)
		o += sprintf(o, "%s%s", k ? "," : "", spell(&ih[k], RAW, j));
	sendf(s, "{\"action\":\"scrape\",\"info_hash\":[%s]}", list);
	got = next_text(s);
	for (int k = 0; k < 8; k++)
		PT_CHECK(strstr(got, js(&ih[k], j)), "scrape reply lacks swarm %d: %s", k, got);
	free(got);
	/* One token (two if a second passed meanwhile): the rest throttled. */
	PT_CHECK(ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"read\"}") - read0 <= 2 &&
	         ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"throttled\"}") - thr0 >= 6,
	         "scrape of 8 swarms at 1 read/s: %.0f reads, %.0f throttled",
	         ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"read\"}") - read0,
	         ptd_metric(na, "peertrack_cluster_swarm_counts_total{op=\"throttled\"}") - thr0);
	/* Throttled, not lost: B's leecher is counted on A once read. */
	converge(s, &ih[0], NULL, NULL, 0, 1, "A counts B's leecher at 1 read/s");
	ptr_free(s);
	ptr_free(l);
	assert_int_equal(ptd_stop(na), 0);
	assert_int_equal(ptd_stop(nb), 0);
}

/* Two Redis instances as index shards: each swarm's index key and counts
 * key live together on the instance the jump hash picks, both instances
 * hold some, and offers and counts cross nodes on either. */
static void test_cluster_shards(void **state)
{
	(void)state;
	pt_redis *r = pt_redis_start(), *r2 = pt_redis_start_like(r), *on[2] = { r, r2 };
	pt_daemon *na = wt_node_with(r, r2, "Aa", ""), *nb = wt_node_with(r, r2, "Bb", "");
	wid ih[4], ps = mk(61), pl = mk(62), oid = mk(63);
	int where[4], per[2] = { 0, 0 };
	char hex[41];
	ptr *s, *l;

	PT_CHECK(ptd_wait_log(na, "node 'Bb' is alive", PT_T_START_MS) >= 0, "A never saw B");
	s = wt_open(ptd_port(na), "127.0.0.2");
	l = wt_open(ptd_port(nb), "127.0.0.3");
	for (int k = 0; k < 4; k++) {
		ih[k] = mk((unsigned char)(64 + k));
		ih[k].b[0] = (unsigned char)(0x10 * (k + 1));
		announce(s, &ih[k], &ps, RAW, "");
		expect_announce_in(s, &ih[k], 0, 0, 1, 1, "a leecher joins on A");
		announce(l, &ih[k], &pl, RAW, "");
		expect_announce_in(l, &ih[k], 0, 0, 1, 2, "a leecher joins on B");
	}
	for (int k = 0; k < 4; k++) {
		converge(s, &ih[k], &ps, "", 0, 2, "A counts B's leecher");
		converge(l, &ih[k], &pl, "", 0, 2, "B counts A's leecher");
		/* On one instance: the index key (both peers) and the counts key
		 * (both nodes' fields). */
		where[k] = -1;
		for (int x = 0; x < 2; x++) {
			struct redisReply *z = pt_redis_cmd(on[x], "ZCARD pt:h:1:%s", hex_of(&ih[k], hex));
			struct redisReply *h = pt_redis_cmd(on[x], "HLEN pt:c:1:%s", hex);
			long long zn = z && z->type == REDIS_REPLY_INTEGER ? z->integer : -1;
			long long hn = h && h->type == REDIS_REPLY_INTEGER ? h->integer : -1;

			freeReplyObject(z);
			freeReplyObject(h);
			PT_CHECK((zn == 2 && hn == 2) || (zn == 0 && hn == 0),
			         "swarm %d on instance %d: %lld index members, %lld count fields", k, x, zn,
			         hn);
			if (zn == 2) {
				PT_CHECK(where[k] < 0, "swarm %d on both instances", k);
				where[k] = x;
			}
		}
		PT_CHECK(where[k] >= 0, "swarm %d on no instance", k);
		per[where[k]]++;
	}
	PT_CHECK(per[0] && per[1], "the 4 swarms did not spread over both instances (%d, %d)",
	         per[0], per[1]);
	/* An offer crosses nodes in a swarm of each instance. */
	for (int x = 0; x < 2; x++) {
		int k = 0;

		while (where[k] != x)
			k++;
		oid.b[0] = (unsigned char)x;
		offer_answer_in(s, &ps, l, &pl, &ih[k], &oid, RAW, 1, 2);
		converge(l, &ih[k], NULL, NULL, 0, 2, "B's scrape after the offer");
	}
	ptr_free(s);
	ptr_free(l);
	assert_int_equal(ptd_stop(na), 0);
	assert_int_equal(ptd_stop(nb), 0);
}

/* Two nodes, one swarm: peers on different nodes get each other's offers
 * and answers byte-exact (ids with every awkward byte); an answer for an
 * offerer that stopped meanwhile is dropped on the offerer's node; a
 * peer that never got the offer cannot answer it from the other node; a
 * SIGKILLed node's WT peers leave the shared index within the liveness
 * window. */
static void test_cluster_nodes(void **state)
{
	(void)state;
	pt_redis *r = pt_redis_start();
	pt_daemon *na = wt_node(r, "Aa"), *nb = wt_node(r, "Bb");
	ptr *x, *y, *m;
	wid ih = mk(1), pa = mk(2), pb = mk(3), pm = mk(6), oid = mk(4), oid2 = mk(5), oid3 = mk(7);
	char e[512], a1[128], a2[128], a3[128], a4[128];
	char *got;

	PT_CHECK(ptd_wait_log(na, "node 'Bb' is alive", PT_T_START_MS) >= 0, "A never saw B");
	x = wt_open(ptd_port(na), "127.0.0.2");
	y = wt_open(ptd_port(nb), "127.0.0.3");
	announce(y, &ih, &pb, ESCAPED, ",\"event\":\"started\"");
	expect_announce(y, &ih, 0, 1, "y joins on B");
	members_in_redis(r, &ih, 1);
	/* x on A: its offer reaches y on B; y's answer comes back to x. */
	offer_answer_in(x, &pa, y, &pb, &ih, &oid, RAW, 1, 2);
	members_in_redis(r, &ih, 2);
	offer_answer_in(y, &pb, x, &pa, &ih, &oid2, ESCAPED, 1, 2);

	/* x offers, then stops before y answers: A drops the answer. */
	snprintf(e, sizeof(e), ",\"offers\":[{\"offer\":\"o3\",\"offer_id\":%s}]", spell(&oid3, RAW, a1));
	announce(x, &ih, &pa, RAW, e);
	expect_announce_in(x, &ih, 0, 0, 1, 2, "x offers again");
	got = next_text(y);
	PT_CHECK(strstr(got, "\"offer\":\"o3\"") && strstr(got, js(&pa, a2)), "offer o3: %s", got);
	free(got);
	announce(x, &ih, &pa, RAW, ",\"event\":\"stopped\"");
	expect_announce_in(x, &ih, 0, 0, 0, 1, "x stops");
	/* A peer of B that never got offer o3 cannot answer it. */
	m = wt_open(ptd_port(nb), "127.0.0.4");
	announce(m, &ih, &pm, RAW, "");
	expect_announce_in(m, &ih, 0, 0, 2, 3, "m joins on B");
	sendf(m, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":\"a\",\"offer_id\":%s}", spell(&ih, RAW, a1), spell(&pm, RAW, a2),
	      spell(&pa, RAW, a3), spell(&oid3, RAW, a4));
	expect_failure(m, "announce", &ih, "no such offer", "answer to an offer m never got");
	sendf(y, "{\"action\":\"announce\",\"info_hash\":%s,\"peer_id\":%s,\"to_peer_id\":%s,"
	      "\"answer\":\"late\",\"offer_id\":%s}", spell(&ih, RAW, a1), spell(&pb, RAW, a2),
	      spell(&pa, RAW, a3), spell(&oid3, RAW, a4));
	expect_silence(x, "an answer for a peer that stopped was delivered");

	/* B dies: its peers (y, m) leave the shared index. */
	members_in_redis(r, &ih, 2);
	ptd_kill(nb);
	PT_CHECK(ptd_wait_log(na, "node 'Bb' is dead", 10000) >= 0, "A never noticed B died");
	members_in_redis(r, &ih, 0);
	/* And A's offers find nobody (no crash, no stale target); A counts
	 * its own peer alone at once (no sum counting B's peers is kept). */
	announce(x, &ih, &pa, RAW, e);
	expect_announce(x, &ih, 0, 1, "x alone after B died");
	ptr_free(x);
	ptr_free(y);
	ptr_free(m);
	assert_int_equal(ptd_stop(na), 0);
}

/* Redis lost and back: a same-node swarm keeps working meanwhile, and
 * the nodes' re-announce puts every connection's swarm back in the index,
 * so offers cross nodes again. */
static void test_cluster_redis_down(void **state)
{
	(void)state;
	pt_redis *r = pt_redis_start();
	pt_daemon *na = wt_node(r, "Aa"), *nb = wt_node(r, "Bb");
	ptr *x, *y, *z;
	wid ih = mk(11), px = mk(12), py = mk(13), pz = mk(14), o1 = mk(15), o2 = mk(16), o3 = mk(17);
	size_t mark = ptd_log_count(na);

	PT_CHECK(ptd_wait_log(na, "node 'Bb' is alive", PT_T_START_MS) >= 0, "A never saw B");
	x = wt_open(ptd_port(na), "127.0.0.2");
	y = wt_open(ptd_port(nb), "127.0.0.3");
	announce(y, &ih, &py, RAW, "");
	expect_announce(y, &ih, 0, 1, "y joins on B");
	members_in_redis(r, &ih, 1);
	offer_answer_in(x, &px, y, &py, &ih, &o1, RAW, 1, 2);

	pt_redis_stop(r);
	PT_CHECK(ptd_wait_log_from(na, mark, "Redis unreachable", 5000) >= 0, "A never noticed");
	z = wt_open(ptd_port(na), "127.0.0.4");
	announce(z, &ih, &pz, ESCAPED, "");
	/* Redis down: A counts its own peers only. */
	expect_announce(z, &ih, 0, 2, "z joins on A, Redis down");
	offer_answer(z, &pz, x, &px, &ih, &o2, ESCAPED, 2);

	pt_redis_restart(r);
	/* x and z (A) and y (B) back in the emptied index. */
	members_in_redis(r, &ih, 3);
	/* y's offer finds no peer on B: it crosses to A. */
	{
		char e[256], a1[128], a2[128];
		char *got;
		ptr *who;
		int op;

		snprintf(e, sizeof(e), ",\"offers\":[{\"offer\":\"o\",\"offer_id\":%s}]", spell(&o3, RAW, a1));
		announce(y, &ih, &py, RAW, e);
		expect_announce_in(y, &ih, 0, 0, 1, 3, "y offers after Redis came back");
		/* One of A's two peers gets it. */
		for (int i = 0;; i++) {
			who = i % 2 ? z : x;
			got = NULL;
			if (ptr_recv_frame(who, &op, &got, 100) >= 0 && op == PTR_TEXT)
				break;
			free(got);
			PT_CHECK(i < 40, "y's offer never reached A after Redis came back");
		}
		PT_CHECK(strstr(got, js(&py, a2)), "offer: %s", got);
		free(got);
	}
	/* Redis came back empty: the nodes' counts are written again. */
	converge(y, &ih, NULL, NULL, 0, 3, "B's counts after Redis came back");
	converge(x, &ih, NULL, NULL, 0, 3, "A's counts after Redis came back");
	ptr_free(x);
	ptr_free(y);
	ptr_free(z);
	assert_int_equal(ptd_stop(na), 0);
	assert_int_equal(ptd_stop(nb), 0);
}

/* -- malformed input --------------------------------------------------------- */

typedef struct bad {
	const char *name;
	const char *text;   /* sent as one text frame; NULL: see fn */
	void (*fn)(ptr *r);
	const char *action; /* failure's action */
	bool ih;            /* failure echoes the row's info_hash mk(1) */
	const char *reason; /* part of the failure reason */
	int close;          /* or: the close code */
} bad;

#define IH "\\u0000\\\"\\\\\xc2\x80\xc3\xbf\\n\x7f\\u001f/a\xc3\x83\xc2\xa9\\u0001z\xc3\xbe <\\u0010\xc2\xbf\\u0001"
#define PID "-WW0300-abcdefghijkl"

static void send_binary(ptr *r)
{
	ptr_send_frame(r, PTR_BIN, true, true, "{}", 2);
}

static void send_bad_utf8(ptr *r)
{
	static const char t[] = "{\"action\":\"announce\",\"info_hash\":\"\xc3\x28\"}";
	ptr_send_frame(r, PTR_TEXT, true, true, t, sizeof(t) - 1);
}

static void send_too_big(ptr *r)
{
	size_t n = 70000;
	char *t = malloc(n);

	memset(t, ' ', n);
	t[0] = '{';
	t[n - 1] = '}';
	ptr_send_frame(r, PTR_TEXT, true, true, t, n);
	free(t);
}

static void send_big_offer(ptr *r)
{
	char t[3000];
	int n = snprintf(t, sizeof(t), "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\""
	                 PID "\",\"offers\":[{\"offer_id\":\"" PID "\",\"offer\":\"");
	memset(t + n, 'x', 1100);
	strcpy(t + n + 1100, "\"}]}");
	ptr_send_text(r, t);
}

static const bad bads[] = {
	{ "not JSON", "{\"action\":", NULL, "announce", false, "not valid JSON", 0 },
	{ "not an object", "[1,2]", NULL, "announce", false, "not a JSON object", 0 },
	{ "no action", "{\"info_hash\":\"" IH "\"}", NULL, "announce", false, "invalid action", 0 },
	{ "unknown action", "{\"action\":\"connect\"}", NULL, "announce", false, "invalid action", 0 },
	{ "info_hash short", "{\"action\":\"announce\",\"info_hash\":\"abc\",\"peer_id\":\"" PID "\"}",
	  NULL, "announce", false, "invalid info_hash", 0 },
	{ "info_hash 21", "{\"action\":\"announce\",\"info_hash\":\"" IH "x\",\"peer_id\":\"" PID "\"}",
	  NULL, "announce", false, "invalid info_hash", 0 },
	{ "info_hash U+0100", "{\"action\":\"announce\",\"info_hash\":\"abcdefghijklmnopqrs\\u0100\","
	  "\"peer_id\":\"" PID "\"}", NULL, "announce", false, "invalid info_hash", 0 },
	{ "info_hash number", "{\"action\":\"announce\",\"info_hash\":5}", NULL, "announce", false,
	  "invalid info_hash", 0 },
	{ "peer_id missing", "{\"action\":\"announce\",\"info_hash\":\"" IH "\"}", NULL, "announce", true,
	  "invalid peer_id", 0 },
	{ "peer_id U+20AC", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":"
	  "\"-WW0300-abcdefghijk\xe2\x82\xac\"}", NULL, "announce", true, "invalid peer_id", 0 },
	{ "bad event", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"event\":\"begin\"}", NULL, "announce", true, "invalid event", 0 },
	{ "numwant negative", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"numwant\":-3}", NULL, "announce", true, "invalid numwant", 0 },
	{ "left a string", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"left\":\"0\"}", NULL, "announce", true, "invalid left", 0 },
	{ "offers an object", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"offers\":{}}", NULL, "announce", true, "invalid offers", 0 },
	{ "too many offers", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"offers\":[{},{},{},{}]}", NULL, "announce", true, "too many offers", 0 },
	{ "offer without offer_id", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"offers\":[{\"offer\":{}}]}", NULL, "announce", true, "invalid offer_id", 0 },
	{ "offer a number", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	  "\",\"offers\":[{\"offer\":1,\"offer_id\":\"" PID "\"}]}", NULL, "announce", true,
	  "invalid offer", 0 },
	{ "offer too large", NULL, send_big_offer, "announce", true, "offer larger than", 0 },
	{ "answer without to_peer_id", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\""
	  PID "\",\"answer\":{},\"offer_id\":\"" PID "\"}", NULL, "announce", true, "to_peer_id", 0 },
	{ "answer without offer_id", "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\""
	  PID "\",\"answer\":{},\"to_peer_id\":\"" PID "\"}", NULL, "announce", true,
	  "invalid offer_id", 0 },
	{ "duplicate key", "{\"action\":\"announce\",\"action\":\"scrape\"}", NULL, "announce", false,
	  "twice", 0 },
	{ "full scrape", "{\"action\":\"scrape\"}", NULL, "scrape", false, "full scrape", 0 },
	{ "scrape bad hash", "{\"action\":\"scrape\",\"info_hash\":[\"" IH "\",\"x\"]}", NULL, "scrape",
	  false, "invalid info_hash[1]", 0 },
	{ "binary frame", NULL, send_binary, "announce", false, "binary", 0 },
	{ "invalid UTF-8", NULL, send_bad_utf8, NULL, false, NULL, 1007 },
	{ "over wt_max_message_bytes", NULL, send_too_big, NULL, false, NULL, 1009 },
};

static void test_malformed(void **state)
{
	(void)state;
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptr *g1 = wt_open(port, "127.0.0.2"), *g2 = wt_open(port, "127.0.0.3");
	wid ih = mk(1), p1 = mk(2), p2 = mk(3);
	size_t n = sizeof(bads) / sizeof(bads[0]);
	unsigned char want_ih[20];

	/* The row's IH literal is mk(1) spelled by hand: check that first. */
	memcpy(want_ih, ih.b, 20);
	PT_CHECK(n >= 15, "at least 15 malformed inputs");
	announce(g1, &ih, &p1, RAW, "");
	expect_announce(g1, &ih, 0, 1, "bystander 1");
	announce(g2, &ih, &p2, RAW, "");
	expect_announce(g2, &ih, 0, 2, "bystander 2");
	for (size_t i = 0; i < n; i++) {
		const bad *b = &bads[i];
		char src[32];
		wid oid = mk((unsigned char)(100 + i));
		ptr *r;

		snprintf(src, sizeof(src), "127.0.11.%zu", i + 1);
		fprintf(stderr, "malformed %zu: %s\n", i + 1, b->name);
		r = wt_open(port, src);
		if (b->text)
			PT_CHECK(ptr_send_text(r, b->text) == 0, "send");
		else
			b->fn(r);
		if (b->close) {
			int code = ptr_wait_close(r, PT_T_REPLY_MS);
			PT_CHECK(code == b->close, "row %zu (%s): close %d, want %d", i + 1, b->name, code,
			         b->close);
		} else {
			char what[96];

			snprintf(what, sizeof(what), "row %zu (%s)", i + 1, b->name);
			expect_failure(r, b->action, b->ih ? (const wid *)want_ih : NULL, b->reason, what);
			/* A failure never closes: the same socket still announces. */
			wid own = mk((unsigned char)(200 + i)), opid = mk(77);
			announce(r, &own, &opid, RAW, "");
			expect_announce(r, &own, 0, 1, what);
		}
		ptr_free(r);
		/* The bystanders keep being served. */
		offer_answer(g1, &p1, g2, &p2, &ih, &oid, i & 1 ? RAW : ESCAPED, 2);
	}
	ptr_free(g1);
	ptr_free(g2);
	assert_int_equal(ptd_stop(d), 0);
}

/* The same port serves /v1 and /announce; other paths are refused. */
static void test_paths(void **state)
{
	(void)state;
	pt_daemon *d = ptd_start(CONF);
	int port = ptd_port(d);
	ptr_opts other = { .path = "/announce/x" }, v1 = { .path = "/v1" };
	ptr *r;

	PT_CHECK(ptr_upgrade_status(port, &other, NULL) != 101, "/announce/x upgraded");
	r = ptr_connect(port, &v1);
	PT_CHECK(r, "no /v1");
	json_t *w = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(w && !strcmp(pt_jstr(w, "type"), "welcome"), "/v1 sends its welcome");
	json_decref(w);
	ptr_free(r);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_offer_answer_byte_exact, pt_teardown),
		cmocka_unit_test_teardown(test_spoofing_refused, pt_teardown),
		cmocka_unit_test_teardown(test_two_swarms_two_peer_ids, pt_teardown),
		cmocka_unit_test_teardown(test_malformed, pt_teardown),
		cmocka_unit_test_teardown(test_paths, pt_teardown),
		cmocka_unit_test_teardown(test_cluster_nodes, pt_teardown),
		cmocka_unit_test_teardown(test_cluster_counts, pt_teardown),
		cmocka_unit_test_teardown(test_cluster_count_budget, pt_teardown),
		cmocka_unit_test_teardown(test_cluster_shards, pt_teardown),
		cmocka_unit_test_teardown(test_cluster_redis_down, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
