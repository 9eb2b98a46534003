/* test_liveness.c — heartbeats, reload, shutdown and start-up failure of a
 * real daemon. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\n"

static void test_heartbeat_timeout(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "heartbeat_ms = 100\ntimeout_ms = 400\n");
	int port = ptd_port(d);
	ptc *quiet = ptc_join(port, NULL), *asker = ptc_join(port, NULL);
	ptr *silent = ptr_connect(port, NULL);
	char hash[65], ids[4][32], msg[160];
	json_t *w, *ack;
	uint64_t t0;
	int pings = 0;
	(void)state;

	PT_CHECK(silent, "raw client could not upgrade");
	w = ptr_recv_json(silent, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(w, "welcome"), "raw client: no welcome");
	assert_int_equal(pt_jint(w, "heartbeat_ms"), 100);
	assert_int_equal(pt_jint(w, "timeout_ms"), 400);
	json_decref(w);
	pt_hash_of(1, 1, hash);
	snprintf(msg, sizeof(msg), "{\"type\":\"announce\",\"hashes\":[\"%s\"]}", hash);
	assert_int_equal(ptr_send_text(silent, msg), 0);
	ack = ptr_recv_json(silent, PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(ack, "ack"), "raw client: no ack");
	json_decref(ack);
	/* quiet holds it too, and only ever answers WebSocket pings. */
	json_decref(ptc_hashes(quiet, "announce", NULL, &hash, 1));
	assert_int_equal(ptc_lookup(asker, hash, 0, ids, 4), 2);

	/* The silent client sees the server's pings, answers none, and is
	 * closed with 4000 after about timeout_ms. */
	t0 = pt_now_ms();
	for (;;) {
		int op;
		char *data;
		long n = ptr_recv_frame(silent, &op, &data, 3000);

		PT_CHECK(n >= 0, "silent client: neither pings nor a close within 3 s");
		if (op == PTR_PING) {
			pings++;
			free(data);
			continue;
		}
		PT_CHECK(op == PTR_CLOSE && n >= 2, "silent client: unexpected frame opcode %d", op);
		int code = ((unsigned char)data[0] << 8) | (unsigned char)data[1];
		free(data);
		assert_int_equal(code, 4000);
		break;
	}
	PT_CHECK(pings >= 1, "the server never pinged the silent client");
	PT_CHECK(pt_now_ms() - t0 >= 250, "closed after %llu ms, before timeout_ms",
	         (unsigned long long)(pt_now_ms() - t0));
	/* Gone from the index at once. */
	assert_int_equal(ptc_lookup(asker, hash, 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(quiet));
	ptr_free(silent);

	/* quiet sends nothing but pongs for 5 timeouts and stays. */
	assert_null(ptc_recv(quiet, 2000));
	assert_true(ptc_is_open(quiet));
	assert_int_equal(ptc_lookup(asker, hash, 0, ids, 4), 1);
	assert_string_equal(ids[0], ptc_id(quiet));
	ptc_roundtrip(quiet);

	ptc_close(quiet);
	ptc_close(asker);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_reload(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "max_lookup_peers = 5\n");
	int port = ptd_port(d);
	ptc *old = ptc_join(port, NULL), *c;
	json_t *w;
	size_t mark;
	(void)state;

	/* A reloadable key changes for the next welcome. */
	ptd_write_conf(d, BASE_CONF "max_lookup_peers = 9\n");
	mark = ptd_log_count(d);
	ptd_signal(d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(d, mark, "reloaded configuration", PT_T_START_MS) >= 0,
	         "no reload logged");
	c = ptc_connect(port, NULL);
	PT_CHECK(c, "connect after reload: %s", ptc_last_error());
	w = ptc_take_welcome(c);
	assert_int_equal(pt_jint(json_object_get(w, "limits"), "max_lookup_peers"), 9);
	json_decref(w);
	ptc_close(c);

	/* A broken file is refused; the running config stays, so does service. */
	ptd_write_conf(d, BASE_CONF "max_lookup_peers = banana\n");
	mark = ptd_log_count(d);
	ptd_signal(d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(d, mark, "reload refused", PT_T_START_MS) >= 0,
	         "a broken config was not refused");
	PT_CHECK(ptd_wait_log_from(d, mark, "max_lookup_peers", 0) >= 0,
	         "the refusal does not name the bad key");
	c = ptc_connect(port, NULL);
	PT_CHECK(c, "connect after a refused reload: %s", ptc_last_error());
	w = ptc_take_welcome(c);
	assert_int_equal(pt_jint(json_object_get(w, "limits"), "max_lookup_peers"), 9);
	json_decref(w);
	ptc_roundtrip(old);
	ptc_roundtrip(c);
	ptc_close(c);
	ptc_close(old);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_sigterm(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	enum { N = 5 };
	ptc *c[N];
	uint64_t t0;
	int st;
	(void)state;

	for (int i = 0; i < N; i++)
		c[i] = ptc_join(port, NULL);
	t0 = pt_now_ms();
	ptd_signal(d, SIGTERM);
	for (int i = 0; i < N; i++)
		assert_int_equal(ptc_wait_close(c[i], 5000), 1001);
	st = ptd_wait_exit(d, 5000);
	PT_CHECK(st == 0, "exit status %d after SIGTERM", st);
	PT_CHECK(pt_now_ms() - t0 < 5000, "took %llu ms to stop",
	         (unsigned long long)(pt_now_ms() - t0));
	for (int i = 0; i < N; i++)
		ptc_close(c[i]);
	ptd_free(d);
}

static void test_port_in_use(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF), *second;
	char listen[64];
	int st;
	(void)state;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ptd_port(d));
	second = ptd_spawn(BASE_CONF, listen, NULL);
	PT_CHECK(second, "cannot spawn the second daemon");
	st = ptd_wait_exit(second, PT_T_START_MS);
	PT_CHECK(st > 0 && st < 128, "second daemon on a busy port: exit status %d", st);
	PT_CHECK(ptd_log_has(second, "cannot listen on") && ptd_log_has(second, listen),
	         "no clear message about the busy port");
	ptd_free(second);
	/* The first one never noticed. */
	ptc *c = ptc_join(ptd_port(d), NULL);
	ptc_roundtrip(c);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_heartbeat_timeout, pt_teardown),
		cmocka_unit_test_teardown(test_reload, pt_teardown),
		cmocka_unit_test_teardown(test_sigterm, pt_teardown),
		cmocka_unit_test_teardown(test_port_in_use, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
