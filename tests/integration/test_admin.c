/* test_admin.c — peertrackctl against a real daemon: every command as a
 * table and as --json, exit codes, per-command help, bans (a banned address
 * is refused with 1008 and a connected one is dropped at once), kick (4003),
 * the audit log, the database commands with the daemon stopped (--db), and
 * the socket's mode from the instant it exists. */
#include <errno.h>
#include <libgen.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\nstore_flush_ms = 100\n"

static char sock_path[512], db_path[512];

static void paths(pt_daemon *d)
{
	char conf[400];
	const char *dir;

	snprintf(conf, sizeof(conf), "%s", ptd_conf_path(d));
	dir = dirname(conf);
	snprintf(sock_path, sizeof(sock_path), "%s/state/admin.sock", dir);
	snprintf(db_path, sizeof(db_path), "%s/state/peertrack.db", dir);
}

/* Runs peertrackctl with the printf-formatted arguments; returns its exit
 * status and its stdout in *out (malloc'd). */
static int ctl(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl(char **out, const char *fmt, ...)
{
	const char *bin = getenv("PT_BIN");
	char args[1024], cmd[1600], buf[4096];
	size_t len = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/peertrackctl %s", bin && *bin ? bin : "bin", args);
	p = popen(cmd, "r");
	PT_CHECK(p, "popen failed");
	*out = calloc(1, 1);
	for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) {
		*out = realloc(*out, len + n + 1);
		memcpy(*out + len, buf, n);
		len += n;
		(*out)[len] = 0;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ctl --json on the socket; asserts exit 0 and returns the parsed result. */
static json_t *ctl_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *ctl_json(const char *fmt, ...)
{
	char args[1024], *out = NULL;
	json_error_t e;
	va_list ap;
	json_t *j;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	rc = ctl(&out, "--socket '%s' --json %s", sock_path, args);
	PT_CHECK(rc == 0, "peertrackctl %s: exit %d: %s", args, rc, out);
	j = json_loads(out, JSON_DECODE_ANY, &e);
	PT_CHECK(j, "peertrackctl %s: not JSON (%s): %s", args, e.text, out);
	free(out);
	return j;
}

/* ctl (table output) on the socket; asserts the exit code; returns stdout. */
static char *ctl_text(int want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ctl_text(int want, const char *fmt, ...)
{
	char args[1024], *out = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	rc = ctl(&out, "--socket '%s' %s 2>/dev/null", sock_path, args);
	PT_CHECK(rc == want, "peertrackctl %s: exit %d, wanted %d: %s", args, rc, want, out);
	return out;
}

static void test_commands(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	ptc *a = ptc_join(port, NULL), *b = ptc_join(port, NULL);
	char hash[65], *out;
	json_t *j, *r;
	(void)state;

	paths(d);
	pt_hash_of(5, 9, hash);
	json_decref(ptc_hashes(a, "announce", NULL, &hash, 1));
	r = ptc_call(a, "{\"type\":\"report\",\"from_peers\":9000,\"from_origin\":1000,\"to_peers\":10}");
	PT_CHECK(pt_jtype_is(r, "ack"), "report: no ack");
	json_decref(r);
	char ids[2][32];
	assert_int_equal(ptc_lookup(b, hash, 0, ids, 2), 1);

	/* status */
	j = ctl_json("status");
	assert_int_equal(pt_jint(j, "peers"), 2);
	assert_int_equal(pt_jint(j, "index_hashes"), 1);
	assert_true(json_is_true(json_object_get(json_object_get(j, "store"), "ok")));
	json_decref(j);
	out = ctl_text(0, "status");
	assert_non_null(strstr(out, "peers          2 of"));
	free(out);

	/* peers, with filters and limit */
	j = ctl_json("peers");
	assert_int_equal(pt_jint(j, "total"), 2);
	assert_int_equal(json_array_size(json_object_get(j, "peers")), 2);
	json_decref(j);
	j = ctl_json("peers --has %s", hash);
	assert_int_equal(pt_jint(j, "total"), 1);
	assert_string_equal(pt_jstr(json_array_get(json_object_get(j, "peers"), 0), "id"), ptc_id(a));
	json_decref(j);
	j = ctl_json("peers --ip 10.0.0.0/8");
	assert_int_equal(pt_jint(j, "total"), 0);
	json_decref(j);
	j = ctl_json("peers --limit 1");
	assert_int_equal(json_array_size(json_object_get(j, "peers")), 1);
	json_decref(j);
	out = ctl_text(0, "peers");
	assert_non_null(strstr(out, "ID "));
	assert_non_null(strstr(out, ptc_id(a)));
	assert_non_null(strstr(out, ptc_id(b)));
	free(out);

	/* peer ID */
	j = ctl_json("peer %s", ptc_id(a));
	assert_int_equal(pt_jint(j, "hashes"), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "hash_list"), 0)), hash);
	json_decref(j);
	out = ctl_text(0, "peer %s", ptc_id(a));
	assert_non_null(strstr(out, hash));
	free(out);
	free(ctl_text(1, "peer AAAAAAAAAAAAAAAAAAAAAAAA")); /* well-formed, unknown */
	free(ctl_text(2, "peer not-an-id"));

	/* who-has */
	j = ctl_json("who-has %s", hash);
	assert_int_equal(pt_jint(j, "total"), 1);
	json_decref(j);
	out = ctl_text(0, "who-has %s", hash);
	assert_non_null(strstr(out, ptc_id(a)));
	free(out);
	free(ctl_text(2, "who-has ABC"));

	/* Database reads: wait for the flush that carries the counters. */
	for (int i = 0;; i++) {
		j = ctl_json("resources --top 5");
		if (json_array_size(j) == 1 && pt_jint(json_array_get(j, 0), "lookups") == 1)
			break;
		json_decref(j);
		PT_CHECK(i < 100, "resources never showed the lookup");
		ptc_service(50);
	}
	assert_string_equal(pt_jstr(json_array_get(j, 0), "hash"), hash);
	assert_int_equal(pt_jint(json_array_get(j, 0), "announces"), 1);
	assert_int_equal(pt_jint(json_array_get(j, 0), "hits"), 1);
	assert_int_equal(pt_jint(json_array_get(j, 0), "holders"), 1);
	json_decref(j);
	out = ctl_text(0, "resources --top 5");
	assert_non_null(strstr(out, "LOOKUPS"));
	free(out);

	j = ctl_json("stats --since 1h");
	assert_int_equal(pt_jint(j, "from_peers"), 9000);
	assert_int_equal(pt_jint(j, "from_origin"), 1000);
	assert_true(json_real_value(json_object_get(j, "offload_ratio")) == 0.9);
	assert_int_equal(pt_jint(j, "sessions"), 2);
	json_decref(j);
	out = ctl_text(0, "stats");
	assert_non_null(strstr(out, "90.0%"));
	free(out);
	free(ctl_text(2, "stats --since yesterday"));

	j = ctl_json("history --limit 10");
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	out = ctl_text(0, "history");
	assert_non_null(strstr(out, "(live)"));
	free(out);

	/* kick: the peer is closed with 4003, audited */
	j = ctl_json("kick %s --reason 'testing kick'", ptc_id(b));
	assert_string_equal(pt_jstr(j, "kicked"), ptc_id(b));
	json_decref(j);
	assert_int_equal(ptc_wait_close(b, PT_T_REPLY_MS), 4003);
	free(ctl_text(1, "kick %s", ptc_id(b)));

	/* reload */
	out = ctl_text(0, "reload");
	assert_non_null(strstr(out, "reloaded"));
	free(out);

	/* help, from the daemon's table */
	j = ctl_json("help");
	assert_true(json_array_size(j) >= 14);
	json_decref(j);
	j = ctl_json("help ban");
	assert_string_equal(pt_jstr(j, "name"), "ban");
	json_decref(j);

	/* audit: kick and reload, newest first */
	for (int i = 0;; i++) {
		j = ctl_json("audit");
		if (json_array_size(j) >= 2)
			break;
		json_decref(j);
		PT_CHECK(i < 100, "audit never showed the actions");
		ptc_service(50);
	}
	assert_string_equal(pt_jstr(json_array_get(j, 0), "action"), "reload");
	assert_string_equal(pt_jstr(json_array_get(j, 1), "action"), "kick");
	assert_non_null(strstr(pt_jstr(json_array_get(j, 1), "detail"), "testing kick"));
	json_decref(j);

	/* Usage errors never reach the daemon; per-command help exits 0. */
	free(ctl_text(2, "nosuchcommand"));
	free(ctl_text(2, "peers --nope 1"));
	free(ctl_text(2, "peers --limit 0"));
	free(ctl_text(2, "ban"));
	out = ctl_text(0, "ban --help");
	assert_non_null(strstr(out, "usage: peertrackctl ban IP|CIDR"));
	free(out);
	/* status needs the daemon: with --db it is a usage error. */
	PT_CHECK(ctl(&out, "--db '%s' status 2>/dev/null", db_path) == 2, "status --db: %s", out);
	free(out);

	ptc_close(a);
	/* Stop without ptd_stop, which would delete the state directory. */
	ptd_signal(d, SIGTERM);
	assert_int_equal(ptd_wait_exit(d, 10000), 0);

	/* Stopped: the socket is unreachable (3), the database still answers. */
	free(ctl_text(3, "status"));
	PT_CHECK(ctl(&out, "--db '%s' --json stats --since 1h", db_path) == 0, "stats --db: %s", out);
	j = json_loads(out, 0, NULL);
	free(out);
	PT_CHECK(j, "stats --db: not JSON");
	assert_int_equal(pt_jint(j, "from_peers"), 9000);
	json_decref(j);
	PT_CHECK(ctl(&out, "--db '%s' history", db_path) == 0, "history --db: %s", out);
	assert_non_null(strstr(out, "kicked"));   /* b's session and its reason */
	assert_non_null(strstr(out, "closed"));   /* a closed itself */
	free(out);
	PT_CHECK(ctl(&out, "--db '%s' resources", db_path) == 0, "resources --db: %s", out);
	assert_non_null(strstr(out, hash));
	free(out);
	PT_CHECK(ctl(&out, "--db '%s' --json audit", db_path) == 0, "audit --db: %s", out);
	free(out);
	PT_CHECK(ctl(&out, "--db /nonexistent/peertrack.db stats 2>/dev/null") == 3, "missing db");
	free(out);
	ptd_free(d);
}

static void test_bans(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	ptc_opts from2 = { .source = "127.0.0.2" }, from3 = { .source = "127.0.0.3" };
	ptc *victim = ptc_join(port, &from2), *bystander = ptc_join(port, &from3), *late;
	json_t *j;
	char *out;
	(void)state;

	paths(d);
	/* The ban drops the connected peer at once, with 1008. */
	j = ctl_json("ban 127.0.0.2 --for 1h --reason 'flooding'");
	assert_int_equal(pt_jint(j, "dropped"), 1);
	assert_true(pt_jint(j, "expires_at") > 0);
	json_decref(j);
	assert_int_equal(ptc_wait_close(victim, PT_T_REPLY_MS), 1008);
	ptc_roundtrip(bystander);

	/* A new connection from it is refused with 1008. */
	late = ptc_connect(port, &from2);
	if (late)
		assert_int_equal(ptc_wait_close(late, PT_T_REPLY_MS), 1008);
	ptc_close(late);

	/* A range ban covers the others; bans lists both. */
	j = ctl_json("ban 127.0.0.0/30");
	assert_int_equal(pt_jint(j, "dropped"), 1);
	json_decref(j);
	assert_int_equal(ptc_wait_close(bystander, PT_T_REPLY_MS), 1008);
	j = ctl_json("bans");
	assert_int_equal(json_array_size(j), 2);
	assert_string_equal(pt_jstr(json_array_get(j, 0), "reason"), "flooding");
	json_decref(j);
	out = ctl_text(0, "bans");
	assert_non_null(strstr(out, "127.0.0.0/30"));
	assert_non_null(strstr(out, "never"));
	free(out);

	/* unban: exactly the range as banned; unknown ones fail with 1. */
	free(ctl_text(1, "unban 127.0.0.0/29"));
	free(ctl_text(0, "unban 127.0.0.0/30"));
	late = ptc_join(port, &from3);
	ptc_roundtrip(late);
	ptc_close(late);
	/* 127.0.0.2 is still banned. */
	late = ptc_connect(port, &from2);
	if (late)
		assert_int_equal(ptc_wait_close(late, PT_T_REPLY_MS), 1008);
	ptc_close(late);
	ptc_close(victim);
	ptc_close(bystander);

	/* Bans survive a restart: the file keeps them. */
	ptd_signal(d, SIGTERM);
	assert_int_equal(ptd_wait_exit(d, 10000), 0);
	{
		char *conf_text = NULL, dir[512];
		snprintf(dir, sizeof(dir), "%s", db_path);
		*strrchr(dir, '/') = 0;
		/* A second daemon on the same state dir (admin socket elsewhere). */
		if (asprintf(&conf_text, BASE_CONF "log_level = info\n") < 0)
			fail();
		const char *argv[] = { "--set", NULL, NULL };
		char setdir[600];
		snprintf(setdir, sizeof(setdir), "state_dir=%s", dir);
		argv[1] = setdir;
		pt_daemon *d2 = ptd_spawn(conf_text, "127.0.0.1:0", argv);
		free(conf_text);
		PT_CHECK(d2, "cannot spawn");
		PT_CHECK(ptd_wait_log(d2, "1 ban(s) in force", PT_T_START_MS) >= 0, "bans not reloaded");
		PT_CHECK(ptd_wait_log(d2, "listening on", PT_T_START_MS) >= 0, "no second start");
		assert_int_equal(ptd_stop(d2), 0);
	}
	ptd_free(d);
}

/* The index holds /announce's info_hashes in their own key space: who-has,
 * peers --has and peer name them by 40 hex characters, and the same bytes
 * as a 64-hex /v1 hash are another key. */
static void test_info_hashes(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	ptr_opts o = { .path = "/announce" };
	ptr *r, *r2;
	json_t *j;
	char *out;
	const char *ih_hex = "6162636465666768696a6b6c6d6e6f7071727374"; /* "abcdefghijklmnopqrst" */
	(void)state;

	paths(d);
	r = ptr_connect(ptd_port(d), &o);
	PT_CHECK(r, "no /announce");
	PT_CHECK(ptr_send_text(r, "{\"action\":\"announce\",\"info_hash\":\"abcdefghijklmnopqrst\","
	                          "\"peer_id\":\"-WW0001-000000000000\",\"event\":\"started\"}") == 0, "send");
	j = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(j && pt_jint(j, "incomplete") == 1, "announce reply");
	json_decref(j);

	j = ctl_json("who-has %s", ih_hex);
	assert_int_equal(pt_jint(j, "total"), 1);
	json_decref(j);
	j = ctl_json("who-has %s000000000000000000000000", ih_hex);
	assert_int_equal(pt_jint(j, "total"), 0); /* the /v1 key of the same bytes */
	json_decref(j);
	j = ctl_json("peers --has %s", ih_hex);
	assert_int_equal(pt_jint(j, "total"), 1);
	PT_CHECK(json_array_size(json_object_get(j, "peers")) == 1, "peers --has");
	const char *id = pt_jstr(json_array_get(json_object_get(j, "peers"), 0), "id");
	out = ctl_text(0, "peer %s", id);
	PT_CHECK(strstr(out, ih_hex) && !strstr(out, "6162636465666768696a6b6c6d6e6f70717273740"),
	         "peer lists the info_hash in 40 hex: %s", out);
	free(out);
	json_decref(j);
	free(ctl_text(2, "who-has %.39s", ih_hex));

	/* resources: a second peer offers into the swarm, a lookup that
	 * reached a peer; a scrape of an info_hash nobody holds makes no row. */
	PT_CHECK(ptr_send_text(r2 = ptr_connect(ptd_port(d), &o),
	                       "{\"action\":\"announce\",\"info_hash\":\"abcdefghijklmnopqrst\","
	                       "\"peer_id\":\"-WW0001-111111111111\",\"numwant\":1,\"offers\":"
	                       "[{\"offer\":{\"type\":\"offer\",\"sdp\":\"x\"},"
	                       "\"offer_id\":\"oooooooooooooooooooo\"}]}") == 0, "send");
	json_decref(ptr_recv_json(r2, PT_T_REPLY_MS));
	j = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(j && json_object_get(j, "offer"), "offer not relayed");
	json_decref(j);
	PT_CHECK(ptr_send_text(r2, "{\"action\":\"scrape\",\"info_hash\":\"zzzzzzzzzzzzzzzzzzzz\"}") == 0,
	         "send");
	json_decref(ptr_recv_json(r2, PT_T_REPLY_MS));
	for (int i = 0;; i++) {
		j = ctl_json("resources --top 5");
		if (json_array_size(j) == 1 && pt_jint(json_array_get(j, 0), "hits") == 1)
			break;
		json_decref(j);
		PT_CHECK(i < 100, "resources never showed the info_hash's lookup");
		ptc_service(50);
	}
	assert_string_equal(pt_jstr(json_array_get(j, 0), "hash"), ih_hex);
	assert_int_equal(pt_jint(json_array_get(j, 0), "announces"), 2);
	assert_int_equal(pt_jint(json_array_get(j, 0), "lookups"), 1);
	assert_int_equal(pt_jint(json_array_get(j, 0), "misses"), 0);
	assert_int_equal(pt_jint(json_array_get(j, 0), "holders"), 2);
	json_decref(j);
	ptr_free(r2);
	ptr_free(r);
	/* Stopped (ptd_stop would delete the state): the file has the row. */
	ptd_signal(d, SIGTERM);
	assert_int_equal(ptd_wait_exit(d, 10000), 0);
	PT_CHECK(ctl(&out, "--db '%s' resources", db_path) == 0, "resources --db: %s", out);
	PT_CHECK(strstr(out, ih_hex) && !strstr(out, "7a7a7a7a"), "resources --db: %s", out);
	free(out);
	ptd_free(d);
}

/* Announces one info_hash (20 ASCII characters) from r under peer_id pid
 * and returns the reply. */
static json_t *wt_announce(ptr *r, const char *ih, const char *pid)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
	         "\"event\":\"started\",\"numwant\":0}", ih, pid);
	PT_CHECK(ptr_send_text(r, msg) == 0, "send");
	return ptr_recv_json(r, PT_T_REPLY_MS);
}

static void expect_not_allowed(ptr *r, const char *ih, const char *pid)
{
	json_t *j = wt_announce(r, ih, pid);

	PT_CHECK(j && pt_jstr(j, "failure reason") &&
	         !strcmp(pt_jstr(j, "failure reason"), "info_hash not allowed on this tracker") &&
	         !strcmp(pt_jstr(j, "action"), "announce") && !strcmp(pt_jstr(j, "info_hash"), ih),
	         "announce of %s: want the allow-list failure", ih);
	json_decref(j);
}

static void expect_served(ptr *r, const char *ih, const char *pid)
{
	json_t *j = wt_announce(r, ih, pid);

	PT_CHECK(j && !json_object_get(j, "failure reason") && pt_jint(j, "interval") > 0,
	         "announce of %s: want an announce reply", ih);
	json_decref(j);
}

/* The /announce allow-list: off by default; on, unlisted info_hashes are
 * refused with the documented failure while the connection stays; allow /
 * disallow / allowed edit and show it (audited); a reload turns it off. */
static void test_allowlist(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "wt_allowlist = yes\nwt_max_allowed = 2\n");
	ptr_opts o = { .path = "/announce" };
	ptr *r;
	json_t *j;
	char *out, metrics[64], *body = NULL;
	/* "abcdefghijklmnopqrst", "ABCDEFGHIJKLMNOPQRST", "01234567890123456789" */
	const char *x = "abcdefghijklmnopqrst", *x_hex = "6162636465666768696a6b6c6d6e6f7071727374";
	const char *y = "ABCDEFGHIJKLMNOPQRST", *y_hex = "4142434445464748494a4b4c4d4e4f5051525354";
	const char *z_hex = "3031323334353637383930313233343536373839";
	(void)state;

	paths(d);
	r = ptr_connect(ptd_port(d), &o);
	PT_CHECK(r, "no /announce");
	j = ctl_json("allowed");
	PT_CHECK(json_is_true(json_object_get(j, "enforced")) && pt_jint(j, "total") == 0, "allowed");
	json_decref(j);
	expect_not_allowed(r, x, "-WW0001-000000000000");

	j = ctl_json("allow %s", x_hex);
	PT_CHECK(json_is_true(json_object_get(j, "added")), "allow: not added");
	json_decref(j);
	out = ctl_text(0, "allow %s", x_hex); /* again: nothing changes */
	PT_CHECK(strstr(out, "already allowed"), "allow twice: %s", out);
	free(out);
	free(ctl_text(2, "allow %s000000000000000000000000", x_hex)); /* a /v1 hash */
	free(ctl_text(2, "allow %.39s", x_hex));
	/* On the same connection, which the refusal left open. */
	expect_served(r, x, "-WW0001-000000000000");
	expect_not_allowed(r, y, "-WW0001-000000000000");

	/* Bounded by wt_max_allowed. */
	json_decref(ctl_json("allow %s", z_hex));
	free(ctl_text(1, "allow %s", y_hex));
	j = ctl_json("allowed --limit 1");
	PT_CHECK(pt_jint(j, "total") == 2 && json_array_size(json_object_get(j, "info_hashes")) == 1 &&
	         !strcmp(json_string_value(json_array_get(json_object_get(j, "info_hashes"), 0)), z_hex),
	         "allowed --limit 1: sorted, bounded");
	json_decref(j);
	out = ctl_text(0, "allowed");
	PT_CHECK(strstr(out, x_hex) && strstr(out, z_hex) && strstr(out, "enforced"), "allowed: %s", out);
	free(out);

	/* Taken off: the next announce is refused (the swarm's peer stays). */
	j = ctl_json("disallow %s", x_hex);
	assert_string_equal(pt_jstr(j, "disallowed"), x_hex);
	json_decref(j);
	free(ctl_text(1, "disallow %s", x_hex));
	expect_not_allowed(r, x, "-WW0001-000000000000");
	j = ctl_json("who-has %s", x_hex);
	assert_int_equal(pt_jint(j, "total"), 1);
	json_decref(j);

	/* The audit log is read from the database: wait for the flush. */
	for (int i = 0;; i++) {
		j = ctl_json("audit --limit 10");
		if (json_array_size(j) >= 3)
			break;
		json_decref(j);
		PT_CHECK(i < 100, "audit never showed the allow-list actions");
		ptc_service(50);
	}
	PT_CHECK(json_array_size(j) == 3 &&
	         !strcmp(pt_jstr(json_array_get(j, 0), "action"), "disallow") &&
	         !strcmp(pt_jstr(json_array_get(j, 2), "action"), "allow"),
	         "audit: allow x, allow z, disallow x (not the repeat nor the refusals)");
	json_decref(j);
	PT_CHECK(pt_http_get(ptd_port(d), "127.0.0.1", "/metrics", &body) == 200, "metrics");
	snprintf(metrics, sizeof(metrics), "peertrack_wt_not_allowed_total");
	assert_true(pt_metric(body, metrics) == 3);
	free(body);

	/* Off (reloaded): every info_hash is served again. */
	ptd_write_conf(d, BASE_CONF "wt_allowlist = no\n");
	free(ctl_text(0, "reload"));
	expect_served(r, y, "-WW0001-000000000000");
	j = ctl_json("allowed");
	PT_CHECK(!json_is_true(json_object_get(j, "enforced")) && pt_jint(j, "total") == 1, "allowed off");
	json_decref(j);
	ptr_free(r);
	assert_int_equal(ptd_stop(d), 0);
}

/* A ban reaches a peer whose connection dropped and is waiting for a
 * resume: it is given up at once (its contacts hear peer-left), so it
 * cannot be resumed from another address. */
static void test_ban_resumable(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "log_level = debug\n");
	int port = ptd_port(d);
	ptr_opts from4 = { .source = "127.0.0.4" };
	ptr *r = ptr_connect(port, &from4);
	ptc *contact = ptc_join(port, NULL);
	json_t *w, *j;
	char id[32];
	(void)state;

	paths(d);
	PT_CHECK(r, "raw connect");
	w = ptr_recv_json(r, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "no welcome");
	snprintf(id, sizeof(id), "%s", pt_jstr(w, "id"));
	json_decref(w);
	ptc_send(contact, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{}}", id);
	json_decref(ptr_recv_json(r, PT_T_REPLY_MS));
	ptr_free(r); /* no close frame: kept for a resume */
	PT_CHECK(ptd_wait_log(d, "parked", PT_T_REPLY_MS) >= 0, "not parked");
	assert_null(ptc_recv_type(contact, "peer-left", 0));
	j = ctl_json("ban 127.0.0.4");
	assert_int_equal(pt_jint(j, "dropped"), 1);
	json_decref(j);
	j = ptc_recv_type(contact, "peer-left", PT_T_REPLY_MS);
	PT_CHECK(j && !strcmp(pt_jstr(j, "id"), id), "no peer-left for the banned resumable peer");
	json_decref(j);
	ptc_close(contact);
	assert_int_equal(ptd_stop(d), 0);
}

/* The admin socket is 0660 from the instant it exists, whatever the
 * umask. Polling its mode could miss a bind-then-chmod window, but inotify
 * cannot: bind() creating the socket is IN_CREATE, and any later change of
 * its mode (chmod) is IN_ATTRIB. So: 0660 at the end and no IN_ATTRIB since
 * the IN_CREATE means it was created 0660. The daemon runs under umask 000,
 * where a socket created with the umask's mode would be 0777. */
static void test_socket_mode_from_creation(void **state)
{
	char dir[] = "/tmp/pt-admin-XXXXXX", path[64], buf[4096];
	bool created = false, changed = false;
	struct stat st;
	pt_daemon *d;
	mode_t old;
	int in;
	ssize_t n;

	(void)state;
	PT_CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/admin.sock", dir);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	PT_CHECK(in >= 0 && inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB) >= 0,
	         "inotify: %s", strerror(errno));
	old = umask(0);
	d = ptd_start(BASE_CONF "admin_socket = %s\n", path);
	umask(old);
	PT_CHECK(ptd_wait_log(d, "admin socket on ", PT_T_REPLY_MS) >= 0, "no admin socket");
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			if (e->len && !strcmp(e->name, "admin.sock")) {
				created |= (e->mask & (IN_CREATE | IN_MOVED_TO)) != 0;
				changed |= created && (e->mask & IN_ATTRIB);
			}
			p += sizeof(*e) + e->len;
		}
	}
	close(in);
	PT_CHECK(created, "no IN_CREATE for the admin socket");
	PT_CHECK(!changed, "the admin socket's mode changed after it was created (chmod)");
	PT_CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "stat %s", path);
	PT_CHECK((st.st_mode & 07777) == 0660, "admin socket mode %o", (unsigned)(st.st_mode & 07777));
	assert_int_equal(ptd_stop(d), 0);
	PT_CHECK(rmdir(dir) == 0, "rmdir %s: %s (socket left behind?)", dir, strerror(errno));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_commands, pt_teardown),
		cmocka_unit_test_teardown(test_bans, pt_teardown),
		cmocka_unit_test_teardown(test_info_hashes, pt_teardown),
		cmocka_unit_test_teardown(test_allowlist, pt_teardown),
		cmocka_unit_test_teardown(test_ban_resumable, pt_teardown),
		cmocka_unit_test_teardown(test_socket_mode_from_creation, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
