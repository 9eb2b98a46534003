/* test_turn.c — TURN REST credentials (known answers: RFC 2202 and the
 * openssl command line), ICE URL checks, secrets from text and from a
 * file (mode checked), and the iceServers JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "peertrack/turn.h"

static void test_credential(void **state)
{
	char cred[PT_TURN_CRED_CHARS + 1], user[PT_TURN_USER_MAX];
	(void)state;

	/* RFC 2202, HMAC-SHA1 test case 2, in base64. */
	assert_int_equal(pt_turn_credential("Jefe", 4, "what do ya want for nothing?", cred), 0);
	assert_string_equal(cred, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
	/* The username form coturn splits on ':' (expiry first). */
	assert_int_equal(pt_turn_username(user, sizeof(user), 1700000000, "q3Vx0dB1a9Zk7Yt2mWcE5rLp"), 0);
	assert_string_equal(user, "1700000000:q3Vx0dB1a9Zk7Yt2mWcE5rLp");
	/* echo -n USER | openssl dgst -sha1 -hmac north-wind -binary | base64 */
	assert_int_equal(pt_turn_credential("north-wind", 10, user, cred), 0);
	assert_string_equal(cred, "G+nubxuj3awhs1yqlzyVQEgkyY8=");
	assert_int_equal(pt_turn_username(user, 12, 1700000000, "q3Vx0dB1a9Zk7Yt2mWcE5rLp"), -ENOSPC);
}

static void test_urls(void **state)
{
	static const char *const stun_ok[] = { "stun:127.0.0.1", "stun:stun.example.org:3478",
	                                       "stuns:a-b.example:5349", "stun:[::1]:3478" };
	static const char *const turn_ok[] = { "turn:127.0.0.1:3478?transport=udp",
	                                       "turns:turn.example.org:443?transport=tcp",
	                                       "turn:turn.example.org" };
	static const char *const bad[] = { "stun:", "http://x", "turn:host:0", "turn:host:65536",
	                                   "turn:host?transport=sctp", "turn:ho st", "turn:[::1",
	                                   "turn:host:34a" };
	char err[200];
	(void)state;

	for (size_t i = 0; i < sizeof(stun_ok) / sizeof(*stun_ok); i++)
		assert_int_equal(pt_ice_url_check(stun_ok[i], strlen(stun_ok[i]), 0, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(turn_ok) / sizeof(*turn_ok); i++)
		assert_int_equal(pt_ice_url_check(turn_ok[i], strlen(turn_ok[i]), 1, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(pt_ice_url_check(bad[i], strlen(bad[i]), 1, err, sizeof(err)), -1);
	/* A transport is TURN's; a TURN URL is not a STUN server. */
	assert_int_equal(pt_ice_url_check("stun:h?transport=udp", 20, 0, err, sizeof(err)), -1);
	assert_int_equal(pt_ice_url_check("turn:h", 6, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "stun:"));
}

static void test_secrets_text(void **state)
{
	pt_ice ice = {0};
	char err[200], big[PT_TURN_SECRET_MAX + 2];
	(void)state;

	assert_int_equal(pt_turn_secrets_parse(&ice, " new-one\n old-one\n", 18, err, sizeof(err)), 0);
	assert_int_equal(ice.n_secrets, 2);
	assert_string_equal(ice.secret[0], "new-one");
	assert_int_equal(ice.secret_len[1], 7);
	assert_int_equal(pt_turn_secrets_parse(&ice, "a b c", 5, err, sizeof(err)), -1);
	assert_int_equal(ice.n_secrets, 0);
	assert_int_equal(pt_turn_secrets_parse(&ice, " \n", 2, err, sizeof(err)), -1);
	assert_int_equal(pt_turn_secrets_parse(&ice, "s\x01x", 3, err, sizeof(err)), -1);
	memset(big, 'k', sizeof(big));
	assert_int_equal(pt_turn_secrets_parse(&ice, big, sizeof(big) - 1, err, sizeof(err)), -1);
	/* Errors never quote the secret. */
	assert_null(strstr(err, "kkkk"));
	assert_int_equal(pt_turn_secrets_parse(&ice, big, sizeof(big) - 2, err, sizeof(err)), 0);
	pt_ice_clear(&ice);
	assert_int_equal(ice.n_secrets, 0);
	assert_int_equal(ice.secret[0][0], 0);
}

static void test_secrets_file(void **state)
{
	char dir[] = "/tmp/pt-test-turn-XXXXXX", path[64], err[300];
	pt_ice ice = {0};
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cr3t-value\n", 13), 13);
	close(fd);
	assert_int_equal(pt_turn_secrets_read(&ice, path, err, sizeof(err)), 0);
	assert_string_equal(ice.secret[0], "s3cr3t-value");
	/* Readable by others: refused, and the error says why without the secret. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pt_turn_secrets_read(&ice, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, "s3cr3t"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(pt_turn_secrets_read(&ice, path, err, sizeof(err)), -1);
	unlink(path);
	assert_int_equal(pt_turn_secrets_read(&ice, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	rmdir(dir);
	pt_ice_clear(&ice);
}

static json_t *render(const pt_ice *ice, uint64_t now)
{
	pt_buf b;
	json_t *j;

	pt_buf_init(&b, 0);
	assert_int_equal(pt_ice_servers_json(&b, ice, "q3Vx0dB1a9Zk7Yt2mWcE5rLp", now), 0);
	j = json_loadb(pt_buf_text(&b), b.len, 0, NULL);
	assert_non_null(j);
	pt_buf_free(&b);
	return j;
}

static void test_ice_servers(void **state)
{
	pt_ice ice = { .stun_urls = "", .turn_urls = "", .ttl_s = 600 };
	json_t *j;
	char err[100];
	(void)state;

	j = render(&ice, 1700000000);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);

	ice.stun_urls = "stun:127.0.0.1:3478, stun:[::1]:3478";
	ice.turn_urls = "turn:127.0.0.1:3478?transport=udp turns:127.0.0.1:5349?transport=tcp";
	/* TURN URLs without a secret: not offered (no credential to give). */
	j = render(&ice, 1700000000);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);

	assert_int_equal(pt_turn_secrets_parse(&ice, "north-wind old", 14, err, sizeof(err)), 0);
	j = render(&ice, 1700000000 - 600);
	assert_int_equal(json_array_size(j), 2);
	json_t *stun = json_array_get(j, 0), *turn = json_array_get(j, 1);
	assert_int_equal(json_array_size(json_object_get(stun, "urls")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(stun, "urls"), 1)),
	                    "stun:[::1]:3478");
	assert_null(json_object_get(stun, "username"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(turn, "urls"), 1)),
	                    "turns:127.0.0.1:5349?transport=tcp");
	/* Signed with the first secret, expiring at now + ttl. */
	assert_string_equal(json_string_value(json_object_get(turn, "username")),
	                    "1700000000:q3Vx0dB1a9Zk7Yt2mWcE5rLp");
	assert_string_equal(json_string_value(json_object_get(turn, "credential")),
	                    "G+nubxuj3awhs1yqlzyVQEgkyY8=");
	json_decref(j);
	pt_ice_clear(&ice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credential),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_secrets_text),
		cmocka_unit_test(test_secrets_file),
		cmocka_unit_test(test_ice_servers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
