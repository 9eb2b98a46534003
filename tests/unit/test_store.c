/* test_store.c — the sqlite store: migrations from an empty file and from
 * version N-1, refusal of a newer file, batching (nothing reaches the file
 * before a commit; counters aggregate), the timed flush, the flush at
 * close, bans across restarts, and every read. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "peertrack/store.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pt-test-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/peertrack.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[160];

	(void)state;
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	return rmdir(dir);
}

static pt_store *open_store(uint32_t flush_ms, pt_banlist *bans)
{
	pt_store_opts o = { .path = path, .flush_ms = flush_ms, .retention_days = 30 };
	pt_store *s = NULL;
	char err[256] = "";
	int r = pt_store_open(&o, bans, pt_clock_wall_ms(), &s, err, sizeof(err));

	if (r)
		fprintf(stderr, "open: %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

static int user_version(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static long long scalar(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static pt_id id_n(unsigned n)
{
	pt_id id;

	memset(&id, 0, sizeof(id));
	id.b[0] = (uint8_t)n;
	id.b[1] = (uint8_t)(n >> 8);
	return id;
}

static pt_hash hash_n(unsigned n)
{
	pt_hash h;

	memset(&h, 0, sizeof(h));
	h.b[0] = (uint8_t)n;
	h.b[31] = 0xab;
	return h;
}

static void test_migrate_empty(void **state)
{
	(void)state;
	pt_store *s = open_store(1000, NULL);

	assert_true(pt_store_schema_version() >= 2);
	assert_int_equal(user_version(), pt_store_schema_version());
	assert_int_equal(scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
	                        " ('sessions','resources','reports','bans','audit','samples')"), 6);
	pt_store_close(s);
	/* Reopening a current file migrates nothing and works. */
	s = open_store(1000, NULL);
	pt_store_close(s);
	assert_int_equal(user_version(), pt_store_schema_version());
	assert_int_equal(scalar("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	assert_null(pt_store_migration(0));
	assert_null(pt_store_migration(pt_store_schema_version() + 1));
}

static void test_migrate_from_previous(void **state)
{
	(void)state;
	int n = pt_store_schema_version();
	sqlite3 *db;
	char sql[64];

	/* Build a file at version N-1 by hand, with data in it. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int v = 1; v < n; v++)
		assert_int_equal(sqlite3_exec(db, pt_store_migration(v), NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", n - 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO sessions(id, connected_at, ip)"
	                              " VALUES('old', unixepoch() * 1000 - 5, '10.0.0.1');"
	                              "INSERT INTO reports(at, peer, from_peers, from_origin, to_peers)"
	                              " VALUES(unixepoch() * 1000, 'old', 100, 50, 25);",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);

	pt_store *s = open_store(1000, NULL);
	pt_store_close(s);
	assert_int_equal(user_version(), n);
	assert_int_equal(scalar("SELECT from_peers FROM reports WHERE peer = 'old'"), 100);
	/* The session a "crash" left open is closed at the start. */
	assert_true(scalar("SELECT disconnected_at >= connected_at FROM sessions WHERE id = 'old'") == 1);
	assert_int_equal(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'samples'"), 1);
}

static void test_newer_refused(void **state)
{
	(void)state;
	sqlite3 *db;
	char sql[64], err[256];
	pt_store *s = NULL;
	pt_store_opts o = { .path = path, .flush_ms = 100, .retention_days = 1 };
	json_t *res = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", pt_store_schema_version() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pt_store_open(&o, NULL, 0, &s, err, sizeof(err)), -EPROTO);
	assert_null(s);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(pt_store_query_top(path, 5, &res, err, sizeof(err)), -EPROTO);
	assert_null(res);
}

static void test_missing_db(void **state)
{
	(void)state;
	json_t *res = NULL;
	char err[256];

	assert_int_equal(pt_store_query_stats(path, 0, 1, 10, &res, err, sizeof(err)), -ENOENT);
	assert_null(res);
	assert_int_equal(access(path, F_OK), -1); /* a read never creates the file */
}

static void test_batching(void **state)
{
	(void)state;
	/* A flush interval far longer than the test: only sync commits. */
	pt_store *s = open_store(60000, NULL);
	pt_store_health h;
	pt_hash a = hash_n(1), b = hash_n(2);
	pt_id id = id_n(7);
	pt_addr ip = { .family = 4, .b = { 192, 0, 2, 9 } };
	uint64_t now = pt_clock_wall_ms();

	pt_store_session_open(s, &id, &ip, PT_STORE_IP_FULL, now);
	for (int i = 0; i < 100; i++)
		pt_store_report(s, &id, 10, 5, 1, now);
	for (int i = 0; i < 50; i++) {
		pt_store_count(s, &a, PT_CNT_LOOKUPS, 1, now);
		pt_store_count(s, &a, PT_CNT_HITS, 1, now);
	}
	pt_store_count(s, &b, PT_CNT_ANNOUNCES, 3, now);
	pt_store_count(s, &b, PT_CNT_MISSES, 0, now); /* zero: ignored */

	pt_store_health_get(s, &h);
	/* A session event, one aggregated report and 2 aggregated counter
	 * rows, not 100 reports and 103 counter events. */
	assert_int_equal(h.queue_depth, 4);
	assert_int_equal(h.flushes, 0);
	assert_int_equal(scalar("SELECT count(*) FROM reports"), 0);

	assert_int_equal(pt_store_sync(s), 0);
	pt_store_health_get(s, &h);
	assert_int_equal(h.queue_depth, 0);
	assert_int_equal(h.flushes, 1);
	assert_true(h.ok);
	/* One peer's 100 reports of one batch are one row. */
	assert_int_equal(scalar("SELECT count(*) FROM reports"), 1);
	assert_int_equal(scalar("SELECT n FROM reports"), 100);
	assert_int_equal(scalar("SELECT sum(from_peers) FROM reports"), 1000);
	assert_int_equal(scalar("SELECT count(*) FROM resources"), 2);
	assert_int_equal(scalar("SELECT lookups + hits FROM resources WHERE hash LIKE '01%'"), 100);
	assert_int_equal(scalar("SELECT announces FROM resources WHERE hash LIKE '02%'"), 3);

	/* Counters add up across batches. */
	pt_store_count(s, &a, PT_CNT_LOOKUPS, 5, now);
	pt_store_session_close(s, &id, "timeout", now + 10);
	assert_int_equal(pt_store_sync(s), 0);
	assert_int_equal(scalar("SELECT lookups FROM resources WHERE hash LIKE '01%'"), 55);
	assert_int_equal(scalar("SELECT disconnected_at - connected_at FROM sessions"), 10);
	pt_store_close(s);
}

static void test_many_hashes(void **state)
{
	(void)state;
	pt_store *s = open_store(60000, NULL);
	uint64_t now = pt_clock_wall_ms();

	/* Enough distinct hashes to grow the aggregation table a few times. */
	for (unsigned i = 0; i < 3000; i++) {
		pt_hash h;
		memset(&h, 0, sizeof(h));
		memcpy(h.b, &i, sizeof(i));
		pt_store_count(s, &h, PT_CNT_ANNOUNCES, 1, now);
		pt_store_count(s, &h, PT_CNT_ANNOUNCES, 1, now);
	}
	assert_int_equal(pt_store_sync(s), 0);
	assert_int_equal(scalar("SELECT count(*) FROM resources"), 3000);
	assert_int_equal(scalar("SELECT sum(announces) FROM resources"), 6000);
	pt_store_close(s);
}

/* An info_hash (PT_SPACE_WT) is its own row, named by 40 hex, apart from
 * a /v1 hash of the same leading bytes: two keys, two rows. */
static void test_key_spaces(void **state)
{
	(void)state;
	pt_store *s = open_store(60000, NULL);
	pt_hash a = hash_n(1), ih = hash_n(1);
	uint64_t now = pt_clock_wall_ms();
	char hex[PT_HASH_HEX + 1];

	memset(ih.b + 20, 0, PT_HASH_BYTES - 20); /* as wt.c keys an info_hash */
	pt_store_count(s, &a, PT_CNT_LOOKUPS, 2, now);
	pt_store_count_in(s, PT_SPACE_WT, &ih, PT_CNT_ANNOUNCES, 1, now);
	pt_store_count_in(s, PT_SPACE_WT, &ih, PT_CNT_ANNOUNCES, 1, now);
	pt_store_count_in(s, PT_SPACE_WT, &ih, PT_CNT_HITS, 1, now);
	pt_store_count_in(s, PT_SPACE__COUNT, &ih, PT_CNT_HITS, 1, now); /* no such space */
	assert_int_equal(pt_store_sync(s), 0);
	assert_int_equal(scalar("SELECT count(*) FROM resources"), 2);
	assert_int_equal(scalar("SELECT lookups FROM resources WHERE length(hash) = 64"), 2);
	assert_int_equal(scalar("SELECT announces FROM resources WHERE length(hash) = 40"), 2);
	assert_int_equal(scalar("SELECT hits FROM resources WHERE length(hash) = 40"), 1);
	pt_key_format(&(pt_key){ PT_SPACE_WT, ih }, hex);
	assert_int_equal(strlen(hex), 40);
	{
		char q[160];
		snprintf(q, sizeof(q), "SELECT count(*) FROM resources WHERE hash = '%s'", hex);
		assert_int_equal(scalar(q), 1);
	}
	pt_store_close(s);
}

/* Reports: one row per peer per batch (the peer index grows past its
 * first size), sums saturate at INT64_MAX in the file, and stats read a
 * file whose rows would overflow sum() (as an unbounded daemon wrote
 * them) instead of failing with "integer overflow". */
static void test_report_rows(void **state)
{
	(void)state;
	pt_store *s = open_store(60000, NULL);
	uint64_t now = pt_clock_wall_ms();
	json_t *res = NULL;
	char err[256] = "";
	sqlite3 *db;

	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < 500; i++) {
			pt_id id = id_n(i);
			pt_store_report(s, &id, i, 1, 0, now);
		}
	pt_id big = id_n(9999);
	pt_store_report(s, &big, UINT64_MAX - 1, 0, 0, now);
	pt_store_report(s, &big, UINT64_MAX - 1, 0, 0, now);
	assert_int_equal(pt_store_sync(s), 0);
	assert_int_equal(scalar("SELECT count(*) FROM reports"), 501);
	assert_int_equal(scalar("SELECT count(DISTINCT peer) FROM reports"), 501);
	assert_int_equal(scalar("SELECT sum(n) FROM reports"), 1502);
	assert_int_equal(scalar("SELECT from_peers FROM reports WHERE n = 3 AND from_origin = 3"
	                        " ORDER BY from_peers DESC LIMIT 1"), 3 * 499);
	assert_true(scalar("SELECT from_peers FROM reports WHERE n = 2") == INT64_MAX);

	/* Rows as an unbounded daemon stored them: sum() would raise. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO reports(at, peer, from_peers, from_origin, to_peers)"
	                              " VALUES(unixepoch() * 1000, 'x', 9223372036854775807,"
	                              " 9223372036854775807, 9223372036854775807);",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pt_store_query_stats(path, now - 3600000, now + 60000, 10, &res, err,
	                                      sizeof(err)), 0);
	assert_true(json_integer_value(json_object_get(res, "from_peers")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(res, "to_peers")) == INT64_MAX);
	assert_int_equal(json_integer_value(json_object_get(res, "reports")), 1503);
	assert_int_equal(json_integer_value(json_object_get(res, "reporting_peers")), 502);
	double ratio = json_real_value(json_object_get(res, "offload_ratio"));
	assert_true(ratio > 0.66 && ratio < 0.67);
	json_decref(res);
	pt_store_close(s);
}

static void test_timed_flush(void **state)
{
	(void)state;
	pt_store *s = open_store(50, NULL);
	pt_id id = id_n(3);
	struct timespec ts = { 0, 10 * 1000000L };
	int i;

	pt_store_report(s, &id, 1, 2, 3, pt_clock_wall_ms());
	/* No sync: the writer's own timer must commit it, well within 5 s. */
	for (i = 0; i < 500 && scalar("SELECT count(*) FROM reports") != 1; i++)
		nanosleep(&ts, NULL);
	assert_true(i < 500);
	pt_store_close(s);
}

static void test_close_commits(void **state)
{
	(void)state;
	pt_store *s = open_store(60000, NULL);
	pt_id id = id_n(4);

	pt_store_report(s, &id, 7, 0, 0, pt_clock_wall_ms());
	pt_store_audit(s, "test", "kick", "x", pt_clock_wall_ms());
	pt_store_close(s);
	assert_int_equal(scalar("SELECT from_peers FROM reports"), 7);
	assert_int_equal(scalar("SELECT count(*) FROM audit"), 1);
}

/* The info_hash allow-list: added, removed, added twice; reopened, the
 * list holds what is left, sorted, and the file names it in 40 hex. */
static void test_allowed_persist(void **state)
{
	(void)state;
	pt_wt_allow l;
	pt_wt_id a, b, c;
	pt_store_opts o = { .path = path, .flush_ms = 60000, .retention_days = 30, .allowed = &l };
	pt_store *s = NULL;
	char err[256] = "";

	memset(a.b, 0xff, sizeof(a.b));
	memset(b.b, 0x00, sizeof(b.b));
	memcpy(c.b, "abcdefghijklmnopqrst", 20);
	pt_wt_allow_init(&l);
	assert_int_equal(pt_store_open(&o, NULL, pt_clock_wall_ms(), &s, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	pt_store_wt_allow_add(s, &a, 1);
	pt_store_wt_allow_add(s, &b, 2);
	pt_store_wt_allow_add(s, &c, 3);
	pt_store_wt_allow_add(s, &c, 4); /* again: one row */
	pt_store_wt_allow_remove(s, &b);
	pt_store_close(s);
	assert_int_equal(scalar("SELECT count(*) FROM wt_allowed"), 2);
	assert_int_equal(scalar("SELECT count(*) FROM wt_allowed WHERE info_hash ="
	                        " '6162636465666768696a6b6c6d6e6f7071727374'"), 1);

	assert_int_equal(pt_store_open(&o, NULL, pt_clock_wall_ms(), &s, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_memory_equal(l.v[0].b, c.b, 20); /* byte order: 0x61... before 0xff... */
	assert_memory_equal(l.v[1].b, a.b, 20);
	assert_true(pt_wt_allow_has(&l, &a) && !pt_wt_allow_has(&l, &b));
	pt_store_close(s);
	pt_wt_allow_free(&l);
}

static void test_bans_persist(void **state)
{
	(void)state;
	pt_banlist l;
	pt_ban b1 = { .created_ms = 1, .expires_ms = 0, .reason = "spam" };
	pt_ban b2 = { .created_ms = 2, .expires_ms = 3, .reason = "expired" };
	pt_ban b3 = { .created_ms = 3, .expires_ms = 0, .reason = "removed" };
	uint64_t now = pt_clock_wall_ms();

	assert_int_equal(pt_cidr_parse("10.0.0.0/8", 10, &b1.cidr), 0);
	assert_int_equal(pt_cidr_parse("192.0.2.1", 9, &b2.cidr), 0);
	assert_int_equal(pt_cidr_parse("2001:db8::/32", 13, &b3.cidr), 0);
	b2.expires_ms = now - 1000;

	pt_banlist_init(&l);
	pt_store *s = open_store(60000, &l);
	assert_int_equal(l.n, 0);
	pt_store_ban_add(s, &b1);
	pt_store_ban_add(s, &b2);
	pt_store_ban_add(s, &b3);
	pt_store_ban_remove(s, &b3.cidr);
	pt_store_close(s);

	s = open_store(60000, &l);
	assert_int_equal(l.n, 1); /* the expired and the removed ones are gone */
	assert_string_equal(l.v[0].reason, "spam");
	assert_int_equal(l.v[0].cidr.prefix, 8);
	pt_store_close(s);
	pt_banlist_free(&l);
}

/* A listing row has exactly these keys, each of the type given by its letter
 * (s string, i integer, n null, S string or null, I integer or null). */
static void assert_row_shape(const json_t *row, const char *keys, const char *types)
{
	char buf[256];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", keys);
	for (char *k = strtok(buf, " "); k; k = strtok(NULL, " "), n++) {
		const json_t *v = json_object_get(row, k);
		char t = types[n];

		if (!v)
			fail_msg("row lacks \"%s\"", k);
		if ((t == 's' && !json_is_string(v)) || (t == 'i' && !json_is_integer(v)) ||
		    (t == 'n' && !json_is_null(v)) || (t == 'S' && !json_is_string(v) && !json_is_null(v)) ||
		    (t == 'I' && !json_is_integer(v) && !json_is_null(v)))
			fail_msg("\"%s\" has the wrong type (want %c)", k, t);
	}
	assert_int_equal(json_object_size(row), n);
	assert_int_equal(strlen(types), n);
}

static void test_reads(void **state)
{
	(void)state;
	pt_store *s = open_store(60000, NULL);
	uint64_t now = pt_clock_wall_ms();
	pt_addr v4 = { .family = 4, .b = { 203, 0, 113, 77 } };
	pt_addr v6 = { .family = 6, .b = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5 } };
	json_t *res = NULL;
	char err[256];

	for (unsigned i = 0; i < 5; i++) {
		pt_id id = id_n(i);
		pt_store_session_open(s, &id, i % 2 ? &v6 : &v4,
		                      i < 2 ? PT_STORE_IP_FULL : i < 4 ? PT_STORE_IP_PREFIX : PT_STORE_IP_NONE,
		                      now - 5000 + i);
	}
	pt_id p = id_n(1);
	pt_store_report(s, &p, 999, 999, 999, now - 7200000); /* before the window */
	assert_int_equal(pt_store_sync(s), 0);
	pt_store_report(s, &p, 300, 100, 50, now - 1000);
	pt_store_report(s, &p, 300, 0, 0, now - 500);
	for (unsigned i = 0; i < 4; i++) {
		pt_hash h = hash_n(i);
		pt_store_count(s, &h, PT_CNT_LOOKUPS, i * 10, now);
		pt_store_count(s, &h, PT_CNT_ANNOUNCES, 1, now);
	}
	pt_store_sample(s, 3, 10, now - 120000);
	assert_int_equal(pt_store_sync(s), 0);
	pt_store_sample(s, 5, 12, now);
	pt_store_audit(s, "ctl", "ban", "10.0.0.0/8", now);
	pt_store_audit(s, "ctl", "kick", "abc", now + 1);
	assert_int_equal(pt_store_sync(s), 0);

	/* stats: the last hour */
	assert_int_equal(pt_store_query_stats(path, now - 3600000, now, 60, &res, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "reports")), 2);
	assert_int_equal(json_integer_value(json_object_get(res, "from_peers")), 600);
	assert_int_equal(json_integer_value(json_object_get(res, "from_origin")), 100);
	assert_int_equal(json_integer_value(json_object_get(res, "to_peers")), 50);
	assert_true(json_real_value(json_object_get(res, "offload_ratio")) > 0.857 &&
	            json_real_value(json_object_get(res, "offload_ratio")) < 0.858);
	assert_int_equal(json_integer_value(json_object_get(res, "sessions")), 5);
	json_t *series = json_object_get(res, "peers_over_time");
	assert_true(json_array_size(series) >= 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(series, json_array_size(series) - 1),
	                                                    "peers")), 5);
	json_decref(res);

	/* With one point the series collapses to its maximum. */
	assert_int_equal(pt_store_query_stats(path, now - 3600000, now, 1, &res, err, sizeof(err)), 0);
	series = json_object_get(res, "peers_over_time");
	assert_int_equal(json_array_size(series), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(series, 0), "peers")), 5);
	json_decref(res);

	/* No traffic in the window: the ratio is null, not a division by 0. */
	assert_int_equal(pt_store_query_stats(path, now + 60000, now + 60000, 10, &res, err, sizeof(err)), 0);
	assert_true(json_is_null(json_object_get(res, "offload_ratio")));
	json_decref(res);

	/* top: by lookups */
	assert_int_equal(pt_store_query_top(path, 2, &res, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(res), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 0), "lookups")), 30);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 1), "lookups")), 20);
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(res, 0), "hash"))), 64);
	assert_row_shape(json_array_get(res, 0), "hash announces lookups hits misses updated_at", "siiiii");
	json_decref(res);

	/* history: newest first, addresses as configured */
	assert_int_equal(pt_store_query_history(path, 0, 10, &res, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(res), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "ip")), "");
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 1), "ip")),
	                    "2001:db8:102::/48");
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 2), "ip")),
	                    "203.0.113.0/24");
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 4), "ip")),
	                    "203.0.113.77");
	assert_true(json_is_null(json_object_get(json_array_get(res, 0), "disconnected_at")));
	assert_row_shape(json_array_get(res, 0), "id connected_at disconnected_at reason ip", "sinSs");
	assert_row_shape(json_array_get(res, 4), "id connected_at disconnected_at reason ip", "siISs");
	json_decref(res);
	assert_int_equal(pt_store_query_history(path, 0, 2, &res, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(res), 2);
	json_decref(res);

	/* audit: newest first */
	assert_int_equal(pt_store_query_audit(path, 10, &res, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(res), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "action")), "kick");
	assert_row_shape(json_array_get(res, 0), "at actor action detail", "isss");
	json_decref(res);

	/* Reads also work with the writer gone (the daemon stopped). */
	pt_store_close(s);
	assert_int_equal(pt_store_query_top(path, 10, &res, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(res), 4);
	json_decref(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_hashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_spaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bans_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
