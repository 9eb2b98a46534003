/* util.c — small helpers shared by the integration tests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* One request from source; the status, *body (and *headers if asked),
 * or -1. A HEAD answer is read until the server closes: no body may come. */
int pt_http_req(int port, const char *source, const char *method, const char *path,
                char **headers, char **body)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	char req[256], *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = pt_now_ms() + PT_T_REPLY_MS;
	int fd, status = -1;

	*body = NULL;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	inet_pton(AF_INET, source, &src.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	         method, path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pt_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			goto out;
		if (cap - len < 4096) {
			buf = realloc(buf, cap + 65536);
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		/* Done once Content-Length bytes of body are in. */
		char *hend = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "content-length:");
		if (strcmp(method, "HEAD") && hend && cl && cl < hend &&
		    len - (size_t)(hend + 4 - buf) >= strtoul(cl + 15, NULL, 10))
			break;
	}
	if (!buf || sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		goto out;
	char *hend = strstr(buf, "\r\n\r\n");
	*body = strdup(hend ? hend + 4 : "");
	if (headers)
		*headers = strndup(buf, hend ? (size_t)(hend - buf) : len);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return status;
}

int pt_http_get(int port, const char *source, const char *path, char **body)
{
	return pt_http_req(port, source, "GET", path, NULL, body);
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
