/* test_config.c — the key table, the INI loader's errors (with file and
 * line), validation, reload, and the generated sample and reference,
 * which must match conf/peertrack.conf, docs/CONFIG.md and
 * man/peertrack.conf.5 byte for byte. After a change to the table,
 * `PT_REGENERATE=1 build/tests/unit/test_config` rewrites the three. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "peertrack/config.h"
#include "peertrack/match.h"

static char dir[64];
static char path[128];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pt-test-config-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/peertrack.conf", dir);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text over the defaults; returns the loader's result, err filled. */
static int load_text(const char *text, pt_config *c, char *err, size_t errlen)
{
	write_file(text);
	pt_config_defaults(c);
	err[0] = '\0';
	return pt_config_load(c, path, err, errlen);
}

static int by_offset(const void *a, const void *b)
{
	const pt_config_key *x = *(const pt_config_key *const *)a, *y = *(const pt_config_key *const *)b;

	return (x->offset > y->offset) - (x->offset < y->offset);
}

static void test_table(void **state)
{
	(void)state;
	/* Every field of struct pt_config is a row: 95 fields today. */
	assert_int_equal(pt_config_nkeys, 95);
	size_t covered = 0;
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		assert_non_null(k->name);
		assert_non_null(k->section);
		assert_non_null(k->doc);
		assert_non_null(k->def);
		assert_true(strlen(k->doc) > 10);
		assert_true(k->offset + k->size <= sizeof(pt_config));
		covered += k->size;
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(pt_config_keys[j].name, k->name);
			/* no two rows share bytes */
			const pt_config_key *o = &pt_config_keys[j];
			assert_true(o->offset + o->size <= k->offset || k->offset + k->size <= o->offset);
		}
		if (k->type == PT_CFG_U32)
			assert_true(k->min <= k->max);
		if (k->type == PT_CFG_ENUM)
			assert_non_null(k->enums);
	}
	/* The rows cover the struct, up to padding: in offset order, the gap
	 * before each row is less than its type's alignment (a field with no
	 * row leaves a gap at least its own size), and the tail less than 8. */
	{
		size_t n = pt_config_nkeys, at = 0;
		const pt_config_key **v = malloc(n * sizeof(*v));

		assert_non_null(v);
		for (size_t i = 0; i < n; i++)
			v[i] = &pt_config_keys[i];
		qsort(v, n, sizeof(*v), by_offset);
		for (size_t i = 0; i < n; i++) {
			size_t align = v[i]->type == PT_CFG_U32 || v[i]->type == PT_CFG_ENUM ? 4
			               : v[i]->type == PT_CFG_CIDRS                       ? 8
			                                                                   : 1;

			if (v[i]->offset - at >= align)
				fail_msg("%zu bytes before %s with no row", v[i]->offset - at, v[i]->name);
			at = v[i]->offset + v[i]->size;
		}
		assert_true(sizeof(pt_config) - at < 8);
		assert_true(covered <= sizeof(pt_config));
		free(v);
	}
}

static void test_defaults(void **state)
{
	(void)state;
	pt_config c;
	char err[256];

	pt_config_defaults(&c);
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:8000");
	assert_string_equal(c.state_dir, "./var");
	assert_int_equal(c.log_level, PT_LOG_INFO);
	assert_int_equal(c.log_format, PT_LOG_TEXT);
	assert_false(c.log_time);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_ip, 64);
	assert_int_equal(c.max_message_bytes, 65536);
	assert_int_equal(c.max_hashes_per_message, 256);
	assert_int_equal(c.max_hashes_per_peer, 4096);
	assert_int_equal(c.max_lookup_peers, 20);
	assert_int_equal(c.max_signal_bytes, 16384);
	assert_int_equal(c.rate_messages_per_sec, 50);
	assert_int_equal(c.rate_burst, 100);
	assert_int_equal(c.rate_abuse_strikes, 50);
	assert_int_equal(c.send_queue_max_bytes, 1048576);
	assert_int_equal(c.handshake_timeout_ms, 10000);
	assert_int_equal(c.heartbeat_ms, 15000);
	assert_int_equal(c.timeout_ms, 45000);
	assert_string_equal(c.allowed_origins, "*");
	assert_false(c.allow_missing_origin);
	assert_int_equal(c.trusted_proxies.n, 0);
	assert_int_equal(c.match_strategy, PT_MATCH_PROXIMITY);
	assert_int_equal(c.match_sample, 64);
	assert_int_equal(c.match_half_life_ms, 30000);
	assert_int_equal(c.peer_left_window_ms, 60000);
	assert_int_equal(c.recent_contacts, 16);
	assert_int_equal(c.store_flush_ms, 1000);
	assert_int_equal(c.store_ip, PT_STORE_IP_PREFIX);
	assert_int_equal(c.store_retention_days, 30);
	assert_string_equal(c.admin_socket, "");
	assert_int_equal(c.metrics_allow.n, 2);
	pt_config_free(&c);
}

static void test_load_ok(void **state)
{
	(void)state;
	pt_config c;
	char err[256];

	assert_string_equal(load_text("; a comment\n"
	                              "# another\n"
	                              "log_level = debug\n"
	                              "[server]\n"
	                              "listen = [::1]:0\n"
	                              "state_dir=/var/lib/peertrack\n"
	                              "\n"
	                              "[log]\n"
	                              "log_format = json\n"
	                              "[limits]\n"
	                              "max_connections = 1000000 ; inline comment\n"
	                              "max_message_bytes = 00512\n"
	                              "max_signal_bytes = 64\n"
	                              "[liveness]\n"
	                              "heartbeat_ms = 50\n"
	                              "timeout_ms = 100\n"
	                              "[security]\n"
	                              "allowed_origins = https://a.example, http://localhost:8080\n"
	                              "  https://[::1]:9 *\n"
	                              "allow_missing_origin = on\n"
	                              "trusted_proxies = 127.0.0.1\n"
	                              "\t::1\n"
	                              "[matching]\n"
	                              "match_strategy = random\n"
	                              "peer_left_window_ms = 0\n"
	                              "recent_contacts = 256\n",
	                              &c, err, sizeof(err)) == 0 ? "" : err, "");
	assert_int_equal(c.log_level, PT_LOG_DEBUG);
	assert_string_equal(c.listen, "[::1]:0");
	assert_string_equal(c.state_dir, "/var/lib/peertrack");
	assert_int_equal(c.log_format, PT_LOG_JSON);
	assert_int_equal(c.max_connections, 1000000);
	assert_int_equal(c.max_message_bytes, 512);
	assert_int_equal(c.max_signal_bytes, 64);
	assert_int_equal(c.heartbeat_ms, 50);
	assert_int_equal(c.timeout_ms, 100);
	assert_string_equal(c.allowed_origins, "https://a.example, http://localhost:8080 https://[::1]:9 *");
	assert_true(c.allow_missing_origin);
	assert_int_equal(c.trusted_proxies.n, 2);
	assert_int_equal(c.trusted_proxies.v[0].net.family, 4);
	assert_int_equal(c.trusted_proxies.v[1].net.family, 6);
	assert_int_equal(c.match_strategy, PT_MATCH_RANDOM);
	assert_int_equal(c.peer_left_window_ms, 0);
	assert_int_equal(c.recent_contacts, 256);
	/* untouched keys keep their defaults */
	assert_int_equal(c.max_lookup_peers, 20);
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), 0);
	pt_config_free(&c);

	/* An empty file changes nothing. */
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_connections, 10000);
	pt_config_free(&c);

	/* Loading replaces a list, and an empty value empties it. */
	assert_int_equal(load_text("trusted_proxies = 10.0.0.0/8, 192.168.0.0/16\n", &c, err,
	                           sizeof(err)), 0);
	assert_int_equal(c.trusted_proxies.n, 2);
	write_file("trusted_proxies =\n");
	assert_int_equal(pt_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.trusted_proxies.n, 0);
	pt_config_free(&c);
}

static const struct ecase {
	const char *text;
	const char *want; /* after "PATH:" */
} ecases[] = {
	{ "[server]\nfoo = 1\n", "2: unknown key 'foo'" },
	{ "max_connections = abc\n", "1: max_connections: 'abc' is not a number" },
	{ "max_connections = 0\n", "1: max_connections: 0 is out of range 1..1000000" },
	{ "max_connections = 1000001\n", "1: max_connections: 1000001 is out of range 1..1000000" },
	{ "max_connections = 4294967296\n",
	  "1: max_connections: 4294967296 is out of range 1..1000000" },
	{ "max_connections = 99999999999999999999999\n",
	  "1: max_connections: 99999999999999999999999 is out of range 1..1000000" },
	{ "max_connections = +5\n", "1: max_connections: '+5' is not a number" },
	{ "max_connections = -5\n", "1: max_connections: '-5' is not a number" },
	{ "max_connections = 5x\n", "1: max_connections: '5x' is not a number" },
	{ "max_connections = 0x10\n", "1: max_connections: '0x10' is not a number" },
	{ "max_connections = 1e3\n", "1: max_connections: '1e3' is not a number" },
	{ "max_connections = 1 000\n", "1: max_connections: '1 000' is not a number" },
	{ "max_connections =\n", "1: max_connections: '' is not a number" },
	{ "max_message_bytes = 511\n", "1: max_message_bytes: 511 is out of range 512..16777216" },
	{ "recent_contacts = 257\n", "1: recent_contacts: 257 is out of range 0..256" },
	{ "[nope]\n", "1: unknown section [nope]" },
	{ "# x\n[server]\nlisten = 1.2.3.4:5\n[Server]\n", "4: unknown section [Server]" },
	{ "[limits]\nmax_connections = 5\n[extra]\nfoo = bar\n", "3: unknown section [extra]" },
	{ "\n\nlog_level = verbose\n", "3: log_level: 'verbose' is not one of error|warn|info|debug" },
	{ "log_level = INFO\n", "1: log_level: 'INFO' is not one of error|warn|info|debug" },
	{ "log_format = xml\n", "1: log_format: 'xml' is not one of text|json" },
	{ "match_strategy = best\n", "1: match_strategy: 'best' is not one of proximity|random" },
	{ "allow_missing_origin = maybe\n",
	  "1: allow_missing_origin: 'maybe' is not one of yes|no|true|false|on|off|1|0" },
	{ "listen = 8000\n",
	  "1: listen: '8000' is not HOST:PORT or [IPV6]:PORT (port 0..65535)" },
	{ "listen = ::1:80\n",
	  "1: listen: '::1:80' is not HOST:PORT or [IPV6]:PORT (port 0..65535)" },
	{ "listen = 127.0.0.1:65536\n",
	  "1: listen: '127.0.0.1:65536' is not HOST:PORT or [IPV6]:PORT (port 0..65535)" },
	{ "listen = 127.0.0.1:\n",
	  "1: listen: '127.0.0.1:' is not HOST:PORT or [IPV6]:PORT (port 0..65535)" },
	{ "listen = :80\n", "1: listen: ':80' is not HOST:PORT or [IPV6]:PORT (port 0..65535)" },
	{ "state_dir =\n", "1: state_dir: must not be empty" },
	{ "allowed_origins = example.com\n",
	  "1: allowed_origins: 'example.com' is not * or a lowercase scheme://host[:port]" },
	{ "allowed_origins = * https://Example.com\n",
	  "1: allowed_origins: 'https://Example.com' is not * or a lowercase scheme://host[:port]" },
	{ "allowed_origins = https://a.com/\n",
	  "1: allowed_origins: 'https://a.com/' is not * or a lowercase scheme://host[:port]" },
	{ "allowed_origins = https://a.com:0\n",
	  "1: allowed_origins: 'https://a.com:0' is not * or a lowercase scheme://host[:port]" },
	{ "allowed_origins = https://\n",
	  "1: allowed_origins: 'https://' is not * or a lowercase scheme://host[:port]" },
	{ "allowed_origins = https://a.com\n  ftp//b\n",
	  "2: allowed_origins: 'ftp//b' is not * or a lowercase scheme://host[:port]" },
	{ "trusted_proxies = 10.0.0.0/8 nope\n",
	  "1: trusted_proxies: 'nope' is not an address or CIDR" },
	{ "max_connections = 5\nmax_connections = 6\n",
	  "2: max_connections: already set on line 1" },
	{ "[server]\nlisten = 127.0.0.1:1\n[security]\nlisten = 127.0.0.1:2\n",
	  "4: listen: already set on line 2" },
	{ "max_connections = 5\n  6\n", "2: indented line: only lists may continue on the next line" },
	{ "just junk\n", "1: syntax error: expected 'key = value' or '[section]'" },
	{ "[server\n", "1: syntax error: expected 'key = value' or '[section]'" },
	{ "log_level = info\nmax_connections = 0\njunk\n",
	  "2: max_connections: 0 is out of range 1..1000000" },
	{ "log_level = info\njunk\nmax_connections = 0\n",
	  "2: syntax error: expected 'key = value' or '[section]'" },
};

static void test_load_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		pt_config c;
		char err[512], want[512];
		int r = load_text(ecases[i].text, &c, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:%s", path, ecases[i].want);
		if (r != -1 || strcmp(err, want) != 0)
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, err, want);
		pt_config_free(&c);
	}
}

static void test_load_misc_errors(void **state)
{
	(void)state;
	pt_config c;
	char err[512], want[512], line[1024];

	/* A line too long for inih is refused, not split into two. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "allowed_origins = *", 19);
	line[19] = ' ';
	snprintf(line + 900, sizeof(line) - 900, "\n");
	assert_int_equal(load_text(line, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: line is longer than ", path);
	assert_memory_equal(err, want, strlen(want));
	pt_config_free(&c);

	/* A NUL byte cannot hide the rest of a line. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite("log_level = info\nmax_connections = 5\0 junk\n", 1, 43, f);
	fclose(f);
	pt_config_defaults(&c);
	assert_int_equal(pt_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	assert_string_equal(err, want);
	pt_config_free(&c);

	/* A missing file. */
	pt_config_defaults(&c);
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	assert_int_equal(pt_config_load(&c, missing, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
	assert_string_equal(err, want);
	pt_config_free(&c);

	/* A small err buffer truncates, never overflows. */
	assert_int_equal(load_text("foo = 1\n", &c, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	pt_config_free(&c);
}

static void test_set(void **state)
{
	(void)state;
	pt_config c;
	char err[256];

	pt_config_defaults(&c);
	assert_int_equal(pt_config_set(&c, "max_lookup_peers", "7", err, sizeof(err)), 0);
	assert_int_equal(c.max_lookup_peers, 7);
	assert_int_equal(pt_config_set(&c, "allow_missing_origin", "true", err, sizeof(err)), 0);
	assert_true(c.allow_missing_origin);
	assert_int_equal(pt_config_set(&c, "allow_missing_origin", "0", err, sizeof(err)), 0);
	assert_false(c.allow_missing_origin);
	assert_int_equal(pt_config_set(&c, "log_format", "json", err, sizeof(err)), 0);
	assert_int_equal(c.log_format, PT_LOG_JSON);
	assert_int_equal(pt_config_set(&c, "trusted_proxies", "10.1.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(c.trusted_proxies.n, 1);

	assert_int_equal(pt_config_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "nope: unknown key");
	assert_int_equal(pt_config_set(&c, "max_lookup_peers", "1001", err, sizeof(err)), -1);
	assert_string_equal(err, "max_lookup_peers: 1001 is out of range 1..1000");
	assert_int_equal(c.max_lookup_peers, 7); /* unchanged on error */
	assert_int_equal(pt_config_set(&c, "heartbeat_ms", " 100", err, sizeof(err)), -1);
	assert_string_equal(err, "heartbeat_ms: ' 100' is not a number");

	char longv[PT_CONFIG_STR + 10];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(pt_config_set(&c, "state_dir", longv, err, sizeof(err)), -1);
	assert_string_equal(err, "state_dir: value is longer than 255 bytes");
	assert_string_equal(c.state_dir, "./var");
	pt_config_free(&c);
}

static void test_validate(void **state)
{
	(void)state;
	pt_config c;
	char err[256];

	pt_config_defaults(&c);
	c.timeout_ms = c.heartbeat_ms;
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "timeout_ms (15000) must be greater than heartbeat_ms (15000)");

	pt_config_free(&c);
	pt_config_defaults(&c);
	c.max_signal_bytes = c.max_message_bytes;
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "max_signal_bytes (65536) must be less than max_message_bytes (65536)");

	pt_config_free(&c);
	pt_config_defaults(&c);
	c.rate_burst = 0;
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "rate_burst: 0 is out of range 1..1000000");

	pt_config_free(&c);
	pt_config_defaults(&c);
	strcpy(c.listen, "nowhere");
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "listen: 'nowhere' is not HOST:PORT or [IPV6]:PORT (port 0..65535)");

	pt_config_free(&c);
	pt_config_defaults(&c);
	strcpy(c.allowed_origins, "https://ok.example junk");
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "allowed_origins: 'junk' is not * or a lowercase scheme://host[:port]");

	pt_config_free(&c);
	pt_config_defaults(&c);
	c.log_level = (enum pt_log_level)9;
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "log_level: 9 is not a valid value");

	/* A file can pass key by key and still fail the cross checks. */
	pt_config_free(&c);
	assert_int_equal(load_text("heartbeat_ms = 60000\n", &c, err, sizeof(err)), 0);
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "timeout_ms (45000) must be greater than heartbeat_ms (60000)");
	pt_config_free(&c);
}

static void test_listen_split(void **state)
{
	(void)state;
	static const struct { const char *in; int rc; const char *host; int port; } cases[] = {
		{ "127.0.0.1:8000", 0, "127.0.0.1", 8000 },
		{ "[::1]:0", 0, "::1", 0 },
		{ "[fe80::1%lo]:65535", 0, "fe80::1%lo", 65535 },
		{ "localhost:80", 0, "localhost", 80 },
		{ "127.0.0.1:65536", -EINVAL, NULL, 0 },
		{ "127.0.0.1:-1", -EINVAL, NULL, 0 },
		{ "127.0.0.1:80x", -EINVAL, NULL, 0 },
		{ "127.0.0.1:000080", -EINVAL, NULL, 0 },
		{ "127.0.0.1", -EINVAL, NULL, 0 },
		{ "::1:80", -EINVAL, NULL, 0 },
		{ "[::1]80", -EINVAL, NULL, 0 },
		{ "[::1]", -EINVAL, NULL, 0 },
		{ "[]:80", -EINVAL, NULL, 0 },
		{ ":80", -EINVAL, NULL, 0 },
		{ "", -EINVAL, NULL, 0 },
		{ "a b:80", -EINVAL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "";
		int port = -7;
		int rc = pt_config_listen_split(cases[i].in, host, sizeof(host), &port);
		if (rc != cases[i].rc)
			fail_msg("case %zu '%s': rc %d", i, cases[i].in, rc);
		if (rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
	/* host buffer too small */
	char tiny[4];
	int port;
	assert_int_equal(pt_config_listen_split("127.0.0.1:80", tiny, sizeof(tiny), &port), -EINVAL);
}

static void test_reload(void **state)
{
	(void)state;
	pt_config live, fresh;
	char err[256], changed[128];

	pt_config_defaults(&live);
	assert_int_equal(load_text("listen = 127.0.0.1:9000\n"
	                           "state_dir = /elsewhere\n"
	                           "log_level = debug\n"
	                           "max_connections = 5\n"
	                           "timeout_ms = 60000\n"
	                           "allowed_origins = https://a.example\n"
	                           "trusted_proxies = 10.0.0.0/8 ::1\n"
	                           "match_strategy = random\n",
	                           &fresh, err, sizeof(err)), 0);
	assert_int_equal(pt_config_reload(&live, &fresh, changed, sizeof(changed)), 2);
	assert_string_equal(changed, "listen, state_dir");
	/* not reloadable: kept */
	assert_string_equal(live.listen, "127.0.0.1:8000");
	assert_string_equal(live.state_dir, "./var");
	/* reloadable: applied */
	assert_int_equal(live.log_level, PT_LOG_DEBUG);
	assert_int_equal(live.max_connections, 5);
	assert_int_equal(live.timeout_ms, 60000);
	assert_string_equal(live.allowed_origins, "https://a.example");
	assert_int_equal(live.match_strategy, PT_MATCH_RANDOM);
	assert_int_equal(live.trusted_proxies.n, 2);
	/* deep copy: fresh can go */
	assert_ptr_not_equal(live.trusted_proxies.v, fresh.trusted_proxies.v);
	pt_config_free(&fresh);
	assert_int_equal(live.trusted_proxies.v[1].net.family, 6);

	/* Reloading the same values again changes nothing, lists nothing. */
	pt_config again;
	assert_int_equal(pt_config_copy(&again, &live), 0);
	assert_int_equal(pt_config_reload(&live, &again, changed, sizeof(changed)), 0);
	assert_string_equal(changed, "");
	assert_int_equal(live.trusted_proxies.n, 2);
	pt_config_free(&again);

	/* changed may be NULL, or too small: the count stays right. */
	pt_config_defaults(&fresh);
	strcpy(fresh.listen, "127.0.0.1:1");
	strcpy(fresh.state_dir, "/x");
	assert_int_equal(pt_config_reload(&live, &fresh, NULL, 0), 2);
	assert_int_equal(pt_config_reload(&live, &fresh, changed, 5), 2);
	assert_string_equal(changed, "list");
	assert_int_equal(live.trusted_proxies.n, 0);
	pt_config_free(&fresh);
	pt_config_free(&live);
}

static void test_copy(void **state)
{
	(void)state;
	pt_config a, b;
	char err[256];

	pt_config_defaults(&a);
	assert_int_equal(pt_config_set(&a, "trusted_proxies", "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(pt_config_copy(&b, &a), 0);
	assert_int_equal(b.trusted_proxies.n, 1);
	assert_ptr_not_equal(b.trusted_proxies.v, a.trusted_proxies.v);
	pt_config_free(&a);
	assert_int_equal(b.trusted_proxies.v[0].prefix, 8);
	pt_config_free(&b);
	pt_config_free(&b); /* twice is harmless */
}

static char *generate(void (*writer)(FILE *), size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	assert_non_null(f);
	writer(f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static char *read_all(const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		fail_msg("cannot open %s (set PT_ROOT to the source tree)", file);
	char *text = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			text = realloc(text, cap);
			assert_non_null(text);
		}
		size_t n = fread(text + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	return text;
}

static void assert_file_is(const char *rel, void (*writer)(FILE *))
{
	const char *root = getenv("PT_ROOT");
	char file[512];
	size_t want_len, got_len;

	snprintf(file, sizeof(file), "%s/%s", root && *root ? root : ".", rel);
	char *want = generate(writer, &want_len);
	const char *regen = getenv("PT_REGENERATE");
	if (regen && *regen) {
		FILE *out = fopen(file, "wb");
		assert_non_null(out);
		assert_int_equal(fwrite(want, 1, want_len, out), want_len);
		assert_int_equal(fclose(out), 0);
	}
	char *got = read_all(file, &got_len);
	if (got_len != want_len || memcmp(got, want, want_len) != 0)
		fail_msg("%s differs from what the key table generates; regenerate it", file);
	free(want);
	free(got);
}

static void test_sample_file_matches(void **state)
{
	(void)state;
	assert_file_is("conf/peertrack.conf", pt_config_write_sample);
}

static void test_config_md_matches(void **state)
{
	(void)state;
	assert_file_is("docs/CONFIG.md", pt_config_write_markdown);
}

static void test_config_man_matches(void **state)
{
	(void)state;
	assert_file_is("man/peertrack.conf.5", pt_config_write_man);
}

/* The sample lists every key commented out with its default: loading it
 * changes nothing; with every key line uncommented it loads the defaults. */
static void test_sample_loads(void **state)
{
	(void)state;
	pt_config c, d;
	char err[256];
	size_t len;
	char *text = generate(pt_config_write_sample, &len);

	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		char line[300];
		snprintf(line, sizeof(line), "\n#%s =%s%s\n", k->name, k->def[0] ? " " : "", k->def);
		if (!strstr(text, line))
			fail_msg("sample lacks '%s'", line + 1);
		if (k->reloadable) {
			/* the reload mark sits right above the key line */
			snprintf(line, sizeof(line), "# reloadable with SIGHUP\n#%s =", k->name);
			assert_non_null(strstr(text, line));
		}
	}
	/* As shipped: nothing set, so a value set before stays. */
	pt_config_defaults(&c);
	assert_int_equal(pt_config_set(&c, "max_connections", "3", err, sizeof(err)), 0);
	write_file(text);
	assert_int_equal(pt_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.max_connections, 3);
	pt_config_free(&c);

	/* Uncommented: every key set, each to its default. */
	size_t keys = 0;
	for (char *p = text; (p = strstr(p, "\n#")); p++) {
		const char *name = p + 2, *eq = strchr(name, '=');
		size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789");
		if (n && eq && name[n] == ' ' && eq == name + n + 1) {
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
			keys++;
		}
	}
	assert_int_equal(keys, pt_config_nkeys);
	pt_config_defaults(&c);
	assert_int_equal(pt_config_set(&c, "max_connections", "3", err, sizeof(err)), 0);
	write_file(text);
	if (pt_config_load(&c, path, err, sizeof(err)))
		fail_msg("uncommented sample: %s", err);
	pt_config_defaults(&d);
	assert_int_equal(pt_config_reload(&d, &c, NULL, 0), 0);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(pt_config_validate(&c, err, sizeof(err)), 0);
	pt_config_free(&c);
	pt_config_free(&d);
	free(text);
}

/* A key from the removed-keys table loads with a warning that names the
 * file, line, version and replacement; the keys around it still apply; a
 * key in neither table is still refused. */
static void test_removed_keys(void **state)
{
	(void)state;
	static const pt_config_removed_key table[] = {
		{ "ping_interval_ms", "0.2.0", "use heartbeat_ms" },
		{ NULL, NULL, NULL },
	};
	const pt_config_removed_key *saved = pt_config_removed;
	char err[256], logpath[160], logtext[1024] = "";
	pt_config c;

	pt_config_removed = table;
	snprintf(logpath, sizeof(logpath), "%s/stderr", dir);
	fflush(stderr);
	int keep = dup(2);
	assert_true(keep >= 0);
	assert_non_null(freopen(logpath, "w", stderr));
	int r = load_text("[limits]\nmax_connections = 7\n[liveness]\nping_interval_ms = 5000\n"
	                  "heartbeat_ms = 4000\n", &c, err, sizeof(err));
	fflush(stderr);
	assert_int_equal(dup2(keep, 2), 2);
	close(keep);
	FILE *lf = fopen(logpath, "r");
	assert_non_null(lf);
	size_t n = fread(logtext, 1, sizeof(logtext) - 1, lf);
	logtext[n] = 0;
	fclose(lf);
	unlink(logpath);
	if (r)
		fail_msg("removed key refused: %s", err);
	assert_int_equal(c.max_connections, 7);
	assert_int_equal(c.heartbeat_ms, 4000);
	char want[300];
	snprintf(want, sizeof(want), "%s:4: ping_interval_ms was removed in peertrack 0.2.0 and is ignored: "
	         "use heartbeat_ms", path);
	if (!strstr(logtext, want))
		fail_msg("no warning '%s' in: %s", want, logtext);
	pt_config_free(&c);

	/* Not removed, not known: still an error. */
	assert_int_equal(load_text("ping_interval = 5000\n", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key 'ping_interval'"));
	pt_config_free(&c);
	pt_config_removed = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_misc_errors),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_listen_split),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_sample_file_matches),
		cmocka_unit_test(test_config_md_matches),
		cmocka_unit_test(test_config_man_matches),
		cmocka_unit_test(test_sample_loads),
		cmocka_unit_test(test_removed_keys),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
