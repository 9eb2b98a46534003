/* test_store.c — the store under a real daemon: a SIGKILL in the middle of
 * a burst of reports leaves a database that opens cleanly (integrity_check)
 * and holds every report acknowledged more than one flush interval (plus
 * the commit's own time) before the kill (reports are summed per peer per
 * flush, so the rows' counts and sums are what is checked); the next start marks the
 * sessions the crash left open and carries on. */
#include <libgen.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "integration/lib/harness.h"

#define FLUSH_MS 200
/* What a commit of a few hundred rows may take on a loaded machine with
 * sanitizers, on top of the flush interval. */
#define COMMIT_SLACK_MS 300
#define MAX_REPORTS 200000

static const char *conf_text =
	"allow_missing_origin = yes\n"
	"store_flush_ms = 200\n"
	"rate_messages_per_sec = 1000000\n"
	"rate_burst = 1000000\n";

static long long scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	PT_CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_kill9_during_burst(void **state)
{
	pt_daemon *d = ptd_start("%s", conf_text);
	ptc *c = ptc_join(ptd_port(d), NULL);
	static uint64_t acked_at[MAX_REPORTS];
	char conf[400], db_path[512];
	uint64_t t0, kill_at;
	int n = 0, expected = 0;
	sqlite3 *db;
	sqlite3_stmt *st;
	(void)state;

	snprintf(conf, sizeof(conf), "%s", ptd_conf_path(d));
	snprintf(db_path, sizeof(db_path), "%s/state/peertrack.db", dirname(conf));

	/* About 1.5 s of back-to-back reports of 1 byte each, then a few more
	 * left in flight, then SIGKILL. */
	t0 = pt_now_ms();
	while (n < MAX_REPORTS && pt_now_ms() - t0 < 1500) {
		json_t *r = ptc_call(c, "{\"type\":\"report\",\"rid\":%d,\"from_peers\":1,\"from_origin\":1,\"to_peers\":0}",
		                     n);
		PT_CHECK(pt_jtype_is(r, "ack") && pt_jint(r, "rid") == n, "report %d: no ack", n);
		json_decref(r);
		acked_at[n++] = pt_now_ms();
	}
	PT_CHECK(n > 50, "only %d reports in 1.5 s", n);
	for (int i = 0; i < 20; i++)
		ptc_send(c, "{\"type\":\"report\",\"from_peers\":1,\"from_origin\":1}");
	ptc_flush(c, 1000);
	kill_at = pt_now_ms();
	ptd_signal(d, SIGKILL);
	assert_int_equal(ptd_wait_exit(d, 10000), 128 + SIGKILL);

	/* The file opens, is consistent, and holds the old enough reports. */
	PT_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "open: %s", db_path);
	PT_CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK, "prepare");
	PT_CHECK(sqlite3_step(st) == SQLITE_ROW, "integrity_check: no row");
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	/* Every report acked long enough before the kill is counted; none
	 * counted twice, none invented. */
	for (int i = 0; i < n; i++)
		if (kill_at - acked_at[i] > FLUSH_MS + COMMIT_SLACK_MS)
			expected++;
	PT_CHECK(expected > 10, "too few reports old enough to check (%d of %d)", expected, n);
	long long stored = scalar(db, "SELECT coalesce(sum(n), 0) FROM reports");
	PT_CHECK(stored >= expected, "%lld reports stored, %d acked more than %d ms before the kill",
	         stored, expected, FLUSH_MS + COMMIT_SLACK_MS);
	PT_CHECK(stored <= n + 20, "%lld reports stored, only %d sent", stored, n + 20);
	PT_CHECK(scalar(db, "SELECT sum(from_peers) - sum(n) FROM reports") == 0, "sums disagree");
	PT_CHECK(scalar(db, "SELECT count(*) FROM reports") <= stored, "more rows than reports");
	/* The session is still open in the file: the crash never closed it. */
	assert_int_equal(scalar(db, "SELECT count(*) FROM sessions WHERE disconnected_at IS NULL"), 1);
	sqlite3_close(db);
	ptc_close(c);

	/* peertrackctl reads the crashed file too (read-only). */
	{
		const char *bin = getenv("PT_BIN");
		char cmd[800];

		snprintf(cmd, sizeof(cmd), "%s/peertrackctl --db '%s' stats --since 1h >/dev/null",
		         bin && *bin ? bin : "bin", db_path);
		assert_int_equal(system(cmd), 0);
	}

	/* A restart on the same state dir ends the lost session and goes on. */
	{
		char dir[512], setdir[600];
		const char *argv[] = { "--set", setdir, NULL };

		snprintf(dir, sizeof(dir), "%s", db_path);
		*strrchr(dir, '/') = 0;
		snprintf(setdir, sizeof(setdir), "state_dir=%s", dir);
		pt_daemon *d2 = ptd_spawn(conf_text, "127.0.0.1:0", argv);
		PT_CHECK(d2, "cannot respawn");
		PT_CHECK(ptd_wait_log(d2, "listening on", PT_T_START_MS) >= 0, "restart failed");
		ptd_signal(d2, SIGTERM);
		assert_int_equal(ptd_wait_exit(d2, 10000), 0);
		ptd_free(d2);
		PT_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "reopen");
		assert_int_equal(scalar(db, "SELECT count(*) FROM sessions WHERE reason = 'lost'"), 1);
		assert_int_equal(scalar(db, "SELECT count(*) FROM sessions WHERE disconnected_at IS NULL"), 0);
		sqlite3_close(db);
	}
	ptd_free(d);
}

/* A clean stop commits what is still queued, whatever the interval. */
static void test_stop_flushes(void **state)
{
	pt_daemon *d = ptd_start("allow_missing_origin = yes\nstore_flush_ms = 60000\n");
	ptc *c = ptc_join(ptd_port(d), NULL);
	char conf[400], db_path[512];
	sqlite3 *db;
	json_t *r;
	(void)state;

	snprintf(conf, sizeof(conf), "%s", ptd_conf_path(d));
	snprintf(db_path, sizeof(db_path), "%s/state/peertrack.db", dirname(conf));
	r = ptc_call(c, "{\"type\":\"report\",\"from_peers\":4242,\"from_origin\":0,\"to_peers\":0}");
	PT_CHECK(pt_jtype_is(r, "ack"), "no ack");
	json_decref(r);
	ptd_signal(d, SIGTERM);
	assert_int_equal(ptd_wait_exit(d, 10000), 0);
	PT_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open");
	assert_int_equal(scalar(db, "SELECT count(*) FROM reports WHERE from_peers = 4242"), 1);
	assert_int_equal(scalar(db, "SELECT count(*) FROM sessions WHERE reason = 'shutdown'"), 1);
	sqlite3_close(db);
	ptc_close(c);
	ptd_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_during_burst, pt_teardown),
		cmocka_unit_test_teardown(test_stop_flushes, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
