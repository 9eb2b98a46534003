/* test_reload.c — every key marked reloadable takes effect on SIGHUP.
 *
 * One row per reloadable key, [webtorrent] included: a value other than
 * its default and a probe that observes the daemon using it (a refusal, a
 * reply, a log line, a row in the store or its absence, a metric, or
 * welcome.limits where that is how clients learn it). Every probe fails
 * without its row's line. The table is checked against the key table both
 * ways, so marking a key
 * reloadable without a row here fails, as does a row for a key that is not
 * reloadable (handshake_timeout_ms was marked reloadable although
 * libwebsockets reads it only at start). One daemon: each row rewrites the
 * file as the base plus its line, sends SIGHUP, waits for the reload to be
 * logged and runs its probe; the next row's file drops the line again. */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "peertrack/config.h"
#include "integration/lib/harness.h"

/* Every client comes from an address of its own (max_connections_per_ip
 * is 1 here, so a probe can show it change). */
#define BASE_CONF                                                      \
	"allow_missing_origin = yes\nmax_connections_per_ip = 1\n"        \
	"store_flush_ms = 50\n"

typedef struct ctx {
	pt_daemon *d;
	int port;
	unsigned next_src;
} ctx;

/* A loopback address no client of this test has used. */
static const char *next_source(ctx *x, char src[32])
{
	x->next_src++;
	snprintf(src, 32, "127.42.%u.%u", x->next_src / 200, 1 + x->next_src % 200);
	return src;
}

static ptc *join(ctx *x)
{
	char src[32];
	ptc_opts o = { .source = next_source(x, src) };

	return ptc_join(x->port, &o);
}

/* welcome.limits.KEY (or welcome.KEY) of a new client. */
static long long welcome_value(ctx *x, const char *key)
{
	char src[32];
	ptc_opts o = { .source = src };
	ptc *c;
	json_t *w;
	long long v;

	next_source(x, src);
	c = ptc_connect(x->port, &o);
	PT_CHECK(c, "connect: %s", ptc_last_error());
	w = ptc_take_welcome(c);
	v = json_object_get(w, key) ? pt_jint(w, key) : pt_jint(json_object_get(w, "limits"), key);
	json_decref(w);
	ptc_close(c);
	return v;
}

#define WELCOME_PROBE(key, want)                                                  \
	static void probe_##key(ctx *x)                                               \
	{                                                                             \
		long long v = welcome_value(x, #key);                                     \
		PT_CHECK(v == (want), "welcome %s: %lld, want %lld", #key, v, (long long)(want)); \
	}
WELCOME_PROBE(max_message_bytes, 20000)
WELCOME_PROBE(max_hashes_per_message, 3)
WELCOME_PROBE(max_hashes_per_peer, 5)
WELCOME_PROBE(max_signal_bytes, 700)
WELCOME_PROBE(max_report_bytes, 1000)
WELCOME_PROBE(rate_messages_per_sec, 7)
WELCOME_PROBE(rate_burst, 9)
WELCOME_PROBE(heartbeat_ms, 5000)
WELCOME_PROBE(timeout_ms, 60000)
WELCOME_PROBE(resume_window_ms, 1234)

/* welcome.ice_servers of a new client (decref it). */
static json_t *ice_servers(ctx *x)
{
	char src[32];
	ptc_opts o = { .source = src };
	ptc *c;
	json_t *w, *ice;

	next_source(x, src);
	c = ptc_connect(x->port, &o);
	PT_CHECK(c, "connect: %s", ptc_last_error());
	w = ptc_take_welcome(c);
	ice = json_incref(json_object_get(w, "ice_servers"));
	json_decref(w);
	ptc_close(c);
	return ice;
}

static void probe_stun_urls(ctx *x)
{
	json_t *ice = ice_servers(x);
	json_t *url = json_array_get(json_object_get(json_array_get(ice, 0), "urls"), 0);

	PT_CHECK(url && !strcmp(json_string_value(url), "stun:127.0.0.1:3478"), "no STUN url in welcome");
	json_decref(ice);
}

/* A TURN credential appears in welcome, and its HMAC is secret's. */
static void expect_turn_signed_with(ctx *x, const char *secret)
{
	json_t *ice = ice_servers(x), *t = json_array_get(ice, 0);
	const char *user = pt_jstr(t, "username");
	unsigned char mac[20];
	char want[32];
	unsigned int n = 0;

	PT_CHECK(user && *user, "no TURN credential in welcome");
	HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)user, strlen(user), mac, &n);
	EVP_EncodeBlock((unsigned char *)want, mac, (int)n);
	PT_CHECK(!strcmp(pt_jstr(t, "credential"), want), "TURN credential not signed with %s", secret);
	json_decref(ice);
}

/* TURN with an inline secret (turn_urls and turn_secret share the row's
 * line). */
static void probe_turn(ctx *x)
{
	expect_turn_signed_with(x, "row-Secret-1");
}
#define probe_turn_urls probe_turn
#define probe_turn_secret probe_turn

/* The secret file of the turn_secret_file row, 0600 as the daemon
 * demands, next to the config. */
static void write_turn_secret_file(ctx *x)
{
	char dir[512], path[600];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", ptd_conf_path(x->d));
	snprintf(path, sizeof(path), "%s/turn.secret", dirname(dir));
	f = fopen(path, "w");
	PT_CHECK(f && fchmod(fileno(f), 0600) == 0 && fputs("file-Secret-2\n", f) >= 0 && fclose(f) == 0,
	         "cannot write %s", path);
}

static void probe_turn_secret_file(ctx *x)
{
	expect_turn_signed_with(x, "file-Secret-2");
}

static void probe_turn_credential_ttl_s(ctx *x)
{
	long long v = welcome_value(x, "ice_ttl_s");

	PT_CHECK(v == 600, "welcome ice_ttl_s: %lld, want 600", v);
}

static void probe_resume_max_sessions(ctx *x)
{
	/* 0 turns resuming off: no token. */
	PT_CHECK(welcome_value(x, "resume_window_ms") == -1, "resume_max_sessions = 0: still a token");
}

static void probe_log_level(ctx *x)
{
	size_t mark = ptd_log_count(x->d);
	ptc *c = join(x);

	PT_CHECK(ptd_wait_log_from(x->d, mark, "DEBUG peer ", PT_T_REPLY_MS) >= 0,
	         "log_level = debug: no debug line for a new peer");
	ptc_close(c);
}

static void probe_log_format(ctx *x)
{
	PT_CHECK(ptd_wait_log(x->d, "{\"ts\":\"", PT_T_REPLY_MS) >= 0, "log_format = json: no JSON line");
}

static void probe_log_time(ctx *x)
{
	/* The reload's own line, written under the new setting: "...Z INFO". */
	PT_CHECK(ptd_wait_log(x->d, "Z INFO reloaded configuration", PT_T_REPLY_MS) >= 0,
	         "log_time = yes: no time-stamped line");
}

static void probe_max_connections(ctx *x)
{
	ptc *a = join(x);
	char src[32];
	ptr *r;

	/* Raw: lws 4.1's client turns a received 1013 into 1002. */
	r = ptr_connect(x->port, &(ptr_opts){ .source = next_source(x, src) });
	PT_CHECK(r, "upgrade");
	PT_CHECK(ptr_wait_close(r, PT_T_REPLY_MS) == 1013, "max_connections = 1: a 2nd peer admitted");
	ptr_free(r);
	ptc_close(a);
}

static void probe_max_connections_per_ip(ctx *x)
{
	ptc_opts o = { .source = "127.43.0.1" };
	ptc *a = ptc_join(x->port, &o), *b = ptc_join(x->port, &o);

	ptc_roundtrip(b);
	ptc_close(a);
	ptc_close(b);
}

static void probe_max_lookup_peers(ctx *x)
{
	ptc *h[3], *q = join(x);
	char hash[65], ids[4][32];

	pt_hash_of(7, 4242, hash);
	for (int i = 0; i < 3; i++) {
		h[i] = join(x);
		json_decref(ptc_hashes(h[i], "announce", NULL, &hash, 1));
	}
	PT_CHECK(ptc_lookup(q, hash, 0, ids, 4) == 2, "max_lookup_peers = 2: not 2 peers");
	for (int i = 0; i < 3; i++)
		ptc_close(h[i]);
	ptc_close(q);
}

static void probe_rate_abuse_strikes(ctx *x)
{
	ptc *c = join(x);

	/* The burst (100) passes, the next ones are rate-limited: with 2
	 * strikes the third closes the peer (4001); 50 would allow far more. */
	for (int i = 0; i < 110; i++)
		ptc_send(c, "{\"type\":\"ping\"}");
	PT_CHECK(ptc_wait_close(c, PT_T_REPLY_MS) == 4001, "rate_abuse_strikes = 2: not closed 4001");
	ptc_close(c);
}

static void probe_max_index_entries(ctx *x)
{
	ptc *c = join(x);
	char h[3][65];
	json_t *r;

	for (int i = 0; i < 3; i++)
		pt_hash_of((unsigned)i, 4343, h[i]);
	r = ptc_hashes(c, "announce", NULL, h, 2);
	PT_CHECK(pt_jint(r, "total") == 2, "max_index_entries = 2: 2 hashes not taken");
	json_decref(r);
	r = ptc_hashes(c, "announce", "over", &h[2], 1);
	pt_expect_error(r, "busy");
	ptc_close(c);
}

static void probe_max_hashes_per_ip(ctx *x)
{
	ptc *c = join(x);
	char h[3][65];
	json_t *r;

	for (int i = 0; i < 3; i++)
		pt_hash_of((unsigned)i, 4444, h[i]);
	r = ptc_hashes(c, "announce", NULL, h, 2);
	PT_CHECK(pt_jint(r, "total") == 2, "max_hashes_per_ip = 2: 2 hashes not taken");
	json_decref(r);
	pt_expect_error(ptc_hashes(c, "announce", NULL, &h[2], 1), "too-many-hashes");
	ptc_close(c);
}

static void probe_max_halfopen_per_ip(ctx *x)
{
	/* One silent handshake from an address; the next from it is answered
	 * 503 at once (the default allows 32). */
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)x->port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	int fd[2];
	char buf[64] = "";

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	inet_pton(AF_INET, "127.49.0.1", &src.sin_addr);
	for (int i = 0; i < 2; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		PT_CHECK(fd[i] >= 0 && !bind(fd[i], (struct sockaddr *)&src, sizeof(src)) &&
		         !connect(fd[i], (struct sockaddr *)&dst, sizeof(dst)), "connect");
	}
	struct pollfd p = { .fd = fd[1], .events = POLLIN };
	PT_CHECK(poll(&p, 1, PT_T_REPLY_MS) == 1 && recv(fd[1], buf, sizeof(buf) - 1, 0) > 0 &&
	         !strncmp(buf, "HTTP/1.1 503 ", 13),
	         "max_halfopen_per_ip = 1: a 2nd handshake of one address not refused (%.20s)", buf);
	close(fd[0]);
	close(fd[1]);
}

static void probe_allowed_origins(ctx *x)
{
	ptc_opts bad = { .origin = "https://evil.example", .source = "127.44.0.1" };
	ptc_opts good = { .origin = "https://good.example", .source = "127.44.0.2" };
	ptc *c = ptc_connect(x->port, &bad);

	PT_CHECK(c, "connect: %s", ptc_last_error());
	PT_CHECK(ptc_wait_close(c, PT_T_REPLY_MS) == 1008, "a foreign origin admitted");
	ptc_close(c);
	ptc_close(ptc_join(x->port, &good));
}

static void probe_allow_missing_origin(ctx *x)
{
	ptc_opts none = { .source = "127.44.0.3" };
	ptc *c = ptc_connect(x->port, &none);

	PT_CHECK(c, "connect: %s", ptc_last_error());
	PT_CHECK(ptc_wait_close(c, PT_T_REPLY_MS) == 1008, "no Origin admitted");
	ptc_close(c);
}

static void probe_trusted_proxies(ctx *x)
{
	/* Two clients through the "proxy" 127.45.0.1, each named by its own
	 * X-Forwarded-For: with max_connections_per_ip = 1 the second would be
	 * refused if the proxy's address counted. */
	static const char *const h1[] = { "X-Forwarded-For: 198.51.100.1", NULL };
	static const char *const h2[] = { "X-Forwarded-For: 198.51.100.2", NULL };
	ptc *a = ptc_join(x->port, &(ptc_opts){ .source = "127.45.0.1", .headers = h1 });
	ptc *b = ptc_join(x->port, &(ptc_opts){ .source = "127.45.0.1", .headers = h2 });

	ptc_roundtrip(b);
	ptc_close(a);
	ptc_close(b);
}

/* Holders at the requester's /24 and elsewhere; the order of ten lookups. */
static int near_first(ctx *x, int rounds)
{
	ptc_opts qo = { .source = "127.46.1.1" }, no = { .source = "127.46.1.2" },
	         fo = { .source = "127.46.200.2" };
	ptc *q = ptc_join(x->port, &qo), *n = ptc_join(x->port, &no), *f = ptc_join(x->port, &fo);
	char hash[65], ids[4][32];
	int firsts = 0;

	pt_hash_of(9, 4242, hash);
	json_decref(ptc_hashes(n, "announce", NULL, &hash, 1));
	json_decref(ptc_hashes(f, "announce", NULL, &hash, 1));
	for (int i = 0; i < rounds; i++) {
		PT_CHECK(ptc_lookup(q, hash, 0, ids, 4) == 2, "lookup: not 2 holders");
		firsts += !strcmp(ids[0], ptc_id(n));
	}
	ptc_close(q);
	ptc_close(n);
	ptc_close(f);
	return firsts;
}

static void probe_match_strategy(ctx *x)
{
	/* proximity puts the same-/24 holder first every time; random does
	 * not (all 30 by chance: 2^-30). */
	int firsts = near_first(x, 30);

	PT_CHECK(firsts < 30, "match_strategy = random: the near holder first in all 30 lookups");
}

static void probe_match_sample(ctx *x)
{
	/* A sample of 1 ranks (and returns) one of the holders. */
	ptc_opts qo = { .source = "127.47.0.1" };
	ptc *q = ptc_join(x->port, &qo), *h[3];
	char hash[65], ids[4][32];

	pt_hash_of(11, 4242, hash);
	for (int i = 0; i < 3; i++) {
		h[i] = join(x);
		json_decref(ptc_hashes(h[i], "announce", NULL, &hash, 1));
	}
	PT_CHECK(ptc_lookup(q, hash, 0, ids, 4) == 1, "match_sample = 1: not 1 peer");
	for (int i = 0; i < 3; i++)
		ptc_close(h[i]);
	ptc_close(q);
}

static void probe_match_half_life_ms(ctx *x)
{
	/* Two holders at the same distance, one asked for at a time: the
	 * hand-out counter alternates them while it remembers (30 s); with a
	 * 1 ms half-life it forgets between lookups and ties fall to random:
	 * not strictly alternating over 30 lookups (by chance: 2^-29). */
	ptc_opts qo = { .source = "127.48.1.1" }, ao = { .source = "127.48.2.1" },
	         bo = { .source = "127.48.3.1" };
	ptc *q = ptc_join(x->port, &qo), *a = ptc_join(x->port, &ao), *b = ptc_join(x->port, &bo);
	char hash[65], ids[4][32], prev[32] = "";
	int repeats = 0;

	pt_hash_of(13, 4242, hash);
	json_decref(ptc_hashes(a, "announce", NULL, &hash, 1));
	json_decref(ptc_hashes(b, "announce", NULL, &hash, 1));
	for (int i = 0; i < 30; i++) {
		PT_CHECK(ptc_lookup(q, hash, 1, ids, 4) == 1, "lookup: not 1 holder");
		repeats += !strcmp(prev, ids[0]);
		snprintf(prev, sizeof(prev), "%s", ids[0]);
		ptc_service(3);
	}
	PT_CHECK(repeats > 0, "match_half_life_ms = 1: lookups still alternate strictly");
	ptc_close(q);
	ptc_close(a);
	ptc_close(b);
}

/* a signals b, b leaves: does a hear of it? */
static bool hears_peer_left(ctx *x)
{
	ptc *a = join(x), *b = join(x);
	json_t *m;
	bool heard;

	ptc_send(a, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"o\":1}}", ptc_id(b));
	json_decref(ptc_recv_type(b, "signal", PT_T_REPLY_MS));
	ptc_close(b);
	ptc_roundtrip(a);
	m = ptc_recv_type(a, "peer-left", 500);
	heard = m != NULL;
	json_decref(m);
	ptc_close(a);
	return heard;
}

static void probe_peer_left_window_ms(ctx *x)
{
	PT_CHECK(!hears_peer_left(x), "peer_left_window_ms = 0: peer-left still sent");
}

static void probe_recent_contacts(ctx *x)
{
	PT_CHECK(!hears_peer_left(x), "recent_contacts = 0: peer-left still sent");
}

/* reporters (each from its own address) signal the liar and report it for
 * hash[i of each]; -> how many hold hash[0] afterwards. */
static int holders_after_reports(ctx *x, int n, const int *which)
{
	ptc *liar = join(x), *q = join(x), *r;
	char hash[2][65], ids[4][32];
	json_t *m;
	int got;

	pt_hash_of(1, 4343, hash[0]);
	pt_hash_of(2, 4343, hash[1]);
	json_decref(ptc_hashes(liar, "announce", NULL, hash, 2));
	for (int i = 0; i < n; i++) {
		r = join(x);
		ptc_send(r, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"o\":1}}", ptc_id(liar));
		json_decref(ptc_recv_type(liar, "signal", PT_T_REPLY_MS));
		m = ptc_call(r, "{\"type\":\"bad-peer\",\"peer\":\"%s\",\"hash\":\"%s\"}", ptc_id(liar),
		             hash[which[i]]);
		PT_CHECK(pt_jtype_is(m, "ack"), "bad-peer not acked");
		json_decref(m);
		ptc_close(r);
	}
	got = ptc_lookup(q, hash[0], 4, ids, 4);
	ptc_close(q);
	ptc_close(liar);
	return got;
}

static void probe_bad_peer_reports(ctx *x)
{
	PT_CHECK(holders_after_reports(x, 1, (const int[]){ 0 }) == 0,
	         "bad_peer_reports = 1: one report did not withdraw the hash");
}

/* With room for one report, the report about the other hash pushes out the
 * first one about hash 0: the third does not make two. */
static void probe_bad_peer_max_reports(ctx *x)
{
	PT_CHECK(holders_after_reports(x, 3, (const int[]){ 0, 1, 0 }) == 1,
	         "bad_peer_max_reports = 1: an evicted report still counted");
}

static int db_count(ctx *x, const char *sql, const char *arg);

/* Until the session of c is in the store (bounded). */
static void wait_stored(ctx *x, ptc *c)
{
	int found = 0;

	for (int i = 0; i < 200 && found <= 0; i++) {
		found = db_count(x, "SELECT 1 FROM sessions WHERE id = ?", ptc_id(c));
		if (found <= 0)
			ptc_service(20);
	}
	PT_CHECK(found == 1, "the session never reached the store");
}

static void probe_store_ip(ctx *x)
{
	ptc *c = join(x);

	wait_stored(x, c);
	PT_CHECK(db_count(x, "SELECT 1 FROM sessions WHERE id = ? AND ip = ''", ptc_id(c)) == 1,
	         "store_ip = none: an address stored");
	ptc_close(c);
}

static void probe_metrics_allow(ctx *x)
{
	char cmd[256];

	/* 127.0.0.1 is no longer allowed. */
	snprintf(cmd, sizeof(cmd),
	         "test \"$(curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/metrics)\" = 403",
	         x->port);
	PT_CHECK(system(cmd) == 0, "metrics_allow = 192.0.2.1: /metrics still answered 127.0.0.1");
}

/* A socket from a new source address that connects and sends nothing:
 * a handshake that never starts. */
static int silent_handshake(ctx *x)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)x->port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	char a[32];
	int fd;

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	inet_pton(AF_INET, next_source(x, a), &src.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	PT_CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&src, sizeof(src)) &&
	         !connect(fd, (struct sockaddr *)&dst, sizeof(dst)), "connect");
	return fd;
}

/* Whether the daemon answers fd 503 within wait_ms. */
static bool answered_503(int fd, int wait_ms, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	buf[0] = 0;
	return poll(&p, 1, wait_ms) == 1 && recv(fd, buf, len - 1, 0) > 0 &&
	       !strncmp(buf, "HTTP/1.1 503 ", 13);
}

static void probe_max_halfopen(ctx *x)
{
	/* One silent handshake; the next, from another address, is answered
	 * 503 at once (the default allows 1024 from everyone). */
	int fd0 = silent_handshake(x), fd1 = silent_handshake(x);
	char buf[64];

	PT_CHECK(answered_503(fd1, PT_T_REPLY_MS, buf, sizeof(buf)),
	         "max_halfopen = 1: a 2nd handshake (another address) not refused (%.20s)", buf);
	close(fd0);
	close(fd1);
}

static void probe_halfopen_idle_ms(ctx *x)
{
	/* With the one place taken by a handshake silent for 300 ms, the
	 * default (50 ms) gives the newcomer that place; 600 000 keeps it
	 * taken, so the newcomer is answered 503. */
	int fd0 = silent_handshake(x), fd1;
	struct pollfd p = { .fd = fd0, .events = POLLIN };
	char buf[64];

	/* The idle time is what is tested: nothing should arrive on fd0. */
	PT_CHECK(poll(&p, 1, 300) == 0, "the silent handshake was answered or dropped early");
	fd1 = silent_handshake(x);
	PT_CHECK(answered_503(fd1, PT_T_REPLY_MS, buf, sizeof(buf)),
	         "halfopen_idle_ms = 600000: an idle handshake was dropped for a newcomer (%.20s)", buf);
	close(fd0);
	close(fd1);
}

/* The daemon's database, read-only. */
static sqlite3 *open_db(ctx *x)
{
	char dir[512], path[600];
	sqlite3 *db;

	snprintf(dir, sizeof(dir), "%s", ptd_conf_path(x->d));
	snprintf(path, sizeof(path), "%s/state/peertrack.db", dirname(dir));
	PT_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open %s", path);
	sqlite3_busy_timeout(db, 1000);
	return db;
}

/* Rows of sql (one "?" bound to arg), or -1 while the table is busy. */
static int db_count(ctx *x, const char *sql, const char *arg)
{
	sqlite3 *db = open_db(x);
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
		for (n = 0; sqlite3_step(st) == SQLITE_ROW;)
			n++;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

static void probe_store_rows_per_peer_per_min(ctx *x)
{
	/* With 0 an announce is answered but not counted: no resources row.
	 * Commits keep the order of events, so once a session opened after
	 * the announce is in the store, its count would be too. */
	ptc *c = join(x), *later;
	char hash[65];
	json_t *r;

	pt_hash_of(17, 4242, hash);
	r = ptc_hashes(c, "announce", NULL, &hash, 1);
	PT_CHECK(pt_jint(r, "total") == 1, "announce not taken");
	json_decref(r);
	later = join(x);
	wait_stored(x, later);
	PT_CHECK(db_count(x, "SELECT 1 FROM resources WHERE hash = ?", hash) == 0,
	         "store_rows_per_peer_per_min = 0: the announce was counted");
	ptc_close(c);
	ptc_close(later);
}

static char *text_of(size_t n, const char *head, char fill, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(n + 1);

	PT_CHECK(s && n > h + t, "text_of");
	memcpy(s, head, h);
	memset(s + h, fill, n - h - t);
	memcpy(s + n - t, tail, t + 1);
	return s;
}

static void reload_with(ctx *x, const char *line);

static double metric_now(ctx *x, const char *series)
{
	char *m = NULL;
	double v;

	PT_CHECK(pt_http_get(x->port, "127.0.0.1", "/metrics", &m) == 200, "GET /metrics");
	v = pt_metric(m, series);
	free(m);
	return v;
}

#define SLOW_READERS "peertrack_disconnects_total{reason=\"slow-reader\"}"

/* Bytes sent, 60 kB at a time, to a reader that never reads (4 KiB
 * receive buffer) until the daemon closes it as a slow reader (4002). */
static size_t bytes_to_slow_close(ctx *x)
{
	char src[32], *data = text_of(12000, "{\"blob\":\"", 'z', "\"}"), slow_id[32];
	ptr *slow = ptr_connect(x->port, &(ptr_opts){ .source = next_source(x, src), .rcvbuf = 4096 });
	ptc *s = join(x);
	double before = metric_now(x, SLOW_READERS);
	size_t sent = 0;
	json_t *w;

	PT_CHECK(slow, "raw upgrade");
	w = ptr_recv_json(slow, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "no welcome");
	snprintf(slow_id, sizeof(slow_id), "%s", pt_jstr(w, "id"));
	json_decref(w);
	for (int batch = 0; batch < 400 && metric_now(x, SLOW_READERS) == before; batch++) {
		for (int i = 0; i < 5; i++, sent += 12000)
			ptc_send(s, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":%s}", slow_id, data);
		/* The pong says the batch was handled (peer-gone may come first). */
		ptc_send(s, "{\"type\":\"ping\"}");
		json_decref(w = ptc_recv_type(s, "pong", PT_T_REPLY_MS));
		PT_CHECK(w, "no pong");
	}
	PT_CHECK(metric_now(x, SLOW_READERS) == before + 1, "%zu bytes and no slow-reader close", sent);
	free(data);
	ptr_free(slow);
	ptc_close(s);
	return sent;
}

static void probe_send_queue_max_bytes(ctx *x)
{
	/* The kernel's socket buffers take megabytes on loopback before
	 * anything queues, and vary by kernel: so compare. 4 KiB closes the
	 * reader about 1 MiB earlier than the default does, more than 512 kB
	 * apart (the two measures of one setting differ by a batch or two). */
	size_t small = bytes_to_slow_close(x), dflt;

	reload_with(x, "rate_burst = 100000");
	dflt = bytes_to_slow_close(x);
	fprintf(stderr, "slow reader closed after %zu bytes at 4 KiB, %zu at 1 MiB\n", small, dflt);
	PT_CHECK(dflt >= small + 512000, "send_queue_max_bytes = 4096: closed after %zu bytes, "
	         "%zu with the default 1 MiB", small, dflt);
}

/* A peer that dropped without a close (parked, resumable) and one that
 * signals it: each signal it sends is held (no reply) or refused. */
static ptc *park_one(ctx *x, char id[32])
{
	char src[32];
	ptr *r = ptr_connect(x->port, &(ptr_opts){ .source = next_source(x, src) });
	size_t mark = ptd_log_count(x->d);
	char needle[64];
	json_t *w;

	PT_CHECK(r, "raw upgrade");
	w = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "no welcome");
	snprintf(id, 32, "%s", pt_jstr(w, "id"));
	json_decref(w);
	ptr_free(r);
	snprintf(needle, sizeof(needle), "peer %s parked", id);
	PT_CHECK(ptd_wait_log_from(x->d, mark, needle, PT_T_REPLY_MS) >= 0, "%s: not parked", id);
	return join(x);
}

static void probe_resume_max_held_signals(ctx *x)
{
	char id[32];
	ptc *b = park_one(x, id);

	ptc_send(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":1}}", id);
	pt_expect_error(ptc_call(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"n\":2}}", id),
	                "peer-gone");
	ptc_close(b);
}

static void probe_resume_max_held_bytes(ctx *x)
{
	char id[32], *data = text_of(200, "{\"sdp\":\"", 'v', "\"}");
	ptc *b = park_one(x, id);

	pt_expect_error(ptc_call(b, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":%s}", id, data),
	                "peer-gone");
	free(data);
	ptc_close(b);
}

/* -- [webtorrent] --------------------------------------------------------- */

/* Lets ms pass (ptc_service returns at the first event). For probes whose
 * subject is time itself: a rate, a time-to-live. */
static void let_pass(int ms)
{
	uint64_t end = pt_now_ms() + (uint64_t)ms;

	for (uint64_t now; (now = pt_now_ms()) < end;)
		ptc_service((int)(end - now));
}

/* A 20-character id (info_hash, peer_id, offer_id): tag, then n. */
static const char *id20(char out[21], const char *tag, unsigned n)
{
	snprintf(out, 21, "%s%0*u", tag, (int)(20 - strlen(tag)), n);
	return out;
}

static ptr *wt_open(ctx *x)
{
	char src[32];
	ptr *r = ptr_connect(x->port, &(ptr_opts){ .source = next_source(x, src), .path = "/announce" });

	PT_CHECK(r, "no WebSocket on /announce");
	return r;
}

/* Sends the printf-formatted text and returns the reply (decref it). */
static json_t *wt_call(ptr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *wt_call(ptr *r, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	PT_CHECK(n >= 0 && ptr_send_text(r, msg) == 0, "send failed");
	free(msg);
	return ptr_recv_json(r, PT_T_REPLY_MS);
}

/* An announce of peer pid into swarm ih with offers (",..." or ""). */
static json_t *wt_announce(ptr *r, const char *ih, const char *pid, const char *offers)
{
	return wt_call(r, "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\"%s}", ih,
	               pid, offers);
}

static void expect_wt_ok(json_t *j, const char *what)
{
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;

	PT_CHECK(j && !json_object_get(j, "failure reason"), "%s: %s", what, t ? t : "no reply");
	free(t);
	json_decref(j);
}

static void expect_wt_failure(json_t *j, const char *needle, const char *what)
{
	const char *why = pt_jstr(j, "failure reason");

	PT_CHECK(why && strstr(why, needle), "%s: want a failure about '%s', got '%s'", what, needle,
	         why ? why : "none");
	json_decref(j);
}

#define WT_OFFER(id) "{\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"},\"offer_id\":\"" id "\"}"

static void probe_wt_allowlist(ctx *x)
{
	ptr *r = wt_open(x);
	char ih[21], pid[21];

	expect_wt_failure(wt_announce(r, id20(ih, "unlisted", 1), id20(pid, "p", 6), ""),
	                  "not allowed", "wt_allowlist = yes");
	ptr_free(r);
}

static void probe_wt_max_allowed(ctx *x)
{
	/* peertrackctl allow: one info_hash fits, a second is refused as full
	 * (the default holds a million). */
	const char *bin = getenv("PT_BIN");
	char conf[512], ctl[1024], cmd[1400];

	snprintf(conf, sizeof(conf), "%s", ptd_conf_path(x->d));
	snprintf(ctl, sizeof(ctl), "%s/peertrackctl --socket '%s/state/admin.sock'",
	         bin && *bin ? bin : "bin", dirname(conf));
	snprintf(cmd, sizeof(cmd), "%s allow %s >/dev/null 2>&1", ctl,
	         "1111111111111111111111111111111111111111");
	PT_CHECK(system(cmd) == 0, "wt_max_allowed = 1: the first allow refused");
	snprintf(cmd, sizeof(cmd), "%s allow %s 2>&1 | grep -q wt_max_allowed", ctl,
	         "2222222222222222222222222222222222222222");
	PT_CHECK(system(cmd) == 0, "wt_max_allowed = 1: a second info_hash not refused as full");
	snprintf(cmd, sizeof(cmd), "%s disallow %s >/dev/null 2>&1", ctl,
	         "1111111111111111111111111111111111111111");
	PT_CHECK(system(cmd) == 0, "disallow");
}

static void probe_wt_interval_s(ctx *x)
{
	ptr *r = wt_open(x);
	char ih[21], pid[21];
	json_t *j = wt_announce(r, id20(ih, "interval", 1), id20(pid, "p", 1), "");

	PT_CHECK(pt_jint(j, "interval") == 30, "wt_interval_s = 30: interval %lld", pt_jint(j, "interval"));
	json_decref(j);
	ptr_free(r);
}

static void probe_wt_max_message_bytes(ctx *x)
{
	/* 100 000 bytes: closed with 1009 under the default 65 536. */
	ptr *r = wt_open(x);
	char ih[21], pid[21], head[160], *msg;

	snprintf(head, sizeof(head), "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\"",
	         id20(ih, "big", 1), id20(pid, "p", 2));
	msg = text_of(100000, head, ' ', "}");
	PT_CHECK(ptr_send_text(r, msg) == 0, "send");
	expect_wt_ok(ptr_recv_json(r, PT_T_REPLY_MS), "wt_max_message_bytes = 131072: 100 kB refused");
	free(msg);
	ptr_free(r);
}

static void probe_wt_max_offers(ctx *x)
{
	ptr *r = wt_open(x);
	char ih[21], pid[21];

	expect_wt_failure(wt_announce(r, id20(ih, "offers", 1), id20(pid, "p", 3),
	                              ",\"offers\":[" WT_OFFER("o0000000000000000001") ","
	                              WT_OFFER("o0000000000000000002") "]"),
	                  "too many offers", "wt_max_offers = 1");
	ptr_free(r);
}

static void probe_wt_max_offer_bytes(ctx *x)
{
	ptr *r = wt_open(x);
	char ih[21], pid[21], *sdp = text_of(300, "v=0", 'x', ""), offers[512];

	snprintf(offers, sizeof(offers), ",\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"%s\"},"
	         "\"offer_id\":\"o0000000000000000001\"}]", sdp);
	expect_wt_failure(wt_announce(r, id20(ih, "offerbytes", 1), id20(pid, "p", 4), offers),
	                  "larger than", "wt_max_offer_bytes = 256");
	free(sdp);
	ptr_free(r);
}

static void probe_wt_max_swarms_per_connection(ctx *x)
{
	ptr *r = wt_open(x);
	char ih[21], pid[21];

	expect_wt_ok(wt_announce(r, id20(ih, "swarms", 1), id20(pid, "p", 5), ""), "first swarm");
	expect_wt_failure(wt_announce(r, id20(ih, "swarms", 2), pid, ""), "too many swarms",
	                  "wt_max_swarms_per_connection = 1");
	ptr_free(r);
}

static void probe_wt_max_scrape_hashes(ctx *x)
{
	ptr *r = wt_open(x);
	char a[21], b[21];

	expect_wt_failure(wt_call(r, "{\"action\":\"scrape\",\"info_hash\":[\"%s\",\"%s\"]}",
	                          id20(a, "scrape", 1), id20(b, "scrape", 2)),
	                  "too many info_hashes", "wt_max_scrape_hashes = 1");
	ptr_free(r);
}

static json_t *wt_scrape(ptr *r)
{
	return wt_call(r, "{\"action\":\"scrape\",\"info_hash\":\"scrape00000000000001\"}");
}

static void probe_wt_rate_messages_per_sec(ctx *x)
{
	/* The line also sets the burst to 1: 200 ms after the first message
	 * the default 10/s would have refilled a token, 1/s has not. */
	ptr *r = wt_open(x);

	expect_wt_ok(wt_scrape(r), "first scrape");
	let_pass(200);
	expect_wt_failure(wt_scrape(r), "rate limited", "wt_rate_messages_per_sec = 1");
	ptr_free(r);
}

static void probe_wt_rate_burst(ctx *x)
{
	/* Four at once: the third is past a burst of 2 (the default is 60). */
	ptr *r = wt_open(x);
	int limited = 0;

	for (int i = 0; i < 4; i++)
		ptr_send_text(r, "{\"action\":\"scrape\",\"info_hash\":\"scrape00000000000001\"}");
	for (int i = 0; i < 4; i++) {
		json_t *j = ptr_recv_json(r, PT_T_REPLY_MS);
		const char *why = pt_jstr(j, "failure reason");

		PT_CHECK(j, "reply %d missing", i);
		limited += why && strstr(why, "rate limited");
		json_decref(j);
	}
	PT_CHECK(limited >= 1, "wt_rate_burst = 2: four messages at once all served");
	ptr_free(r);
}

/* Two peers in a swarm; the offerer's offers (1 to n) reach the other,
 * which reads each. */
static void wt_pair(ctx *x, ptr **offerer, ptr **answerer, const char *ih, unsigned n)
{
	char oid[21], offers[160];

	*answerer = wt_open(x);
	*offerer = wt_open(x);
	expect_wt_ok(wt_announce(*answerer, ih, "answerer000000000001", ""), "answerer joins");
	for (unsigned i = 1; i <= n; i++) {
		snprintf(offers, sizeof(offers), ",\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"},"
		         "\"offer_id\":\"%s\"}]", id20(oid, "o", i));
		expect_wt_ok(wt_announce(*offerer, ih, "offerer0000000000001", offers), "offerer announces");
		json_t *j = ptr_recv_json(*answerer, PT_T_REPLY_MS);
		PT_CHECK(j && pt_jstr(j, "offer_id") && !strcmp(pt_jstr(j, "offer_id"), oid),
		         "offer %u not relayed", i);
		json_decref(j);
	}
}

static json_t *wt_answer(ptr *answerer, const char *ih, const char *oid)
{
	return wt_call(answerer, "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":"
	               "\"answerer000000000001\",\"to_peer_id\":\"offerer0000000000001\",\"answer\":"
	               "{\"type\":\"answer\",\"sdp\":\"v=0\"},\"offer_id\":\"%s\"}", ih, oid);
}

static void probe_wt_offer_ttl_ms(ctx *x)
{
	/* Answered after 1.2 s: routed under the default 50 s, not 1 s. */
	ptr *o, *a;
	char ih[21], oid[21];

	wt_pair(x, &o, &a, id20(ih, "ttl", 1), 1);
	let_pass(1200);
	expect_wt_failure(wt_answer(a, ih, id20(oid, "o", 1)), "no such offer", "wt_offer_ttl_ms = 1000");
	ptr_free(o);
	ptr_free(a);
}

static void probe_wt_max_pending_offers(ctx *x)
{
	/* 17 offers remembered server-wide at most 16: the first is forgotten
	 * (the default remembers 262 144); the last is still answerable. */
	ptr *o, *a;
	char ih[21], oid[21];

	wt_pair(x, &o, &a, id20(ih, "pending", 1), 17);
	expect_wt_failure(wt_answer(a, ih, id20(oid, "o", 1)), "no such offer",
	                  "wt_max_pending_offers = 16");
	PT_CHECK(!pt_jstr(wt_answer(a, ih, id20(oid, "o", 17)), "failure reason"), "the newest offer forgotten");
	ptr_free(o);
	ptr_free(a);
}

static void probe_wt_max_peers(ctx *x)
{
	/* Two offers into a swarm of two others: one is relayed (the default
	 * relays both). */
	ptr *p[3];
	char ih[21], pid[21];
	double before, after;

	id20(ih, "maxpeers", 1);
	for (int i = 0; i < 3; i++)
		p[i] = wt_open(x);
	for (int i = 0; i < 2; i++)
		expect_wt_ok(wt_announce(p[i], ih, id20(pid, "holder", (unsigned)i), ""), "holder joins");
	before = metric_now(x, "peertrack_wt_offers_relayed_total");
	expect_wt_ok(wt_announce(p[2], ih, id20(pid, "asker", 1),
	                         ",\"offers\":[" WT_OFFER("o0000000000000000001") ","
	                         WT_OFFER("o0000000000000000002") "]"), "asker announces");
	after = metric_now(x, "peertrack_wt_offers_relayed_total");
	PT_CHECK(after - before == 1, "wt_max_peers = 1: %g offers relayed", after - before);
	for (int i = 0; i < 3; i++)
		ptr_free(p[i]);
}

static const struct row {
	const char *key;
	const char *line; /* the file's extra line; {dir} is the config's directory */
	void (*probe)(ctx *x);
} rows[] = {
	{ "log_level", "log_level = debug", probe_log_level },
	{ "log_format", "log_format = json", probe_log_format },
	{ "log_time", "log_time = yes", probe_log_time },
	{ "max_connections", "max_connections = 1", probe_max_connections },
	{ "max_connections_per_ip", "max_connections_per_ip = 2", probe_max_connections_per_ip },
	{ "max_message_bytes", "max_message_bytes = 20000", probe_max_message_bytes },
	{ "max_hashes_per_message", "max_hashes_per_message = 3", probe_max_hashes_per_message },
	{ "max_hashes_per_peer", "max_hashes_per_peer = 5", probe_max_hashes_per_peer },
	{ "max_lookup_peers", "max_lookup_peers = 2", probe_max_lookup_peers },
	{ "max_signal_bytes", "max_signal_bytes = 700", probe_max_signal_bytes },
	{ "max_report_bytes", "max_report_bytes = 1000", probe_max_report_bytes },
	{ "rate_messages_per_sec", "rate_messages_per_sec = 7", probe_rate_messages_per_sec },
	{ "rate_burst", "rate_burst = 9", probe_rate_burst },
	{ "rate_abuse_strikes", "rate_abuse_strikes = 2", probe_rate_abuse_strikes },
	{ "heartbeat_ms", "heartbeat_ms = 5000", probe_heartbeat_ms },
	{ "timeout_ms", "timeout_ms = 60000", probe_timeout_ms },
	{ "max_index_entries", "max_index_entries = 2", probe_max_index_entries },
	{ "max_hashes_per_ip", "max_hashes_per_ip = 2", probe_max_hashes_per_ip },
	{ "max_halfopen_per_ip", "max_halfopen_per_ip = 1", probe_max_halfopen_per_ip },
	{ "allowed_origins", "allowed_origins = https://good.example", probe_allowed_origins },
	{ "allow_missing_origin", "allow_missing_origin = no", probe_allow_missing_origin },
	{ "trusted_proxies", "trusted_proxies = 127.45.0.1", probe_trusted_proxies },
	{ "match_strategy", "match_strategy = random", probe_match_strategy },
	{ "match_sample", "match_sample = 1", probe_match_sample },
	{ "match_half_life_ms", "match_half_life_ms = 1", probe_match_half_life_ms },
	{ "peer_left_window_ms", "peer_left_window_ms = 0", probe_peer_left_window_ms },
	{ "recent_contacts", "recent_contacts = 0", probe_recent_contacts },
	{ "bad_peer_reports", "bad_peer_reports = 1", probe_bad_peer_reports },
	{ "bad_peer_max_reports", "bad_peer_max_reports = 1\nbad_peer_reports = 2", probe_bad_peer_max_reports },
	{ "store_ip", "store_ip = none", probe_store_ip },
	{ "metrics_allow", "metrics_allow = 192.0.2.1", probe_metrics_allow },
	{ "stun_urls", "stun_urls = stun:127.0.0.1:3478", probe_stun_urls },
	{ "turn_urls", "turn_urls = turn:127.0.0.1:3478\nturn_secret = row-Secret-1", probe_turn_urls },
	{ "turn_secret", "turn_secret = row-Secret-1\nturn_urls = turn:127.0.0.1:3478", probe_turn_secret },
	{ "turn_credential_ttl_s",
	  "turn_credential_ttl_s = 600\nturn_urls = turn:127.0.0.1:3478\nturn_secret = row-Secret-1",
	  probe_turn_credential_ttl_s },
	{ "resume_window_ms", "resume_window_ms = 1234", probe_resume_window_ms },
	{ "resume_max_sessions", "resume_max_sessions = 0", probe_resume_max_sessions },
	{ "resume_max_held_signals", "resume_max_held_signals = 1\nlog_level = debug",
	  probe_resume_max_held_signals },
	{ "resume_max_held_bytes", "resume_max_held_bytes = 100\nlog_level = debug",
	  probe_resume_max_held_bytes },
	{ "turn_secret_file",
	  "turn_secret_file = {dir}/turn.secret\nturn_urls = turn:127.0.0.1:3478", probe_turn_secret_file },
	{ "max_halfopen", "max_halfopen = 1", probe_max_halfopen },
	{ "halfopen_idle_ms", "halfopen_idle_ms = 600000\nmax_halfopen = 1", probe_halfopen_idle_ms },
	{ "store_rows_per_peer_per_min", "store_rows_per_peer_per_min = 0",
	  probe_store_rows_per_peer_per_min },
	{ "send_queue_max_bytes", "send_queue_max_bytes = 4096\nrate_burst = 100000",
	  probe_send_queue_max_bytes },
	{ "wt_max_message_bytes", "wt_max_message_bytes = 131072", probe_wt_max_message_bytes },
	{ "wt_max_offers", "wt_max_offers = 1", probe_wt_max_offers },
	{ "wt_max_offer_bytes", "wt_max_offer_bytes = 256", probe_wt_max_offer_bytes },
	{ "wt_max_peers", "wt_max_peers = 1", probe_wt_max_peers },
	{ "wt_max_swarms_per_connection", "wt_max_swarms_per_connection = 1",
	  probe_wt_max_swarms_per_connection },
	{ "wt_max_scrape_hashes", "wt_max_scrape_hashes = 1", probe_wt_max_scrape_hashes },
	{ "wt_rate_messages_per_sec", "wt_rate_messages_per_sec = 1\nwt_rate_burst = 1",
	  probe_wt_rate_messages_per_sec },
	{ "wt_rate_burst", "wt_rate_burst = 2", probe_wt_rate_burst },
	{ "wt_offer_ttl_ms", "wt_offer_ttl_ms = 1000", probe_wt_offer_ttl_ms },
	{ "wt_max_pending_offers", "wt_max_pending_offers = 16", probe_wt_max_pending_offers },
	{ "wt_interval_s", "wt_interval_s = 30", probe_wt_interval_s },
	{ "wt_allowlist", "wt_allowlist = yes", probe_wt_allowlist },
	{ "wt_max_allowed", "wt_max_allowed = 1", probe_wt_max_allowed },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_rows_match_key_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		bool row = false;

		for (size_t j = 0; j < NROWS; j++)
			row |= !strcmp(rows[j].key, k->name);
		PT_CHECK(row == k->reloadable, "%s: %s", k->name,
		         k->reloadable ? "marked reloadable, but no row shows it taking effect"
		                       : "has a row but is not marked reloadable");
	}
}

/* Writes the base with line in place of the base's own line for that key. */
static void reload_with(ctx *x, const char *line)
{
	size_t mark = ptd_log_count(x->d), kl = strcspn(line, " =");
	char conf[512] = "", dir[512], extra[1024];
	const char *at = strstr(line, "{dir}");

	snprintf(dir, sizeof(dir), "%s", ptd_conf_path(x->d));
	if (at)
		snprintf(extra, sizeof(extra), "%.*s%s%s", (int)(at - line), line, dirname(dir), at + 5);
	else
		snprintf(extra, sizeof(extra), "%s", line);

	for (const char *p = BASE_CONF; *p;) {
		size_t n = strcspn(p, "\n");

		if (!kl || strncmp(p, line, kl) || (p[kl] != ' ' && p[kl] != '='))
			snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf), "%.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	ptd_write_conf(x->d, "%s%s\n", conf, extra);
	ptd_signal(x->d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(x->d, mark, "reloaded configuration", 10000) >= 0,
	         "no reload logged after '%s'", line);
}

static void test_each_key_on_sighup(void **state)
{
	ctx x = { 0 };
	(void)state;

	x.d = ptd_start("%s", BASE_CONF);
	x.port = ptd_port(x.d);
	write_turn_secret_file(&x);
	for (size_t i = 0; i < NROWS; i++) {
		fprintf(stderr, "row %zu: %s\n", i + 1, rows[i].key);
		reload_with(&x, rows[i].line);
		rows[i].probe(&x);
		reload_with(&x, "");
	}
	assert_int_equal(ptd_stop(x.d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_match_key_table),
		cmocka_unit_test_teardown(test_each_key_on_sighup, pt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, pt_teardown);
}
