/* rlink.c — one Redis connection: hiredis 0.14 async on libuv (uvredis.h),
 * plus request timeouts, a bounded queue, the AUTH handshake and
 * reconnection with backoff (rlink.h).
 *
 * The loop adapter is uvredis.c (fewer epoll_ctl calls than hiredis' own).
 * hiredis frees a context itself when the connection fails or drops, after
 * calling every pending callback with NULL; a context may be freed from
 * here (redisAsyncFree) only outside hiredis' own callbacks, so a drop
 * decided inside one (pt_rlink_reset, a close) is carried out by the tick
 * timer on the next loop turn. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hiredis/async.h>

#include "peertrack/log.h"
#include "peertrack/rlink.h"
#include "peertrack/uvredis.h"

enum { L_DOWN = 0, L_CONNECTING, L_UP };

typedef struct req {
	struct req *prev, *next;
	struct pt_rlink *l;
	pt_rlink_fn *fn;
	void *arg;
	uint64_t sent_ms;
} req;

struct pt_rlink {
	uv_loop_t *loop;
	redisAsyncContext *ac;
	int state;
	char name[80];
	char *host, *user, *password;
	char **channels;
	int n_channels, subscribed;
	int port;
	uint32_t timeout_ms, max_pending, backoff_min_ms, backoff_max_ms;
	uint32_t attempt;         /* failed connects in a row, for the backoff */
	uint64_t conn_started_ms;
	req *head, *tail;         /* in flight, oldest first */
	uint32_t pending;
	pt_rlink_state_fn *on_state;
	pt_rlink_fn *on_message;
	void *arg;
	uv_timer_t tick, retry;
	int handles_open;
	int in_cb;                /* inside a hiredis callback: no redisAsyncFree */
	bool closing, kill;
	char kill_why[160];
	char last_error[200];
	pt_rlink_stats stats;
};

static void connect_now(pt_rlink *l);

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void unlink_req(pt_rlink *l, req *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		l->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		l->tail = q->prev;
	l->pending--;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	req *q = privdata;
	pt_rlink *l = q->l;

	(void)ac;
	unlink_req(l, q);
	l->in_cb++;
	if (q->fn)
		q->fn(l, r, q->arg);
	l->in_cb--;
	free(q);
}

static int send_argv(pt_rlink *l, pt_rlink_fn *fn, void *arg, int argc, const char **argv,
                     const size_t *argvlen)
{
	req *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->l = l;
	q->fn = fn;
	q->arg = arg;
	q->sent_ms = uv_now(l->loop);
	q->prev = l->tail;
	if (l->tail)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
	l->pending++;
	if (redisAsyncCommandArgv(l->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
		unlink_req(l, q);
		free(q);
		return -EAGAIN;
	}
	return 0;
}

static void retry_cb(uv_timer_t *t)
{
	connect_now(t->data);
}

static void schedule_retry(pt_rlink *l)
{
	uint64_t d = l->backoff_min_ms;

	for (uint32_t i = 0; i < l->attempt && d < l->backoff_max_ms; i++)
		d *= 2;
	if (d > l->backoff_max_ms)
		d = l->backoff_max_ms;
	/* Jitter: many nodes that lost one Redis come back spread out. */
	d = d / 2 + (uint64_t)rand() % (d / 2 + 1);
	if (l->attempt < 30)
		l->attempt++;
	uv_timer_start(&l->retry, retry_cb, d, 0);
}

/* The context is gone (hiredis freed it or is freeing it). */
static void went_down(pt_rlink *l, const char *why)
{
	bool was_up = l->state == L_UP;

	l->ac = NULL;
	l->state = L_DOWN;
	l->subscribed = 0;
	if (why && *why)
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);
	if (l->closing)
		return;
	l->stats.disconnects += was_up;
	if (was_up)
		pt_log_warn("cluster: redis %s: link down: %s", l->name, l->last_error);
	schedule_retry(l);
	if (was_up && l->on_state)
		l->on_state(l, false, l->arg);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	pt_rlink *l = ac->data;

	if (status != REDIS_OK && l) {
		char why[200];

		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		if (l->attempt == 0 || strcmp(why, l->last_error))
			pt_log_warn("cluster: redis %s: %s", l->name, why);
		went_down(l, why);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	pt_rlink *l = ac->data;
	char why[200];

	if (!l || l->ac != ac)
		return;
	snprintf(why, sizeof(why), "%s", status == REDIS_OK ? "closed" : ac->errstr);
	went_down(l, l->kill_why[0] ? l->kill_why : why);
	l->kill_why[0] = '\0';
}

static void became_up(pt_rlink *l)
{
	l->state = L_UP;
	l->attempt = 0;
	l->stats.connects++;
	pt_log_info("cluster: redis %s: link up%s", l->name, l->channels ? " (subscribed)" : "");
	if (l->on_state)
		l->on_state(l, true, l->arg);
}

static void on_sub(redisAsyncContext *ac, void *r, void *privdata)
{
	pt_rlink *l = privdata;
	redisReply *rep = r;

	(void)ac;
	if (!rep || l->closing)
		return;
	l->in_cb++;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    rep->element[0]->type == REDIS_REPLY_STRING) {
		const char *kind = rep->element[0]->str;

		if (!strcasecmp(kind, "message")) {
			if (l->on_message && rep->element[2]->type == REDIS_REPLY_STRING)
				l->on_message(l, rep, l->arg);
		} else if (!strcasecmp(kind, "subscribe")) {
			if (++l->subscribed == l->n_channels && l->state == L_CONNECTING)
				became_up(l);
		}
	} else {
		pt_rlink_reset(l, "unexpected reply on the subscription");
	}
	l->in_cb--;
}

static void on_ping(pt_rlink *l, redisReply *r, void *arg)
{
	(void)arg;
	if (!r || l->state != L_CONNECTING)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		char why[200];

		snprintf(why, sizeof(why), "refused: %s", r->str);
		pt_log_error("cluster: redis %s: %s", l->name, why);
		l->stats.errors++;
		pt_rlink_reset(l, why);
		return;
	}
	if (!l->channels) {
		became_up(l);
		return;
	}
	/* Subscriber: the confirmations (on_sub) make it up. */
	{
		const char *argv[64];
		int n = 0;

		argv[n++] = "SUBSCRIBE";
		for (int i = 0; i < l->n_channels && n < 64; i++)
			argv[n++] = l->channels[i];
		if (redisAsyncCommandArgv(l->ac, on_sub, l, n, argv, NULL) != REDIS_OK)
			pt_rlink_reset(l, "cannot subscribe");
	}
}

static void on_auth(pt_rlink *l, redisReply *r, void *arg)
{
	(void)arg;
	if (r && r->type == REDIS_REPLY_ERROR && l->state == L_CONNECTING) {
		char why[200];

		snprintf(why, sizeof(why), "AUTH refused: %s", r->str);
		pt_log_error("cluster: redis %s: %s", l->name, why);
		l->stats.errors++;
		pt_rlink_reset(l, why);
	}
}

static void connect_now(pt_rlink *l)
{
	redisAsyncContext *ac;

	if (l->closing || l->ac)
		return;
	ac = redisAsyncConnect(l->host, l->port);
	if (!ac || ac->err) {
		char why[200];

		snprintf(why, sizeof(why), "cannot connect: %s", ac ? ac->errstr : "out of memory");
		if (l->attempt == 0)
			pt_log_warn("cluster: redis %s: %s", l->name, why);
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(l);
		return;
	}
	ac->data = l;
	if (pt_uvredis_attach(ac, l->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		snprintf(l->last_error, sizeof(l->last_error), "cannot attach to the loop");
		schedule_retry(l);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->ac = ac;
	l->state = L_CONNECTING;
	l->conn_started_ms = uv_now(l->loop);
	/* The handshake leaves with the connect: AUTH, then a PING whose
	 * answer says whether the server takes our commands (NOAUTH when a
	 * password is needed and none was given). */
	if (l->password) {
		const char *argv[3] = { "AUTH" };
		int n = 1;

		if (l->user)
			argv[n++] = l->user;
		argv[n++] = l->password;
		send_argv(l, on_auth, NULL, n, argv, NULL);
	}
	{
		const char *argv[1] = { "PING" };

		send_argv(l, on_ping, NULL, 1, argv, NULL);
	}
}

static void kill_now(pt_rlink *l)
{
	redisAsyncContext *ac = l->ac;

	l->kill = false;
	if (!ac)
		return;
	/* Fails every pending request (NULL), then on_disconnect if it was
	 * connected; if it was not, went_down is ours to call. */
	redisAsyncFree(ac);
	if (l->ac == ac)
		went_down(l, l->kill_why);
	l->kill_why[0] = '\0';
}

static void handle_closed(uv_handle_t *h)
{
	pt_rlink *l = h->data;

	if (--l->handles_open == 0) {
		free(l->host);
		free(l->user);
		free(l->password);
		for (int i = 0; i < l->n_channels; i++)
			free(l->channels[i]);
		free(l->channels);
		free(l);
	}
}

static void finish_close(pt_rlink *l)
{
	if (l->ac)
		kill_now(l);
	uv_timer_stop(&l->tick);
	uv_timer_stop(&l->retry);
	uv_close((uv_handle_t *)&l->tick, handle_closed);
	uv_close((uv_handle_t *)&l->retry, handle_closed);
}

static void tick(uv_timer_t *t)
{
	pt_rlink *l = t->data;
	uint64_t now = uv_now(l->loop);

	if (l->closing) {
		finish_close(l);
		return;
	}
	if (l->kill) {
		kill_now(l);
		return;
	}
	/* hiredis' libuv adapter drops poll errors (a refused connect
	 * among them), so a connect that fails is seen here, as silence. */
	if (l->state == L_CONNECTING && now - l->conn_started_ms > l->timeout_ms) {
		l->stats.timeouts++;
		snprintf(l->kill_why, sizeof(l->kill_why),
		         "cannot connect: no connection or handshake within %u ms", l->timeout_ms);
		/* Once per outage, not once per attempt. */
		if (l->attempt == 0)
			pt_log_warn("cluster: redis %s: %s", l->name, l->kill_why);
		kill_now(l);
	} else if (l->head && now - l->head->sent_ms > l->timeout_ms) {
		l->stats.timeouts++;
		snprintf(l->kill_why, sizeof(l->kill_why), "a request timed out after %u ms",
		         l->timeout_ms);
		pt_log_warn("cluster: redis %s: %s", l->name, l->kill_why);
		kill_now(l);
	}
}

pt_rlink *pt_rlink_new(uv_loop_t *loop, const pt_rlink_opts *o, const char *name,
                       pt_rlink_state_fn *on_state, pt_rlink_fn *on_message, void *arg)
{
	pt_rlink *l = calloc(1, sizeof(*l));
	uint32_t every;

	if (!l)
		return NULL;
	l->loop = loop;
	l->port = o->port;
	l->timeout_ms = o->timeout_ms ? o->timeout_ms : 1000;
	l->max_pending = o->max_pending ? o->max_pending : 1;
	l->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
	l->backoff_max_ms = o->backoff_max_ms > l->backoff_min_ms ? o->backoff_max_ms
	                                                            : l->backoff_min_ms;
	l->on_state = on_state;
	l->on_message = on_message;
	l->arg = arg;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->host = strdup(o->host);
	l->user = dup_or_null(o->user);
	l->password = dup_or_null(o->password);
	if (!l->host || (o->user && *o->user && !l->user) ||
	    (o->password && *o->password && !l->password))
		goto fail;
	if (o->channels) {
		while (o->channels[l->n_channels])
			l->n_channels++;
		if (!(l->channels = calloc((size_t)l->n_channels, sizeof(char *))))
			goto fail;
		for (int i = 0; i < l->n_channels; i++)
			if (!(l->channels[i] = strdup(o->channels[i])))
				goto fail;
	}
	uv_timer_init(loop, &l->tick);
	uv_timer_init(loop, &l->retry);
	l->tick.data = l->retry.data = l;
	l->handles_open = 2;
	every = l->timeout_ms / 4 ? l->timeout_ms / 4 : 1;
	uv_timer_start(&l->tick, tick, every, every);
	/* Not in the loop's reference count: a link alone does not keep
	 * the process alive (the server's handles do). */
	uv_unref((uv_handle_t *)&l->tick);
	connect_now(l);
	return l;
fail:
	free(l->host);
	free(l->user);
	free(l->password);
	for (int i = 0; l->channels && i < l->n_channels; i++)
		free(l->channels[i]);
	free(l->channels);
	free(l);
	return NULL;
}

void pt_rlink_close(pt_rlink *l)
{
	if (!l || l->closing)
		return;
	l->closing = true;
	if (l->in_cb)
		uv_timer_start(&l->tick, tick, 0, 0);
	else
		finish_close(l);
}

int pt_rlink_command(pt_rlink *l, pt_rlink_fn *fn, void *arg, int argc, const char **argv,
                     const size_t *argvlen)
{
	int r;

	if (l->state != L_UP || l->kill || l->closing) {
		l->stats.refused_down++;
		return -EAGAIN;
	}
	if (l->pending >= l->max_pending) {
		l->stats.refused_full++;
		return -ENOBUFS;
	}
	r = send_argv(l, fn, arg, argc, argv, argvlen);
	if (r == -EAGAIN)
		l->stats.refused_down++;
	return r;
}

void pt_rlink_write_now(pt_rlink *l)
{
	if (l->ac && l->state == L_UP && !l->kill && !l->closing && !l->in_cb)
		redisAsyncHandleWrite(l->ac);
}

void pt_rlink_reset(pt_rlink *l, const char *why)
{
	if (!l->ac || l->closing)
		return;
	if (!l->kill)
		snprintf(l->kill_why, sizeof(l->kill_why), "%s", why);
	if (l->in_cb) {
		l->kill = true;
		uv_timer_start(&l->tick, tick, 0, l->timeout_ms / 4 ? l->timeout_ms / 4 : 1);
	} else {
		kill_now(l);
	}
}

bool pt_rlink_up(const pt_rlink *l)
{
	return l && l->state == L_UP && !l->kill;
}

uint32_t pt_rlink_pending(const pt_rlink *l)
{
	return l->pending;
}

const char *pt_rlink_name(const pt_rlink *l)
{
	return l->name;
}

const char *pt_rlink_last_error(const pt_rlink *l)
{
	return l->last_error;
}

const pt_rlink_stats *pt_rlink_stats_get(const pt_rlink *l)
{
	return &l->stats;
}
