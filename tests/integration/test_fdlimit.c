/* test_fdlimit.c — a daemon that runs out of file descriptors refuses new
 * peers cleanly (close 1013) and keeps serving the ones it has.
 *
 * The test lowers its own RLIMIT_NOFILE (soft and hard) before starting the
 * daemon, which inherits it, with max_connections far above it: the limit
 * that bites is the descriptor one. Connections are opened one at a time
 * until the first refusal, then in a burst of simultaneous connects (a
 * reconnect storm at a full server), and every one of them must be refused
 * cleanly — a 1013 close frame, or, once the descriptors left for
 * handshakes are spoken for too (max_halfopen), an HTTP 503 before the
 * upgrade; never a silent drop, never a connection left hanging in the
 * accept backlog — while the admitted peers keep relaying and the daemon
 * does not spin. A second test lowers the running daemon's limit below
 * what it holds: accept() fails with EMFILE, and the daemon must pause
 * accepting instead of retrying in a busy loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "integration/lib/harness.h"

/* Small enough to fill quickly, large enough for the daemon's own files
 * (store, admin socket, logs) and a useful number of peers. */
#define NOFILE 160
#define BURST 60

#define CONF "allow_missing_origin = yes\nmax_connections = 100000\n" \
             "max_connections_per_ip = 100000\n"

/* The first frame a fresh connection gets: 1 for a welcome, the close code
 * for a close frame, -1 for nothing (drop or timeout). */
static int first_frame(ptr *r)
{
	char *data;
	int op, code = -1;
	long n = ptr_recv_frame(r, &op, &data, PT_T_REPLY_MS);

	if (n < 0)
		return -1;
	if (op == PTR_TEXT && strstr(data, "\"welcome\""))
		code = 1;
	else if (op == PTR_CLOSE && n >= 2)
		code = ((unsigned char)data[0] << 8) | (unsigned char)data[1];
	free(data);
	return code;
}

/* Raw sockets that connect and send the upgrade at once, all together;
 * returns how many were refused cleanly within timeout_ms — a 1013 close
 * frame after the upgrade, or a 503 instead of it (the rest: dropped,
 * refused at TCP level or still waiting). */
static int burst(int port, int n, int timeout_ms, int *answered)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fds[BURST], refused = 0;
	bool done[BURST] = { false };
	char req[256];
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;

	*answered = 0;
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	snprintf(req, sizeof(req),
	         "GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	for (int i = 0; i < n; i++) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		src.sin_addr.s_addr = htonl(0x7f140001u + (uint32_t)i); /* 127.20.0.1 + i */
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, sizeof(src)) ||
		    connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)) ||
		    write(fds[i], req, strlen(req)) != (ssize_t)strlen(req)) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
			done[i] = true;
		}
	}
	for (int left = n; left > 0 && pt_now_ms() < deadline;) {
		struct pollfd pf[BURST];
		int k = 0, map[BURST];

		for (int i = 0; i < n; i++)
			if (!done[i]) {
				pf[k].fd = fds[i];
				pf[k].events = POLLIN;
				map[k++] = i;
			}
		if (poll(pf, (nfds_t)k, 100) < 0)
			break;
		for (int j = 0; j < k; j++) {
			char buf[4096];
			ssize_t m;
			char *end;
			unsigned char *f;
			int i = map[j];

			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			/* Answer and close frame arrive together or close behind
			 * each other; peek until both are there. */
			m = recv(fds[i], buf, sizeof(buf), MSG_PEEK);
			if (m <= 0) {
				done[i] = true;
				left--;
				continue;
			}
			if (!(end = memmem(buf, (size_t)m, "\r\n\r\n", 4)))
				continue;
			if (!strncmp(buf, "HTTP/1.1 503 ", 13)) {
				(*answered)++;
				refused++;
				done[i] = true;
				left--;
				continue;
			}
			f = (unsigned char *)end + 4;
			if ((char *)f + 4 > buf + m)
				continue;
			(*answered)++;
			if ((f[0] & 0x0f) == PTR_CLOSE && (f[1] & 0x7f) >= 2 && (f[2] << 8 | f[3]) == 1013)
				refused++;
			done[i] = true;
			left--;
		}
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return refused;
}

/* The burst needs more descriptors than this process has left under the
 * lowered limit: a child has a limit of its own. It reports how many got
 * 1013 in its exit status and how many were answered through a pipe. */
static int burst_in_child(int port, int *answered)
{
	int p[2], st = 0, got = -1;
	pid_t pid;

	*answered = -1;
	if (pipe(p))
		return -1;
	if ((pid = fork()) == 0) {
		int ans = 0, r;

		/* Only the pipe: the peers' sockets stay with the parent. */
		for (int fd = 3; fd < NOFILE; fd++)
			if (fd != p[1])
				close(fd);
		r = burst(port, BURST, 10000, &ans);
		if (write(p[1], &ans, sizeof(ans)) != sizeof(ans))
			_exit(255);
		_exit(r);
	}
	close(p[1]);
	if (pid > 0) {
		if (read(p[0], answered, sizeof(*answered)) != sizeof(*answered))
			*answered = -1;
		/* burst() is bounded (10 s), so this wait is too. */
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) != 255)
			got = WEXITSTATUS(st);
	}
	close(p[0]);
	return got;
}

static void test_fd_limit_refuses_cleanly(void **state)
{
	struct rlimit rl = { NOFILE, NOFILE };
	static ptr *live[NOFILE];
	int n_live = 0, code = 0, port, answered, refused;
	pt_daemon *d;
	ptc *a, *b;
	char src[32];
	double cpu0;
	json_t *m;
	(void)state;

	/* Lowered for good in this process: the daemon inherits the hard limit
	 * and cannot raise it back. */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	d = ptd_start(CONF);
	port = ptd_port(d);
	a = ptc_join(port, &(ptc_opts){ .source = "127.19.0.1" });
	b = ptc_join(port, &(ptc_opts){ .source = "127.19.0.2" });

	/* One at a time until the first refusal. Our own budget (NOFILE, a few
	 * taken by the harness) bounds the loop. */
	for (int i = 0; i < NOFILE - 24; i++) {
		ptr *r;

		snprintf(src, sizeof(src), "127.19.%d.%d", 1 + i / 200, 1 + i % 200);
		r = ptr_connect(port, &(ptr_opts){ .source = src });
		PT_CHECK(r, "connection %d: no WebSocket upgrade at all (accept failing?)", i);
		code = first_frame(r);
		if (code != 1) {
			ptr_free(r);
			break;
		}
		live[n_live++] = r;
	}
	PT_CHECK(code == 1013, "after %d peers: expected a 1013 close, got %d (-1: dropped "
	         "without a close frame or no answer)", n_live + 2, code);
	/* The daemon's share of the limit went to peers, not to headroom only. */
	PT_CHECK(n_live + 2 >= NOFILE / 2, "only %d peers admitted under a limit of %d files",
	         n_live + 2, NOFILE);

	/* A reconnect storm at the full server: every connection is answered
	 * with 1013, even those beyond the descriptors the daemon has spare. */
	refused = burst_in_child(port, &answered);
	PT_CHECK(refused == BURST, "burst of %d at a full server: %d answered, %d closed with 1013",
	         BURST, answered, refused);

	/* The admitted peers never noticed. */
	ptc_send(a, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"x\":1}}", ptc_id(b));
	m = ptc_recv_type(b, "signal", PT_T_REPLY_MS);
	PT_CHECK(m && !strcmp(pt_jstr(m, "from"), ptc_id(a)), "signal between old peers lost");
	json_decref(m);
	ptc_roundtrip(a);
	assert_int_equal(ptr_send_text(live[0], "{\"type\":\"ping\",\"rid\":1}"), 0);
	m = ptr_recv_json(live[0], PT_T_REPLY_MS);
	PT_CHECK(pt_jtype_is(m, "pong"), "raw peer: no pong after the refusals");
	json_decref(m);

	/* Refusing is not a busy loop: idle, the daemon uses next to no CPU. */
	cpu0 = pt_cpu_seconds(ptd_pid(d));
	ptc_service(1000);
	PT_CHECK(pt_cpu_seconds(ptd_pid(d)) - cpu0 < 0.3, "daemon busy while idle after refusals "
	         "(%.2f s CPU in 1 s)", pt_cpu_seconds(ptd_pid(d)) - cpu0);

	/* A slot freed is a slot usable again (the daemon notices the close
	 * asynchronously: bounded retries). */
	ptr_free(live[--n_live]);
	code = 0;
	for (int tries = 0; tries < 50 && code != 1; tries++) {
		ptr *r = ptr_connect(port, &(ptr_opts){ .source = "127.19.250.1" });

		code = r ? first_frame(r) : -1;
		if (code == 1)
			live[n_live++] = r;
		else {
			if (r)
				ptr_free(r);
			ptc_service(50);
		}
	}
	PT_CHECK(code == 1, "no peer admitted after one left (last answer %d)", code);
	for (int i = 0; i < n_live; i++)
		ptr_free(live[i]);
	ptc_close(a);
	ptc_close(b);
	assert_int_equal(ptd_stop(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fd_limit_refuses_cleanly, pt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
