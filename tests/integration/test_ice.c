/* test_ice.c — welcome.ice_servers and refresh-ice from a real daemon:
 * the RTCConfiguration.iceServers shape, TURN REST credentials that verify
 * with HMAC-SHA1 over the username (computed here with OpenSSL, apart from
 * the daemon's code), the expiry, a secret rotation by SIGHUP, and the
 * secret file's rules: readable by the daemon alone, never in the log. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "integration/lib/harness.h"

#define SECRET_1 "first-Secret-7d1e"
#define SECRET_2 "second-Secret-93ab"

static char dir[64], secret_path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pt-itest-ice-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(secret_path, sizeof(secret_path), "%s/turn.secret", dir);
	return 0;
}

static int teardown(void **state)
{
	pt_harness_cleanup();
	unlink(secret_path);
	rmdir(dir);
	return 0;
}

static void write_secret(const char *text, mode_t mode)
{
	int fd;

	unlink(secret_path);
	fd = open(secret_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(secret_path, mode), 0);
}

static void b64_hmac(const char *secret, const char *user, char out[64])
{
	unsigned char mac[20];
	unsigned int n = 0;

	assert_non_null(HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)user,
	                     strlen(user), mac, &n));
	EVP_EncodeBlock((unsigned char *)out, mac, (int)n);
}

/* Checks an ice_servers array: STUN first, then TURN with a credential
 * for id signed by secret, expiring ttl seconds from now. */
static void check_servers(const json_t *ice, const char *id, const char *secret, long ttl)
{
	json_t *stun = json_array_get(ice, 0), *turn = json_array_get(ice, 1);
	const char *user = pt_jstr(turn, "username");
	char want[64], expect_tail[40];
	long long expiry;

	PT_CHECK(json_array_size(ice) == 2, "ice_servers holds %zu entries", json_array_size(ice));
	PT_CHECK(!strcmp(json_string_value(json_array_get(json_object_get(stun, "urls"), 0)),
	                 "stun:127.0.0.1:3478"), "STUN url");
	PT_CHECK(json_array_size(json_object_get(turn, "urls")) == 2, "TURN urls");
	PT_CHECK(!strcmp(json_string_value(json_array_get(json_object_get(turn, "urls"), 1)),
	                 "turns:127.0.0.1:5349?transport=tcp"), "TURN url");
	PT_CHECK(user && sscanf(user, "%lld:", &expiry) == 1, "username '%s'", user ? user : "");
	snprintf(expect_tail, sizeof(expect_tail), ":%s", id);
	PT_CHECK(strlen(user) > strlen(expect_tail) &&
	         !strcmp(user + strlen(user) - strlen(expect_tail), expect_tail),
	         "username '%s' does not end in the client id", user);
	PT_CHECK(llabs(expiry - ((long long)time(NULL) + ttl)) <= 5, "expiry %lld, want now + %ld",
	         expiry, ttl);
	b64_hmac(secret, user, want);
	PT_CHECK(!strcmp(pt_jstr(turn, "credential"), want), "credential %s, want %s (HMAC-SHA1)",
	         pt_jstr(turn, "credential"), want);
}

#define CONF_FMT                                                              \
	"allow_missing_origin = yes\nlog_level = debug\n"                         \
	"stun_urls = stun:127.0.0.1:3478\n"                                       \
	"turn_urls = turn:127.0.0.1:3478?transport=udp\n"                         \
	"    turns:127.0.0.1:5349?transport=tcp\n"                                \
	"turn_secret_file = %s\nturn_credential_ttl_s = 600\n"

static void test_welcome_and_refresh(void **state)
{
	pt_daemon *d;
	ptc *c;
	json_t *w, *r;
	size_t mark;
	(void)state;

	write_secret(SECRET_1 "\n", 0600);
	d = ptd_start(CONF_FMT, secret_path);
	c = ptc_connect(ptd_port(d), NULL);
	PT_CHECK(c, "connect");
	w = ptc_take_welcome(c);
	PT_CHECK(pt_jint(w, "ice_ttl_s") == 600, "ice_ttl_s");
	check_servers(json_object_get(w, "ice_servers"), ptc_id(c), SECRET_1, 600);
	json_decref(w);

	ptc_send(c, "{\"type\":\"refresh-ice\",\"rid\":7}");
	r = ptc_recv_type(c, "ice-servers", PT_T_REPLY_MS);
	PT_CHECK(r && pt_jint(r, "rid") == 7, "no ice-servers answer");
	check_servers(json_object_get(r, "ice_servers"), ptc_id(c), SECRET_1, 600);
	json_decref(r);

	/* Rotation: the new secret first, the old one second (coturn is given
	 * both), SIGHUP: new credentials use the new secret, no restart. */
	write_secret(SECRET_2 "\n" SECRET_1 "\n", 0600);
	mark = ptd_log_count(d);
	ptd_signal(d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(d, mark, "reloaded configuration", PT_T_START_MS) >= 0, "no reload");
	ptc_send(c, "{\"type\":\"refresh-ice\",\"rid\":8}");
	r = ptc_recv_type(c, "ice-servers", PT_T_REPLY_MS);
	PT_CHECK(r, "no ice-servers answer after the reload");
	check_servers(json_object_get(r, "ice_servers"), ptc_id(c), SECRET_2, 600);
	json_decref(r);

	/* A secret file others may read is refused on reload; the running
	 * secret stays. */
	write_secret(SECRET_1 "\n", 0644);
	mark = ptd_log_count(d);
	ptd_signal(d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(d, mark, "reload refused", PT_T_START_MS) >= 0, "0644 secret accepted");
	PT_CHECK(ptd_log_has(d, "chmod 600"), "the refusal does not say how to fix it");
	ptc_send(c, "{\"type\":\"refresh-ice\"}");
	r = ptc_recv_type(c, "ice-servers", PT_T_REPLY_MS);
	check_servers(json_object_get(r, "ice_servers"), ptc_id(c), SECRET_2, 600);
	json_decref(r);

	/* Never logged, even at debug. */
	PT_CHECK(!ptd_log_has(d, SECRET_1) && !ptd_log_has(d, SECRET_2), "a secret is in the log");
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_bad_secrets(void **state)
{
	char conf[512];
	pt_daemon *d;
	int st;
	(void)state;

	/* Readable by others: the daemon does not start, and says why. */
	write_secret(SECRET_1 "\n", 0640);
	snprintf(conf, sizeof(conf), CONF_FMT, secret_path);
	d = ptd_spawn(conf, "127.0.0.1:0", NULL);
	PT_CHECK(d, "spawn");
	st = ptd_wait_exit(d, PT_T_START_MS);
	PT_CHECK(st != 0 && st != -1, "started with a group-readable secret (status %d)", st);
	PT_CHECK(ptd_log_has(d, "group or others may access it"), "no reason given");
	PT_CHECK(!ptd_log_has(d, SECRET_1), "the secret is in the log");
	ptd_free(d);

	/* TURN URLs without any secret: a configuration error (exit 2). */
	d = ptd_spawn("allow_missing_origin = yes\nturn_urls = turn:127.0.0.1:3478\n", "127.0.0.1:0", NULL);
	PT_CHECK(d, "spawn");
	assert_int_equal(ptd_wait_exit(d, PT_T_START_MS), 2);
	PT_CHECK(ptd_log_has(d, "turn_urls needs turn_secret or turn_secret_file"), "no reason given");
	ptd_free(d);

	/* An inline secret with a bad byte: refused without echoing it. */
	d = ptd_spawn("allow_missing_origin = yes\nturn_urls = turn:127.0.0.1:3478\n"
	              "turn_secret = a b c\n", "127.0.0.1:0", NULL);
	PT_CHECK(d, "spawn");
	assert_int_equal(ptd_wait_exit(d, PT_T_START_MS), 2);
	PT_CHECK(ptd_log_has(d, "more than 2 secrets"), "no reason given");
	ptd_free(d);

	/* --dump-config prints the effective configuration: a secret in it
	 * is masked. */
	{
		char cmd[512], line[512];
		const char *bin = getenv("PT_BIN");
		FILE *f, *p;
		int lines = 0, leaked = 0, masked = 0;

		f = fopen(secret_path, "w");
		assert_non_null(f);
		fprintf(f, "turn_secret = %s\n", SECRET_1);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "%s/peertrackd -c %s --dump-config", bin && *bin ? bin : "bin",
		         secret_path);
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof(line), p)) {
			lines++;
			leaked |= strstr(line, SECRET_1) != NULL;
			masked |= !strncmp(line, "turn_secret = (set, not shown)", 30);
		}
		assert_int_equal(pclose(p), 0);
		PT_CHECK(lines > 40 && !leaked && masked, "--dump-config: %d lines, secret %s", lines,
		         leaked ? "printed" : masked ? "masked" : "not marked as set");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_welcome_and_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_secrets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
