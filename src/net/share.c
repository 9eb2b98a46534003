/* share.c — listen_share: several peertrackd processes on one port.
 *
 * libwebsockets 4.1 as Debian builds it (LWS_MAX_SMP 1) never sets
 * SO_REUSEPORT: LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE is honoured only with
 * several service threads. So with listen_share the listening socket is
 * ours — SO_REUSEADDR and SO_REUSEPORT before bind(), watched by a uv_poll
 * on the server's loop — and every accepted socket is handed to the vhost
 * (which listens on nothing) the way lws' own listener hands it over:
 * the handshake budget first (pt__budget_filter, as
 * LWS_CALLBACK_FILTER_NETWORK_CONNECTION would), then
 * lws_adopt_descriptor_vhost() as HTTP, TLS when the vhost has it. The
 * kernel spreads new connections over every socket of the same user bound
 * to the port with SO_REUSEPORT; a process without it cannot bind there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peertrack/log.h"
#include "net.h"

/* Accepts per readiness event: a burst of connections does not starve
 * the rest of the loop. */
#define SHARE_BATCH 64
/* How long accepting rests after accept() ran out of descriptors. */
#define SHARE_RETRY_MS 250

static void share_resume(uv_timer_t *t)
{
	struct pt_server *s = t->data;

	if (s->share_fd >= 0 && !s->stop_phase)
		uv_poll_start(&s->share_poll, UV_READABLE, s->share_poll.poll_cb);
}

static void share_accept(uv_poll_t *p, int status, int events)
{
	struct pt_server *s = p->data;

	for (int i = 0; i < SHARE_BATCH && !status && !s->stop_phase; i++) {
		struct lws_filter_network_conn_args f;
		lws_sock_file_fd_type d;
		int fd, one = 1;

		memset(&f, 0, sizeof(f));
		f.clilen = sizeof(f.cli_addr);
		fd = accept4(s->share_fd, (struct sockaddr *)&f.cli_addr, &f.clilen,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The descriptor budget (budget.c) keeps this rare;
				 * retrying at once would spin. */
				pt__budget_hit(s, PT_BUDGET_FDS, NULL);
				uv_poll_stop(&s->share_poll);
				uv_timer_start(&s->share_timer, share_resume, SHARE_RETRY_MS, 0);
			}
			return; /* EAGAIN: drained; ECONNABORTED and the like: next event */
		}
		f.accept_fd = fd;
		if (pt__budget_filter(s, NULL, &f, fd)) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		d.sockfd = fd;
		/* On failure lws has closed fd; the budget's pending record goes
		 * at the next accept or tick. */
		(void)lws_adopt_descriptor_vhost(s->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP |
		                                           LWS_ADOPT_ALLOW_SSL, d, NULL, NULL);
	}
}

int pt__share_listen(struct pt_server *s, const char *host, int port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t len;
	int fd, one = 1, r;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, host, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons((uint16_t)port);
		len = sizeof(a.in);
	} else if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons((uint16_t)port);
		len = sizeof(a.in6);
	} else {
		return -EINVAL;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (a.sa.sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, &a.sa, len) || listen(fd, SOMAXCONN) || getsockname(fd, &a.sa, &len)) {
		r = -errno;
		close(fd);
		return r;
	}
	s->port = ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
	if ((r = uv_poll_init(s->loop, &s->share_poll, fd))) {
		close(fd);
		return r;
	}
	uv_timer_init(s->loop, &s->share_timer);
	s->share_poll.data = s->share_timer.data = s;
	s->share_fd = fd;
	uv_poll_start(&s->share_poll, UV_READABLE, share_accept);
	return 0;
}

void pt__share_close(struct pt_server *s)
{
	if (s->share_fd < 0)
		return;
	uv_close((uv_handle_t *)&s->share_poll, NULL);
	uv_close((uv_handle_t *)&s->share_timer, NULL);
	/* The poll handle watches fd until its close completes; after
	 * uv_close it is off epoll, so closing the descriptor now is safe. */
	close(s->share_fd);
	s->share_fd = -1;
}
