/* util.c — small helpers shared by the integration tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "integration/lib/harness.h"
#include "integration/lib/internal.h"

void pt_hash_of(unsigned n, unsigned salt, char out[65])
{
	/* Eight 32-bit words mixed from (n, salt): distinct, valid, not sorted. */
	uint32_t x = n * 2654435761u ^ salt * 40503u ^ 0x9e3779b9u;

	for (int i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		snprintf(out + 8 * i, 9, "%08x", x ^ (uint32_t)i ^ n);
	}
	out[64] = 0;
}

uint64_t pt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *pt_jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

long long pt_jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

bool pt_jtype_is(const json_t *o, const char *type)
{
	const char *t = pt_jstr(o, "type");

	return t && !strcmp(t, type);
}

void pt_fail(const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pt_print_all_logs();
	fail_msg("%s", msg);
	abort(); /* not reached: cmocka jumps out of the test */
}

void pt_harness_cleanup(void)
{
	pt_raws_cleanup();
	pt_clients_cleanup();
	pt_daemons_cleanup();
	pt_redises_cleanup();
}

int pt_teardown(void **state)
{
	(void)state;
	pt_harness_cleanup();
	return 0;
}

json_t *ptc_hashes(ptc *c, const char *type, const char *rid, char (*hashes)[65], size_t n)
{
	json_t *arr = json_array(), *msg;
	char *text;
	json_t *r;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(hashes[i]));
	msg = json_pack("{s:s, s:o}", "type", type, "hashes", arr);
	if (rid)
		json_object_set_new(msg, "rid", json_string(rid));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	PT_CHECK(text, "out of memory");
	r = ptc_call(c, "%s", text);
	free(text);
	PT_CHECK(r, "%s: no reply", type);
	return r;
}

int ptc_lookup(ptc *c, const char *hash, int max, char (*ids)[32], int cap)
{
	json_t *r, *peers;
	int n;

	if (max > 0)
		r = ptc_call(c, "{\"type\":\"lookup\",\"hash\":\"%s\",\"max\":%d}", hash, max);
	else
		r = ptc_call(c, "{\"type\":\"lookup\",\"hash\":\"%s\"}", hash);
	PT_CHECK(r, "lookup: no reply");
	peers = json_object_get(r, "peers");
	if (!pt_jtype_is(r, "peers") || !json_is_array(peers)) {
		char *t = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		pt_fail("lookup: unexpected reply %s", t ? t : "?");
	}
	PT_CHECK(pt_jstr(r, "hash") && !strcmp(pt_jstr(r, "hash"), hash), "lookup: hash not echoed");
	n = (int)json_array_size(peers);
	for (int i = 0; i < n && i < cap; i++) {
		const char *id = json_string_value(json_array_get(peers, (size_t)i));
		snprintf(ids[i], 32, "%s", id ? id : "");
	}
	json_decref(r);
	return n;
}

void pt_expect_error(json_t *reply, const char *code)
{
	const char *got = pt_jstr(reply, "code");
	bool ok = pt_jtype_is(reply, "error") && got && !strcmp(got, code);

	if (!ok) {
		char *t = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
		json_decref(reply);
		pt_fail("expected error %s, got %s", code, t ? t : "nothing");
	}
	json_decref(reply);
}

void ptc_roundtrip(ptc *c)
{
	json_t *r = ptc_call(c, "{\"type\":\"ping\",\"rid\":\"rt\"}");
	bool ok = pt_jtype_is(r, "pong");

	json_decref(r);
	PT_CHECK(ok, "no pong from the server");
}

/* The value of the sample whose line starts with `series` + ' ', or -1. */
double pt_metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

double ptd_metric(pt_daemon *d, const char *series)
{
	char *body = NULL;
	double v;

	PT_CHECK(pt_http_get(ptd_port(d), "127.0.0.1", "/metrics", &body) == 200, "/metrics failed");
	v = pt_metric(body, series);
	free(body);
	return v;
}

/* User + system CPU seconds pid has used, from /proc/PID/stat; -1 if unreadable. */
double pt_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
