/* ws.c — the generator's WebSocket client on one epoll loop.
 *
 * Deliberately minimal so the generator is never what limits a run: the
 * upgrade request is written by hand (the answer is checked for "101" and
 * nothing else), frames go out masked with a zero key (legal, and XOR with
 * zero costs nothing), replies are read 256 KiB at a time and split in
 * place. Each connection binds its own 127.x.y.z source address before
 * connecting, so the run is not limited by one address's ephemeral ports
 * nor by the server's per-address limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "peertrack/wsframe.h"
#include "bench.h"

#define RBUF 262144

uint64_t bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t bench_rand(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

char *bench_scratch(bench_worker *w, size_t len)
{
	if (len + BENCH_HDR > w->scratch_cap) {
		size_t cap = (len + BENCH_HDR) * 2;
		char *p = realloc(w->scratch, cap);

		if (!p)
			return NULL;
		w->scratch = p;
		w->scratch_cap = cap;
	}
	return w->scratch + BENCH_HDR;
}

/* Source address of the global connection g: per_addr connections share
 * one address; last octets 0 and 255 are skipped. */
static uint32_t source_of(const bench_opts *o, uint32_t g)
{
	uint32_t n = g / (uint32_t)o->per_addr;

	return o->src_base + (n / 254) * 256 + n % 254;
}

static int arm(bench_worker *w, bench_conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = c->n };

	if (c->out_armed == out)
		return 0;
	c->out_armed = out;
	return epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void drop(bench_worker *w, bench_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	free(c->rx);
	free(c->tx);
	free(c->sig);
	c->rx = c->tx = c->sig = NULL;
	c->sig_len = 0;
	c->rx_len = c->rx_cap = c->tx_len = c->tx_off = c->tx_cap = 0;
	if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
		w->connecting--;
	if (c->state != C_CLOSED) {
		c->state = C_CLOSED;
		bench_on_closed(w, c);
	}
}

int bench_ws_start(bench_worker *w, bench_conn *c)
{
	const bench_opts *o = w->o;
	const bench_target *t = bench_target_of(o, w->first + c->n);
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)t->port) };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = c->n };
	int one = 1, fd;

	c->t_start = bench_now_us();
	if (!c->tries)
		c->t_first = c->t_start;
	c->state = C_CONNECTING;
	w->connecting++;
	w->r.attempted++;
	inet_pton(AF_INET, t->host, &dst.sin_addr);
	src.sin_addr.s_addr = htonl(source_of(o, w->first + c->n));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	c->fd = fd;
	/* The port is picked at connect() time, per destination: thousands of
	 * connections can share an address. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
		goto fail;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)
		goto fail;
	c->out_armed = true;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	return 0;
fail:
	w->r.failed++;
	drop(w, c);
	return -1;
}

static void flush(bench_worker *w, bench_conn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			drop(w, c);
			return;
		}
		c->tx_off += (uint32_t)n;
	}
	if (c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
	arm(w, c, c->tx_len > 0);
}

/* Writes buf now if nothing is queued, else (and for what is left) queues. */
static int write_or_queue(bench_worker *w, bench_conn *c, const char *buf, size_t len)
{
	if (c->fd < 0)
		return -1;
	if (!c->tx_len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			drop(w, c);
			return -1;
		}
		if (n < 0)
			n = 0;
		buf += n;
		len -= (size_t)n;
		if (!len)
			return 0;
	}
	if (c->tx_len + len > c->tx_cap) {
		uint32_t cap = (uint32_t)((c->tx_len + len) * 2);
		char *p = realloc(c->tx, cap);

		if (!p) {
			drop(w, c);
			return -1;
		}
		c->tx = p;
		c->tx_cap = cap;
	}
	memcpy(c->tx + c->tx_len, buf, len);
	c->tx_len += (uint32_t)len;
	arm(w, c, true);
	return 0;
}

static int send_frame(bench_worker *w, bench_conn *c, int opcode, const char *payload,
                      size_t len)
{
	uint8_t hdr[PT_WS_HDR_MAX];
	size_t h = pt_ws_header(hdr, (uint8_t)(PT_WS_FIN | opcode), true, len);
	char *frame;

	memset(hdr + h, 0, 4); /* the masking key: zero */
	h += 4;
	/* Payloads built in the scratch buffer get their header in place. */
	if (payload == w->scratch + BENCH_HDR) {
		frame = (char *)payload - h;
		memcpy(frame, hdr, h);
		return write_or_queue(w, c, frame, h + len);
	}
	if (!(frame = bench_scratch(w, len)))
		return -1;
	frame -= h;
	memcpy(frame, hdr, h);
	memmove(frame + h, payload, len);
	return write_or_queue(w, c, frame, h + len);
}

int bench_ws_send(bench_worker *w, bench_conn *c, const char *payload, size_t len, bool binary)
{
	if (c->state != C_OPEN)
		return -1;
	c->last_tx = bench_now_us();
	return send_frame(w, c, binary ? 2 : 1, payload, len);
}

void bench_ws_close(bench_worker *w, bench_conn *c, uint16_t code)
{
	char b[2] = { (char)(code >> 8), (char)code };

	if (c->state == C_OPEN)
		send_frame(w, c, 8, b, 2);
	drop(w, c);
}

static void handshake_send(bench_worker *w, bench_conn *c)
{
	const bench_opts *o = w->o;
	const bench_target *t = bench_target_of(o, w->first + c->n);
	char req[1024], path[256];
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	int err = 0, n;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		w->r.failed++;
		drop(w, c);
		return;
	}
	if (getsockname(c->fd, (struct sockaddr *)&me, &ml) ||
	    ntohl(me.sin_addr.s_addr) != source_of(o, w->first + c->n))
		w->r.src_mismatch++;
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	             "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
	             bench_proto_path(o, c, path, sizeof(path)), t->host, t->port,
	             o->origin ? "Origin: " : "", o->origin ? o->origin : "", o->origin ? "\r\n" : "");
	c->state = C_HANDSHAKE;
	arm(w, c, false);
	write_or_queue(w, c, req, (size_t)n);
}

/* Splits rx into frames; returns bytes consumed. */
static size_t frames(bench_worker *w, bench_conn *c, char *p, size_t len)
{
	size_t used = 0;

	while (c->state == C_OPEN && len - used >= 2) {
		unsigned char *f = (unsigned char *)p + used;
		int op = f[0] & 0x0f;
		uint64_t pl = f[1] & 0x7f;
		size_t h = 2;

		if (f[1] & 0x80)
			h += 4; /* servers do not mask; tolerate it anyway (never used) */
		if (pl == 126) {
			if (len - used < 4)
				break;
			pl = (uint64_t)f[2] << 8 | f[3];
			h += 2;
		} else if (pl == 127) {
			if (len - used < 10)
				break;
			pl = 0;
			for (int i = 0; i < 8; i++)
				pl = pl << 8 | f[2 + i];
			h += 8;
		}
		if (len - used < h + pl)
			break;
		used += h + pl;
		switch (op) {
		case 0: case 1: case 2:
			bench_proto_message(w, c, (char *)f + h, (size_t)pl);
			break;
		case 8:
			c->close_code = pl >= 2 ? (uint16_t)(f[h] << 8 | f[h + 1]) : 1005;
			drop(w, c);
			return used;
		case 9:
			send_frame(w, c, 10, (char *)f + h, (size_t)pl);
			break;
		default:
			break;
		}
	}
	return used;
}

static void on_readable(bench_worker *w, bench_conn *c)
{
	char *buf;
	size_t have, used;
	ssize_t n;

	/* Leftover bytes of a partial frame live in c->rx; the common case
	 * (whole frames) never copies. */
	if (c->rx_len) {
		if (c->rx_cap - c->rx_len < 65536) {
			char *p = realloc(c->rx, c->rx_len + 65536);

			if (!p) {
				drop(w, c);
				return;
			}
			c->rx = p;
			c->rx_cap = c->rx_len + 65536;
		}
		buf = c->rx;
		n = recv(c->fd, buf + c->rx_len, c->rx_cap - c->rx_len, 0);
		have = c->rx_len;
	} else {
		buf = w->rbuf;
		n = recv(c->fd, buf, RBUF, 0);
		have = 0;
	}
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (c->state == C_HANDSHAKE) {
			/* Closed before any answer (the server's handshake
			 * timeout, or its place given to another): a drop,
			 * which clients retry like a 503. */
			w->r.hs_dropped++;
			c->paced = true;
		}
		drop(w, c);
		return;
	}
	have += (size_t)n;
	used = 0;
	if (c->state == C_HANDSHAKE) {
		char *end = memmem(buf, have, "\r\n\r\n", 4);

		if (!end) {
			used = 0;
			if (have > 8192) {
				w->r.failed++;
				drop(w, c);
				return;
			}
		} else {
			if (have < 12 || memcmp(buf + 9, "101", 3)) {
				/* An HTTP refusal (403, 503, ...); a 503 is pacing
				 * (bench_on_closed may retry it). */
				if (have >= 12 && !memcmp(buf + 9, "503", 3)) {
					w->r.http503++;
					c->paced = true;
				} else {
					w->r.failed++;
				}
				drop(w, c);
				return;
			}
			c->state = C_OPEN;
			w->connecting--;
			w->r.connected++;
			used = (size_t)(end + 4 - buf);
			bench_proto_opened(w, c);
		}
	}
	if (c->state == C_OPEN)
		used += frames(w, c, buf + used, have - used);
	if (c->state == C_CLOSED)
		return;
	if (used == have) {
		c->rx_len = 0;
		if (c->rx_cap > 65536 * 2) {
			free(c->rx);
			c->rx = NULL;
			c->rx_cap = 0;
		}
		return;
	}
	if (buf == c->rx) {
		memmove(c->rx, c->rx + used, have - used);
	} else {
		if (c->rx_cap < have - used + 65536) {
			char *p = realloc(c->rx, have - used + 65536);

			if (!p) {
				drop(w, c);
				return;
			}
			c->rx = p;
			c->rx_cap = (uint32_t)(have - used + 65536);
		}
		memcpy(c->rx, buf + used, have - used);
	}
	c->rx_len = (uint32_t)(have - used);
}

int bench_ws_poll(bench_worker *w, int64_t timeout_us)
{
	struct epoll_event ev[512];
	struct timespec ts = { (time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000 };
	int n;

	if (!w->rbuf && !(w->rbuf = malloc(RBUF)))
		return -1;
	n = epoll_pwait2(w->ep, ev, 512, &ts, NULL);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		uint32_t k = ev[i].data.u32;
		bench_conn *c;

		if (k == UINT32_MAX) {
			/* The parent's control pipe: worker.c reads it. */
			continue;
		}
		c = &w->c[k];
		if (c->fd < 0)
			continue;
		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			if (c->state == C_CONNECTING) {
				handshake_send(w, c);
				if (c->fd < 0)
					continue;
			}
			on_readable(w, c);
			if (c->fd < 0)
				continue;
		}
		if (ev[i].events & EPOLLOUT) {
			if (c->state == C_CONNECTING)
				handshake_send(w, c);
			else
				flush(w, c);
		}
	}
	return n;
}
