/* test_log.c — the logger's line formats, level filter, escaping, the
 * libwebsockets hook, and whole lines under concurrent writers. stderr is
 * pointed at a temporary file for each check. */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "peertrack/log.h"
#include "peertrack/lwslog.h"

static char dir[64], path[128];
static int saved_stderr = -1;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pt-test-log-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/stderr", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void capture(void)
{
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restores stderr and returns what was written (caller frees). */
static char *release(void)
{
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void test_text(void **state)
{
	(void)state;
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	assert_true(pt_log_enabled(PT_LOG_ERROR));
	assert_true(pt_log_enabled(PT_LOG_INFO));
	assert_false(pt_log_enabled(PT_LOG_DEBUG));

	capture();
	pt_log_info("hello %d", 5);
	pt_log_debug("not shown %d", 6);
	pt_log_warn("two\nlines\x01 and a tab\t.");
	pt_log_error("trailing newline\n");
	char *out = release();
	assert_string_equal(out, "INFO hello 5\n"
	                         "WARN two\\nlines\\x01 and a tab\t.\n"
	                         "ERROR trailing newline\n");
	free(out);

	pt_log_configure(PT_LOG_ERROR, PT_LOG_TEXT);
	capture();
	pt_log_warn("dropped");
	pt_log_error("kept");
	out = release();
	assert_string_equal(out, "ERROR kept\n");
	free(out);

	pt_log_configure(PT_LOG_DEBUG, PT_LOG_TEXT);
	capture();
	pt_log_debug("debug %s", "on");
	out = release();
	assert_string_equal(out, "DEBUG debug on\n");
	free(out);
}

/* "2024-05-01T12:34:56.789Z" */
static void assert_iso_time(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
		if (pattern[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else
			assert_int_equal(s[i], pattern[i]);
	}
}

static void test_text_time(void **state)
{
	(void)state;
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	pt_log_timestamps(true);
	capture();
	pt_log_info("stamped");
	char *out = release();
	assert_iso_time(out);
	assert_string_equal(out + 24, " INFO stamped\n");
	free(out);
	pt_log_timestamps(false);
}

/* stderr is the journal when JOURNAL_STREAM names its device and inode:
 * then every line carries its syslog priority; otherwise none does. */
static void test_journal_priority(void **state)
{
	(void)state;
	struct stat st;
	char env[64];

	capture();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	pt_log_configure(PT_LOG_DEBUG, PT_LOG_TEXT);
	pt_log_error("e");
	pt_log_warn("w");
	pt_log_info("i");
	pt_log_debug("d");
	pt_log_configure(PT_LOG_DEBUG, PT_LOG_JSON);
	pt_log_warn("j");
	/* Another stream (stderr redirected after systemd started us): none. */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	pt_log_error("plain");
	char *out = release();
	unsetenv("JOURNAL_STREAM");
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	assert_non_null(strstr(out, "<3>ERROR e\n<4>WARN w\n<6>INFO i\n<7>DEBUG d\n<4>{\"ts\":"));
	assert_non_null(strstr(out, "\"level\":\"warn\",\"msg\":\"j\"}\nERROR plain\n"));
	free(out);
}

static void test_json(void **state)
{
	(void)state;
	pt_log_configure(PT_LOG_DEBUG, PT_LOG_JSON);
	capture();
	pt_log_warn("quote \" backslash \\ newline \n ctl \x02 bad \xff utf8 \xc3\xa9");
	pt_log_debug("d");
	char *out = release();

	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	json_error_t err;
	json_t *j = json_loadb(out, (size_t)(nl - out), 0, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, out);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	                    "quote \" backslash \\ newline \n ctl \x02 bad \xef\xbf\xbd utf8 \xc3\xa9");
	assert_iso_time(json_string_value(json_object_get(j, "ts")));
	/* key order as documented */
	assert_memory_equal(out, "{\"ts\":\"", 7);
	json_decref(j);

	j = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "d");
	json_decref(j);
	assert_string_equal(strchr(nl + 1, '\n'), "\n");
	free(out);
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = 5000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'y', n);
	big[n] = '\0';

	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	capture();
	pt_log_info("%s!", big);
	char *out = release();
	assert_int_equal(strlen(out), 5 + n + 2);
	assert_memory_equal(out, "INFO yyy", 8);
	assert_string_equal(out + 5 + n, "!\n");
	free(out);
	free(big);
}

static void test_lws_hook(void **state)
{
	(void)state;
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	pt_log_hook_lws();
	capture();
	lwsl_err("lws broke %d\n", 1);
	lwsl_warn("lws warns\n");
	lwsl_notice("lws notice\n"); /* not routed */
	char *out = release();
	assert_string_equal(out, "ERROR lws broke 1\nWARN lws warns\n");
	free(out);

	pt_log_configure(PT_LOG_ERROR, PT_LOG_TEXT);
	capture();
	lwsl_warn("filtered by our level\n");
	out = release();
	assert_string_equal(out, "");
	free(out);
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
}

/* A line lws repeats in a loop is written once, then counted. */
static void test_lws_repeats(void **state)
{
	(void)state;
	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	pt_log_hook_lws();
	capture();
	for (int i = 0; i < 1000; i++)
		lwsl_err("accept: errno %d\n", 24);
	lwsl_err("something else\n");
	char *out = release();
	assert_string_equal(out, "ERROR accept: errno 24\n"
	                         "ERROR (libwebsockets: last message repeated 999 times)\n"
	                         "ERROR something else\n");
	free(out);
}

#define THREADS 4
#define LINES 200
#define LINE_LEN 3000

static void *writer(void *arg)
{
	char body[LINE_LEN + 1];
	memset(body, 'a' + (char)(intptr_t)arg, LINE_LEN);
	body[LINE_LEN] = '\0';
	for (int i = 0; i < LINES; i++)
		pt_log_info("%s", body);
	return NULL;
}

/* Lines from concurrent threads come out whole. */
static void test_threads(void **state)
{
	(void)state;
	pthread_t t[THREADS];

	pt_log_configure(PT_LOG_INFO, PT_LOG_TEXT);
	capture();
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *out = release();

	int lines = 0;
	for (char *p = out; *p; lines++) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_int_equal(nl - p, 5 + LINE_LEN);
		assert_memory_equal(p, "INFO ", 5);
		for (char *q = p + 6; q < nl; q++)
			assert_int_equal(*q, p[5]);
		p = nl + 1;
	}
	assert_int_equal(lines, THREADS * LINES);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_time),
cmocka_unit_test(test_journal_priority),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_lws_hook),
		cmocka_unit_test(test_lws_repeats),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
