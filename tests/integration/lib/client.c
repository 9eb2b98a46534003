/* client.c — WebSocket test clients on libwebsockets' client API.
 *
 * One lws context for the whole test process, on lws' default poll loop,
 * serviced only from inside harness calls. lws 4.1 ignores lws_service()'s
 * timeout (it sleeps until its next scheduled event), so every bounded wait
 * schedules a wake-up event of its own that cancels the poll. The daemon log
 * reader thread cancels the poll too, so a wait for a log line returns as
 * soon as the line arrives. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libwebsockets.h>

#include "integration/lib/harness.h"
#include "integration/lib/internal.h"

enum cstate { C_CONNECTING = 0, C_OPEN, C_CLOSED, C_FAILED };

typedef struct inmsg {
	struct inmsg *next;
	json_t *j;
} inmsg;

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	int flags;                /* lws_write_protocol */
	unsigned char buf[];      /* LWS_PRE + len */
} outmsg;

struct ptc {
	ptc *next;                /* the live list, for cleanup */
	struct lws *wsi;
	enum cstate state;
	int close_code;           /* -1 until a close frame arrived */
	bool want_close;
	char id[32];
	inmsg *in_head, *in_tail;
	size_t n_in;
	char *rx;                 /* fragments of the message being received */
	size_t rx_len, rx_cap;
	outmsg *out_head, *out_tail;
	const char *const *headers; /* only during the handshake */
	char err[256];
};

static struct lws_context *ctx;
static _Atomic(struct lws_context *) ctx_pub;
static lws_sorted_usec_list_t wake_sul;
static ptc *clients;
static char last_error[256];

/* -- the context ----------------------------------------------------------- */

static void push_in(ptc *c, const char *text, size_t len)
{
	json_error_t e;
	json_t *j = json_loadb(text, len, 0, &e);
	inmsg *m;

	if (!j) {
		fprintf(stderr, "harness: client got unparseable text (%s): %.*s\n", e.text,
		        (int)(len > 200 ? 200 : len), text);
		return;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		json_decref(j);
		return;
	}
	m->j = j;
	if (c->in_tail)
		c->in_tail->next = m;
	else
		c->in_head = m;
	c->in_tail = m;
	c->n_in++;
}

static int write_next(ptc *c, struct lws *wsi)
{
	outmsg *o = c->out_head;

	if (c->want_close && !o) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	if (!o)
		return 0;
	if (lws_write(wsi, o->buf + LWS_PRE, o->len, (enum lws_write_protocol)o->flags) <
	    (int)o->len) {
		snprintf(c->err, sizeof(c->err), "lws_write failed");
		return -1;
	}
	c->out_head = o->next;
	if (!c->out_head)
		c->out_tail = NULL;
	free(o);
	if (c->out_head || c->want_close)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	ptc *c;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		break;
	default:
		return 0;
	}
	if (!(c = lws_get_opaque_user_data(wsi)))
		return reason == LWS_CALLBACK_CLIENT_WRITEABLE ? -1 : 0; /* orphaned */

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;

		for (size_t i = 0; c->headers && c->headers[i]; i++) {
			const char *h = c->headers[i], *colon = strchr(h, ':');
			char name[128];
			size_t nl;

			if (!colon || (nl = (size_t)(colon - h)) + 2 > sizeof(name))
				continue;
			memcpy(name, h, nl);
			name[nl] = ':';
			name[nl + 1] = 0;
			colon++;
			while (*colon == ' ')
				colon++;
			if (lws_add_http_header_by_name(wsi, (unsigned char *)name,
			                                (unsigned char *)colon, (int)strlen(colon), p,
			                                end))
				return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->state = C_OPEN;
		if (c->out_head)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(c->err, sizeof(c->err), "%s", in ? (const char *)in : "connection error");
		c->state = C_FAILED;
		c->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c->rx_len + len + 1 > c->rx_cap) {
			size_t cap = c->rx_cap ? c->rx_cap : 4096;
			char *p;

			while (cap < c->rx_len + len + 1)
				cap *= 2;
			if (!(p = realloc(c->rx, cap)))
				return -1;
			c->rx = p;
			c->rx_cap = cap;
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		if (lws_is_final_fragment(wsi)) {
			push_in(c, c->rx, c->rx_len);
			c->rx_len = 0;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return write_next(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
		const unsigned char *b = in;

		c->close_code = len >= 2 ? (b[0] << 8) | b[1] : 0;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->state = C_CLOSED;
		c->wsi = NULL;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c->wsi == wsi) {
			c->wsi = NULL;
			if (c->state == C_CONNECTING) {
				c->state = C_FAILED;
				if (!c->err[0])
					snprintf(c->err, sizeof(c->err), "connection destroyed");
			} else if (c->state == C_OPEN)
				c->state = C_CLOSED;
		}
		return 0;
	default:
		return 0;
	}
	(void)user;
}

static const struct lws_protocols protocols[] = {
	{ "ptc", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void destroy_ctx(void)
{
	pt_clients_cleanup();
	atomic_store(&ctx_pub, NULL);
	if (ctx)
		lws_context_destroy(ctx);
	ctx = NULL;
}

static struct lws_context *context(void)
{
	struct lws_context_creation_info info;

	if (ctx)
		return ctx;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	/* Send Origin as given; lws would otherwise prefix "http://". */
	info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	PT_CHECK(ctx, "cannot create the client lws context");
	atomic_store(&ctx_pub, ctx);
	atexit(destroy_ctx);
	return ctx;
}

static void wake_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	/* Makes the poll return even if this event ran before it started. */
	lws_cancel_service(ctx);
}

void pt_client_wake(void)
{
	struct lws_context *c = atomic_load(&ctx_pub);

	if (c)
		lws_cancel_service(c);
}

void ptc_service(int ms)
{
	if (ms < 1)
		ms = 1;
	lws_sul_schedule(context(), 0, &wake_sul, wake_cb, (lws_usec_t)ms * LWS_US_PER_MS);
	lws_service(ctx, 0);
	lws_sul_cancel(&wake_sul);
}

bool pt_client_active(void)
{
	return clients != NULL;
}

void pt_client_service_or_wait(pt_daemon *d, int ms)
{
	if (ctx)
		ptc_service(ms);
	else
		pt_daemon_cond_wait(d, ms);
}

typedef bool (*cond_fn)(ptc *c, const void *arg);

/* Services until cond holds or the time is up. */
static bool service_until(ptc *c, cond_fn cond, const void *arg, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		if (cond(c, arg))
			return true;
		uint64_t now = pt_now_ms();
		if (now >= deadline)
			return false;
		ptc_service((int)(deadline - now));
	}
}

/* -- connecting -------------------------------------------------------------- */

static bool not_connecting(ptc *c, const void *arg)
{
	(void)arg;
	return c->state != C_CONNECTING;
}

static void unlink_client(ptc *c)
{
	for (ptc **p = &clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			return;
		}
}

static void free_client(ptc *c)
{
	unlink_client(c);
	if (c->wsi) {
		/* Still connected: cut it loose; lws closes it on its own time. */
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	ptc_drain(c);
	for (outmsg *o = c->out_head, *n; o; o = n) {
		n = o->next;
		free(o);
	}
	free(c->rx);
	free(c);
}

const char *ptc_last_error(void)
{
	return last_error;
}

ptc *ptc_connect(int port, const ptc_opts *opts)
{
	static const ptc_opts none;
	struct lws_client_connect_info i;
	ptc *c = calloc(1, sizeof(*c));

	PT_CHECK(c, "out of memory");
	if (!opts)
		opts = &none;
	c->close_code = -1;
	c->headers = opts->headers;
	c->next = clients;
	clients = c;

	memset(&i, 0, sizeof(i));
	i.context = context();
	i.address = "127.0.0.1";
	i.port = port;
	i.path = opts->path ? opts->path : "/v1";
	i.host = "127.0.0.1";
	i.origin = opts->origin;
	i.iface = opts->source;
	i.protocol = NULL;
	i.local_protocol_name = "ptc";
	i.pwsi = &c->wsi;
	i.opaque_user_data = c;
	if (!lws_client_connect_via_info(&i) && c->state == C_CONNECTING) {
		c->state = C_FAILED;
		snprintf(c->err, sizeof(c->err), "lws_client_connect_via_info failed");
	}
	service_until(c, not_connecting, NULL, PT_T_REPLY_MS);
	c->headers = NULL;
	if (c->state == C_OPEN)
		return c;
	snprintf(last_error, sizeof(last_error), "%s",
	         c->state == C_CONNECTING ? "handshake timed out" : c->err);
	free_client(c);
	return NULL;
}

int ptc_local_addr(const ptc *c, char *buf, size_t len, int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd;

	if (!c->wsi || (fd = lws_get_socket_fd(c->wsi)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) || sa.sin_family != AF_INET)
		return -1;
	if (!inet_ntop(AF_INET, &sa.sin_addr, buf, (socklen_t)len))
		return -1;
	if (port)
		*port = ntohs(sa.sin_port);
	return 0;
}

json_t *ptc_take_welcome(ptc *c)
{
	json_t *w = ptc_recv_type(c, "welcome", PT_T_REPLY_MS);
	const char *id;

	PT_CHECK(w, "no welcome (close code %d)", c->close_code);
	id = pt_jstr(w, "id");
	PT_CHECK(id && strlen(id) < sizeof(c->id), "welcome without a usable id");
	snprintf(c->id, sizeof(c->id), "%s", id);
	return w;
}

ptc *ptc_join(int port, const ptc_opts *opts)
{
	ptc *c = ptc_connect(port, opts);

	PT_CHECK(c, "cannot connect to port %d: %s", port, last_error);
	json_decref(ptc_take_welcome(c));
	return c;
}

const char *ptc_id(const ptc *c)
{
	return c->id;
}

bool ptc_is_open(const ptc *c)
{
	return c->state == C_OPEN;
}

/* -- sending ------------------------------------------------------------------- */

static void queue_frame(ptc *c, const void *bytes, size_t len, int flags)
{
	outmsg *o = malloc(sizeof(*o) + LWS_PRE + len);

	PT_CHECK(o, "out of memory");
	o->next = NULL;
	o->len = len;
	o->flags = flags;
	if (len)
		memcpy(o->buf + LWS_PRE, bytes, len);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	if (c->wsi && c->state == C_OPEN)
		lws_callback_on_writable(c->wsi);
}

static void queue_vtext(ptc *c, const char *fmt, va_list ap)
{
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);

	PT_CHECK(n >= 0, "out of memory");
	queue_frame(c, text, (size_t)n, LWS_WRITE_TEXT);
	free(text);
}

void ptc_send(ptc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	queue_vtext(c, fmt, ap);
	va_end(ap);
}

void ptc_send_raw(ptc *c, const void *bytes, size_t len, bool binary)
{
	queue_frame(c, bytes, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
}

void ptc_send_fragmented(ptc *c, const void *bytes, size_t len, size_t nfrags, bool binary)
{
	const unsigned char *b = bytes;
	size_t per, off = 0;

	if (nfrags < 1)
		nfrags = 1;
	per = (len + nfrags - 1) / nfrags;
	for (size_t i = 0; i < nfrags; i++) {
		size_t n = off + per > len ? len - off : per;

		queue_frame(c, b + off, n,
		            lws_write_ws_flags(binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, i == 0,
		                               i == nfrags - 1));
		off += n;
	}
}

static bool flushed(ptc *c, const void *arg)
{
	(void)arg;
	return !c->out_head || c->state != C_OPEN;
}

bool ptc_flush(ptc *c, int timeout_ms)
{
	return service_until(c, flushed, NULL, timeout_ms) && !c->out_head;
}

/* -- receiving ----------------------------------------------------------------- */

static inmsg **find_type(ptc *c, const char *const *types)
{
	for (inmsg **p = &c->in_head; *p; p = &(*p)->next) {
		if (!types)
			return p;
		for (size_t i = 0; types[i]; i++)
			if (pt_jtype_is((*p)->j, types[i]))
				return p;
	}
	return NULL;
}

static bool has_type(ptc *c, const void *arg)
{
	return find_type(c, arg) || c->state == C_CLOSED || c->state == C_FAILED;
}

static json_t *take(ptc *c, inmsg **p)
{
	inmsg *m = *p;
	json_t *j = m->j;

	*p = m->next;
	if (c->in_tail == m) {
		c->in_tail = NULL;
		for (inmsg *x = c->in_head; x; x = x->next)
			c->in_tail = x;
	}
	c->n_in--;
	free(m);
	return j;
}

static json_t *recv_types(ptc *c, const char *const *types, int timeout_ms)
{
	inmsg **p;

	service_until(c, has_type, types, timeout_ms);
	p = find_type(c, types);
	return p ? take(c, p) : NULL;
}

json_t *ptc_recv(ptc *c, int timeout_ms)
{
	return recv_types(c, NULL, timeout_ms);
}

json_t *ptc_recv_type(ptc *c, const char *type, int timeout_ms)
{
	const char *types[2] = { type, NULL };

	return recv_types(c, types, timeout_ms);
}

json_t *ptc_call(ptc *c, const char *fmt, ...)
{
	static const char *const replies[] = { "ack", "peers", "pong", "error", NULL };
	va_list ap;

	va_start(ap, fmt);
	queue_vtext(c, fmt, ap);
	va_end(ap);
	return recv_types(c, replies, PT_T_REPLY_MS);
}

size_t ptc_pending(ptc *c)
{
	return c->n_in;
}

void ptc_drain(ptc *c)
{
	while (c->in_head)
		json_decref(take(c, &c->in_head));
}

/* -- closing ------------------------------------------------------------------- */

static bool ended(ptc *c, const void *arg)
{
	(void)arg;
	return c->state == C_CLOSED || c->state == C_FAILED;
}

int ptc_wait_close(ptc *c, int timeout_ms)
{
	if (!service_until(c, ended, NULL, timeout_ms))
		return -1;
	return c->close_code;
}

void ptc_close(ptc *c)
{
	if (!c)
		return;
	if (c->wsi && c->state == C_OPEN) {
		c->want_close = true;
		lws_callback_on_writable(c->wsi);
		service_until(c, ended, NULL, 2000);
	}
	free_client(c);
}

void pt_clients_cleanup(void)
{
	while (clients)
		free_client(clients);
	/* Let lws run the closes of the clients cut loose. */
	if (ctx)
		for (int i = 0; i < 3; i++)
			ptc_service(5);
}
