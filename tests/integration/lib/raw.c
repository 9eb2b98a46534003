/* raw.c — a WebSocket client by hand on a plain TCP socket, for what a
 * correct library will not do: stay silent without answering pings, never
 * read, send unmasked or malformed frames. Blocking I/O bounded by poll(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peertrack/wsframe.h"
#include "integration/lib/harness.h"
#include "integration/lib/internal.h"

struct ptr {
	ptr *next;     /* the live list, for cleanup */
	int fd;
	unsigned char *buf; /* bytes read but not consumed */
	size_t len, cap;
};

static ptr *raws;

/* Waits for fd to be ready for events until deadline; 1 ready, 0 timeout.
 * WebSocket clients open at the same time keep being serviced (in short
 * slices), so they answer the server's pings while a raw client waits. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		uint64_t now = pt_now_ms();
		bool lws = pt_client_active();
		int n;

		if (now >= deadline)
			return 0;
		n = poll(&p, 1, lws ? 0 : (int)(deadline - now));
		if (n == 0 && lws) {
			ptc_service((int)(deadline - now < 10 ? deadline - now : 10));
			continue;
		}
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int write_all(int fd, const void *data, size_t len, int timeout_ms)
{
	const unsigned char *p = data;
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Reads more bytes into the buffer; >0 got some, 0 EOF, -1 timeout/error. */
static int fill(ptr *r, uint64_t deadline)
{
	ssize_t n;

	if (r->cap - r->len < 4096) {
		size_t cap = r->cap ? r->cap * 2 : 16384;
		unsigned char *b = realloc(r->buf, cap);

		if (!b)
			return -1;
		r->buf = b;
		r->cap = cap;
	}
	for (;;) {
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, MSG_DONTWAIT);
		if (n > 0) {
			r->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return 0; /* reset: as good as EOF */
		if (wait_fd(r->fd, POLLIN, deadline) <= 0)
			return -1;
	}
}

static void consume(ptr *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

int ptr_upgrade_status(int port, const ptr_opts *opts, ptr **out)
{
	static const ptr_opts none;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[1024];
	uint64_t deadline = pt_now_ms() + PT_T_REPLY_MS;
	ptr *r = calloc(1, sizeof(*r));
	int status = -1;

	if (out)
		*out = NULL;
	if (!r)
		return -1;
	if (!opts)
		opts = &none;
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		goto done;
	if (opts->rcvbuf)
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &opts->rcvbuf, sizeof(opts->rcvbuf));
	inet_pton(AF_INET, opts->source ? opts->source : "127.0.0.1", &sa.sin_addr);
	if (bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto done;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto done;

	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\n"
	         "Host: 127.0.0.1:%d\r\n"
	         "Upgrade: websocket\r\n"
	         "Connection: Upgrade\r\n"
	         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	         "Sec-WebSocket-Version: 13\r\n"
	         "%s%s%s"
	         "%s%s%s"
	         "\r\n",
	         opts->path ? opts->path : "/v1", port, opts->origin ? "Origin: " : "",
	         opts->origin ? opts->origin : "", opts->origin ? "\r\n" : "",
	         opts->protocol ? "Sec-WebSocket-Protocol: " : "", opts->protocol ? opts->protocol : "",
	         opts->protocol ? "\r\n" : "");
	if (write_all(r->fd, req, strlen(req), PT_T_REPLY_MS))
		goto done;
	/* Read exactly the response head; frames may follow in the same read. */
	for (;;) {
		unsigned char *end = r->len >= 4 ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;

		if (end) {
			if (r->len > 9 && !memcmp(r->buf, "HTTP/1.1 ", 9))
				status = atoi((char *)r->buf + 9);
			consume(r, (size_t)(end + 4 - r->buf));
			break;
		}
		if (fill(r, deadline) <= 0)
			break;
	}
done:
	if (out && status == 101) {
		r->next = raws;
		raws = r;
		*out = r;
	} else {
		if (r->fd >= 0)
			close(r->fd);
		free(r->buf);
		free(r);
	}
	return status;
}

ptr *ptr_connect(int port, const ptr_opts *opts)
{
	ptr *r;

	ptr_upgrade_status(port, opts, &r);
	return r;
}

void ptr_free(ptr *r)
{
	if (!r)
		return;
	for (ptr **p = &raws; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	close(r->fd);
	free(r->buf);
	free(r);
}

int ptr_fd(const ptr *r)
{
	return r->fd;
}

void pt_raws_cleanup(void)
{
	while (raws)
		ptr_free(raws);
}

int ptr_send_frame(ptr *r, int opcode, bool fin, bool masked, const void *data, size_t len)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char *f = malloc(14 + len);
	size_t h = 0;
	int rc;

	if (!f)
		return -1;
	h = pt_ws_header(f, (uint8_t)((fin ? PT_WS_FIN : 0) | (opcode & 0x0f)), masked, len);
	if (masked) {
		memcpy(f + h, key, 4);
		h += 4;
	}
	for (size_t i = 0; i < len; i++)
		f[h + i] = (unsigned char)(((const unsigned char *)data)[i] ^ (masked ? key[i & 3] : 0));
	rc = write_all(r->fd, f, h + len, 5000);
	free(f);
	return rc;
}

int ptr_send_text(ptr *r, const char *text)
{
	return ptr_send_frame(r, PTR_TEXT, true, true, text, strlen(text));
}

int ptr_send_bytes(ptr *r, const void *data, size_t len)
{
	return write_all(r->fd, data, len, 5000);
}

long ptr_recv_frame(ptr *r, int *opcode, char **data, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;

	*data = NULL;
	for (;;) {
		if (r->len >= 2) {
			size_t h = 2;
			uint64_t plen = r->buf[1] & 0x7f;
			bool masked = r->buf[1] & 0x80;

			if (plen == 126 && r->len >= 4) {
				plen = ((uint64_t)r->buf[2] << 8) | r->buf[3];
				h = 4;
			} else if (plen == 127 && r->len >= 10) {
				plen = 0;
				for (int i = 0; i < 8; i++)
					plen = (plen << 8) | r->buf[2 + i];
				h = 10;
			} else if (plen >= 126) {
				h = 0; /* need more header */
			}
			if (h && masked)
				h += 4;
			if (h && r->len >= h + plen) {
				char *p = malloc(plen + 1);

				if (!p)
					return -1;
				memcpy(p, r->buf + h, plen);
				if (masked)
					for (uint64_t i = 0; i < plen; i++)
						p[i] ^= (char)r->buf[h - 4 + (i & 3)];
				p[plen] = 0;
				*opcode = r->buf[0] & 0x0f;
				consume(r, h + plen);
				*data = p;
				return (long)plen;
			}
		}
		if (fill(r, deadline) <= 0)
			return -1;
	}
}

json_t *ptr_recv_json(ptr *r, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = pt_now_ms();
		int op;
		char *d;
		long n;

		if (now >= deadline)
			return NULL;
		n = ptr_recv_frame(r, &op, &d, (int)(deadline - now));
		if (n < 0)
			return NULL;
		if (op == PTR_TEXT) {
			json_t *j = json_loadb(d, (size_t)n, 0, NULL);

			free(d);
			return j;
		}
		free(d);
		if (op == PTR_CLOSE)
			return NULL;
	}
}

int ptr_wait_close(ptr *r, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = pt_now_ms();
		int op, code;
		char *d;
		long n;

		if (now >= deadline)
			return -1;
		n = ptr_recv_frame(r, &op, &d, (int)(deadline - now));
		if (n < 0)
			return -1;
		if (op == PTR_CLOSE) {
			code = n >= 2 ? ((unsigned char)d[0] << 8) | (unsigned char)d[1] : 0;
			free(d);
			return code;
		}
		free(d);
	}
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
