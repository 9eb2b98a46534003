/* test_metrics.c — GET /metrics, /stats.json and /healthz on a real daemon:
 * values move as traffic is driven, the text parses as the Prometheus
 * exposition format (every sample typed, HELP/TYPE well-formed, values
 * numbers), a large body arrives whole, metrics_allow is enforced on
 * the TCP peer address, a refused reload is reported as one (the log,
 * peertrackctl's exit status, the reload gauges), and a store that cannot
 * write is reported by /readyz while /healthz stays 200. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "peertrack/wsframe.h"
#include "integration/lib/harness.h"

#define BASE_CONF "allow_missing_origin = yes\nstore_flush_ms = 100\n"

static bool name_ok(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* Text exposition format 0.0.4: HELP and TYPE lines, then samples
 * name{label="value",...} number; each sampled family typed before use. */
static void check_exposition(const char *text)
{
	char typed[128][96];
	bool typed_hist[128];
	int ntyped = 0, samples = 0;
	const char *p = text;

	PT_CHECK(text[strlen(text) - 1] == '\n', "metrics: no final newline");
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = (size_t)(eol - p);
		char line[512];

		PT_CHECK(eol && len < sizeof(line), "metrics: bad line");
		memcpy(line, p, len);
		line[len] = 0;
		p = eol + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			size_t n = strcspn(line + 7, " ");
			PT_CHECK(name_ok(line + 7, n) && line[7 + n] == ' ', "metrics: bad HELP: %s", line);
		} else if (!strncmp(line, "# TYPE ", 7)) {
			size_t n = strcspn(line + 7, " ");
			const char *t = line + 7 + n + 1;
			PT_CHECK(name_ok(line + 7, n), "metrics: bad TYPE name: %s", line);
			PT_CHECK(!strcmp(t, "counter") || !strcmp(t, "gauge") || !strcmp(t, "untyped") ||
			         !strcmp(t, "histogram") || !strcmp(t, "summary"), "metrics: bad type: %s", line);
			PT_CHECK(ntyped < 128, "too many families");
			typed_hist[ntyped] = !strcmp(t, "histogram");
			snprintf(typed[ntyped++], sizeof(typed[0]), "%.*s", (int)n, line + 7);
		} else {
			size_t n = strcspn(line, "{ ");
			const char *q = line + n;
			bool known = false;
			char *end;

			PT_CHECK(line[0] != '#', "metrics: unknown comment: %s", line);
			PT_CHECK(name_ok(line, n), "metrics: bad sample name: %s", line);
			/* A histogram's samples are its name + _bucket, _sum, _count. */
			for (int i = 0; i < ntyped; i++) {
				size_t tn = strlen(typed[i]);
				char rest[16];

				if (tn > n || strncmp(typed[i], line, tn))
					continue;
				snprintf(rest, sizeof(rest), "%.*s", (int)(n - tn), line + tn);
				known |= tn == n || (typed_hist[i] && (!strcmp(rest, "_bucket") ||
				                                      !strcmp(rest, "_sum") || !strcmp(rest, "_count")));
			}
			PT_CHECK(known, "metrics: sample before its TYPE: %s", line);
			if (*q == '{') {
				q++;
				while (*q != '}') {
					size_t ln = strcspn(q, "=");
					PT_CHECK(name_ok(q, ln) && q[ln] == '=' && q[ln + 1] == '"', "metrics: bad label: %s", line);
					q += ln + 2;
					while (*q && *q != '"')
						q += *q == '\\' ? 2 : 1;
					PT_CHECK(*q == '"', "metrics: unterminated label: %s", line);
					q++;
					if (*q == ',')
						q++;
					else
						PT_CHECK(*q == '}', "metrics: bad label list: %s", line);
				}
				q++;
			}
			PT_CHECK(*q == ' ', "metrics: no value: %s", line);
			strtod(q + 1, &end);
			PT_CHECK(end != q + 1 && *end == 0, "metrics: value not a number: %s", line);
			samples++;
		}
	}
	PT_CHECK(samples > 40, "metrics: only %d samples", samples);
}

static void test_metrics_move(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	char *body = NULL, hash[65], other[65], ids[4][32];
	ptc *a, *b;
	json_t *r;
	(void)state;

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/metrics", &body), 200);
	check_exposition(body);
	assert_true(pt_metric(body, "peertrack_peers") == 0);
	assert_true(pt_metric(body, "peertrack_messages_total{type=\"announce\"}") == 0);
	assert_true(pt_metric(body, "peertrack_up") == 1);
	free(body);

	a = ptc_join(port, NULL);
	b = ptc_join(port, NULL);
	pt_hash_of(1, 77, hash);
	pt_hash_of(2, 77, other);
	json_decref(ptc_hashes(a, "announce", NULL, &hash, 1));
	assert_int_equal(ptc_lookup(b, hash, 0, ids, 4), 1);  /* hit */
	assert_int_equal(ptc_lookup(b, other, 0, ids, 4), 0); /* miss */
	r = ptc_call(a, "{\"type\":\"report\",\"rid\":5,\"from_peers\":3000,\"from_origin\":1000,\"to_peers\":700}");
	PT_CHECK(pt_jtype_is(r, "ack"), "report: no ack");
	assert_int_equal(pt_jint(r, "rid"), 5);
	json_decref(r);
	r = ptc_call(a, "{\"type\":\"lookup\",\"hash\":\"NOPE\"}");
	pt_expect_error(r, "bad-hash");

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/metrics", &body), 200);
	check_exposition(body);
	assert_true(pt_metric(body, "peertrack_peers") == 2);
	assert_true(pt_metric(body, "peertrack_connections_total") == 2);
	assert_true(pt_metric(body, "peertrack_index_entries") == 1);
	assert_true(pt_metric(body, "peertrack_index_hashes") == 1);
	assert_true(pt_metric(body, "peertrack_messages_total{type=\"announce\"}") == 1);
	assert_true(pt_metric(body, "peertrack_messages_total{type=\"lookup\"}") == 2);
	assert_true(pt_metric(body, "peertrack_messages_total{type=\"report\"}") == 1);
	assert_true(pt_metric(body, "peertrack_lookups_total{result=\"hit\"}") == 1);
	assert_true(pt_metric(body, "peertrack_lookups_total{result=\"miss\"}") == 1);
	assert_true(pt_metric(body, "peertrack_errors_total{code=\"bad-hash\"}") == 1);
	assert_true(pt_metric(body, "peertrack_offload_bytes_total{source=\"peers\"}") == 3000);
	assert_true(pt_metric(body, "peertrack_offload_bytes_total{source=\"origin\"}") == 1000);
	assert_true(pt_metric(body, "peertrack_uploaded_to_peers_bytes_total") == 700);
	assert_true(pt_metric(body, "peertrack_store_queue_depth") >= 0);
	assert_true(pt_metric(body, "peertrack_store_last_flush_seconds") >= 0);
	free(body);

	/* Disconnects by reason. */
	ptc_close(b);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(pt_http_get(port, "127.0.0.1", "/metrics", &body), 200);
		double left = pt_metric(body, "peertrack_disconnects_total{reason=\"closed\"}");
		free(body);
		if (left == 1)
			break;
		PT_CHECK(i < 99, "the disconnect was never counted");
		ptc_service(20);
	}

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/stats.json", &body), 200);
	json_error_t e;
	json_t *j = json_loads(body, 0, &e);
	PT_CHECK(j, "stats.json: %s", e.text);
	assert_int_equal(pt_jint(j, "peers"), 1);
	assert_int_equal(pt_jint(json_object_get(j, "offload"), "from_peers"), 3000);
	assert_true(json_real_value(json_object_get(json_object_get(j, "offload"), "ratio")) == 0.75);
	json_decref(j);
	free(body);

	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

static void test_metrics_allow(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "metrics_allow = 127.0.0.1, 127.0.9.0/24\n");
	int port = ptd_port(d);
	char *body = NULL;
	(void)state;

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/metrics", &body), 200);
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.9.9", "/stats.json", &body), 200);
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.0.3", "/metrics", &body), 403);
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.0.3", "/stats.json", &body), 403);
	free(body);
	/* Health stays open to everyone (load balancers). */
	assert_int_equal(pt_http_get(port, "127.0.0.3", "/healthz", &body), 200);
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.0.3", "/readyz", &body), 200);
	free(body);
	assert_int_equal(ptd_stop(d), 0);
}

/* Entries of /proc/PID/fd. */
static double count_entries(pid_t pid)
{
	char path[64];
	struct dirent *e;
	double n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	PT_CHECK((dir = opendir(path)), "opendir %s", path);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The process_* metrics, the build, the effective capacity, commit
 * durations as a histogram, and refusals by reason with internal ones
 * apart from "full". */
static void test_process_metrics(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "max_connections = 3\n");
	int port = ptd_port(d);
	char *body = NULL, line[256];
	/* Not time(): glibc reads the coarse clock there, a tick behind the
	 * daemon's CLOCK_REALTIME start time, which then looked 1.003 s ahead
	 * of a whole-second `now`. */
	struct timespec ts;
	double now;
	ptc *a, *b, *c;
	ptr *e;
	(void)state;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	a = ptc_join(port, NULL);
	b = ptc_join(port, NULL);
	c = ptc_join(port, NULL);
	/* The 4th: full. Raw: lws 4.1's client turns a received 1013 into 1002. */
	e = ptr_connect(port, NULL);
	PT_CHECK(e, "the 4th connection should upgrade, then be closed");
	assert_int_equal(ptr_wait_close(e, PT_T_REPLY_MS), 1013);
	ptr_free(e);
	/* At least one commit (flush 100 ms) with the sessions in it. */
	for (int i = 0;; i++) {
		assert_int_equal(pt_http_get(port, "127.0.0.1", "/metrics", &body), 200);
		if (pt_metric(body, "peertrack_store_flush_seconds_count") >= 1)
			break;
		free(body);
		PT_CHECK(i < 100, "no store commit counted");
		ptc_service(20);
	}
	check_exposition(body);
	double fds = pt_metric(body, "process_open_fds"), max = pt_metric(body, "process_max_fds");
	PT_CHECK(fds >= 5 && fds < max, "process_open_fds %g, process_max_fds %g", fds, max);
	/* As many as the daemon's /proc/PID/fd lists, seen from outside (the
	 * scrape's own connection may have closed since: one fewer). */
	double listed = count_entries(ptd_pid(d));
	PT_CHECK(fds == listed || fds == listed + 1, "process_open_fds %g, /proc lists %g", fds, listed);
	PT_CHECK(pt_metric(body, "process_resident_memory_bytes") > 1e6, "RSS");
	PT_CHECK(pt_metric(body, "process_virtual_memory_bytes") > pt_metric(body, "process_resident_memory_bytes"),
	         "virtual memory below RSS");
	PT_CHECK(pt_metric(body, "process_cpu_seconds_total") > 0, "CPU time");
	double start = pt_metric(body, "process_start_time_seconds");
	PT_CHECK(start > now - 600 && start <= now + 1, "process_start_time_seconds %f, now %f", start, now);
	snprintf(line, sizeof(line), "\npeertrack_build_info{version=\"%s\",libwebsockets=\"4.", PT_VERSION);
	PT_CHECK(strstr(body, line), "no build_info line: %s", line + 1);
	assert_true(pt_metric(body, "peertrack_capacity_peers") == 3);
	assert_true(pt_metric(body, "peertrack_refused_total{reason=\"full\"}") == 1);
	assert_true(pt_metric(body, "peertrack_refused_total{reason=\"internal\"}") == 0);
	/* Buckets are cumulative, +Inf is the count, the sum is sane. */
	double prev = 0, count = pt_metric(body, "peertrack_store_flush_seconds_count");
	static const char *const le[] = { "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf" };
	for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(line, sizeof(line), "peertrack_store_flush_seconds_bucket{le=\"%s\"}", le[i]);
		double v = pt_metric(body, line);
		PT_CHECK(v >= prev, "%s = %g below the bucket before (%g)", line, v, prev);
		prev = v;
	}
	PT_CHECK(prev == count, "+Inf bucket %g, count %g", prev, count);
	PT_CHECK(pt_metric(body, "peertrack_store_flush_seconds_sum") >= 0, "sum");
	free(body);
	ptc_close(a);
	ptc_close(b);
	ptc_close(c);
	assert_int_equal(ptd_stop(d), 0);
}

/* Liveness and readiness: GET and HEAD, no counts in what everyone may
 * read, readiness 503 at the connection limit while liveness stays 200. */
static void test_health(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "max_connections = 1\n");
	int port = ptd_port(d);
	char *body = NULL, *hdr = NULL;
	ptc *a;
	(void)state;

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/healthz", &body), 200);
	assert_string_equal(body, "{\"status\":\"ok\"}\n");
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.0.1", "/readyz", &body), 200);
	assert_string_equal(body, "{\"status\":\"ready\",\"store\":\"ok\"}\n");
	free(body);
	/* HEAD: the GET's status and length, no body. */
	assert_int_equal(pt_http_req(port, "127.0.0.1", "HEAD", "/healthz", &hdr, &body), 200);
	assert_string_equal(body, "");
	PT_CHECK(strcasestr(hdr, "content-length: 16"), "HEAD /healthz headers: %s", hdr);
	free(body);
	free(hdr);
	assert_int_equal(pt_http_req(port, "127.0.0.1", "HEAD", "/readyz", &hdr, &body), 200);
	assert_string_equal(body, "");
	free(body);
	free(hdr);
	assert_int_equal(pt_http_req(port, "127.0.0.1", "POST", "/healthz", NULL, &body), 405);
	free(body);

	/* Full: not ready for another peer, still alive. */
	a = ptc_join(port, NULL);
	assert_int_equal(pt_http_get(port, "127.0.0.1", "/readyz", &body), 503);
	assert_string_equal(body, "{\"status\":\"full\",\"store\":\"ok\"}\n");
	free(body);
	assert_int_equal(pt_http_get(port, "127.0.0.1", "/healthz", &body), 200);
	free(body);
	ptc_close(a);
	assert_int_equal(ptd_stop(d), 0);
}

/* GET path; asserts the status and returns the body (caller frees). */
static char *get_status(int port, const char *path, int want)
{
	char *body = NULL;
	int code = pt_http_get(port, "127.0.0.1", path, &body);

	PT_CHECK(code == want, "%s: %d, want %d (%s)", path, code, want, body ? body : "");
	return body;
}

/* /readyz until its body is want (bounded), then the body once more. */
static bool readyz_becomes(int port, const char *want, int timeout_ms)
{
	uint64_t end = pt_now_ms() + (uint64_t)timeout_ms;

	do {
		char *b = get_status(port, "/readyz", 200);
		bool is = !strcmp(b, want);

		free(b);
		if (is)
			return true;
		ptc_service(50);
	} while (pt_now_ms() < end);
	return false;
}

/* Fills the file system holding path, in 64 KiB writes (bounded by its
 * size); returns the filler's fd (close and unlink to free the space). */
static int fill_fs(const char *path, size_t max_bytes)
{
	static char block[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	PT_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	while (done < max_bytes) {
		ssize_t n = write(fd, block, sizeof(block));

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	PT_CHECK(errno == ENOSPC && done < max_bytes, "%s: never full (%s)", path, strerror(errno));
	return fd;
}

#define READY_OK "{\"status\":\"ready\",\"store\":\"ok\"}\n"
#define READY_FAILING "{\"status\":\"ready\",\"store\":\"failing\"}\n"

/* The store failing for real: the daemon's state lives on a 4 MiB tmpfs
 * (in a mount namespace of the test's own, so nothing outside sees it)
 * which the test fills up, so the commits fail with "database or disk is
 * full". /readyz says so (still 200: signaling works without the store,
 * a load balancer must not drop the tracker); /healthz and the peers are
 * untouched; peertrack_up is 0. It stays "failing" through the commit
 * turns that have nothing to write (it said "ok" for 9 of every 10 while
 * the per-second sample kept failing), and recovers once there is room.
 * Each failed commit is counted; the failure is logged once a minute at
 * most, not at every commit. */
static void test_store_failing(void **state)
{
	char mnt[] = "/tmp/pt-full-XXXXXX", filler[64], *body;
	const char *tmpdir = getenv("TMPDIR");
	char *old_tmpdir = tmpdir ? strdup(tmpdir) : NULL;
	pt_daemon *d;
	int port, fd;
	ptc *a, *b;
	(void)state;

	PT_CHECK(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s (needs root)", strerror(errno));
	PT_CHECK(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private: %s",
	         strerror(errno));
	PT_CHECK(mkdtemp(mnt), "mkdtemp: %s", strerror(errno));
	PT_CHECK(mount("pt-full", mnt, "tmpfs", 0, "size=4m,mode=0700") == 0, "mount tmpfs: %s",
	         strerror(errno));
	setenv("TMPDIR", mnt, 1); /* the harness puts the daemon's directory there */
	d = ptd_start(BASE_CONF);
	if (old_tmpdir)
		setenv("TMPDIR", old_tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(old_tmpdir);
	port = ptd_port(d);
	PT_CHECK(readyz_becomes(port, READY_OK, 3000), "not ready");

	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fd = fill_fs(filler, 8u << 20);
	a = ptc_join(port, NULL); /* its session row finds no room */
	PT_CHECK(readyz_becomes(port, READY_FAILING, 5000), "/readyz never reported the store failing");
	body = get_status(port, "/healthz", 200);
	assert_string_equal(body, "{\"status\":\"ok\"}\n");
	free(body);
	/* Through more than a second of turns, most with nothing to write. */
	for (int i = 0; i < 10; i++) {
		ptc_service(130);
		body = get_status(port, "/readyz", 200);
		PT_CHECK(!strcmp(body, READY_FAILING), "check %d: /readyz %s with the disk full", i, body);
		free(body);
	}
	body = get_status(port, "/metrics", 200);
	PT_CHECK(pt_metric(body, "peertrack_up") == 0, "peertrack_up %g with the store failing",
	         pt_metric(body, "peertrack_up"));
	PT_CHECK(pt_metric(body, "peertrack_store_errors_total") >= 1, "no store error counted");
	free(body);
	ptc_roundtrip(a); /* signaling goes on */
	PT_CHECK(ptd_log_has(d, "disk is full"), "the failure is not logged");
	/* Every commit fails now (a session row each turn): counted each time,
	 * logged once (at most one line a minute), not at every flush. */
	double failed = pt_metric(body = get_status(port, "/metrics", 200), "peertrack_store_errors_total");
	free(body);
	for (int i = 0; i < 12; i++) {
		ptc *c = ptc_join(port, NULL);
		ptc_service(150);
		ptc_close(c);
	}
	body = get_status(port, "/metrics", 200);
	double more = pt_metric(body, "peertrack_store_errors_total") - failed;
	free(body);
	PT_CHECK(more >= 8, "only %g more failed commits", more);
	PT_CHECK(ptd_log_lines_with(d, "disk is full") == 1, "%zu lines about the full disk for %g "
	         "failed commits", ptd_log_lines_with(d, "disk is full"), more + failed);

	close(fd);
	unlink(filler);
	b = ptc_join(port, NULL); /* something to write */
	PT_CHECK(readyz_becomes(port, READY_OK, 5000), "the store never recovered");
	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

/* The body is larger than http.c's old fixed 2 KiB buffer and arrives
 * whole (Content-Length bytes). */
static void test_metrics_large(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF);
	char *body = NULL;
	(void)state;

	assert_int_equal(pt_http_get(ptd_port(d), "127.0.0.1", "/metrics", &body), 200);
	assert_true(strlen(body) > 2048);
	assert_non_null(strstr(body, "peertrack_store_last_flush_seconds "));
	free(body);
	assert_int_equal(ptd_stop(d), 0);
}

static void sent_counters(int port, long long *frames, long long *writes)
{
	char *body = NULL;
	json_error_t e;
	json_t *j;

	assert_int_equal(pt_http_get(port, "127.0.0.1", "/stats.json", &body), 200);
	j = json_loads(body, 0, &e);
	PT_CHECK(j, "stats.json: %s", e.text);
	*frames = pt_jint(json_object_get(j, "sent"), "frames");
	*writes = pt_jint(json_object_get(j, "sent"), "writes");
	json_decref(j);
	free(body);
}

/* Twenty signals written by one client in one send reach their target
 * whole and in order, in fewer socket writes than frames: what one loop
 * turn produces for one peer leaves in one write (src/net/coalesce.c). */
static void test_coalesced_burst(void **state)
{
	enum { N = 20 };
	pt_daemon *d = ptd_start(BASE_CONF);
	int port = ptd_port(d);
	ptr *a = ptr_connect(port, NULL);
	ptc *b = ptc_join(port, NULL);
	unsigned char burst[N * 128];
	size_t len = 0;
	long long f0, w0, f1, w1;
	json_t *welcome;
	(void)state;

	PT_CHECK(a && b, "clients did not connect");
	welcome = ptr_recv_json(a, PT_T_REPLY_MS);
	PT_CHECK(welcome && pt_jtype_is(welcome, "welcome"), "no welcome");
	json_decref(welcome);
	sent_counters(port, &f0, &w0);
	for (int i = 0; i < N; i++) {
		char text[120];
		int n = snprintf(text, sizeof(text), "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"i\":%d}}",
		                 ptc_id(b), i);

		assert_true(n > 0 && n < 120);
		len += pt_ws_header(burst + len, PT_WS_FIN | PT_WS_TEXT, true, (size_t)n);
		memset(burst + len, 0, 4); /* a zero masking key leaves the text as is */
		len += 4;
		memcpy(burst + len, text, (size_t)n);
		len += (size_t)n;
	}
	assert_int_equal(ptr_send_bytes(a, burst, len), 0);
	for (int i = 0; i < N; i++) {
		json_t *got = ptc_recv_type(b, "signal", PT_T_REPLY_MS);

		PT_CHECK(got, "signal %d not delivered", i);
		assert_int_equal(pt_jint(json_object_get(got, "data"), "i"), i);
		json_decref(got);
	}
	sent_counters(port, &f1, &w1);
	assert_int_equal(f1 - f0, N);
	/* lws reads at most ws_rx_buffer_bytes (1024) per turn: ~10 frames. */
	PT_CHECK(w1 - w0 >= 1 && w1 - w0 <= N / 4, "%lld writes for %d frames", w1 - w0, N);
	ptr_free(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

/* `peertrackctl reload` on d's admin socket: its exit status. */
static int ctl_reload(pt_daemon *d)
{
	const char *bin = getenv("PT_BIN");
	char conf[400], cmd[1200];
	int st;

	snprintf(conf, sizeof(conf), "%s", ptd_conf_path(d));
	*strrchr(conf, '/') = 0;
	snprintf(cmd, sizeof(cmd), "%s/peertrackctl --socket '%s/state/admin.sock' reload >/dev/null 2>&1",
	         bin && *bin ? bin : "bin", conf);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double reload_gauge(int port, const char *name)
{
	char *body = NULL;
	double v;

	PT_CHECK(pt_http_get(port, "127.0.0.1", "/metrics", &body) == 200, "GET /metrics failed");
	v = pt_metric(body, name);
	free(body);
	return v;
}

/* A reload whose config is refused is a failure everywhere it is reported:
 * the log, peertrackctl (exit 1), peertrack_config_last_reload_successful;
 * a good one after it sets the gauge back and moves the timestamp. */
static void test_reload_reported(void **state)
{
	pt_daemon *d = ptd_start(BASE_CONF "max_lookup_peers = 5\n");
	int port = ptd_port(d);
	double t0, t1;
	size_t mark;
	(void)state;

	assert_true(reload_gauge(port, "peertrack_config_last_reload_successful") == 1);
	t0 = reload_gauge(port, "peertrack_config_last_reload_timestamp_seconds");
	PT_CHECK(t0 > 1e9, "no load timestamp: %f", t0);

	ptd_write_conf(d, BASE_CONF "max_lookup_peers = banana\n");
	mark = ptd_log_count(d);
	assert_int_equal(ctl_reload(d), 1);
	PT_CHECK(ptd_wait_log_from(d, mark, "reload refused", PT_T_START_MS) >= 0, "refusal not logged");
	assert_true(reload_gauge(port, "peertrack_config_last_reload_successful") == 0);

	/* SIGHUP goes the same way. */
	mark = ptd_log_count(d);
	ptd_signal(d, SIGHUP);
	PT_CHECK(ptd_wait_log_from(d, mark, "reload refused", PT_T_START_MS) >= 0, "refusal not logged");
	assert_true(reload_gauge(port, "peertrack_config_last_reload_successful") == 0);

	ptd_write_conf(d, BASE_CONF "max_lookup_peers = 9\n");
	assert_int_equal(ctl_reload(d), 0);
	assert_true(reload_gauge(port, "peertrack_config_last_reload_successful") == 1);
	t1 = reload_gauge(port, "peertrack_config_last_reload_timestamp_seconds");
	PT_CHECK(t1 >= t0, "timestamp went back: %f < %f", t1, t0);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_metrics_move, pt_teardown),
		cmocka_unit_test_teardown(test_metrics_allow, pt_teardown),
		cmocka_unit_test_teardown(test_health, pt_teardown),
		cmocka_unit_test_teardown(test_process_metrics, pt_teardown),
		cmocka_unit_test_teardown(test_metrics_large, pt_teardown),
		cmocka_unit_test_teardown(test_coalesced_burst, pt_teardown),
		cmocka_unit_test_teardown(test_reload_reported, pt_teardown),
		/* Last: it moves the process into a mount namespace of its own. */
		cmocka_unit_test_teardown(test_store_failing, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
