/* echo_server.c — the baseline for `make bench`: the least a relay built on
 * peertrackd's own stack (libwebsockets 4.1 on a libuv loop, one thread)
 * can do. No JSON, no ids, no index: on connect the client gets its 4-byte
 * connection index (one binary frame, little endian); every binary frame it
 * sends starts with the index of the connection to forward it to, and is
 * forwarded with those 4 bytes replaced by the sender's index.
 *
 * By default each frame is written at once when nothing is queued for the
 * target and its socket takes it, else copied into the target's queue and
 * written from its WRITEABLE callback: the plain forwarder. --coalesce
 * sends the way peertrackd does (src/net/coalesce.c): a target's frames of
 * one loop turn leave in one write. Measured both ways, so the baseline is
 * whichever is faster, not one handicapped by a strategy it lacks.
 *
 *   echo_server [--listen 127.0.0.1:PORT] [--rx-buffer BYTES] [--coalesce]
 *       prints "listening on 127.0.0.1:PORT"; --rx-buffer is lws'
 *       per-connection receive buffer (default 4096, peertrackd's
 *       ws_rx_buffer_bytes; at least 1024, since a frame lws delivers in
 *       pieces is not forwarded and the bench's frames are 504 bytes)
 *
 * SIGTERM/SIGINT stop it. Loopback only.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <libwebsockets.h>
#include <uv.h>

#include "peertrack/wsframe.h"

typedef struct out {
	struct out *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
} out;

typedef struct sess {
	uint32_t idx;
	bool live;
	out *head, *tail;
	struct lws *wsi;
	unsigned char *co;    /* this loop turn's frames, framed, for one write */
	size_t co_len, co_cap;
	uint32_t co_slot;     /* 1 + place in the server's list; 0: none */
} sess;

typedef struct server {
	uv_loop_t loop;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	struct lws **conns;   /* by index */
	uint32_t cap, next;
	uint32_t *free_idx;   /* indexes of closed connections, reused */
	uint32_t n_free;
	uv_signal_t sig_term, sig_int;
	uv_timer_t stop_timer;
	bool stopping;
	bool coalesce;        /* --coalesce */
	uv_check_t co_check;
	uv_prepare_t co_prepare;
	sess **dirty;         /* sessions with frames this turn */
	uint32_t n_dirty, dirty_cap;
} server;

static void co_flush(server *sv);
static void on_check(uv_check_t *h) { co_flush(h->data); }
static void on_prepare(uv_prepare_t *h) { co_flush(h->data); }

/* As peertrackd's src/net/coalesce.c: a frame joins its target's frames of
 * this loop turn, written in one raw write once the turn's I/O is done. */
static int coalesce(server *sv, sess *s, const void *data, size_t len, uint32_t from)
{
	uint8_t h[PT_WS_HDR_MAX];
	size_t hl = pt_ws_header(h, PT_WS_FIN | PT_WS_BINARY, false, len);

	if (s->co_len + hl + len > s->co_cap) {
		size_t cap = (s->co_len + hl + len) * 2;
		unsigned char *p = realloc(s->co, cap);

		if (!p)
			return -1;
		s->co = p;
		s->co_cap = cap;
	}
	if (!s->co_slot) {
		if (sv->n_dirty == sv->dirty_cap) {
			uint32_t cap = sv->dirty_cap ? sv->dirty_cap * 2 : 64;
			sess **d = realloc(sv->dirty, cap * sizeof(*d));

			if (!d)
				return -1;
			sv->dirty = d;
			sv->dirty_cap = cap;
		}
		if (!sv->n_dirty) {
			uv_check_start(&sv->co_check, on_check);
			uv_prepare_start(&sv->co_prepare, on_prepare);
		}
		sv->dirty[sv->n_dirty++] = s;
		s->co_slot = sv->n_dirty;
	}
	memcpy(s->co + s->co_len, h, hl);
	memcpy(s->co + s->co_len + hl, data, len);
	memcpy(s->co + s->co_len + hl, &from, 4);
	s->co_len += hl + len;
	return 0;
}

/* Takes s off this turn's list. */
static void co_unlink(server *sv, sess *s)
{
	if (s->co_slot)
		sv->dirty[s->co_slot - 1] = NULL;
	s->co_slot = 0;
}

/* Writes s's frames of this turn, if any; -1 if the connection failed. */
static int co_write(server *sv, sess *s)
{
	size_t len = s->co_len;

	co_unlink(sv, s);
	s->co_len = 0;
	return len && lws_write(s->wsi, s->co, len, LWS_WRITE_HTTP) < (int)len ? -1 : 0;
}

static void co_flush(server *sv)
{
	for (uint32_t i = 0; i < sv->n_dirty; i++) {
		sess *s = sv->dirty[i];

		if (s && co_write(sv, s))
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	sv->n_dirty = 0;
	uv_check_stop(&sv->co_check);
	uv_prepare_stop(&sv->co_prepare);
}

static int queue(struct lws *wsi, sess *s, const void *data, size_t len, uint32_t from)
{
	server *sv = lws_context_user(lws_get_context(wsi));
	out *o;

	if (!s->head && !lws_partial_buffered(wsi) && len <= 65536) {
		unsigned char frame[LWS_PRE + 65536];

		if (sv->coalesce)
			return coalesce(sv, s, data, len, from);

		memcpy(frame + LWS_PRE, data, len);
		memcpy(frame + LWS_PRE, &from, 4);
		return lws_write(wsi, frame + LWS_PRE, len, LWS_WRITE_BINARY) < (int)len ? -1 : 0;
	}
	if (!(o = malloc(sizeof(*o) + LWS_PRE + len)))
		return -1;
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, data, len);
	memcpy(o->buf + LWS_PRE, &from, 4);
	if (s->tail)
		s->tail->next = o;
	else
		s->head = o;
	s->tail = o;
	lws_callback_on_writable(wsi);
	return 0;
}

static int grow(server *sv)
{
	uint32_t cap = sv->cap ? sv->cap * 2 : 1024;
	struct lws **c = realloc(sv->conns, cap * sizeof(*c));
	uint32_t *f;

	if (!c)
		return -1;
	sv->conns = c;
	memset(c + sv->cap, 0, (cap - sv->cap) * sizeof(*c));
	if (!(f = realloc(sv->free_idx, cap * sizeof(*f))))
		return -1;
	sv->free_idx = f;
	sv->cap = cap;
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	server *sv = lws_context_user(lws_get_context(wsi));
	sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		if (sv->n_free) {
			s->idx = sv->free_idx[--sv->n_free];
		} else {
			if (sv->next == sv->cap && grow(sv))
				return -1;
			s->idx = sv->next++;
		}
		sv->conns[s->idx] = wsi;
		s->wsi = wsi;
		s->live = true;
		return queue(wsi, s, &s->idx, 4, s->idx);
	case LWS_CALLBACK_RECEIVE: {
		uint32_t to;

		/* Whole small frames only: the bench never fragments. */
		if (len < 4 || !lws_is_first_fragment(wsi) || !lws_is_final_fragment(wsi))
			return 0;
		memcpy(&to, in, 4);
		if (to < sv->next && sv->conns[to]) {
			struct lws *t = sv->conns[to];

			if (queue(t, lws_wsi_user(t), in, len, s->idx))
				return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		out *o = s->head;

		/* This turn's frames go before any queued after them. */
		if (co_write(sv, s))
			return -1;
		if (!o)
			return 0;
		if (!(s->head = o->next))
			s->tail = NULL;
		if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_BINARY) < (int)o->len) {
			free(o);
			return -1;
		}
		free(o);
		if (s->head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		if (s->live) {
			s->live = false;
			sv->conns[s->idx] = NULL;
			sv->free_idx[sv->n_free++] = s->idx;
		}
		while (s->head) {
			out *o = s->head;

			s->head = o->next;
			free(o);
		}
		s->tail = NULL;
		co_unlink(sv, s);
		free(s->co);
		s->co = NULL;
		s->co_len = s->co_cap = 0;
		return 0;
	default:
		return 0;
	}
}

/* rx_buffer_size: --rx-buffer, as peertrackd's ws_rx_buffer_bytes (lws'
 * default 4096 here unless given). */
static struct lws_protocols protocols[] = {
	{ "forward", callback, sizeof(sess), 4096, 0, NULL, 1u << 20 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void close_cb(uv_handle_t *h)
{
	(void)h;
}

/* lws 4.1 on a foreign loop: destroy once from inside the loop, let the
 * loop run dry, destroy again after uv_run (as peertrackd does). */
static void stop_step(uv_timer_t *t)
{
	server *sv = t->data;

	co_flush(sv);
	uv_close((uv_handle_t *)&sv->co_check, close_cb);
	uv_close((uv_handle_t *)&sv->co_prepare, close_cb);
	lws_context_destroy(sv->lws);
	uv_close((uv_handle_t *)&sv->stop_timer, close_cb);
}

static void on_signal(uv_signal_t *h, int signum)
{
	server *sv = h->data;

	(void)signum;
	if (sv->stopping)
		return;
	sv->stopping = true;
	uv_close((uv_handle_t *)&sv->sig_term, close_cb);
	uv_close((uv_handle_t *)&sv->sig_int, close_cb);
	uv_timer_start(&sv->stop_timer, stop_step, 10, 0);
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	char host[64] = "127.0.0.1";
	int port = 0;
	server sv;
	void *loops[1];
	struct rlimit rl;
	struct in_addr a;
	bool coalesce = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			const char *colon = strrchr(argv[++i], ':');

			if (!colon || (size_t)(colon - argv[i]) >= sizeof(host))
				goto usage;
			memcpy(host, argv[i], (size_t)(colon - argv[i]));
			host[colon - argv[i]] = 0;
			port = atoi(colon + 1);
		} else if (!strcmp(argv[i], "--rx-buffer") && i + 1 < argc) {
			long n = strtol(argv[++i], NULL, 10);

			if (n < 1024 || n > 1048576)
				goto usage;
			protocols[0].rx_buffer_size = (size_t)n;
		} else if (!strcmp(argv[i], "--coalesce")) {
			coalesce = true;
		} else {
			goto usage;
		}
	}
	if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		goto usage;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

	memset(&sv, 0, sizeof(sv));
	sv.coalesce = coalesce;
	uv_loop_init(&sv.loop);
	uv_check_init(&sv.loop, &sv.co_check);
	uv_prepare_init(&sv.loop, &sv.co_prepare);
	sv.co_check.data = sv.co_prepare.data = &sv;
	loops[0] = &sv.loop;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = loops;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = &sv;
	info.fd_limit_per_thread = (unsigned)(rl.rlim_cur > 1000000 ? 1000000 : rl.rlim_cur);
	info.pcontext = &sv.lws;
	(void)dlopen("libwebsockets-evlib_uv.so", RTLD_NOW | RTLD_NODELETE);
	if (!(sv.lws = lws_create_context(&info))) {
		fprintf(stderr, "echo_server: cannot create the lws context\n");
		return 1;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6 |
	               LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.vhost_name = "forward";
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	if (!(sv.vhost = lws_create_vhost(sv.lws, &info))) {
		fprintf(stderr, "echo_server: cannot listen on %s:%d\n", host, port);
		uv_close((uv_handle_t *)&sv.co_check, close_cb);
		uv_close((uv_handle_t *)&sv.co_prepare, close_cb);
		lws_context_destroy(sv.lws);
		uv_run(&sv.loop, UV_RUN_DEFAULT);
		if (sv.lws)
			lws_context_destroy(sv.lws);
		uv_loop_close(&sv.loop);
		return 1;
	}
	uv_signal_init(&sv.loop, &sv.sig_term);
	uv_signal_init(&sv.loop, &sv.sig_int);
	uv_timer_init(&sv.loop, &sv.stop_timer);
	sv.sig_term.data = sv.sig_int.data = sv.stop_timer.data = &sv;
	uv_signal_start(&sv.sig_term, on_signal, SIGTERM);
	uv_signal_start(&sv.sig_int, on_signal, SIGINT);
	printf("listening on %s:%d\n", host, lws_get_vhost_listen_port(sv.vhost));
	fflush(stdout);

	uv_run(&sv.loop, UV_RUN_DEFAULT);
	if (sv.lws)
		lws_context_destroy(sv.lws);
	uv_loop_close(&sv.loop);
	free(sv.conns);
	free(sv.free_idx);
	free(sv.dirty);
	return 0;
usage:
	fprintf(stderr, "usage: echo_server [--listen 127.0.0.1:PORT] [--rx-buffer BYTES] [--coalesce]\n");
	return 2;
}
