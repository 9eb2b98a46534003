/* client.c — peertrackctl's side of the admin socket: one request line,
 * one response line, bounded in time. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "peertrack/clock.h"
#include "ctl.h"

#define CALL_TIMEOUT_MS 30000

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int pt_ctl_call(const char *socket_path, const json_t *request, json_t **resp, char *err,
                size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	long long deadline = (long long)pt_clock_mono_ms() + CALL_TIMEOUT_MS;
	json_error_t jerr;
	int fd = -1, r;

	*resp = NULL;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		snprintf(err, errlen, "cannot reach the daemon at %s: %s", socket_path, strerror(-r));
		goto out;
	}
	if (!(line = json_dumps(request, JSON_COMPACT))) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((r = write_all(fd, line, strlen(line))) || (r = write_all(fd, "\n", 1))) {
		snprintf(err, errlen, "%s: %s", socket_path, strerror(-r));
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - (long long)pt_clock_mono_ms();
		ssize_t got;

		if (len && memchr(buf, '\n', len))
			break;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			r = -ETIMEDOUT;
			snprintf(err, errlen, "%s: no answer within %d s", socket_path, CALL_TIMEOUT_MS / 1000);
			goto out;
		}
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
			cap += 65536;
		}
		got = recv(fd, buf + len, cap - len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = -ECONNRESET;
			snprintf(err, errlen, "%s: the daemon closed the connection", socket_path);
			goto out;
		}
		len += (size_t)got;
	}
	*resp = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', len) - buf), 0, &jerr);
	if (!*resp || !json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		r = -EPROTO;
		snprintf(err, errlen, "%s: unreadable answer: %s", socket_path, jerr.text);
		goto out;
	}
	r = 0;
out:
	free(line);
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}
